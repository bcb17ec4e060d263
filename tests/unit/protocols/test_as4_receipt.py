"""NRR receipts repeat exactly the references that were signed, and a received one must match ours."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from protocols.as4.envelope import find_messaging, messaging_markup
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.inbound import ReceiptOutcome, open_user_message, read_envelope, read_response
from protocols.as4.model import MessageInfo, MessagePartReference, Receipt, SignalMessage, UserMessage
from protocols.as4.namespaces import (
    ALG_C14N_EXCL,
    ALG_DIGEST_SHA256,
    NS_DS,
    NS_EB,
    NS_EBBP,
    NS_S12,
    NS_WSSE,
    NS_WSU,
)
from protocols.as4.outbound import OutboundMessage, build_receipt, build_user_message
from protocols.as4.payload import InMemory, MemorySpool, read_all
from protocols.as4.pmode import PMode
from protocols.as4.receipt import check_receipt, non_repudiation_markup, receipt_of
from protocols.as4.security import DEFAULT_SIGNATURE, SignedReference, SigningIdentity, VerifiedSignature
from protocols.as4.security.canonical import exc_c14n
from protocols.as4.wire import signed_envelope
from protocols.as4.xml import parse_xml

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
SIGNED = (
    SignedReference("#id-messaging", ALG_DIGEST_SHA256, "AAAA", ()),
    SignedReference("#id-body", ALG_DIGEST_SHA256, "BBBB", ()),
    SignedReference("cid:p@x", ALG_DIGEST_SHA256, "CCCC", ()),
)


def _signal(references: tuple[MessagePartReference, ...], ref: str | None = "m@x") -> SignalMessage:
    return SignalMessage(MessageInfo("r@x", NOW, ref), receipt=Receipt(references))


def _nri(*triples: tuple[str, str, str]) -> tuple[MessagePartReference, ...]:
    return tuple(MessagePartReference(*t) for t in triples)


def test_receipt_repeating_our_references_in_any_order_is_accepted() -> None:
    references = _nri(*[(r.uri, r.digest_method, r.digest_value) for r in reversed(SIGNED)])
    assert check_receipt(_signal(references), sent_message_id="m@x", signed=SIGNED).references == references


@pytest.mark.parametrize(
    "references",
    [
        _nri(("#id-messaging", ALG_DIGEST_SHA256, "AAAA"), ("#id-body", ALG_DIGEST_SHA256, "BBBB")),
        _nri(("#id-messaging", ALG_DIGEST_SHA256, "AAAA"), ("#id-body", ALG_DIGEST_SHA256, "BBBB"),
             ("cid:p@x", ALG_DIGEST_SHA256, "CCCD")),
        _nri(("#id-messaging", ALG_DIGEST_SHA256, "AAAA"), ("#id-body", ALG_DIGEST_SHA256, "BBBB"),
             ("cid:p@x", "http://www.w3.org/2000/09/xmldsig#sha1", "CCCC")),
        _nri(("#id-messaging", ALG_DIGEST_SHA256, "AAAA"), ("#id-body", ALG_DIGEST_SHA256, "BBBB"),
             ("cid:p@x", ALG_DIGEST_SHA256, "CCCC"), ("cid:p@x", ALG_DIGEST_SHA256, "CCCC")),
        _nri(("#id-messaging", ALG_DIGEST_SHA256, "AAAA"), ("#id-body", ALG_DIGEST_SHA256, "BBBB"),
             ("cid:p@x", ALG_DIGEST_SHA256, "CCCC"), ("cid:q@x", ALG_DIGEST_SHA256, "DDDD")),
        (),
    ],
    ids=["missing", "wrong-digest", "wrong-method", "duplicated", "extra", "no-nri"],
)  # fmt: skip
def test_receipt_whose_nri_differs_from_our_signature_is_invalid_receipt(
    references: tuple[MessagePartReference, ...],
) -> None:
    with pytest.raises(EbmsException) as refused:
        check_receipt(_signal(references), sent_message_id="m@x", signed=SIGNED)
    assert refused.value.error is EbmsError.INVALID_RECEIPT
    assert refused.value.ref_to_message_id == "m@x"


@pytest.mark.parametrize("ref", ["other@x", None])
def test_receipt_for_another_message_is_invalid_receipt(ref: str | None) -> None:
    references = _nri(*[(r.uri, r.digest_method, r.digest_value) for r in SIGNED])
    with pytest.raises(EbmsException) as refused:
        check_receipt(_signal(references, ref), sent_message_id="m@x", signed=SIGNED)
    assert refused.value.error is EbmsError.INVALID_RECEIPT


# ------------------------------------------------------------- NRR receipts for hostile references


def _sent_with(
    alice: SigningIdentity, message: UserMessage, pmode: PMode, replacements: tuple[tuple[str, str], ...]
) -> OutboundMessage:
    """A message alice sends whose markup has each (old, new) replaced once, SignedInfo signed again."""
    sent = build_user_message(
        message, [], pmode, signing=alice, recipient_certificate=None, spool=MemorySpool, boundary="nrr"
    )
    data = read_all(sent.body, 1 << 20)
    for old, new in replacements:
        assert old.encode() in data
        data = data.replace(old.encode(), new.encode(), 1)
    root = parse_xml(data)
    signed_info = root.find(f".//{{{NS_DS}}}SignedInfo")
    signature_value = root.find(f".//{{{NS_DS}}}SignatureValue")
    assert signed_info is not None and signature_value is not None
    value = alice.private_key.sign(exc_c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    signature_value.text = base64.b64encode(value).decode("ascii")
    return dataclasses.replace(sent, body=InMemory(etree.tostring(root, encoding="UTF-8")))


@pytest.mark.parametrize(
    "replacements",
    [
        (("<ds:Reference ", '<ds:Reference wsu:note="x" '),),
        (("<ds:Reference ", '<ds:Reference S12:note="x" '),),
        (("<ds:Reference ", '<ds:Reference eb:note="x" '),),
        (("<ds:Reference ", f'<ds:Reference xmlns:ebbp="{NS_EBBP}" ebbp:note="x" '),),
        (("<ds:SignedInfo ", f'<ds:SignedInfo xmlns:ebbp="{NS_EBBP}" '),
         ("<ds:Reference ", '<ds:Reference ebbp:note="x" ')),
        (("<ds:DigestMethod ", '<ds:DigestMethod eb:note="x" '),),
        (("<ds:Transform ", '<ds:Transform wsu:note="x" '),),
    ],
    ids=["wsu", "S12", "eb", "ebbp", "ebbp-declared-above", "eb-on-DigestMethod", "wsu-on-Transform"],
)  # fmt: skip
def test_receipt_for_references_using_the_receipts_own_prefixes_verifies_at_the_sender(
    alice: SigningIdentity, bob: SigningIdentity, make_user_message: Callable[..., UserMessage],
    make_pmode: Callable[..., PMode], replacements: tuple[tuple[str, str], ...],
) -> None:  # fmt: skip
    pmode = make_pmode(compress=False, security={"encrypt": False})
    sent = _sent_with(alice, make_user_message(), pmode, replacements)
    received = open_user_message(
        read_envelope(sent.body, sent.content_type), sender_certificates=[alice.certificate], own=bob,
        require_encryption=False, spool=MemorySpool,
    )  # fmt: skip
    assert b':note="x"' in exc_c14n(received.signature.reference_elements[0])  # type: ignore[union-attr,arg-type]
    receipt = build_receipt(received, signing=bob, message_id="r@x", now=NOW)
    outcome = read_response(
        receipt.body, receipt.content_type, sent=sent, partner_certificates=[bob.certificate]
    )
    assert isinstance(outcome, ReceiptOutcome)
    assert len(outcome.signal.receipt.references) == len(sent.signed_references)  # type: ignore[union-attr]


_SIGNAL = SignalMessage(MessageInfo("r@x", NOW, "m@x"), receipt=Receipt())
# Every prefix a receipt's eb:Messaging renders (read from what we write, so a prefix added there is
# tried here too), ds and one of our own; any of them may be bound to any of these URIs.
_RENDERED = {
    prefix: uri
    for element in parse_xml(
        messaging_markup(
            _SIGNAL,
            messaging_id="m",
            receipt_content=f'<ebbp:NonRepudiationInformation xmlns:ebbp="{NS_EBBP}"/>',
        ).encode()
    ).iter()
    for prefix, uri in element.nsmap.items()
    if prefix
}
_PREFIXES = sorted({*_RENDERED, "ds", "x"})
_URIS = sorted({*_RENDERED.values(), NS_DS, "urn:x"})
_ENVELOPE_SCOPE = {"S12": NS_S12, "eb": NS_EB, "wsu": NS_WSU}
# prefix -> a URI declared on the element itself, or None: the binding inherited from SignedInfo/the envelope
_USES = st.dictionaries(st.sampled_from(_PREFIXES), st.one_of(st.none(), st.sampled_from(_URIS)), max_size=4)
_TAGS = ("Reference", "Transforms", "Transform", "DigestMethod", "DigestValue")


def _start(tag: str, prefix: str, uses: dict[str, str | None], scope: dict[str, str], extra: str = "") -> str:
    """A start tag declaring and using `uses` (ds is never declared again: it names the element)."""
    declared = {p: u for p, u in uses.items() if u is not None and p != "ds"}
    used = [p for p in uses if p in declared or p in scope]
    declarations = "".join(f' xmlns:{p}="{u}"' for p, u in declared.items())
    attributes = "".join(f' {p}:a{i}="{p}"' for i, p in enumerate(used))
    return f"<{prefix}{tag}{declarations}{attributes}{extra}>"


@settings(max_examples=150, deadline=None)
@given(
    default_namespace=st.booleans(),
    signed_info_scope=st.dictionaries(st.sampled_from(_PREFIXES), st.sampled_from(_URIS), max_size=4),
    uses=st.tuples(*[_USES] * len(_TAGS)),
)
def test_nri_markup_is_what_lxml_canonicalises_in_the_receipt_for_hostile_references(
    alice: SigningIdentity,
    default_namespace: bool,
    signed_info_scope: dict[str, str],
    uses: tuple[dict[str, str | None], ...],
) -> None:
    ds = "" if default_namespace else "ds:"
    signed_info_scope = {p: u for p, u in signed_info_scope.items() if p != "ds"}
    scope = {**_ENVELOPE_SCOPE, **({} if default_namespace else {"ds": NS_DS}), **signed_info_scope}
    extras = {"Reference": ' URI="#a"', "Transform": f' Algorithm="{ALG_C14N_EXCL}"',
              "DigestMethod": f' Algorithm="{ALG_DIGEST_SHA256}"'}  # fmt: skip
    starts = {
        tag: _start(tag, ds, used, scope, extras.get(tag, "")) for tag, used in zip(_TAGS, uses, strict=True)
    }
    reference = (
        f"{starts['Reference']}{starts['Transforms']}{starts['Transform']}</{ds}Transform></{ds}Transforms>"
        f"{starts['DigestMethod']}</{ds}DigestMethod>{starts['DigestValue']}AAAA</{ds}DigestValue></{ds}Reference>"
    )
    signed_info_declarations = "".join(f' xmlns:{p}="{u}"' for p, u in signed_info_scope.items())
    received = parse_xml(
        (
            f'<S12:Envelope xmlns:S12="{NS_S12}" xmlns:eb="{NS_EB}" xmlns:wsu="{NS_WSU}"><S12:Header>'
            f'<wsse:Security xmlns:wsse="{NS_WSSE}"><{ds}Signature xmlns{":ds" if ds else ""}="{NS_DS}">'
            f"<{ds}SignedInfo{signed_info_declarations}>{reference}</{ds}SignedInfo></{ds}Signature>"
            "</wsse:Security></S12:Header><S12:Body/></S12:Envelope>"
        ).encode()
    )
    verified = VerifiedSignature(
        alice.certificate, (SignedReference("#a", ALG_DIGEST_SHA256, "AAAA", (ALG_C14N_EXCL,)),), "x"
    )
    signal = dataclasses.replace(_SIGNAL, receipt=receipt_of(verified.references))
    markup = messaging_markup(
        signal, messaging_id="id-messaging-1", receipt_content=non_repudiation_markup(received, verified)
    )
    data, _ = signed_envelope(
        markup, "id-messaging-1", (), alice, algorithms=DEFAULT_SIGNATURE, key_reference="bst"
    )
    messaging = find_messaging(parse_xml(data))
    assert exc_c14n(messaging) == markup.encode("utf-8")
    # and it is the reference received: the same names (namespace URIs included), values and text
    copied = messaging.find(f".//{{{NS_DS}}}Reference")
    original = received.find(f".//{{{NS_DS}}}Reference")
    assert copied is not None and original is not None
    assert [(e.tag, dict(e.attrib), e.text) for e in copied.iter()] == [
        (e.tag, dict(e.attrib), e.text) for e in original.iter()
    ]
