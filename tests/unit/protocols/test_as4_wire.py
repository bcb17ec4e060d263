"""Envelopes written as text: what we digest as canonical is what a verifier canonicalises back."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from protocols.as4.envelope import find_messaging, messaging_markup
from protocols.as4.errors import EbmsError
from protocols.as4.model import (
    AgreementRef,
    CollaborationInfo,
    ErrorDetail,
    MessageInfo,
    PartInfo,
    Party,
    PartyId,
    Property,
    Service,
    SignalMessage,
    UserMessage,
)
from protocols.as4.namespaces import ALG_C14N_EXCL, ALG_DIGEST_SHA256, NS_DS, NS_EB, NS_S12, NS_WSSE, NS_WSU
from protocols.as4.receipt import non_repudiation_markup
from protocols.as4.security import DEFAULT_SIGNATURE, SignedReference, SigningIdentity, VerifiedSignature
from protocols.as4.security.canonical import exc_c14n
from protocols.as4.security.verification import verify_envelope
from protocols.as4.wire import signed_envelope
from protocols.as4.xml import parse_xml

NOW = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.UTC)
_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff").filter(
    lambda c: c in "\t\n\r" or c >= " "
)
_VALUES = st.text(_CHARACTERS, min_size=1).filter(lambda v: v.strip() != "")


def _in_envelope(messaging: str) -> etree._Element:
    document = (
        f'<S12:Envelope xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}" xmlns:wsu="{NS_WSU}">'
        f"<S12:Header>{messaging}</S12:Header><S12:Body/></S12:Envelope>"
    )
    return find_messaging(parse_xml(document.encode("utf-8")))


def _message(value: str, other: str) -> UserMessage:
    return UserMessage(
        MessageInfo("m@x", NOW),
        Party((PartyId(value, other),), other),
        Party((PartyId(other),), value),
        CollaborationInfo(Service(value, other), value, other, AgreementRef(value, other, value)),
        message_properties=(Property(value, other, value), Property(other, value)),
        payload_info=(PartInfo(f"cid:{value}", (Property("MimeType", other),)),),
        mpc=other,
    )


@settings(max_examples=60, deadline=None)
@given(value=_VALUES, other=_VALUES)
def test_messaging_markup_is_the_canonical_form_of_what_it_writes(value: str, other: str) -> None:
    markup = messaging_markup(_message(value, other), messaging_id="id-messaging-1")
    assert exc_c14n(_in_envelope(markup)) == markup.encode("utf-8")


@settings(max_examples=30, deadline=None)
@given(value=_VALUES)
def test_error_signal_markup_is_canonical(value: str) -> None:
    signal = SignalMessage(
        MessageInfo("e@x", NOW, "m@x"),
        errors=(ErrorDetail(EbmsError.OTHER, detail=value, ref_to_message_id=value, origin=value),),
    )
    markup = messaging_markup(signal, messaging_id="m")
    assert exc_c14n(_in_envelope(markup)) == markup.encode("utf-8")


def test_a_signed_text_envelope_verifies_and_reports_what_it_signed(alice: SigningIdentity) -> None:
    markup = messaging_markup(_message("a & b", "<c>"), messaging_id="id-messaging-7")
    data, references = signed_envelope(
        markup, "id-messaging-7", (), alice, algorithms=DEFAULT_SIGNATURE, key_reference="bst"
    )
    verified = verify_envelope(parse_xml(data), (), trusted=[alice.certificate], required_attachments=())
    assert verified.references == references


def test_receipt_nri_markup_is_canonical_for_any_prefixes_the_sender_chose(alice: SigningIdentity) -> None:
    # A SignedInfo in the default namespace with an unused prefix, whitespace, a comment and
    # InclusiveNamespaces, as another stack may write it.
    received = parse_xml(
        (
            f'<S12:Envelope xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}"><S12:Header>'
            f'<wsse:Security xmlns:wsse="{NS_WSSE}"><Signature xmlns="{NS_DS}" xmlns:x="urn:unused">'
            f'<SignedInfo>\n  <Reference URI="#a"><Transforms><Transform Algorithm="{ALG_C14N_EXCL}">'
            f'<ec:InclusiveNamespaces xmlns:ec="{ALG_C14N_EXCL}" PrefixList="eb S12"/></Transform>'
            f'</Transforms><DigestMethod Algorithm="{ALG_DIGEST_SHA256}"/><DigestValue>AAAA</DigestValue>'
            "<!-- c --></Reference>\n</SignedInfo></Signature></wsse:Security></S12:Header>"
            "<S12:Body/></S12:Envelope>"
        ).encode()
    )
    verified = VerifiedSignature(
        alice.certificate, (SignedReference("#a", ALG_DIGEST_SHA256, "AAAA", (ALG_C14N_EXCL,)),), "x"
    )
    nri = non_repudiation_markup(received, verified)
    messaging = (
        f'<eb:Messaging xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}" S12:mustUnderstand="true">'
        f"<eb:SignalMessage><eb:Receipt>{nri}</eb:Receipt></eb:SignalMessage></eb:Messaging>"
    )
    assert exc_c14n(_in_envelope(messaging)) == messaging.encode("utf-8")
