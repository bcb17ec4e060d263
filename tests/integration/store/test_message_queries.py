"""Reading messages: filtered pages, text search by id, counts, queue depth, one snapshot per read."""

from __future__ import annotations

from datetime import timedelta

from node.store.database import Database
from node.store.messages import (
    MessageFilter,
    claim_due,
    count_by_partner,
    count_by_state,
    find_message,
    list_messages,
    mark_delivered,
    queue_depth,
)

from .factories import LEASE, inbound, outbound


def test_list_filters_pages_and_searches_by_id(db: Database, now) -> None:
    with db.session() as session:
        outbound(session, now, 5, document_type="eco")
        outbound(session, now + timedelta(hours=1), 2, partner="vn", document_type="ephyto")
        inbound(session, now, "inbound_50%@them", document_type="eco")
        claim_due(session, claimer="n", now=now, lease=LEASE, limit=1)
    with db.read_session() as session:
        page = list_messages(session, limit=3)
        assert page.total == 8 and len(page.items) == 3
        assert [m.id for m in page.items] == sorted((m.id for m in page.items), reverse=True)
        assert list_messages(session, MessageFilter(partner_id="vn")).total == 2
        assert list_messages(session, MessageFilter(document_type="eco", direction="outbound")).total == 5
        assert list_messages(session, MessageFilter(states=("sending",))).total == 1
        assert list_messages(session, MessageFilter(created_from=now + timedelta(minutes=1))).total == 2
        assert list_messages(session, MessageFilter(created_before=now + timedelta(minutes=1))).total == 6
        assert [m.message_id for m in list_messages(session, MessageFilter(text="50%")).items] == [
            "inbound_50%@them"
        ]
        assert list_messages(session, MessageFilter(text="m3-")).total == 1
        assert list_messages(session, MessageFilter(text="_")).total == 1
        second = list_messages(session, limit=3, offset=3, oldest_first=True)
        assert [m.message_id for m in second.items] == ["m3-th@aswnode", "m4-th@aswnode", "m0-vn@aswnode"]
        assert find_message(session, "m0-vn@aswnode").partner_id == "vn"


def test_counts_and_queue_depth_follow_the_states(db: Database, now) -> None:
    with db.session() as session:
        a, _, _ = outbound(session, now, 3)
        outbound(session, now, 1, partner="vn")
        inbound(session, now)
        claim_due(session, claimer="n", now=now, lease=LEASE, limit=2)
        mark_delivered(session, a, receipt_digest=None, now=now)
    with db.read_session() as session:
        assert count_by_state(session) == {
            ("outbound", "delivered"): 1,
            ("outbound", "sending"): 1,
            ("outbound", "pending"): 2,
            ("inbound", "received"): 1,
        }
        assert count_by_partner(session)[("vn", "outbound", "pending")] == 1
        assert queue_depth(session) == 3
        assert queue_depth(session, partner_id="vn") == 1


def test_a_read_session_sees_one_snapshot_while_others_commit(db: Database, now) -> None:
    with db.session() as session:
        outbound(session, now, 2)
    with db.read_session() as reader:
        assert list_messages(reader).total == 2
        with db.session() as writer:
            outbound(writer, now, 3, first=2)
        assert list_messages(reader).total == 2
        assert len(list_messages(reader).items) == 2
    with db.read_session() as reader:
        assert list_messages(reader).total == 5
