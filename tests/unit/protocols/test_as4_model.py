"""The ebMS3 value objects keep their invariants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from protocols.as4.errors import EbmsError
from protocols.as4.model import (
    ErrorDetail,
    MessageInfo,
    PartInfo,
    Party,
    Property,
    Receipt,
    Service,
    SignalMessage,
    UserMessage,
    format_timestamp,
    is_test_message,
)
from protocols.as4.namespaces import COMPRESSION_GZIP

NOW = dt.datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=dt.UTC)


def test_timestamp_is_utc_with_milliseconds_and_z() -> None:
    eastern = NOW.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert format_timestamp(eastern) == "2026-11-23T09:30:15.123Z"


def test_message_info_truncates_to_milliseconds_and_refuses_naive_times() -> None:
    assert MessageInfo("m@x", NOW).timestamp.microsecond == 123000
    with pytest.raises(ValueError, match="timezone"):
        MessageInfo("m@x", NOW.replace(tzinfo=None))


@pytest.mark.parametrize("message_id", ["", "  ", "<m@x>"])
def test_message_id_must_be_present_and_without_brackets(message_id: str) -> None:
    with pytest.raises(ValueError):
        MessageInfo(message_id, NOW)


def test_party_needs_a_party_id_and_a_role() -> None:
    with pytest.raises(ValueError):
        Party((), "role")


def test_part_info_exposes_its_cid_and_compression() -> None:
    part = PartInfo(
        "cid:p1@x", (Property("MimeType", "application/xml"), Property("CompressionType", COMPRESSION_GZIP))
    )
    assert (part.content_id, part.mime_type, part.compressed) == ("p1@x", "application/xml", True)
    assert PartInfo(None).content_id is None


def test_user_message_refuses_two_part_infos_for_one_part(
    make_user_message: Callable[..., UserMessage],
) -> None:
    import dataclasses

    with pytest.raises(ValueError, match="same part"):
        dataclasses.replace(make_user_message(), payload_info=(PartInfo("cid:a"), PartInfo("cid:a")))


def test_test_service_and_action_make_a_test_message(make_user_message: Callable[..., UserMessage]) -> None:
    import dataclasses

    message = make_user_message()
    assert is_test_message(message)
    business = dataclasses.replace(
        message,
        collaboration_info=dataclasses.replace(message.collaboration_info, service=Service("urn:asw:eco")),
    )
    assert not is_test_message(business)


def test_signal_carries_either_a_receipt_or_errors() -> None:
    info = MessageInfo("s@x", NOW, "m@x")
    SignalMessage(info, receipt=Receipt())
    SignalMessage(info, errors=(ErrorDetail(EbmsError.OTHER),))
    with pytest.raises(ValueError):
        SignalMessage(info)
    with pytest.raises(ValueError):
        SignalMessage(info, receipt=Receipt(), errors=(ErrorDetail(EbmsError.OTHER),))


def test_error_detail_keeps_an_unknown_code_as_received() -> None:
    detail = ErrorDetail(EbmsError.OTHER, code="EBMS:9999")
    assert detail.code == "EBMS:9999"
    assert ErrorDetail(EbmsError.FAILED_DECRYPTION).code == "EBMS:0102"
