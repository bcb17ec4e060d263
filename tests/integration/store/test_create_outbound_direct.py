"""create_outbound on the driver's cursor writes what the ORM's unit of work wrote, on both databases.

The reference is the ORM way create_outbound took before (a Message with its Payloads, flushed by
the session): each case is created that way and rolled back, then created again by create_outbound,
and every stored column of the message and payload rows is compared as the database holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from node.store.blobs import BlobRef
from node.store.database import Database
from node.store.messages import NewPayload, create_outbound
from node.store.models import Direction, Message, MessageState, Payload, Submission
from node.store.outbound_queue import QueuedMessage

from .database_work import work_of

_SUBMISSION = "sub-1"


def _orm_create_outbound(
    session: Session,
    *,
    partner_id: str,
    message_id: str,
    service: str,
    action: str,
    payloads: Sequence[NewPayload],
    now: datetime,
    service_type: str | None = None,
    conversation_id: str | None = None,
    ref_to_message_id: str | None = None,
    from_party_id: str | None = None,
    to_party_id: str | None = None,
    agreement_ref: str | None = None,
    pmode_id: str | None = None,
    document_type: str | None = None,
    ministry: str | None = None,
    submission_id: str | None = None,
    is_test: bool = False,
    properties: Mapping[str, Any] | None = None,
    not_before: datetime | None = None,
) -> QueuedMessage:
    """The reference: create_outbound as it was, through the ORM's unit of work."""
    message = Message(
        direction=Direction.OUTBOUND,
        message_id=message_id,
        partner_id=partner_id,
        service=service,
        service_type=service_type,
        action=action,
        conversation_id=conversation_id,
        ref_to_message_id=ref_to_message_id,
        from_party_id=from_party_id,
        to_party_id=to_party_id,
        agreement_ref=agreement_ref,
        pmode_id=pmode_id,
        document_type=document_type,
        ministry=ministry,
        submission_id=submission_id,
        is_test=is_test,
        properties=dict(properties or {}),
        state=MessageState.PENDING,
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
        updated_at=now,
    )
    for position, part in enumerate(payloads):
        message.payloads.append(
            Payload(
                position=position,
                content_id=part.content_id,
                mime_type=part.mime_type,
                blob_digest=part.blob.digest,
                size=part.blob.size,
                properties=dict(part.properties),
                data=part.data,
            )
        )
    session.add(message)
    session.flush()
    return QueuedMessage(message.id, message.message_id)


def _minimal(now: datetime) -> dict[str, Any]:
    return {
        "partner_id": "th",
        "message_id": "out-1@vn",
        "service": "urn:svc",
        "action": "Deliver",
        "payloads": (),
        "now": now,
    }


def _every_field(now: datetime) -> dict[str, Any]:
    data = b"<doc>inline</doc>"
    return {
        **_minimal(now),
        "payloads": (
            NewPayload(
                BlobRef("cd" * 32, len(data)),
                "application/xml",
                "doc@vn",
                (("MimeType", "application/xml"), ("CharacterSet", "utf-8")),
                data,
            ),
            NewPayload(BlobRef("ef" * 32, 5_000_000), "application/pdf"),
        ),
        "service_type": "urn:type",
        "conversation_id": "conv-1",
        "ref_to_message_id": "in-1@th",
        "from_party_id": "vn-nsw",
        "to_party_id": "th-nsw",
        "agreement_ref": "urn:agreement",
        "pmode_id": "pm-th",
        "document_type": "eco",
        "ministry": "moit",
        "submission_id": _SUBMISSION,
        "is_test": True,
        "properties": {"z": "last", "a": ["x", 1], "nested": {"ü": None}},
        "not_before": now + timedelta(minutes=5),
    }


CASES = {"the required fields": _minimal, "every field": _every_field}


def _stored(session: Session, table: Table, where: str, key: int) -> list[dict[str, str | None]]:
    """Every column of `table`'s rows as the database holds it: SQLite's quote() (the value and its
    storage class: text, integer, blob or NULL), PostgreSQL's text form (JSON as written)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    names = [c.name for c in table.columns]
    shown = ", ".join(f"quote({n})" if sqlite else f"{n}::text" for n in names)
    rows = session.execute(
        text(f"SELECT {shown} FROM {table.name} WHERE {where} = :key ORDER BY id"), {"key": key}
    ).all()
    return [dict(zip(names, row, strict=True)) for row in rows]


def _created(
    db: Database, create: Callable[..., QueuedMessage], fields: dict[str, Any], *, keep: bool
) -> tuple[dict[str, str | None], list[dict[str, str | None]]]:
    """The message `create` stores from `fields` and its payload rows, as stored, in one transaction
    (with the submission it names, added to the session unflushed as node.submissions adds one)."""
    with db.session() as session:
        if fields.get("submission_id"):
            now = fields["now"]
            session.add(
                Submission(
                    id=_SUBMISSION,
                    ministry="moit",
                    document_type="eco",
                    partner_id="th",
                    status="submitted",
                    created_at=now,
                    updated_at=now,
                )
            )
        queued = create(session, **fields)
        [message] = _stored(session, Message.__table__, "id", queued.id)
        payloads = _stored(session, Payload.__table__, "message_pk", queued.id)
        if not keep:
            session.rollback()
    for row in payloads:
        assert row.pop("message_pk") == message["id"]
        row.pop("id")
    message.pop("id")
    return message, payloads


@pytest.mark.parametrize("case", CASES)
def test_the_rows_are_those_the_orm_wrote(db: Database, now: datetime, case: str) -> None:
    fields = CASES[case](now)
    expected = _created(db, _orm_create_outbound, fields, keep=False)
    created = _created(db, create_outbound, fields, keep=True)
    assert created == expected
    assert len(created[1]) == len(fields["payloads"])


def test_the_session_sees_the_rows_and_nothing_is_written_twice(db: Database, now: datetime) -> None:
    fields = _every_field(now)
    with db.session() as session:
        session.add(
            Submission(
                id=_SUBMISSION, ministry="moit", document_type="eco", partner_id="th", status="submitted"
            )
        )
        queued = create_outbound(session, **fields)
        # Not through the unit of work: the session holds no message to flush again.
        assert not any(isinstance(o, Message | Payload) for o in session.identity_map.values())
        assert not session.new
        assert queued == QueuedMessage(queued.id, "out-1@vn")
        # Its later ORM reads in the transaction see the message and its payloads.
        found = session.scalars(select(Message).where(Message.message_id == "out-1@vn")).one()
        assert found.id == queued.id and found.state == MessageState.PENDING
        assert found.next_attempt_at == now + timedelta(minutes=5) and found.properties["z"] == "last"
        assert [(p.position, p.content_id, p.data) for p in found.payloads] == [
            (0, "doc@vn", b"<doc>inline</doc>"),
            (1, None, None),
        ]
    with db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1
        assert session.scalar(select(func.count()).select_from(Payload)) == 2


def test_the_database_does_no_more_work_than_for_the_orm(db: Database, now: datetime) -> None:
    """The same statements for the database: one message row (its key returned), one row a payload."""
    fields = _every_field(now)
    del fields["submission_id"]
    tables = ("messages", "payloads")
    work = {}
    for create, message_id in ((_orm_create_outbound, "orm@vn"), (create_outbound, "direct@vn")):
        with db.session() as session:
            # One message first: the statements compiled, the tables' pages read once.
            create(session, **{**fields, "message_id": f"first-{message_id}"})
            work[create] = work_of(
                session, tables, lambda c=create, m=message_id: c(session, **{**fields, "message_id": m})
            )
    assert work[create_outbound] <= work[_orm_create_outbound], work
