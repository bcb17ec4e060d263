"""Business answers (Art. 21) travel both ways as a small schema-valid document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mappings.answers import AnswerStatus, BusinessAnswer, Reason, from_xml, to_xml
from mappings.errors import MappingError

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=7)))


@pytest.mark.parametrize(
    "answer",
    [
        BusinessAnswer("eco", "VN-ID-26/01/000123", AnswerStatus.ACCEPTED, WHEN, "Indonesian Customs", "ID"),
        BusinessAnswer(
            "ephyto",
            "VN-PC-1",
            AnswerStatus.NOT_ACCEPTED,
            WHEN,
            "NPPO Indonesia",
            "ID",
            (Reason("pest-found", "Live Bactrocera found at inspection"),),
            ref_to_message_id="m1@vn",
        ),
        BusinessAnswer(
            "eco",
            "VN-1",
            AnswerStatus.AMENDMENT_REQUESTED,
            WHEN,
            "Thai Customs",
            "TH",
            (Reason("hs", "HS code differs from the AHTN", "/items/0/hs_code"), Reason("w", "weight")),
        ),
        BusinessAnswer(
            "eco",
            "VN-1",
            AnswerStatus.PROCESSING_RESULT,
            WHEN.astimezone(UTC),
            "Thai Customs",
            "TH",
            result="Preferential treatment given under ATIGA",
        ),
    ],
    ids=lambda a: a.status.value,
)
def test_every_kind_of_answer_maps_both_ways(answer: BusinessAnswer) -> None:
    assert from_xml(to_xml(answer)) == answer


def test_refusals_and_amendment_requests_need_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        BusinessAnswer("eco", "VN-1", AnswerStatus.NOT_ACCEPTED, WHEN, "Customs", "ID")


def test_a_processing_result_states_the_result() -> None:
    with pytest.raises(ValueError, match="result"):
        BusinessAnswer("eco", "VN-1", "processing-result", WHEN, "Customs", "ID")  # type: ignore[arg-type]


def test_an_answer_with_an_unknown_status_is_refused() -> None:
    xml = to_xml(BusinessAnswer("eco", "VN-1", AnswerStatus.ACCEPTED, WHEN, "Customs", "ID"))
    with pytest.raises(MappingError) as caught:
        from_xml(xml.replace(b">accepted<", b">maybe<"))
    assert caught.value.code == "schema-invalid"


def test_a_hostile_answer_is_refused() -> None:
    with pytest.raises(MappingError) as caught:
        from_xml(b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>')
    assert caught.value.code == "xml-dtd-forbidden"
