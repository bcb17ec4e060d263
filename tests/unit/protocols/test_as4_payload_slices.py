"""Views into byte sources (payload.py, for the MIME parser): exactly their bytes, nothing copied."""

from __future__ import annotations

import tempfile

import pytest

from protocols.as4.limits import Limits
from protocols.as4.payload import (
    Concatenation,
    FileSlice,
    InMemory,
    MemorySlice,
    SourceWindow,
    read_all,
    slice_of,
)

DATA = bytes(range(256)) * 40


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (0, len(DATA)), (1000, 5000), (len(DATA) - 1, 1)])
def test_every_kind_of_view_yields_exactly_its_bytes(offset: int, length: int) -> None:
    expected = DATA[offset : offset + length]
    with tempfile.TemporaryFile() as handle:
        handle.write(DATA)
        sources = [
            InMemory(DATA),
            FileSlice(handle, 0, len(DATA)),
            Concatenation((InMemory(DATA[:3000]), InMemory(DATA[3000:]))),
            MemorySlice(DATA, 0, len(DATA)),
        ]
        for source in sources:
            view = slice_of(source, offset, length)
            assert view.size == length
            assert b"".join(view.chunks(chunk_size=777)) == expected


def test_views_keep_the_cheapest_kind() -> None:
    assert isinstance(slice_of(InMemory(DATA), 1, 2), MemorySlice)
    assert isinstance(slice_of(MemorySlice(DATA, 10, 100), 1, 2), MemorySlice)
    assert isinstance(slice_of(Concatenation((InMemory(DATA),)), 1, 2), SourceWindow)
    nested = slice_of(MemorySlice(DATA, 10, 100), 5, 20)
    assert read_all(nested, 100) == DATA[15:35]


@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, len(DATA) + 1), (len(DATA), 1)])
def test_views_outside_their_source_are_refused(offset: int, length: int) -> None:
    with pytest.raises(ValueError):
        MemorySlice(DATA, offset, length)
    with pytest.raises(ValueError):
        SourceWindow(InMemory(DATA), offset, length)


def test_limits_must_be_positive() -> None:
    assert Limits().max_decompressed_bytes > 0
    with pytest.raises(ValueError, match="max_parts"):
        Limits(max_parts=0)
