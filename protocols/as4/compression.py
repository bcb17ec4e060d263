"""The AS4 compression feature (AS4 profile §3.1): gzip per payload, streamed, with a cap on inflation."""

from __future__ import annotations

import zlib

from protocols.as4.errors import EbmsError, EbmsException
from protocols.as4.payload import ByteSource, Spool

__all__ = ["compress", "decompress"]

_GZIP = 16 + zlib.MAX_WBITS


def compress(source: ByteSource, spool: Spool, *, level: int = 6) -> ByteSource:
    """`source` gzip-compressed into `spool`, one chunk at a time.

    The window is the smallest that holds the whole source (at most zlib's 32 KiB): a match
    can reach no further back than the data, so the output is as small, and a small payload
    does not pay for setting up the largest window. Any gzip reader takes any window size.
    """
    window_bits = min(zlib.MAX_WBITS, max(9, (source.size - 1).bit_length()))
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + window_bits)
    for block in source.chunks():
        out = compressor.compress(block)
        if out:
            spool.write(out)
    spool.write(compressor.flush())
    return spool.finish()


def decompress(
    source: ByteSource, spool: Spool, *, max_bytes: int, ref_to_message_id: str | None = None
) -> ByteSource:
    """`source` gunzipped into `spool`, refusing more than `max_bytes` of output (EBMS:0303).

    Inflation is bounded per step, so a compression bomb costs at most one chunk of
    memory before it is refused. Concatenated gzip members (RFC 1952 §2.2) are accepted;
    anything after the last member, or a truncated member, is an error.
    """

    def fail(detail: str) -> EbmsException:
        return EbmsException(EbmsError.DECOMPRESSION_FAILURE, detail, ref_to_message_id=ref_to_message_id)

    step = 64 * 1024
    produced = 0
    decompressor = zlib.decompressobj(_GZIP)
    seen_input = False
    try:
        for block in source.chunks():
            data = block
            while data:
                seen_input = True
                if decompressor.eof:
                    data = decompressor.unused_data + data
                    decompressor = zlib.decompressobj(_GZIP)
                out = decompressor.decompress(data, step)
                produced += len(out)
                if produced > max_bytes:
                    raise fail(f"decompressed size is over the limit of {max_bytes} bytes")
                if out:
                    spool.write(out)
                data = decompressor.unconsumed_tail
                if decompressor.eof:
                    data = decompressor.unused_data + data
                    if data:
                        decompressor = zlib.decompressobj(_GZIP)
        while not decompressor.eof and seen_input:
            out = decompressor.decompress(b"", step)
            if not out:
                break
            produced += len(out)
            if produced > max_bytes:
                raise fail(f"decompressed size is over the limit of {max_bytes} bytes")
            spool.write(out)
    except zlib.error:
        raise fail("the payload is not valid gzip") from None
    if not seen_input:
        raise fail("the compressed payload is empty")
    if not decompressor.eof:
        raise fail("the gzip stream is truncated")
    return spool.finish()
