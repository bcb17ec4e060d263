"""Verifying an AS4 signature without being fooled by wrapping, and finding who signed.

Every check raises EbmsException(EBMS:0101) naming what failed. The rules (ebMS3 Core §7,
AS4 profile §3.2.6, and the XML Signature Best Practices on wrapping):
1. exactly one wsse:Security for us with exactly one ds:Signature; no Id value twice in the document;
2. SignedInfo: exc-c14n, a signature method and digest methods from the table;
3. every ds:Reference is `#id` resolving to exactly one element that is eb:Messaging in the
   Header or the Body of this Envelope (exc-c14n transform only), or `cid:` naming an
   attachment of the message (Attachment-Content-Signature-Transform only), each at most once;
4. eb:Messaging, the Body and every required attachment are covered;
5. the SecurityTokenReference names one of the trusted certificates (compared whole), and the
   SignatureValue verifies with it; then every digest matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import Attachment
from protocols.as4.security.algorithms import digest_name, signature_hash
from protocols.as4.security.canonical import attachment_digest, exc_c14n
from protocols.as4.security.header import body, id_index, messaging, qname, security
from protocols.as4.security.tokens import (
    TokenReference,
    certificate_der,
    matches,
    read_token_reference,
)
from protocols.as4.security.values import SignedReference, VerifiedSignature

__all__ = ["find_signing_certificate", "signature_token_reference", "verify_envelope"]


def _fail(detail: str) -> EbmsException:
    return EbmsException(EbmsError.FAILED_AUTHENTICATION, detail)


def _ds_children(parent: etree._Element, local: str) -> list[etree._Element]:
    return list(parent.iterchildren(f"{{{ns.NS_DS}}}{local}"))


def _one_ds(parent: etree._Element, local: str) -> etree._Element:
    found = _ds_children(parent, local)
    if len(found) != 1:
        raise _fail(f"{len(found)} ds:{local} in {etree.QName(parent).localname}, expected exactly one")
    return found[0]


def _signature(envelope: etree._Element) -> etree._Element:
    header_security = security(envelope, _fail)
    if header_security is None:
        raise _fail("no wsse:Security header")
    return _one_ds(header_security, "Signature")


def signature_token_reference(
    envelope: etree._Element,
    ids: dict[str, list[etree._Element]] | None = None,
    signature: etree._Element | None = None,
) -> TokenReference:
    """What the signature's KeyInfo/SecurityTokenReference names (EBMS:0101 if unreadable);
    `signature` is the envelope's ds:Signature when the caller already found it."""
    key_info = _one_ds(_signature(envelope) if signature is None else signature, "KeyInfo")
    children = [child for child in key_info if isinstance(child.tag, str)]
    if len(children) != 1 or children[0].tag != qname(ns.NS_WSSE, "SecurityTokenReference"):
        raise _fail("ds:KeyInfo must hold exactly one wsse:SecurityTokenReference")
    return read_token_reference(children[0], envelope, _fail, ids)


def find_signing_certificate(
    envelope: etree._Element, candidates: Sequence[x509.Certificate] = ()
) -> x509.Certificate | None:
    """The certificate the signature's STR points at: the referenced BST's certificate, or the one
    of `candidates` an IssuerSerial/SKI reference names; None when there is no such certificate."""
    try:
        reference = signature_token_reference(envelope)
    except EbmsException:
        return None
    if reference.certificate is not None:
        return reference.certificate
    return next((certificate for certificate in candidates if matches(reference, certificate)), None)


_INCLUSIVE_NAMESPACES = qname(ns.ALG_C14N_EXCL, "InclusiveNamespaces")
_SIGNED_INFO_CHILDREN = frozenset(
    qname(ns.NS_DS, n) for n in ("CanonicalizationMethod", "SignatureMethod", "Reference")
)


def _inclusive_prefixes(holder: etree._Element) -> tuple[str, ...]:
    found = [child for child in holder if child.tag == _INCLUSIVE_NAMESPACES]
    if not found:
        return ()
    if len(found) > 1:
        raise _fail("more than one ec:InclusiveNamespaces")
    return tuple(found[0].get("PrefixList", "").split())


