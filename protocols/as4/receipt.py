"""AS4 non-repudiation receipts (AS4 profile §5.1.8): build one for what we verified, check one we got."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from lxml import etree

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.model import MessagePartReference, Receipt, SignalMessage
from protocols.as4.namespaces import NS_DS, NS_EB, NS_EBBP, NS_S12, NS_WSSE, NS_WSU
from protocols.as4.security import SignedReference, VerifiedSignature
from protocols.as4.security.canonical import exc_c14n
from protocols.as4.xml import parse_xml

__all__ = [
    "check_receipt",
    "non_repudiation_information",
    "non_repudiation_markup",
    "receipt_of",
    "user_message_copy",
]

_INVALID = EbmsError.INVALID_RECEIPT
_DIGEST_METHOD = f"{{{NS_DS}}}DigestMethod"
_DIGEST_VALUE = f"{{{NS_DS}}}DigestValue"

# What an output ancestor of a ds:Reference in a signed receipt's eb:Messaging (as
# `envelope.messaging_markup` writes it with a wsu:Id) and in the NRI visibly uses and renders.
_RECEIPT_NAMESPACES = {"S12": NS_S12, "eb": NS_EB, "ebbp": NS_EBBP, "wsu": NS_WSU}
_RECEIPT_DECLARATIONS = tuple(f' xmlns:{prefix}="{uri}"' for prefix, uri in _RECEIPT_NAMESPACES.items())
# An element that visibly uses them all, standing in for those ancestors (attribute values empty:
# its canonical start tag ends at the first '>').
_RECEIPT_CONTEXT = "<c{}{}>".format(
    "".join(_RECEIPT_DECLARATIONS), "".join(f' {prefix}:c=""' for prefix in _RECEIPT_NAMESPACES)
)
_RECEIPT_CONTEXT_END = "</c>"


def _signed_info_references(envelope: etree._Element) -> list[etree._Element]:
    references: list[etree._Element] = []
    for security in envelope.iter(f"{{{NS_WSSE}}}Security"):
        for signature in security.findall(f"{{{NS_DS}}}Signature"):
            signed_info = signature.find(f"{{{NS_DS}}}SignedInfo")
            if signed_info is not None:
                references.extend(signed_info.findall(f"{{{NS_DS}}}Reference"))
    return references


def _verified_references(envelope: etree._Element, verified: VerifiedSignature) -> list[etree._Element]:
    """The received ds:Reference elements of every verified reference, once each, in document order."""
    wanted = {(r.uri, r.digest_method, "".join(r.digest_value.split())) for r in verified.references}
    found: list[etree._Element] = []
    copied: set[tuple[str, str, str]] = set()
    for reference in _signed_info_references(envelope):
        key = _reference_key(reference).key()
        if key in wanted and key not in copied:
            found.append(reference)
            copied.add(key)
    if copied != wanted:
        raise ValueError("the verified references are not all in the envelope's SignedInfo")
    return found


def non_repudiation_information(envelope: etree._Element, verified: VerifiedSignature) -> etree._Element:
    """ebbp:NonRepudiationInformation with one MessagePartNRInformation per verified ds:Reference.

    Each ds:Reference is copied verbatim from the received SignedInfo (transforms included),
    as WSS4J-based MSHs and the eDelivery profile expect; the digests are the ones we checked.
    """
    nri = etree.Element(f"{{{NS_EBBP}}}NonRepudiationInformation", nsmap={"ebbp": NS_EBBP, "ds": NS_DS})
    for reference in _verified_references(envelope, verified):
        part = etree.SubElement(nri, f"{{{NS_EBBP}}}MessagePartNRInformation")
        part.append(copy.deepcopy(reference))
    return nri


def non_repudiation_markup(envelope: etree._Element, verified: VerifiedSignature) -> str:
    """`non_repudiation_information` in the exclusive-c14n form it has inside a signed receipt's
    eb:Messaging (written by `envelope.messaging_markup` with a messaging id), as the partner
    canonicalises it back when checking our signature."""
    elements = verified.reference_elements
    if len(elements) != len(verified.references) or not all(
        isinstance(element, etree._Element) and element.getroottree().getroot() is envelope
        for element in elements
    ):
        elements = tuple(_verified_references(envelope, verified))
    parts = "".join(
        f"<ebbp:MessagePartNRInformation>{_in_receipt(reference)}</ebbp:MessagePartNRInformation>"
        for reference in elements
    )
    return f'<ebbp:NonRepudiationInformation xmlns:ebbp="{NS_EBBP}">{parts}</ebbp:NonRepudiationInformation>'


def _in_receipt(reference: etree._Element) -> str:
    """The canonical form of `reference` inside the receipt.

    Exclusive XML Canonicalization 1.0 §3: a namespace declaration is rendered only where its
    prefix is visibly utilized and the nearest output ancestor visibly utilizing that prefix does
    not already have it with the same value. Canonicalised on its own, the reference declares what
    it uses; inside the receipt, a declaration of one of `_RECEIPT_NAMESPACES` with the same URI
    is not rendered. The common reference uses none of them and is taken as it is; otherwise
    lxml canonicalises it again under an element standing in for the receipt's ancestors.
    """
    canonical = exc_c14n(reference).decode("utf-8")
    if not any(declaration in canonical for declaration in _RECEIPT_DECLARATIONS):
        return canonical
    context = parse_xml(f"{_RECEIPT_CONTEXT}{canonical}{_RECEIPT_CONTEXT_END}".encode())
    in_context = exc_c14n(context).decode("utf-8")
    return in_context[in_context.index(">") + 1 : -len(_RECEIPT_CONTEXT_END)]


def user_message_copy(envelope: etree._Element) -> etree._Element:
    """A copy of the received eb:UserMessage: the receipt content when the message was not signed."""
    found = envelope.find(f".//{{{NS_EB}}}Messaging/{{{NS_EB}}}UserMessage")
    if found is None:
        raise ValueError("no eb:UserMessage to acknowledge")
    return copy.deepcopy(found)


def receipt_of(references: Sequence[SignedReference]) -> Receipt:
    return Receipt(tuple(MessagePartReference(r.uri, r.digest_method, r.digest_value) for r in references))


def check_receipt(
    signal: SignalMessage, *, sent_message_id: str, signed: Sequence[SignedReference]
) -> Receipt:
    """The receipt in `signal` if it acknowledges exactly what we sent, else EBMS:0302.

    The signature over the receipt is checked by the caller (inbound.read_response).
    """
    receipt = signal.receipt
    if receipt is None:
        raise EbmsException(_INVALID, "the signal carries no receipt", ref_to_message_id=sent_message_id)
    if signal.message_info.ref_to_message_id != sent_message_id:
        raise EbmsException(
            _INVALID,
            f"the receipt refers to {signal.message_info.ref_to_message_id!r}, not to the message we sent",
            ref_to_message_id=sent_message_id,
        )
    if signed:
        got = [r.key() for r in receipt.references]
        expected = {(r.uri, r.digest_method, "".join(r.digest_value.split())) for r in signed}
        if len(got) != len(set(got)) or set(got) != expected:
            missing = len(expected - set(got))
            extra = len(set(got) - expected)
            raise EbmsException(
                _INVALID,
                f"the receipt's NonRepudiationInformation does not match our signature "
                f"({missing} reference(s) missing or different, {extra} unexpected)",
                ref_to_message_id=sent_message_id,
            )
    return receipt


def _reference_key(reference: etree._Element) -> MessagePartReference:
    method = value = ""
    for child in reference:
        if child.tag == _DIGEST_METHOD:
            method = child.get("Algorithm") or ""
        elif child.tag == _DIGEST_VALUE:
            value = "".join((child.text or "").split())
    return MessagePartReference(uri=reference.get("URI") or "", digest_method=method, digest_value=value)
