"""Property tests over generated certificates: valid output, lossless round trips, nothing lost silently."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from mapping_strategies import eco_documents, ephyto_documents, leaves, matches

from mappings.registry import profile

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
def test_unmapped_fields_are_really_lost_and_nothing_else(document_type: str) -> None:
    strategy = eco_documents() if document_type == "eco" else ephyto_documents()
    chosen = profile(document_type)
    seen: set[str] = set()

    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def collect(document: dict[str, Any]) -> None:
        back = leaves(chosen.from_treaty(chosen.to_treaty(document)))
        for pointer in leaves(document):
            for pattern in chosen.unmapped_fields:
                if matches(pointer, pattern):
                    assert pointer not in back
                    seen.add(pattern)

    collect()
    assert seen == set(chosen.unmapped_fields), "a field listed as unmapped was never generated"
