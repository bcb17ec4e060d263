"""Temporary spools for the protocol code: memory for small data, a file under var/spool beyond that."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO, Any

from protocols.as4.payload import ByteSource, FileSlice, Spool

__all__ = ["TempSpools"]

_IN_MEMORY = 1024 * 1024


class _TempSpool:
    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._size += len(data)

    def finish(self) -> ByteSource:
        self._file.flush()
        return FileSlice(self._file, 0, self._size)  # type: ignore[arg-type]


class TempSpools:
    """A SpoolFactory whose spools live until `close()` (the end of one request or one send)."""

    def __init__(self, directory: Path | None, *, in_memory: int = _IN_MEMORY) -> None:
        self._directory = str(directory) if directory is not None else None
        self._in_memory = in_memory
        self._files: list[Any] = []

    def __call__(self) -> Spool:
        handle = tempfile.SpooledTemporaryFile(max_size=self._in_memory, dir=self._directory)  # noqa: SIM115
        self._files.append(handle)
        return _TempSpool(handle)  # type: ignore[arg-type]

    def close(self) -> None:
        files, self._files = self._files, []
        for handle in files:
            handle.close()

    def __enter__(self) -> TempSpools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
