"""The SOAP 1.2 envelope and eb:Messaging: what we build reads back, and the header rules are enforced."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from lxml import etree

from protocols.as4.envelope import build_envelope, find_messaging, parse_messaging, parse_timestamp
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.model import (
    AgreementRef,
    ErrorDetail,
    MessageInfo,
    PartInfo,
    PartyId,
    Property,
    SignalMessage,
    UserMessage,
)
from protocols.as4.namespaces import NS_EB, NS_S12
from protocols.as4.xml import parse_xml, serialize


def _reparse(element: etree._Element) -> etree._Element:
    return parse_xml(serialize(element))


def test_user_message_round_trips_through_the_envelope(make_user_message: Callable[..., UserMessage]) -> None:
    base = make_user_message("m1@aswnode")
    message = dataclasses.replace(
        base,
        from_party=dataclasses.replace(base.from_party, party_ids=(PartyId("a"), PartyId("b", "urn:t"))),
        collaboration_info=dataclasses.replace(
            base.collaboration_info, agreement_ref=AgreementRef("urn:agr", "t", "pm")
        ),
        message_properties=(Property("originalSender", "urn:x"), Property("finalRecipient", "urn:y", "t")),
        payload_info=(PartInfo("cid:p1@x", (Property("MimeType", "application/xml"),)),),
        mpc="urn:mpc:other",
    )
    parsed = parse_messaging(find_messaging(_reparse(build_envelope(message))))
    assert parsed.user_messages == (message,)
    assert parsed.signal_messages == ()


def test_messaging_header_is_must_understand_and_timestamp_has_milliseconds(
    make_user_message: Callable[..., UserMessage],
) -> None:
    envelope = build_envelope(make_user_message())
    messaging = find_messaging(envelope)
    assert messaging.get(f"{{{NS_S12}}}mustUnderstand") == "true"
    assert messaging.findtext(f".//{{{NS_EB}}}Timestamp") == "2026-11-23T09:30:15.123Z"


def test_error_signal_round_trips_with_its_attributes() -> None:
    signal = SignalMessage(
        MessageInfo("e1@x", parse_timestamp("2026-11-23T09:00:00Z"), "m1@x"),
        errors=(ErrorDetail(EbmsError.FAILED_DECRYPTION, "no key", "m1@x", "security"),),
    )
    element = build_envelope(signal)
    error = element.find(f".//{{{NS_EB}}}Error")
    assert error is not None
    assert dict(error.attrib) == {
        "errorCode": "EBMS:0102", "severity": "failure", "category": "Processing",
        "shortDescription": "FailedDecryption", "origin": "security", "refToMessageInError": "m1@x",
    }  # fmt: skip
    assert parse_messaging(find_messaging(_reparse(element))).signal_messages == (signal,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-12-21T11:01:16.795+01:00", "2016-12-21T10:01:16.795000+00:00"),
        ("2017-06-13T11:39:52.967", "2017-06-13T11:39:52.967000+00:00"),
        ("2016-09-02T07:12:06.9484458Z", "2016-09-02T07:12:06.948445+00:00"),
    ],
)
def test_timestamps_in_any_xsd_datetime_form_become_utc(text: str, expected: str) -> None:
    assert parse_timestamp(text).isoformat() == expected


def _envelope(messaging: str, *, extra_header: str = "", body: str = "<S12:Body/>") -> bytes:
    return (
        f'<S12:Envelope xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}"><S12:Header>{extra_header}{messaging}'
        f"</S12:Header>{body}</S12:Envelope>"
    ).encode()


USER = (
    "<eb:UserMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp>"
    "<eb:MessageId>m@x</eb:MessageId></eb:MessageInfo><eb:PartyInfo>"
    "<eb:From><eb:PartyId>a</eb:PartyId><eb:Role>r</eb:Role></eb:From>"
    "<eb:To><eb:PartyId>b</eb:PartyId><eb:Role>r</eb:Role></eb:To></eb:PartyInfo>"
    "<eb:CollaborationInfo><eb:Service>s</eb:Service><eb:Action>a</eb:Action></eb:CollaborationInfo>"
    "{payload}</eb:UserMessage>"
)


PLAIN = USER.format(payload="")
OTHER_MUST = '<x:Other xmlns:x="urn:x" S12:mustUnderstand="true"/>'


def _messaging(inner: str, attrs: str = ' S12:mustUnderstand="true"') -> str:
    return f"<eb:Messaging{attrs}>{inner}</eb:Messaging>"


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (_envelope(_messaging(PLAIN), extra_header=OTHER_MUST), EbmsError.INVALID_HEADER),
        (_envelope(_messaging(PLAIN, ' S12:mustUnderstand="maybe"')), EbmsError.INVALID_HEADER),
        (_envelope(""), EbmsError.INVALID_HEADER),
        (_envelope(_messaging(USER.format(payload="")) * 2), EbmsError.VALUE_INCONSISTENT),
        (_envelope(_messaging(USER.format(payload="")), body=""), EbmsError.INVALID_HEADER),
        (b'<E xmlns="http://schemas.xmlsoap.org/soap/envelope/"/>', EbmsError.INVALID_HEADER),
    ],
    ids=["unknown-must-understand-header", "bad-must-understand", "no-messaging", "two-messaging", "no-body",
         "not-soap12"],
)  # fmt: skip
def test_soap_frame_violations_are_refused(document: bytes, error: EbmsError) -> None:
    with pytest.raises(EbmsException) as refused:
        parse_messaging(find_messaging(parse_xml(document)))
    assert refused.value.error is error


def test_header_block_we_do_not_know_is_ignored_unless_it_must_be_understood() -> None:
    document = _envelope(_messaging(USER.format(payload="")), extra_header='<x:Other xmlns:x="urn:x"/>')
    assert len(parse_messaging(find_messaging(parse_xml(document))).user_messages) == 1


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ('<eb:PayloadInfo><eb:PartInfo href="http://evil/x"/></eb:PayloadInfo>',
         EbmsError.EXTERNAL_PAYLOAD_ERROR),
        ('<eb:PayloadInfo><eb:PartInfo href="cid:"/></eb:PayloadInfo>', EbmsError.EXTERNAL_PAYLOAD_ERROR),
        ('<eb:PayloadInfo><eb:PartInfo href="cid:a"><eb:PartProperties><eb:Property name="CompressionType">'
         "application/rar</eb:Property><eb:Property name=\"MimeType\">a/b</eb:Property></eb:PartProperties>"
         "</eb:PartInfo></eb:PayloadInfo>", EbmsError.VALUE_INCONSISTENT),
        ('<eb:PayloadInfo><eb:PartInfo href="cid:a"><eb:PartProperties><eb:Property name="CompressionType">'
         "application/gzip</eb:Property></eb:PartProperties></eb:PartInfo></eb:PayloadInfo>",
         EbmsError.VALUE_INCONSISTENT),
        ('<eb:PayloadInfo><eb:PartInfo href="cid:a"/><eb:PartInfo href="cid:a"/></eb:PayloadInfo>',
         EbmsError.VALUE_INCONSISTENT),
        ('<eb:PayloadInfo><eb:PartInfo href="cid:a"><eb:PartProperties><eb:Property>x</eb:Property>'
         "</eb:PartProperties></eb:PartInfo></eb:PayloadInfo>", EbmsError.INVALID_HEADER),
    ],
    ids=["external-href", "empty-cid", "rar-compression", "gzip-without-mimetype", "same-part-twice",
         "property-without-name"],
)  # fmt: skip
def test_bad_payload_info_gets_its_code_and_the_message_ref(payload: str, error: EbmsError) -> None:
    document = _envelope(_messaging(USER.format(payload=payload)))
    with pytest.raises(EbmsException) as refused:
        parse_messaging(find_messaging(parse_xml(document)))
    assert refused.value.error is error
    assert refused.value.ref_to_message_id == "m@x"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<eb:MessageId>m@x</eb:MessageId>", ""),
        ("<eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp>", "<eb:Timestamp>yesterday</eb:Timestamp>"),
        ("<eb:Action>a</eb:Action>", ""),
        ("<eb:Role>r</eb:Role></eb:From>", "</eb:From>"),
        ("<eb:PartyId>b</eb:PartyId>", "<eb:PartyId> </eb:PartyId>"),
    ],
    ids=["no-message-id", "bad-timestamp", "no-action", "no-role", "blank-party-id"],
)
def test_missing_or_invalid_header_values_are_invalid_header(old: str, new: str) -> None:
    document = _envelope(_messaging(USER.format(payload="").replace(old, new)))
    with pytest.raises(EbmsException) as refused:
        parse_messaging(find_messaging(parse_xml(document)))
    assert refused.value.error is EbmsError.INVALID_HEADER


def test_pull_request_is_feature_not_supported() -> None:
    pull = (
        "<eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp>"
        "<eb:MessageId>p@x</eb:MessageId></eb:MessageInfo><eb:PullRequest/></eb:SignalMessage>"
    )
    with pytest.raises(EbmsException) as refused:
        parse_messaging(find_messaging(parse_xml(_envelope(_messaging(pull)))))
    assert refused.value.error is EbmsError.FEATURE_NOT_SUPPORTED
