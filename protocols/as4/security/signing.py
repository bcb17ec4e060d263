"""Signing an AS4 envelope: a ds:Signature in wsse:Security over Messaging, Body and attachments.

WSS 1.1 §8 and the eDelivery AS4 profile §3.2.6: exclusive c14n SignedInfo, rsa-sha256, one
ds:Reference for eb:Messaging, one for the SOAP Body (each with an exc-c14n transform) and one per
attachment (`cid:`, SwA Attachment-Content-Signature-Transform, WSS SwA profile 1.1 §5.4).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.markup import attribute, fragments
from protocols.as4.payload import Attachment
from protocols.as4.security.algorithms import (
    DEFAULT_SIGNATURE,
    SignatureAlgorithms,
    digest_name,
    signature_hash,
)
from protocols.as4.security.canonical import attachment_digest, exc_c14n
from protocols.as4.security.header import body, ensure_id, messaging, new_id, security
from protocols.as4.security.tokens import binary_security_token_markup, security_token_reference_markup
from protocols.as4.security.values import KEY_REFERENCES, SignedReference, SigningIdentity

__all__ = [
    "attachment_references",
    "reference_markup",
    "sign_envelope",
    "signature_markup",
    "signed_info_markup",
]


def _invalid(detail: str) -> ValueError:
    return ValueError(f"cannot sign: {detail}")


def reference_markup(
    uri: str, transform: str, digest_method: str, digest_value: str
) -> tuple[str, SignedReference]:
    """A ds:Reference in its canonical form, and the reference it records."""
    markup = (
        f'<ds:Reference URI="{attribute(uri)}"><ds:Transforms><ds:Transform Algorithm="{transform}">'
        f'</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{digest_method}"></ds:DigestMethod>'
        f"<ds:DigestValue>{digest_value}</ds:DigestValue></ds:Reference>"
    )
    return markup, SignedReference(uri, digest_method, digest_value, (transform,))


def signed_info_markup(signature_method: str, references: Sequence[str]) -> str:
    """ds:SignedInfo in its exclusive-c14n form: the bytes the signature value is computed over."""
    return (
        f'<ds:SignedInfo xmlns:ds="{ns.NS_DS}">'
        f'<ds:CanonicalizationMethod Algorithm="{ns.ALG_C14N_EXCL}"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{signature_method}"></ds:SignatureMethod>'
        f"{''.join(references)}</ds:SignedInfo>"
    )


def attachment_references(
    attachments: Sequence[Attachment], algorithms: SignatureAlgorithms
) -> list[tuple[str, SignedReference]]:
    """One reference per attachment over its current (plaintext, possibly compressed) content."""
    digest = digest_name(algorithms.digest_method)
    references = []
    for attachment in attachments:
        try:
            value = attachment_digest(attachment, digest, EbmsError.OTHER)
        except EbmsException as bad:
            raise _invalid(bad.detail) from None
        references.append(
            reference_markup(
                f"cid:{attachment.content_id}",
                ns.SWA_ATTACHMENT_CONTENT_SIGNATURE_TRANSFORM,
                algorithms.digest_method,
                value,
            )
        )
    return references


def signature_markup(
    signed_info: str, signature_value: str, identity: SigningIdentity, key_reference: str
) -> str:
    """The token (for a "bst" key reference) and the ds:Signature around a signed SignedInfo."""
    if key_reference not in KEY_REFERENCES:
        raise _invalid(f"key reference must be one of {KEY_REFERENCES}, not {key_reference!r}")
    token = token_id = None
    if key_reference == "bst":
        token, token_id = binary_security_token_markup(identity.certificate)
    return (
        f'{token or ""}<ds:Signature xmlns:ds="{ns.NS_DS}" Id="{new_id("SIG")}">{signed_info}'
        f"<ds:SignatureValue>{signature_value}</ds:SignatureValue><ds:KeyInfo>"
        f"{security_token_reference_markup(key_reference, identity.certificate, token_id=token_id)}"
        "</ds:KeyInfo></ds:Signature>"
    )


def sign_envelope(
    envelope: etree._Element,
    attachments: Sequence[Attachment],
    identity: SigningIdentity,
    *,
    algorithms: SignatureAlgorithms = DEFAULT_SIGNATURE,
    key_reference: str = "bst",
) -> tuple[SignedReference, ...]:
    """Sign eb:Messaging, the Body and every attachment in place; the references as signed.

    Attachments are digested in their current (plaintext, possibly compressed) form, so sign
    before encrypting. Messaging and Body get a wsu:Id when they have none.
    """
    if key_reference not in KEY_REFERENCES:
        raise _invalid(f"key reference must be one of {KEY_REFERENCES}, not {key_reference!r}")
    target_messaging = messaging(envelope, _invalid)
    target_body = body(envelope, _invalid)
    header_security = security(envelope, _invalid, create=True)
    assert header_security is not None
    digest = digest_name(algorithms.digest_method)

    references: list[tuple[str, SignedReference]] = []
    for element, prefix in ((target_messaging, "id-messaging"), (target_body, "id-body")):
        element_id = ensure_id(element, prefix)
        value = base64.b64encode(hashlib.new(digest, exc_c14n(element)).digest()).decode("ascii")
        references.append(
            reference_markup(f"#{element_id}", ns.ALG_C14N_EXCL, algorithms.digest_method, value)
        )
    references += attachment_references(attachments, algorithms)

    # The token (when carried) and the signature are one template, parsed once; the SignedInfo
    # is canonicalised from the tree all the same (it is what a verifier will see).
    markup = signature_markup(
        signed_info_markup(algorithms.signature_method, [markup for markup, _ in references]),
        "",
        identity,
        key_reference,
    )
    elements = fragments(markup)
    for element in elements:
        header_security.append(element)
    signature = elements[-1]
    signed_info, signature_value = signature[0], signature[1]
    signed = identity.private_key.sign(
        exc_c14n(signed_info), padding.PKCS1v15(), signature_hash(algorithms.signature_method)
    )
    signature_value.text = base64.b64encode(signed).decode("ascii")
    return tuple(reference for _, reference in references)
