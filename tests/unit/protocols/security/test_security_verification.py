"""verify_envelope: what a valid AS4 signature is, and every way a forged one is refused (EBMS:0101)."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import tracemalloc

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from security_support import Repeating, make_envelope, make_identity

from protocols.as4 import namespaces as ns
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import Attachment, InMemory
from protocols.as4.security import (
    SignatureAlgorithms,
    SigningIdentity,
    find_signing_certificate,
    sign_envelope,
    verify_envelope,
)

DS = f"{{{ns.NS_DS}}}"
EB = f"{{{ns.NS_EB}}}"
WSU_ID = f"{{{ns.NS_WSU}}}Id"


def wire(envelope: etree._Element) -> etree._Element:
    """The envelope as the receiver sees it: serialised and parsed again."""
    return etree.fromstring(etree.tostring(envelope))


def signed(
    payloads: tuple[Attachment, ...],
    identity: SigningIdentity,
    *,
    key_reference: str = "bst",
    algorithms: SignatureAlgorithms | None = None,
) -> etree._Element:
    envelope = make_envelope(*(p.content_id for p in payloads))
    kwargs = {"algorithms": algorithms} if algorithms else {}
    sign_envelope(envelope, payloads, identity, key_reference=key_reference, **kwargs)
    return wire(envelope)


def verify(envelope: etree._Element, payloads: tuple[Attachment, ...], *trusted: SigningIdentity):
    return verify_envelope(
        envelope,
        payloads,
        trusted=[identity.certificate for identity in trusted],
        required_attachments=[p.content_id for p in payloads],
    )


def refused(envelope, payloads, *trusted, match: str) -> None:
    with pytest.raises(EbmsException) as caught:
        verify(envelope, payloads, *trusted)
    assert caught.value.error is EbmsError.FAILED_AUTHENTICATION
    assert match in caught.value.detail, caught.value.detail


def signature_of(envelope: etree._Element) -> etree._Element:
    return envelope.find(f".//{DS}Signature")


def resign(envelope: etree._Element, identity: SigningIdentity, hash_algorithm=None) -> None:
    """Recompute the SignatureValue over the (edited) SignedInfo: a forger with a trusted key."""
    signature = signature_of(envelope)
    signed_info = signature.find(f"{DS}SignedInfo")
    canonical = etree.tostring(signed_info, method="c14n", exclusive=True)
    value = identity.private_key.sign(canonical, padding.PKCS1v15(), hash_algorithm or hashes.SHA256())
    signature.find(f"{DS}SignatureValue").text = base64.b64encode(value).decode()


def messaging_of(envelope: etree._Element) -> etree._Element:
    return envelope.find(f"./{{{ns.NS_S12}}}Header/{EB}Messaging")


def body_of(envelope: etree._Element) -> etree._Element:
    return envelope.find(f"./{{{ns.NS_S12}}}Body")


def replace_source(payloads, index: int, data: bytes) -> tuple[Attachment, ...]:
    changed = list(payloads)
    old = changed[index]
    changed[index] = Attachment(old.content_id, old.mime_type, InMemory(data), old.headers)
    return tuple(changed)


# --- what verifies ------------------------------------------------------------------------------


@pytest.mark.parametrize("key_reference", ["bst", "issuer-serial", "ski"])
def test_signed_message_verifies_for_every_key_reference_style(payloads, alice, bob, key_reference):
    envelope = signed(payloads, alice, key_reference=key_reference)
    result = verify(envelope, payloads, bob, alice)
    assert result.certificate == alice.certificate
    assert result.signature_method == ns.ALG_RSA_SHA256
    assert len(result.references) == 2 + len(payloads)


@pytest.mark.parametrize(
    ("method", "digest"),
    [
        (ns.ALG_RSA_SHA384, ns.ALG_DIGEST_SHA384),
        (ns.ALG_RSA_SHA512, ns.ALG_DIGEST_SHA512),
        (ns.ALG_RSA_SHA256, ns.ALG_DIGEST_SHA512),
    ],
)
def test_stronger_signature_and_digest_methods_verify(payloads, alice, method, digest):
    envelope = signed(payloads, alice, algorithms=SignatureAlgorithms(method, digest))
    assert verify(envelope, payloads, alice).signature_method == method


def test_verified_references_are_the_ones_signed(payloads, alice):
    envelope = make_envelope(*(p.content_id for p in payloads))
    references = sign_envelope(envelope, payloads, alice)
    assert verify(wire(envelope), payloads, alice).references == references


def test_xml_attachment_verifies_after_insignificant_reformatting(payloads, alice):
    # exc-c14n: attribute order, unused namespace declarations, the XML declaration do not count.
    envelope = signed(payloads, alice)
    same = b'<a:doc xmlns:a="urn:a">\n <a:x a="2" b="1"></a:x>\n</a:doc>'
    verify(envelope, replace_source(payloads, 1, same), alice)


def test_text_attachment_verifies_with_other_line_endings(payloads, alice):
    envelope = signed(payloads, alice)
    verify(envelope, replace_source(payloads, 2, b"line one\r\nline two\nline three\n"), alice)


def test_certificate_without_ski_extension_is_found_by_its_computed_ski(payloads):
    plain = make_identity("no-ski", with_ski=False)
    envelope = signed(payloads, plain, key_reference="ski")
    assert verify(envelope, payloads, plain).certificate == plain.certificate


def test_the_token_the_reference_names_is_used_not_the_first_one(payloads, alice, bob):
    envelope = signed(payloads, alice)
    security = signature_of(envelope).getparent()
    decoy = copy.deepcopy(security.find(f"{{{ns.NS_WSSE}}}BinarySecurityToken"))
    decoy.set(WSU_ID, "decoy")
    decoy.text = base64.b64encode(bob.certificate.public_bytes(Encoding.DER)).decode()
    security.insert(0, decoy)
    assert verify(envelope, payloads, bob, alice).certificate == alice.certificate
    assert find_signing_certificate(envelope) == alice.certificate


def test_pkipath_token_yields_the_end_entity_certificate(payloads, alice, bob):
    envelope = signed(payloads, alice)
    token = signature_of(envelope).getparent().find(f"{{{ns.NS_WSSE}}}BinarySecurityToken")
    path = _der_sequence(
        bob.certificate.public_bytes(Encoding.DER) + alice.certificate.public_bytes(Encoding.DER)
    )
    token.set("ValueType", ns.TOKEN_X509_PKIPATH)
    token.text = base64.b64encode(path).decode()
    signature_of(envelope).find(f".//{{{ns.NS_WSSE}}}Reference").attrib.pop("ValueType")
    assert verify(envelope, payloads, alice).certificate == alice.certificate


def test_find_signing_certificate_resolves_issuer_serial_against_candidates(payloads, alice, bob):
    envelope = signed(payloads, alice, key_reference="issuer-serial")
    assert find_signing_certificate(envelope) is None
    assert find_signing_certificate(envelope, [bob.certificate, alice.certificate]) == alice.certificate


def test_message_without_attachments_verifies(alice):
    envelope = signed((), alice)
    assert len(verify(envelope, (), alice).references) == 2


# --- tampering ----------------------------------------------------------------------------------


def test_tampered_binary_attachment_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    data = bytearray(b"".join(payloads[0].source.chunks()))
    data[100] ^= 1
    refused(envelope, replace_source(payloads, 0, bytes(data)), alice, match="digest mismatch for cid:bin")


def test_meaningful_change_to_xml_attachment_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    changed = b'<a:doc xmlns:a="urn:a">\n <a:x b="1" a="3"/>\n</a:doc>'
    refused(envelope, replace_source(payloads, 1, changed), alice, match="digest mismatch for cid:xml")


def test_tampered_text_attachment_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    refused(envelope, replace_source(payloads, 2, b"line one\nline 2\n"), alice, match="cid:txt")


def test_tampered_messaging_header_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    messaging_of(envelope).find(f".//{EB}Action").text = "Other"
    refused(envelope, payloads, alice, match="digest mismatch for #")


def test_tampered_body_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    etree.SubElement(body_of(envelope), "injected")
    refused(envelope, payloads, alice, match="digest mismatch")


def test_flipped_signature_value_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    value_element = signature_of(envelope).find(f"{DS}SignatureValue")
    value = bytearray(base64.b64decode(value_element.text))
    value[10] ^= 0x80
    value_element.text = base64.b64encode(bytes(value)).decode()
    refused(envelope, payloads, alice, match="SignatureValue does not verify")


def test_changed_digest_value_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    digest = signature_of(envelope).find(f".//{DS}DigestValue")
    digest.text = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    refused(envelope, payloads, alice, match="SignatureValue does not verify")


def test_signature_value_that_is_not_base64_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    signature_of(envelope).find(f"{DS}SignatureValue").text = "not*base64"
    refused(envelope, payloads, alice, match="not base64")


def test_unsigned_message_is_refused(payloads, alice):
    envelope = make_envelope(*(p.content_id for p in payloads))
    refused(envelope, payloads, alice, match="no wsse:Security")


def test_two_signatures_are_refused(payloads, alice):
    envelope = signed(payloads, alice)
    signature = signature_of(envelope)
    signature.getparent().append(copy.deepcopy(signature))
    refused(envelope, payloads, alice, match="2 ds:Signature")


# --- who signed ---------------------------------------------------------------------------------


def test_signature_by_untrusted_certificate_with_the_same_subject_is_refused(payloads, alice, mallory):
    envelope = signed(payloads, mallory)
    refused(envelope, payloads, alice, match="is not a trusted certificate")


@pytest.mark.parametrize("key_reference", ["issuer-serial", "ski"])
def test_reference_naming_an_untrusted_certificate_is_refused(payloads, alice, mallory, key_reference):
    envelope = signed(payloads, mallory, key_reference=key_reference)
    refused(envelope, payloads, alice, match="not trusted for this partner")


def test_trusted_token_with_a_signature_by_another_key_is_refused(payloads, alice, mallory):
    envelope = signed(payloads, mallory)
    token = signature_of(envelope).getparent().find(f"{{{ns.NS_WSSE}}}BinarySecurityToken")
    token.text = base64.b64encode(alice.certificate.public_bytes(Encoding.DER)).decode()
    refused(envelope, payloads, alice, match="SignatureValue does not verify")


def test_token_reference_to_something_other_than_a_token_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    messaging_id = messaging_of(envelope).get(WSU_ID)
    signature_of(envelope).find(f".//{{{ns.NS_WSSE}}}Reference").set("URI", f"#{messaging_id}")
    refused(envelope, payloads, alice, match="not a BinarySecurityToken")


def test_token_reference_to_a_missing_token_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    signature_of(envelope).find(f".//{{{ns.NS_WSSE}}}Reference").set("URI", "#nowhere")
    refused(envelope, payloads, alice, match="resolves to 0 elements")


# --- signature wrapping and references ------------------------------------------------------------


def test_wrapped_original_messaging_with_a_forged_one_in_its_place_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    original = messaging_of(envelope)
    forged = copy.deepcopy(original)
    del forged.attrib[WSU_ID]
    forged.find(f".//{EB}Action").text = "Forged"
    header = original.getparent()
    wrapper = etree.SubElement(header, "{urn:evil}Wrapper")
    header.replace(original, forged)
    wrapper.append(original)
    refused(envelope, payloads, alice, match="neither the eb:Messaging header nor the Body")


def test_original_messaging_moved_into_the_security_header_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    original = messaging_of(envelope)
    forged = copy.deepcopy(original)
    del forged.attrib[WSU_ID]
    original.getparent().replace(original, forged)
    signature_of(envelope).getparent().append(original)
    refused(envelope, payloads, alice, match="neither the eb:Messaging header nor the Body")


def test_forged_messaging_sharing_the_signed_id_is_refused_as_duplicate(payloads, alice):
    envelope = signed(payloads, alice)
    original = messaging_of(envelope)
    forged = copy.deepcopy(original)
    forged.find(f".//{EB}Action").text = "Forged"
    original.getparent().replace(original, forged)
    body_of(envelope).append(original)
    refused(envelope, payloads, alice, match="duplicate Id")


def test_duplicate_id_across_id_attribute_kinds_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    extra = etree.SubElement(body_of(envelope), "{urn:x}Extra")
    extra.set("Id", messaging_of(envelope).get(WSU_ID))
    refused(envelope, payloads, alice, match="duplicate Id")


def test_forged_body_with_the_signed_one_wrapped_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    original = body_of(envelope)
    forged = etree.Element(original.tag)
    etree.SubElement(forged, "{urn:evil}Order").text = "pay mallory"
    envelope.replace(original, forged)
    etree.SubElement(messaging_of(envelope).getparent(), "{urn:evil}Wrapper").append(original)
    refused(envelope, payloads, alice, match="points at Body, which is neither")


def test_second_messaging_header_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    original = messaging_of(envelope)
    forged = copy.deepcopy(original)
    del forged.attrib[WSU_ID]
    original.getparent().append(forged)
    refused(envelope, payloads, alice, match="2 {")


def test_reference_to_an_unexpected_element_is_refused_even_when_signed(payloads, alice):
    envelope = signed(payloads, alice)
    signed_info = signature_of(envelope).find(f"{DS}SignedInfo")
    extra = copy.deepcopy(signed_info.find(f"{DS}Reference"))
    token_id = signature_of(envelope).getparent().find(f"{{{ns.NS_WSSE}}}BinarySecurityToken").get(WSU_ID)
    extra.set("URI", f"#{token_id}")
    signed_info.append(extra)
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="neither the eb:Messaging header nor the Body")


def test_same_element_referenced_twice_through_two_ids_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    messaging_of(envelope).set("Id", "second-name")
    signed_info = signature_of(envelope).find(f"{DS}SignedInfo")
    extra = copy.deepcopy(signed_info.find(f"{DS}Reference"))
    extra.set("URI", "#second-name")
    signed_info.append(extra)
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="more than one reference")


@pytest.mark.parametrize(
    "uri",
    ["", "http://example.org/doc", "#xpointer(/)", "cid:missing@aswnode"],
    ids=["empty", "http", "xptr", "cid"],
)
def test_reference_uris_outside_the_message_parts_are_refused(payloads, alice, uri):
    envelope = signed(payloads, alice)
    signed_info = signature_of(envelope).find(f"{DS}SignedInfo")
    signed_info.findall(f"{DS}Reference")[-1].set("URI", uri)
    resign(envelope, alice)
    with pytest.raises(EbmsException) as caught:
        verify(envelope, payloads[:-1], alice)
    assert caught.value.error is EbmsError.FAILED_AUTHENTICATION


def test_uncovered_messaging_is_refused_even_when_signed(payloads, alice):
    envelope = signed(payloads, alice)
    signed_info = signature_of(envelope).find(f"{DS}SignedInfo")
    signed_info.remove(signed_info.find(f"{DS}Reference"))
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="eb:Messaging is not covered")


def test_uncovered_body_is_refused_even_when_signed(payloads, alice):
    envelope = signed(payloads, alice)
    signed_info = signature_of(envelope).find(f"{DS}SignedInfo")
    signed_info.remove(signed_info.findall(f"{DS}Reference")[1])
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="the SOAP Body is not covered")


def test_required_attachment_left_unsigned_is_refused(payloads, alice):
    envelope = make_envelope(*(p.content_id for p in payloads))
    sign_envelope(envelope, payloads[:2], alice)
    refused(wire(envelope), payloads, alice, match="cid:txt@aswnode is not covered")


def test_signed_attachment_missing_from_the_message_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    with pytest.raises(EbmsException, match="names no attachment"):
        verify_envelope(envelope, payloads[:2], trusted=[alice.certificate], required_attachments=[])


@pytest.mark.parametrize(
    "transform",
    [ns.ALG_ENVELOPED_SIGNATURE, ns.ALG_C14N_10, "http://www.w3.org/TR/1999/REC-xpath-19991116"],
)
def test_element_reference_with_another_transform_is_refused(payloads, alice, transform):
    envelope = signed(payloads, alice)
    reference = signature_of(envelope).find(f".//{DS}Reference")
    reference.find(f".//{DS}Transform").set("Algorithm", transform)
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="exactly the exc-c14n transform")


def test_attachment_reference_with_the_complete_transform_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    reference = signature_of(envelope).findall(f".//{DS}Reference")[2]
    reference.find(f".//{DS}Transform").set("Algorithm", ns.SWA_ATTACHMENT_COMPLETE_SIGNATURE_TRANSFORM)
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="Attachment-Content-Signature-Transform")


# --- algorithms -------------------------------------------------------------------------------------


def test_rsa_sha1_signature_method_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    signature_of(envelope).find(f".//{DS}SignatureMethod").set("Algorithm", ns.ALG_RSA_SHA1)
    resign(envelope, alice, hashes.SHA1())
    refused(envelope, payloads, alice, match="signature method")


def test_unknown_signature_method_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    signature_of(envelope).find(f".//{DS}SignatureMethod").set(
        "Algorithm", "http://www.randomcrypt.com/random"
    )
    refused(envelope, payloads, alice, match="signature method http://www.randomcrypt.com/random")


def test_sha1_digest_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    reference = signature_of(envelope).find(f".//{DS}Reference")
    reference.find(f"{DS}DigestMethod").set("Algorithm", ns.ALG_DIGEST_SHA1)
    reference.find(f"{DS}DigestValue").text = base64.b64encode(
        hashlib.sha1(etree.tostring(messaging_of(envelope), method="c14n", exclusive=True)).digest()
    ).decode()
    resign(envelope, alice)
    refused(envelope, payloads, alice, match="digest method")


def test_inclusive_canonicalisation_of_signed_info_is_refused(payloads, alice):
    envelope = signed(payloads, alice)
    signature_of(envelope).find(f".//{DS}CanonicalizationMethod").set("Algorithm", ns.ALG_C14N_10)
    refused(envelope, payloads, alice, match="is not exc-c14n")


def _der_sequence(content: bytes) -> bytes:
    length = len(content)
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(encoded)]) + encoded + content


def test_large_attachment_is_signed_and_verified_streaming(alice):
    block = os.urandom(64 * 1024)
    big = (Attachment("big@aswnode", "application/octet-stream", Repeating(block, 512)),)  # 32 MiB
    envelope = make_envelope("big@aswnode")
    tracemalloc.start()
    try:
        sign_envelope(envelope, big, alice)
        verify(wire(envelope), big, alice)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak Python allocation {peak} bytes: not streaming"
