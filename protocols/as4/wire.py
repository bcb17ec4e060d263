"""Signed envelopes written straight to bytes: no element tree is built for what we send.

eb:Messaging, the Body and ds:SignedInfo are written in their exclusive-c14n form, so each is
digested or signed as written, and the same text goes on the wire (a verifier canonicalises it
back to the same bytes). Encryption markup, when any, goes first in wsse:Security, as in
`security.encrypt_attachments`; the element-building path (`security.sign_envelope`) stays for
envelopes with a Body payload and for unsigned or error signals.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import padding

from protocols.as4 import namespaces as ns
from protocols.as4.payload import Attachment
from protocols.as4.security.algorithms import SignatureAlgorithms, digest_name, signature_hash
from protocols.as4.security.header import new_id
from protocols.as4.security.signing import (
    attachment_references,
    reference_markup,
    signature_markup,
    signed_info_markup,
)
from protocols.as4.security.values import SignedReference, SigningIdentity

__all__ = ["signed_envelope"]

_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"


def signed_envelope(
    messaging: str,
    messaging_id: str,
    attachments: Sequence[Attachment],
    identity: SigningIdentity,
    *,
    algorithms: SignatureAlgorithms,
    key_reference: str,
    encryption: str = "",
) -> tuple[bytes, tuple[SignedReference, ...]]:
    """The envelope around canonical `messaging` (whose wsu:Id is `messaging_id`) and an empty Body,
    signed over both and every attachment (in its current form: sign before encrypting), with
    `encryption` markup before the signature; the bytes and the references as signed."""
    body_id = new_id("id-body")
    body = f'<S12:Body xmlns:S12="{ns.NS_S12}" xmlns:wsu="{ns.NS_WSU}" wsu:Id="{body_id}"></S12:Body>'
    digest = digest_name(algorithms.digest_method)
    references = [
        reference_markup(
            f"#{element_id}",
            ns.ALG_C14N_EXCL,
            algorithms.digest_method,
            base64.b64encode(hashlib.new(digest, canonical.encode("utf-8")).digest()).decode("ascii"),
        )
        for element_id, canonical in ((messaging_id, messaging), (body_id, body))
    ]
    references += attachment_references(attachments, algorithms)
    signed_info = signed_info_markup(algorithms.signature_method, [markup for markup, _ in references])
    value = identity.private_key.sign(
        signed_info.encode("utf-8"), padding.PKCS1v15(), signature_hash(algorithms.signature_method)
    )
    signature = signature_markup(
        signed_info, base64.b64encode(value).decode("ascii"), identity, key_reference
    )
    envelope = (
        f'{_DECLARATION}<S12:Envelope xmlns:S12="{ns.NS_S12}" xmlns:eb="{ns.NS_EB}" xmlns:wsu="{ns.NS_WSU}">'
        f'<S12:Header><wsse:Security xmlns:wsse="{ns.NS_WSSE}" S12:mustUnderstand="true">'
        f"{encryption}{signature}</wsse:Security>{messaging}</S12:Header>{body}</S12:Envelope>"
    )
    return envelope.encode("utf-8"), tuple(reference for _, reference in references)
