"""Payload rows of a message: what a caller hands in (`NewPayload`) and how it is attached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.store.blobs import BlobRef
from node.store.models import Message, Payload

__all__ = ["NewPayload", "add_payloads"]


@dataclass(frozen=True, slots=True)
class NewPayload:
    """A payload part to record: its bytes already in the blob store."""

    blob: BlobRef
    mime_type: str
    content_id: str | None = None
    properties: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.mime_type:
            raise ValueError("a payload needs a MIME type")


def add_payloads(message: Message, payloads: Sequence[NewPayload]) -> None:
    for position, part in enumerate(payloads):
        message.payloads.append(
            Payload(
                position=position,
                content_id=part.content_id,
                mime_type=part.mime_type,
                blob_digest=part.blob.digest,
                size=part.blob.size,
                properties=dict(part.properties),
            )
        )
