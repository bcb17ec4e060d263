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
    max_xml_attributes: int = 256  # on one element (exclusive c14n is quadratic in them)
    max_xml_namespace_prefixes: int = 256  # distinct prefixes declared in the SOAP envelope
    max_xml_nodes: int = 200_000  # elements and attributes of the SOAP envelope
    max_header_nodes: int = 10_000  # elements and attributes of the SOAP Header (EBMS:0009 over it)
    max_parts: int = 64
    max_part_header_bytes: int = 16 * 1024
    max_decompressed_bytes: int = 512 * 1024 * 1024
    max_inline_part_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(f"limit {name} must be positive")
