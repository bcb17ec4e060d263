"""NRR receipts repeat exactly the references that were signed, and a received one must match ours."""

from __future__ import annotations

import datetime as dt

import pytest

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.model import MessageInfo, MessagePartReference, Receipt, SignalMessage
from protocols.as4.namespaces import ALG_DIGEST_SHA256
from protocols.as4.receipt import check_receipt
from protocols.as4.security import SignedReference

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