def _only_algorithm(holder: etree._Element, local: str) -> etree._Element:
    element = _one_ds(holder, local)
    if not element.get("Algorithm"):
        raise _fail(f"ds:{local} without an Algorithm")
    return element


def _transforms(reference: etree._Element) -> list[etree._Element]:
    holders = _ds_children(reference, "Transforms")
    if len(holders) > 1:
        raise _fail("more than one ds:Transforms in a reference")
    return _ds_children(holders[0], "Transform") if holders else []


def _b64decode(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{what} is not base64") from None


def _trusted_signer(reference: TokenReference, trusted: Sequence[x509.Certificate]) -> x509.Certificate:
    if reference.certificate is not None:
        signer = reference.certificate
        der = certificate_der(signer)
        if not any(certificate_der(candidate) == der for candidate in trusted):
            raise _fail(
                f"signing certificate {signer.subject.rfc4514_string()} (serial {signer.serial_number}) "
                "is not a trusted certificate for this partner"
            )
        return signer
    named = [candidate for candidate in trusted if matches(reference, candidate)]
    if not named:
        what = (
            f"issuer {reference.issuer} serial {reference.serial}"
            if reference.style == "issuer-serial"
            else "SubjectKeyIdentifier " + base64.b64encode(reference.ski or b"").decode()
        )
        raise _fail(f"the signature names a certificate by {what} that is not trusted for this partner")
    return named[0]


@dataclass(frozen=True, slots=True)
class _Check:
    """One reference to recompute: over an element (with exc-c14n prefixes) or an attachment."""

    reference: SignedReference
    digest: str
    declared: bytes
    target: etree._Element | Attachment
    prefixes: tuple[str, ...] = ()


def _read_reference(
    reference: etree._Element,
    ids: dict[str, list[etree._Element]],
    parts: dict[str, etree._Element],
    by_cid: dict[str, Attachment],
) -> tuple[str, _Check]:
    """The part a ds:Reference covers ('messaging', 'body' or 'cid:<id>') and how to check it."""
    uri = reference.get("URI")
    if not uri:
        raise _fail("a ds:Reference without URI")
    if reference.get("Type"):
        raise _fail(f"reference {uri} has a Type, which AS4 references do not use")
    digest_method = _only_algorithm(reference, "DigestMethod").get("Algorithm") or ""
    digest = digest_name(digest_method)
    declared = _b64decode(_one_ds(reference, "DigestValue").text, f"DigestValue of {uri}")
    transforms = _transforms(reference)
    transform_uris = tuple(transform.get("Algorithm") or "" for transform in transforms)
    signed = SignedReference(uri, digest_method, base64.b64encode(declared).decode("ascii"), transform_uris)

    if uri.startswith("#"):
        targets = ids.get(uri[1:], [])
        if len(targets) != 1:
            raise _fail(f"reference {uri} resolves to {len(targets)} elements")
        part = next((name for name, element in parts.items() if element is targets[0]), None)
        if part is None:
            raise _fail(
                f"reference {uri} points at {etree.QName(targets[0]).localname}, which is neither the "
                "eb:Messaging header nor the Body of this envelope"
            )
        if transform_uris != (ns.ALG_C14N_EXCL,):
            raise _fail(f"reference {uri} must have exactly the exc-c14n transform, has {transform_uris}")
        return part, _Check(signed, digest, declared, targets[0], _inclusive_prefixes(transforms[0]))
    if uri.startswith("cid:"):
        content_id = unquote(uri[4:])
        if content_id not in by_cid:
            raise _fail(f"reference {uri} names no attachment of the message")
        if transform_uris != (ns.SWA_ATTACHMENT_CONTENT_SIGNATURE_TRANSFORM,):
            raise _fail(
                f"reference {uri} must have exactly the Attachment-Content-Signature-Transform, "
                f"has {transform_uris}"
            )
        return f"cid:{content_id}", _Check(signed, digest, declared, by_cid[content_id])
    raise _fail(f"reference {uri!r} is neither a same-document Id nor a cid: attachment")


def _read_signed_info(signed_info: etree._Element) -> tuple[str, tuple[str, ...]]:
    """The signature method and the InclusiveNamespaces prefixes of the SignedInfo canonicalisation."""
    for child in signed_info:
        if isinstance(child.tag, str) and child.tag not in _SIGNED_INFO_CHILDREN:
            raise _fail(f"unexpected {child.tag} in SignedInfo")
    c14n_method = _only_algorithm(signed_info, "CanonicalizationMethod")
    if c14n_method.get("Algorithm") != ns.ALG_C14N_EXCL:
        raise _fail(f"SignedInfo canonicalisation {c14n_method.get('Algorithm')} is not exc-c14n")
    method = _only_algorithm(signed_info, "SignatureMethod")
    signature_hash(method.get("Algorithm"))
    if len(method):
        raise _fail("SignatureMethod parameters (HMACOutputLength) are not accepted")
    return method.get("Algorithm") or "", _inclusive_prefixes(c14n_method)


def verify_envelope(
    envelope: etree._Element,
    attachments: Sequence[Attachment],
    *,
    trusted: Sequence[x509.Certificate],
    required_attachments: Sequence[str],
    ids: dict[str, list[etree._Element]] | None = None,
) -> VerifiedSignature:
    """Verify the message signature; attachments must already be decrypted (sign-then-encrypt).

    `required_attachments` are Content-IDs (without `cid:`) that must be signed, normally every
    PartInfo href of the UserMessage. `ids` is `header.id_index(envelope)` when the caller
    already built it for this (unchanged) document. Raises EbmsException(EBMS:0101) on any failure.
    """
    signature = _signature(envelope)
    parts = {"messaging": messaging(envelope, _fail), "body": body(envelope, _fail)}
    if ids is None:
        ids = id_index(envelope)
    duplicates = sorted(value for value, elements in ids.items() if len(elements) > 1)
    if duplicates:
        raise _fail(f"duplicate Id {duplicates[0]!r} in the message")

    signed_info = _one_ds(signature, "SignedInfo")
    signature_method, prefixes = _read_signed_info(signed_info)
    by_cid = {attachment.content_id: attachment for attachment in attachments}
    checks: dict[str, _Check] = {}
    elements = _ds_children(signed_info, "Reference")
    for reference in elements:
        part, check = _read_reference(reference, ids, parts, by_cid)
        if part in checks:
            raise _fail(f"{part} is covered by more than one reference ({check.reference.uri})")
        checks[part] = check
    for required in ("messaging", "body", *(f"cid:{cid}" for cid in required_attachments)):
        if required not in checks:
            what = {"messaging": "eb:Messaging", "body": "the SOAP Body"}.get(required, required)
            raise _fail(f"{what} is not covered by the signature")

    signer = _trusted_signer(signature_token_reference(envelope, ids, signature), trusted)
    public_key = signer.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise _fail("the signing certificate does not hold an RSA key")
    value = _b64decode(_one_ds(signature, "SignatureValue").text, "SignatureValue")
    try:
        public_key.verify(
            value, exc_c14n(signed_info, prefixes), padding.PKCS1v15(), signature_hash(signature_method)
        )
    except InvalidSignature:
        raise _fail("SignatureValue does not verify with the signing certificate") from None

    for check in checks.values():
        if isinstance(check.target, etree._Element):
            computed = hashlib.new(check.digest, exc_c14n(check.target, check.prefixes)).digest()
        else:
            computed = base64.b64decode(
                attachment_digest(check.target, check.digest, EbmsError.FAILED_AUTHENTICATION)
            )
        if not hmac.compare_digest(computed, check.declared):
            raise _fail(f"digest mismatch for {check.reference.uri}")
    return VerifiedSignature(
        signer, tuple(check.reference for check in checks.values()), signature_method, tuple(elements)
    )
