"""Markup built from text: every value reads back exactly as given, and what is not XML is refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from protocols.as4.envelope import build_envelope, find_messaging, parse_messaging
from protocols.as4.markup import attribute, fragment, fragments, text
from protocols.as4.model import AgreementRef, PartInfo, PartyId, Property, UserMessage
from protocols.as4.xml import parse_xml, serialize

_XML_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff").filter(
    lambda c: c in "\t\n\r" or c >= " "
)


@given(st.text(_XML_CHARACTERS))
def test_any_xml_text_reads_back_exactly_from_content_and_attribute(value: str) -> None:
    element = fragment(f'<a b="{attribute(value)}">{text(value)}</a>')
    assert element.get("b") == value
    assert (element.text or "") == value
    # and lxml, which escapes on its own, agrees on the bytes
    built = etree.Element("a", b=value)
    built.text = value
    assert etree.tostring(element, method="c14n") == etree.tostring(built, method="c14n")


@pytest.mark.parametrize("value", ["\x00", "a\x01b", "\x1f", "\ufffe", "x\ud800"])
def test_a_value_that_is_not_xml_is_refused_like_lxml_refuses_it(value: str) -> None:
    with pytest.raises(ValueError):
        text(value)
    with pytest.raises(ValueError):
        attribute(value)


def test_fragments_are_siblings_that_move_into_another_tree() -> None:
    parent = etree.Element("p")
    for element in fragments('<x:a xmlns:x="urn:x"/><b>&amp;</b>'):
        parent.append(element)
    assert etree.tostring(parent) == b'<p><x:a xmlns:x="urn:x"/><b>&amp;</b></p>'


def test_hostile_values_round_trip_through_the_envelope(
    make_user_message: Callable[..., UserMessage],
) -> None:
    nasty = "a&b<c>\"d'e]]>f\tg\nh\ri é 😀 &amp; <!-- x -->"
    base = make_user_message("m&\"'@x")
    message = dataclasses.replace(
        base,
        from_party=dataclasses.replace(base.from_party, party_ids=(PartyId(nasty, nasty),), role=nasty),
        collaboration_info=dataclasses.replace(
            base.collaboration_info, agreement_ref=AgreementRef(nasty, nasty, nasty), action=nasty
        ),
        message_properties=(Property(nasty, nasty, nasty),),
        payload_info=(PartInfo(f"cid:{nasty}", (Property("MimeType", nasty),)),),
        mpc=nasty,
    )
    parsed = parse_messaging(find_messaging(parse_xml(serialize(build_envelope(message)))))
    assert parsed.user_messages == (message,)


def test_a_message_value_that_is_not_xml_is_a_value_error(
    make_user_message: Callable[..., UserMessage],
) -> None:
    message = dataclasses.replace(make_user_message(), message_properties=(Property("p", "a\x00b"),))
    with pytest.raises(ValueError):
        build_envelope(message)
