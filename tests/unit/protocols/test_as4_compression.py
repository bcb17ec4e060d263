"""gzip per payload, streamed, with a cap on inflation (EBMS:0303)."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from protocols.as4.compression import compress, decompress
from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import InMemory, MemorySpool, read_all


def test_compressed_payload_is_standard_gzip_and_round_trips() -> None:
    data = os.urandom(200_000) + b"a" * 200_000
    packed = compress(InMemory(data), MemorySpool())
    assert gzip.decompress(read_all(packed, 1 << 30)) == data
    assert read_all(decompress(packed, MemorySpool(), max_bytes=len(data)), 1 << 30) == data


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 10_240, 16_385, 32_768, 32_769, 100_000])
def test_a_small_payload_gets_a_small_window_and_output_as_small_as_the_full_window(size: int) -> None:
    data = (os.urandom(size // 2) + b"<x/>" * size)[:size]
    packed = read_all(compress(InMemory(data), MemorySpool()), 1 << 30)
    assert gzip.decompress(packed) == data
    assert len(packed) <= len(zlib.compress(data, 6, 16 + zlib.MAX_WBITS))


def test_inflation_beyond_the_cap_is_decompression_failure_with_the_message_ref() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    with pytest.raises(EbmsException) as refused:
        decompress(InMemory(bomb), MemorySpool(), max_bytes=1_000_000, ref_to_message_id="m@x")
    assert refused.value.error is EbmsError.DECOMPRESSION_FAILURE
    assert refused.value.ref_to_message_id == "m@x"


@pytest.mark.parametrize(
    "data",
    [b"", b"not gzip at all", gzip.compress(b"hello")[:-4], gzip.compress(b"hello") + b"trailing"],
    ids=["empty", "not-gzip", "truncated", "trailing-garbage"],
)
def test_broken_gzip_is_decompression_failure(data: bytes) -> None:
    with pytest.raises(EbmsException) as refused:
        decompress(InMemory(data), MemorySpool(), max_bytes=1000)
    assert refused.value.error is EbmsError.DECOMPRESSION_FAILURE


def test_concatenated_gzip_members_are_one_payload() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second")
    assert read_all(decompress(InMemory(data), MemorySpool(), max_bytes=100), 100) == b"first second"
