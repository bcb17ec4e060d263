"""The shipped sample certificates are valid and map to the treaty format and back."""

from __future__ import annotations

import pytest
from mapping_strategies import leaves, matches

from mappings.registry import profile
from mappings.samples import domestic_sample


@pytest.mark.parametrize("document_type", ["eco", "ephyto"])
def test_each_sample_is_valid_and_comes_back_without_only_its_unmapped_fields(document_type: str) -> None:
    chosen = profile(document_type)
    sample = domestic_sample(document_type)
    assert chosen.validate(sample) == ()
    back = leaves(chosen.from_treaty(chosen.to_treaty(sample)))
    carried = {
        pointer: value
        for pointer, value in leaves(sample).items()
        if not any(matches(pointer, pattern) for pattern in chosen.unmapped_fields)
    }
    assert back == carried
    assert len(carried) < len(leaves(sample)), "the sample shows at least one unmapped field"


def test_samples_are_fresh_copies_and_unknown_types_are_named() -> None:
    domestic_sample("eco")["issued_in"] = "XX"
    assert domestic_sample("eco")["issued_in"] == "VN"
    with pytest.raises(KeyError, match="'edi'"):
        domestic_sample("edi")
