"""The SOAP 1.2 envelope with its eb:Messaging header, built from and read into the ebMS3 model."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from protocols.as4.errors import EbmsError, EbmsException, Severity
from protocols.as4.markup import attribute, fragment, text
from protocols.as4.model import (
    AgreementRef,
    CollaborationInfo,
    ErrorDetail,
    MessageInfo,
    MessagePartReference,
    PartInfo,
    Party,
    PartyId,
    Property,
    Receipt,
    Service,
    SignalMessage,
    UserMessage,
    format_timestamp,
)
from protocols.as4.namespaces import (
    COMPRESSION_GZIP,
    DEFAULT_MPC,
    NS_DS,
    NS_EB,
    NS_EBBP,
    NS_S11,
    NS_S12,
    NS_WSSE,
    NS_WSU,
)

__all__ = [
    "Messaging",
    "build_envelope",
    "find_body",
    "find_header",
    "find_messaging",
    "messaging_markup",
    "parse_messaging",
    "parse_timestamp",
]

_EB = f"{{{NS_EB}}}"
_S12 = f"{{{NS_S12}}}"
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
_HEADER = EbmsError.INVALID_HEADER
_INCONSISTENT = EbmsError.VALUE_INCONSISTENT
_UNDERSTOOD_HEADERS = frozenset({f"{_EB}Messaging", f"{{{NS_WSSE}}}Security"})


@dataclass(frozen=True, slots=True)
class Messaging:
    """What one eb:Messaging header holds; a valid AS4 message has exactly one of the two."""

    user_messages: tuple[UserMessage, ...]
    signal_messages: tuple[SignalMessage, ...]


def _fail(error: EbmsError, detail: str, ref: str | None = None) -> EbmsException:
    return EbmsException(error, detail, ref_to_message_id=ref)


# ---------------------------------------------------------------------------------- building


def build_envelope(
    message: UserMessage | SignalMessage,
    *,
    body: Sequence[etree._Element] = (),
    receipt_content: Sequence[etree._Element] = (),
) -> etree._Element:
    """A SOAP 1.2 envelope whose header is eb:Messaging (S12:mustUnderstand="true") holding `message`.

    `receipt_content` replaces the receipt's child elements (the NRI element tree built by
    `receipt.py`, copied verbatim from the received signature).
    """
    # One escaped template, parsed once: a fraction of the cost of creating each element.
    envelope = fragment(
        f'<S12:Envelope xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}" xmlns:wsu="{NS_WSU}"><S12:Header>'
        f"{messaging_markup(message)}</S12:Header><S12:Body></S12:Body></S12:Envelope>"
    )
    if isinstance(message, SignalMessage) and message.receipt is not None:
        receipt = envelope[0][0][0][-1]
        for child in receipt_content:
            receipt.append(child)
    body_element = envelope[1]
    for child in body:
        body_element.append(child)
    return envelope


def messaging_markup(
    message: UserMessage | SignalMessage, *, messaging_id: str | None = None, receipt_content: str = ""
) -> str:
    """eb:Messaging holding `message`, written in its exclusive-c14n form (the form its digest is
    taken of, wherever it stands in an envelope); with a wsu:Id when `messaging_id` is given.
    `receipt_content` is canonical markup for the inside of eb:Receipt."""
    content = (
        _user_message(message)
        if isinstance(message, UserMessage)
        else _signal_message(message, receipt_content)
    )
    # Namespace declarations by prefix, then attributes by namespace URI (wsu's sorts before S12's).
    wsu = f' xmlns:wsu="{NS_WSU}"' if messaging_id is not None else ""
    identifier = f' wsu:Id="{attribute(messaging_id)}"' if messaging_id is not None else ""
    return (
        f'<eb:Messaging xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}"{wsu}{identifier} S12:mustUnderstand="true">'
        f"{content}</eb:Messaging>"
    )


def _element(tag: str, value: str, **attributes: str | None) -> str:
    """eb:`tag` with text `value` and the attributes that are not None (in c14n order: by name)."""
    given = "".join(
        f' {name}="{attribute(attributes[name])}"'
        for name in sorted(attributes)
        if attributes[name] is not None
    )
    return f"<eb:{tag}{given}>{text(value)}</eb:{tag}>"


def _message_info(info: MessageInfo) -> str:
    ref = _element("RefToMessageId", info.ref_to_message_id) if info.ref_to_message_id else ""
    return (
        f"<eb:MessageInfo>{_element('Timestamp', format_timestamp(info.timestamp))}"
        f"{_element('MessageId', info.message_id)}{ref}</eb:MessageInfo>"
    )


# A node sends to and from a handful of parties under a handful of agreements: their markup is kept.
@functools.lru_cache(maxsize=1024)
def _party(tag: str, party: Party) -> str:
    ids = "".join(_element("PartyId", party_id.value, type=party_id.type) for party_id in party.party_ids)
    return f"<eb:{tag}>{ids}{_element('Role', party.role)}</eb:{tag}>"


def _properties(tag: str, properties: Sequence[Property]) -> str:
    items = "".join(_element("Property", prop.value, name=prop.name, type=prop.type) for prop in properties)
    return f"<eb:{tag}>{items}</eb:{tag}>"


def _user_message(message: UserMessage) -> str:
    mpc = f' mpc="{attribute(message.mpc)}"' if message.mpc != DEFAULT_MPC else ""
    properties = (
        _properties("MessageProperties", message.message_properties) if message.message_properties else ""
    )
    payload_info = ""
    if message.payload_info:
        parts = []
        for part in message.payload_info:
            href = f' href="{attribute(part.href)}"' if part.href is not None else ""
            inner = _properties("PartProperties", part.part_properties) if part.part_properties else ""
            parts.append(f"<eb:PartInfo{href}>{inner}</eb:PartInfo>")
        payload_info = f"<eb:PayloadInfo>{''.join(parts)}</eb:PayloadInfo>"
    return (
        f"<eb:UserMessage{mpc}>{_message_info(message.message_info)}"
        f"<eb:PartyInfo>{_party('From', message.from_party)}{_party('To', message.to_party)}</eb:PartyInfo>"
        f"{_collaboration(message.collaboration_info)}{properties}{payload_info}</eb:UserMessage>"
    )


def _collaboration(collaboration: CollaborationInfo) -> str:
    head = _agreement_service_action(collaboration.agreement_ref, collaboration.service, collaboration.action)
    conversation = _element("ConversationId", collaboration.conversation_id)
    return f"<eb:CollaborationInfo>{head}{conversation}</eb:CollaborationInfo>"


@functools.lru_cache(maxsize=1024)
def _agreement_service_action(agreement_ref: AgreementRef | None, service: Service, action: str) -> str:
    agreement = ""
    if agreement_ref is not None:
        agreement = _element(
            "AgreementRef", agreement_ref.value, type=agreement_ref.type, pmode=agreement_ref.pmode
        )
    return f"{agreement}{_element('Service', service.value, type=service.type)}{_element('Action', action)}"


def _signal_message(message: SignalMessage, receipt_content: str) -> str:
    info = _message_info(message.message_info)
    if message.receipt is not None:
        return f"<eb:SignalMessage>{info}<eb:Receipt>{receipt_content}</eb:Receipt></eb:SignalMessage>"
    errors = []
    for error in message.errors:
        attributes = {
            "category": error.category,
            "errorCode": error.code,
            "origin": error.origin or None,
            "refToMessageInError": error.ref_to_message_id or None,
            "severity": str(error.severity),
            "shortDescription": error.short_description,
        }
        given = "".join(f' {name}="{attribute(v)}"' for name, v in attributes.items() if v is not None)
        detail = _element("ErrorDetail", error.detail) if error.detail else ""
        errors.append(f"<eb:Error{given}>{detail}</eb:Error>")
    return f"<eb:SignalMessage>{info}{''.join(errors)}</eb:SignalMessage>"


# ---------------------------------------------------------------------------------- reading


def find_header(envelope: etree._Element) -> etree._Element | None:
    return next((c for c in envelope if c.tag == f"{_S12}Header"), None)


def find_body(envelope: etree._Element) -> etree._Element | None:
    return next((c for c in envelope if c.tag == f"{_S12}Body"), None)


def find_messaging(envelope: etree._Element) -> etree._Element:
    """The one eb:Messaging header block, checking the SOAP 1.2 frame around it.

    SOAP 1.2 §5.2.3: a header block with mustUnderstand="true" that we do not process
    must fault; here that is EBMS:0009. A missing mustUnderstand on eb:Messaging is
    accepted (several deployed MSHs omit it); a false one is refused.
    """
    if envelope.tag == f"{{{NS_S11}}}Envelope":
        raise EbmsException(
            EbmsError.INVALID_HEADER, "SOAP 1.1 envelopes are not accepted: AS4 uses SOAP 1.2"
        )
    if envelope.tag != f"{_S12}Envelope":
        raise _fail(_HEADER, "the root element is not a SOAP 1.2 Envelope")
    children = [c for c in envelope if isinstance(c.tag, str)]
    tags = [c.tag for c in children]
    if tags.count(f"{_S12}Header") != 1 or tags.count(f"{_S12}Body") != 1 or len(tags) != 2:
        raise _fail(_HEADER, "the Envelope needs exactly one Header and one Body")
    if tags != [f"{_S12}Header", f"{_S12}Body"]:
        raise _fail(_HEADER, "the SOAP Header must come before the Body")
    header = children[0]
    found: list[etree._Element] = []
    for block in header:
        if not isinstance(block.tag, str):
            continue
        must = block.get(f"{_S12}mustUnderstand")
        if must is not None and must.strip() not in ("true", "1", "false", "0"):
            raise _fail(_HEADER, f"mustUnderstand has the invalid value {must!r}")
        understood = must is None or must.strip() in ("false", "0") or block.tag in _UNDERSTOOD_HEADERS
        if not understood:
            raise EbmsException(
                EbmsError.INVALID_HEADER,
                f"header block {etree.QName(block).localname} must be understood but is not",
            )
        if block.tag == f"{_EB}Messaging":
            found.append(block)
    if not found:
        raise _fail(_HEADER, "no eb:Messaging header")
    if len(found) > 1:
        raise _fail(_INCONSISTENT, "more than one eb:Messaging header")
    return found[0]


def parse_messaging(messaging: etree._Element) -> Messaging:
    """The messages in an eb:Messaging element, each checked against ebMS 3.0 Core §5.2."""
    users: list[UserMessage] = []
    signals: list[SignalMessage] = []
    for child in messaging:
        if child.tag == f"{_EB}UserMessage":
            users.append(_parse_user_message(child))
        elif child.tag == f"{_EB}SignalMessage":
            signals.append(_parse_signal_message(child))
    return Messaging(tuple(users), tuple(signals))


def parse_timestamp(text: str | None) -> datetime:
    if not text or not text.strip():
        raise _fail(_HEADER, "MessageInfo/Timestamp is missing")
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    # xsd:dateTime allows any number of fraction digits; Python takes at most six.
    value = _LONG_FRACTION.sub(r"\1", value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise EbmsException(
            EbmsError.INVALID_HEADER, f"Timestamp {text.strip()[:64]!r} is not an xsd:dateTime"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _children(parent: etree._Element, tag: str) -> list[etree._Element]:
    # Filtered in C: no Python proxy is made for the children of other names.
    return list(parent.iterchildren(_EB + tag))


def _one(parent: etree._Element, tag: str, *, ref: str | None = None) -> etree._Element:
    found = _children(parent, tag)
    if not found:
        raise _fail(_HEADER, f"eb:{tag} is missing", ref)
    if len(found) > 1:
        raise EbmsException(
            EbmsError.INVALID_HEADER, f"eb:{tag} occurs more than once", ref_to_message_id=ref
        )
    return found[0]


def _optional(parent: etree._Element, tag: str, *, ref: str | None = None) -> etree._Element | None:
    found = _children(parent, tag)
    if len(found) > 1:
        raise EbmsException(
            EbmsError.INVALID_HEADER, f"eb:{tag} occurs more than once", ref_to_message_id=ref
        )
    return found[0] if found else None


def _value(element: etree._Element | None, what: str, *, ref: str | None = None) -> str:
    text = (element.text or "").strip() if element is not None else ""
    if not text:
        raise _fail(_HEADER, f"{what} is empty", ref)
    return text


def _parse_message_info(parent: etree._Element) -> MessageInfo:
    element = _one(parent, "MessageInfo")
    message_id = _value(_optional(element, "MessageId"), "MessageInfo/MessageId")
    ref = _optional(element, "RefToMessageId", ref=message_id)
    stamp = _optional(element, "Timestamp", ref=message_id)
    try:
        return MessageInfo(
            message_id=message_id,
            timestamp=parse_timestamp(stamp.text if stamp is not None else None),
            ref_to_message_id=((ref.text or "").strip() or None) if ref is not None else None,
        )
    except EbmsException as exc:
        raise exc.with_ref(message_id) from None
    except ValueError as exc:
        raise _fail(_HEADER, str(exc)) from None


def _parse_party(parent: etree._Element, tag: str, ref: str) -> Party:
    element = _one(parent, tag, ref=ref)
    ids = []
    for party_id in _children(element, "PartyId"):
        value = _value(party_id, f"{tag}/PartyId", ref=ref)
        ids.append(PartyId(value, party_id.get("type") or None))
    if not ids:
        raise _fail(_HEADER, f"eb:{tag} has no PartyId", ref)
    role = _value(_one(element, "Role", ref=ref), f"{tag}/Role", ref=ref)
    return Party(tuple(ids), role)


def _parse_properties(parent: etree._Element | None, what: str, ref: str) -> tuple[Property, ...]:
    if parent is None:
        return ()
    properties = []
    for prop in _children(parent, "Property"):
        name = prop.get("name")
        if not name:
            raise _fail(_HEADER, f"a {what} Property has no name", ref)
        properties.append(Property(name, (prop.text or "").strip(), prop.get("type") or None))
    return tuple(properties)


def _parse_part_info(element: etree._Element, ref: str) -> PartInfo:
    href = element.get("href")
    if href is not None:
        href = href.strip()
        if href.startswith("cid:"):
            if len(href) == 4:
                raise EbmsException(
                    EbmsError.EXTERNAL_PAYLOAD_ERROR, "PartInfo href 'cid:' is empty", ref_to_message_id=ref
                )
        elif not href.startswith("#"):
            raise EbmsException(
                EbmsError.EXTERNAL_PAYLOAD_ERROR,
                f"PartInfo href {href[:80]!r} is neither a cid: part nor the SOAP Body",
                ref_to_message_id=ref,
            )
    properties = _parse_properties(_optional(element, "PartProperties", ref=ref), "PartProperties", ref)
    part = PartInfo(href if href and href.startswith("cid:") else None, properties)
    compression = part.compression_type
    if compression is not None:
        # AS4 profile §3.1: gzip is the one compression type; MimeType must then name the original type.
        if compression != COMPRESSION_GZIP:
            raise EbmsException(
                EbmsError.VALUE_INCONSISTENT,
                f"CompressionType {compression[:80]!r} is not supported (only {COMPRESSION_GZIP})",
                ref_to_message_id=ref,
            )
        if not part.mime_type:
            raise EbmsException(
                EbmsError.VALUE_INCONSISTENT,
                "a compressed part needs a MimeType part property",
                ref_to_message_id=ref,
            )
    return part


def _parse_user_message(element: etree._Element) -> UserMessage:
    info = _parse_message_info(element)
    ref = info.message_id
    party_info = _one(element, "PartyInfo", ref=ref)
    from_party = _parse_party(party_info, "From", ref)
    to_party = _parse_party(party_info, "To", ref)
    collaboration = _one(element, "CollaborationInfo", ref=ref)
    service_element = _one(collaboration, "Service", ref=ref)
    service = Service(_value(service_element, "Service", ref=ref), service_element.get("type") or None)
    action = _value(_one(collaboration, "Action", ref=ref), "Action", ref=ref)
    conversation = _optional(collaboration, "ConversationId", ref=ref)
    conversation_id = (conversation.text or "").strip() if conversation is not None else ""
    agreement_element = _optional(collaboration, "AgreementRef", ref=ref)
    agreement = None
    if agreement_element is not None:
        agreement = AgreementRef(
            _value(agreement_element, "AgreementRef", ref=ref),
            agreement_element.get("type") or None,
            agreement_element.get("pmode") or None,
        )
    properties = _parse_properties(_optional(element, "MessageProperties", ref=ref), "MessageProperties", ref)
    parts: list[PartInfo] = []
    payload_info = _optional(element, "PayloadInfo", ref=ref)
    if payload_info is not None:
        parts = [_parse_part_info(p, ref) for p in _children(payload_info, "PartInfo")]
    hrefs = [p.href for p in parts]
    if len(hrefs) != len(set(hrefs)):
        raise EbmsException(_INCONSISTENT, "two PartInfo refer to the same part", ref_to_message_id=ref)
    try:
        return UserMessage(
            message_info=info,
            from_party=from_party,
            to_party=to_party,
            collaboration_info=CollaborationInfo(service, action, conversation_id or "1", agreement),
            message_properties=properties,
            payload_info=tuple(parts),
            mpc=(element.get("mpc") or DEFAULT_MPC).strip(),
        )
    except ValueError as exc:
        raise _fail(_HEADER, str(exc), ref) from None


def _parse_signal_message(element: etree._Element) -> SignalMessage:
    info = _parse_message_info(element)
    ref = info.message_id
    receipts = _children(element, "Receipt")
    errors = _children(element, "Error")
    if _children(element, "PullRequest"):
        raise EbmsException(
            EbmsError.FEATURE_NOT_SUPPORTED, "pull is not supported (push only)", ref_to_message_id=ref
        )
    if len(receipts) > 1 or (receipts and errors) or (not receipts and not errors):
        raise EbmsException(
            EbmsError.VALUE_INCONSISTENT,
            "a SignalMessage needs exactly one Receipt or some Errors",
            ref_to_message_id=ref,
        )
    if receipts:
        return SignalMessage(info, receipt=Receipt(_parse_nri(receipts[0])))
    return SignalMessage(info, errors=tuple(_parse_error(e, info) for e in errors))


def _parse_nri(receipt: etree._Element) -> tuple[MessagePartReference, ...]:
    references = []
    for part in receipt.iter(f"{{{NS_EBBP}}}MessagePartNRInformation"):
        for reference in part.iter(f"{{{NS_DS}}}Reference"):
            method = reference.find(f"{{{NS_DS}}}DigestMethod")
            value = reference.find(f"{{{NS_DS}}}DigestValue")
            references.append(
                MessagePartReference(
                    uri=reference.get("URI") or "",
                    digest_method=(method.get("Algorithm") or "") if method is not None else "",
                    digest_value="".join((value.text or "").split()) if value is not None else "",
                )
            )
    return tuple(references)


def _parse_error(element: etree._Element, info: MessageInfo) -> ErrorDetail:
    code = (element.get("errorCode") or "").strip()
    if not code:
        raise EbmsException(
            EbmsError.INVALID_HEADER, "eb:Error has no errorCode", ref_to_message_id=info.message_id
        )
    known = EbmsError.by_code(code)
    severity_text = (element.get("severity") or "failure").strip().lower()
    severity = Severity.WARNING if severity_text == "warning" else Severity.FAILURE
    detail_element = _optional(element, "ErrorDetail")
    description = _optional(element, "Description")
    detail = ""
    if detail_element is not None:
        detail = (detail_element.text or "").strip()
    elif description is not None:
        detail = (description.text or "").strip()
    return ErrorDetail(
        error=known or EbmsError.OTHER,
        detail=detail[:2000],
        ref_to_message_id=(element.get("refToMessageInError") or info.ref_to_message_id or "").strip()
        or None,
        origin=element.get("origin") or None,
        code=code,
        severity=severity,
    )
