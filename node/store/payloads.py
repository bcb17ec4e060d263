"""Payload rows of a message: what a caller hands in (`NewPayload`) and how it is attached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert
from sqlalchemy.orm import selectinload

from node.store.blobs import BlobRef, Inlined
from node.store.direct import DirectWrite
from node.store.models import Message, Payload

__all__ = ["PAYLOADS_WITH_DATA", "NewPayload", "insert_payloads"]

# A loader option: a message's payloads with their inline bytes, for a reader that uses them after its
# session (Payload.data is deferred). session.get(Message, pk, options=(PAYLOADS_WITH_DATA,)).
PAYLOADS_WITH_DATA = selectinload(Message.payloads).undefer(Payload.data)


@dataclass(frozen=True, slots=True)
class NewPayload:
    """A payload part to record: the digest and size of its bytes (`blob`), and the bytes themselves
    when they are kept in the row (`data`, up to the store's inline limit); else they are already in
    the blob store."""

    blob: BlobRef
    mime_type: str
    content_id: str | None = None
    properties: tuple[tuple[str, str], ...] = ()
    data: bytes | None = None

    def __post_init__(self) -> None:
        if not self.mime_type:
            raise ValueError("a payload needs a MIME type")
        if self.data is not None and len(self.data) != self.blob.size:
            raise ValueError(f"{len(self.data)} inline bytes for a payload of {self.blob.size}")

    @classmethod
    def stored(
        cls,
        stored: Inlined,
        mime_type: str,
        content_id: str | None = None,
        properties: tuple[tuple[str, str], ...] = (),
    ) -> NewPayload:
        """From `BlobStore.put_or_inline`'s answer: inline bytes, or a blob already stored."""
        return cls(BlobRef(stored.digest, stored.size), mime_type, content_id, properties, stored.data)


# Every column but the key. A column added with a Python-side default and not named here is refused
# when the statement is compiled (node.store.direct): a Core INSERT would not apply that default.
_INSERT_PAYLOAD = DirectWrite(
    insert(Payload.__table__),
    keys=["message_pk", "position", "content_id", "mime_type", "blob_digest", "size", "properties", "data"],
)


def insert_payloads(connection: Connection, message_pk: int, payloads: Sequence[NewPayload]) -> None:
    """The payload rows of message `message_pk`, in order, on the driver's cursor (node.store.direct)."""
    for position, part in enumerate(payloads):
        _INSERT_PAYLOAD.execute_on(
            connection,
            {
                "message_pk": message_pk,
                "position": position,
                "content_id": part.content_id,
                "mime_type": part.mime_type,
                "blob_digest": part.blob.digest,
                "size": part.blob.size,
                "properties": dict(part.properties),
                "data": part.data,
            },
        )
