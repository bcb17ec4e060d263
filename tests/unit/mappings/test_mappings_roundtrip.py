"""Property tests over generated certificates: valid output, lossless round trips, nothing lost silently."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from mapping_strategies import eco_documents, ephyto_documents, leaves, matches

from mappings.registry import profile
from mappings.samples import domestic_sample

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _check_round_trip(document_type: str, document: dict[str, Any]) -> None:
    chosen = profile(document_type)
    assert chosen.validate(document) == ()
    xml = chosen.to_treaty(document)
    assert chosen.schema_errors(xml) == ()
    back = chosen.from_treaty(xml)
    sent, received = leaves(document), leaves(back)
    lost = [p for p, v in sent.items() if p not in received or not _same(received[p], v)]
    for pointer in lost:
        assert any(matches(pointer, pattern) for pattern in chosen.unmapped_fields), (
            f"{pointer} dropped silently"
        )
    for pointer, value in sent.items():
        if not any(matches(pointer, pattern) for pattern in chosen.unmapped_fields):
            assert _same(received.get(pointer), value), pointer
    assert set(received) <= set(sent), "the treaty document invented fields"
    assert chosen.unread(xml) == (), "we wrote something we do not read back"


@SETTINGS
@given(ephyto_documents())
def test_ephyto_round_trip_is_lossless_for_every_field_the_treaty_carries(document: dict[str, Any]) -> None:
    _check_round_trip("ephyto", document)


@SETTINGS
@given(eco_documents())
def test_eco_round_trip_is_lossless_for_every_field_the_treaty_carries(document: dict[str, Any]) -> None:
    _check_round_trip("eco", document)


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_every_unmapped_field_is_really_lost_on_the_trip(document_type: str) -> None:
    chosen = profile(document_type)
    sample = domestic_sample(document_type)
    sent, back = leaves(sample), leaves(chosen.from_treaty(chosen.to_treaty(sample)))
    for pattern in chosen.unmapped_fields:
        present = [p for p in sent if matches(p, pattern)]
        assert present, f"the {document_type} sample should show {pattern}"
        assert not [p for p in present if p in back]
