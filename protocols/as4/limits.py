"""The size and shape limits applied to everything a foreign gateway sends us."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on an inbound message; every one exceeded is answered with an ebMS error, never a crash."""

    max_message_bytes: int = 512 * 1024 * 1024
    max_xml_bytes: int = 4 * 1024 * 1024
    max_xml_depth: int = 64
    max_parts: int = 64
    max_part_header_bytes: int = 16 * 1024
    max_decompressed_bytes: int = 512 * 1024 * 1024
    max_inline_part_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(f"limit {name} must be positive")
