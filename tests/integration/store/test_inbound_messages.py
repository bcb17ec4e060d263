"""Received messages: stored with payloads and audit in one transaction, found again for duplicates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from node.audit import AuditLog
from node.store.database import Database
from node.store.messages import (
    find_received,
)
from node.store.models import AuditRecord, Message

from .factories import inbound


def test_inbound_message_payloads_and_audit_are_stored_in_one_transaction(db: Database, now) -> None:
    audit = AuditLog()
    with pytest.raises(RuntimeError), db.session() as session:
        inbound(session, now, audit=audit)
        raise RuntimeError("crash before commit")
    with db.read_session() as session:
        assert session.query(Message).count() == 0 and session.query(AuditRecord).count() == 0
    with db.session() as session:
        inbound(session, now, audit=audit)
    with db.read_session() as session:
        (message,) = session.query(Message).all()
        assert (message.direction, message.state, message.receipt_digest) == (
            "inbound",
            "received",
            "34" * 32,
        )
        assert len(message.payloads) == 1
        (record,) = session.query(AuditRecord).all()
        assert (record.actor, record.action, record.form, record.request_digest) == (
            "partner:th",
            "as4.receive",
            "as4",
            "sha256:" + "12" * 32,
        )


def test_a_received_message_id_is_found_within_the_window_only(db: Database, now) -> None:
    with db.session() as session:
        inbound(session, now)
    with db.read_session() as session:
        found = find_received(
            session, partner_id="th", message_id="in-1@them", since=now - timedelta(days=30)
        )
        assert found is not None and found.receipt_digest == "34" * 32
        assert (
            find_received(session, partner_id="th", message_id="in-1@them", since=now + timedelta(1)) is None
        )
        assert find_received(session, partner_id="vn", message_id="in-1@them") is None
    with pytest.raises(IntegrityError), db.session() as session:
        inbound(session, now)
