"""Envelope parts: Header, Body, eb:Messaging, wsse:Security, and the Id index that finds duplicates."""

from __future__ import annotations

import pytest
from lxml import etree
from security_support import make_envelope

from protocols.as4 import namespaces as ns
from protocols.as4.security.header import body, ensure_id, id_index, messaging, security


class Refused(Exception):
    pass


def test_parts_are_found_in_their_places():
    envelope = make_envelope()
    assert messaging(envelope, Refused).tag == f"{{{ns.NS_EB}}}Messaging"
    assert body(envelope, Refused).getparent() is envelope


def test_security_is_created_first_with_mustunderstand_true_for_soap12():
    envelope = make_envelope()
    assert security(envelope, Refused) is None
    created = security(envelope, Refused, create=True)
    assert created.getparent()[0] is created
    assert created.get(f"{{{ns.NS_S12}}}mustUnderstand") == "true"
    assert security(envelope, Refused, create=True) is created


def test_security_for_another_role_is_not_ours():
    envelope = make_envelope()
    header = messaging(envelope, Refused).getparent()
    other = etree.SubElement(header, f"{{{ns.NS_WSSE}}}Security")
    other.set(f"{{{ns.NS_S12}}}role", "urn:some-intermediary")
    assert security(envelope, Refused) is None


def test_two_security_headers_for_us_are_refused():
    envelope = make_envelope()
    header = messaging(envelope, Refused).getparent()
    etree.SubElement(header, f"{{{ns.NS_WSSE}}}Security")
    etree.SubElement(header, f"{{{ns.NS_WSSE}}}Security")
    with pytest.raises(Refused, match="2 wsse:Security"):
        security(envelope, Refused)


def test_soap11_security_uses_mustunderstand_1():
    envelope = etree.fromstring(
        f'<s:Envelope xmlns:s="{ns.NS_S11}"><s:Header><eb:Messaging xmlns:eb="{ns.NS_EB}"/></s:Header>'
        "<s:Body/></s:Envelope>"
    )
    assert security(envelope, Refused, create=True).get(f"{{{ns.NS_S11}}}mustUnderstand") == "1"


def test_missing_or_doubled_parts_are_refused():
    envelope = make_envelope()
    header = messaging(envelope, Refused).getparent()
    header.append(etree.Element(f"{{{ns.NS_EB}}}Messaging"))
    with pytest.raises(Refused, match="2 "):
        messaging(envelope, Refused)
    envelope.remove(body(envelope, Refused))
    with pytest.raises(Refused, match="0 "):
        body(envelope, Refused)


def test_id_index_counts_every_id_attribute_kind():
    root = etree.fromstring(
        f'<r xmlns:wsu="{ns.NS_WSU}"><a wsu:Id="x"/><b Id="x"/><c ID="y"/><d xml:id="z"/><e id="x"/></r>'
    )
    index = id_index(root)
    assert {key: len(value) for key, value in index.items()} == {"x": 2, "y": 1, "z": 1}


def test_ensure_id_keeps_an_existing_id_and_adds_wsu_id_otherwise():
    envelope = make_envelope()
    element = body(envelope, Refused)
    assigned = ensure_id(element, "id-body")
    assert element.get(f"{{{ns.NS_WSU}}}Id") == assigned and assigned.startswith("id-body-")
    assert ensure_id(element, "other") == assigned
    named = etree.Element("x", Id="given")
    assert ensure_id(named, "id") == "given"


def test_a_document_that_is_not_a_soap_envelope_is_refused():
    with pytest.raises(Refused, match="not a SOAP envelope"):
        body(etree.fromstring(b"<Envelope/>"), Refused)
