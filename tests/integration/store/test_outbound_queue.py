"""The outbound queue: pending messages, claims and leases, settling sends, order after an outage."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from node.store.database import Database
from node.store.messages import (
    claim_due,
    mark_delivered,
    mark_failed,
    mark_retry,
    release_claims,
    renew_lease,
    resend,
    set_wire,
)
from node.store.models import Message

from .factories import BLOB, LEASE, claim, outbound


def test_outbound_messages_are_pending_with_payloads_in_order_of_submission(db: Database, now) -> None:
    with db.session() as session:
        ids = outbound(session, now, 3)
    assert ids == sorted(ids)
    with db.read_session() as session:
        message = session.get(Message, ids[0])
        assert message.state == "pending" and message.attempts == 0 and message.next_attempt_at == now
        assert [(p.position, p.content_id, p.blob_digest, p.size) for p in message.payloads] == [
            (0, "p0@x", BLOB.digest, 10)
        ]
        assert message.payloads[0].properties == {"MimeType": "application/xml"}


def test_the_same_message_id_to_the_same_partner_cannot_be_queued_twice(db: Database, now) -> None:
    with db.session() as session:
        outbound(session, now, 1)
    with pytest.raises(IntegrityError), db.session() as session:
        outbound(session, now, 1)


def test_claim_takes_due_messages_oldest_first_and_counts_an_attempt(db: Database, now) -> None:
    long_lease = timedelta(hours=3)
    with db.session() as session:
        ids = outbound(session, now, 3)
        (later,) = outbound(session, now, 1, partner="vn", not_before=now + timedelta(hours=1))
    with db.session() as session:
        claimed = claim_due(session, claimer="node-a", now=now, lease=long_lease, limit=2)
        assert [m.id for m in claimed] == ids[:2]
        assert all(m.state == "sending" and m.claimed_by == "node-a" and m.attempts == 1 for m in claimed)
    with db.session() as session:
        assert [m.id for m in claim_due(session, claimer="node-b", now=now, lease=long_lease)] == ids[2:]
        assert claim_due(session, claimer="node-b", now=now, lease=long_lease) == []
        due_later = claim_due(session, claimer="b", now=now + timedelta(hours=2), lease=long_lease)
        assert [m.id for m in due_later] == [later]


def test_a_killed_claimers_messages_are_claimed_again_after_the_lease_expires(db: Database, now) -> None:
    with db.session() as session:
        (pk,) = outbound(session, now, 1)
    with db.session() as session:
        assert len(claim_due(session, claimer="killed", now=now, lease=LEASE)) == 1
    # The claimer dies: nothing settles the message. Before the lease ends nobody else gets it.
    with db.session() as session:
        assert (
            claim_due(session, claimer="survivor", now=now + LEASE - timedelta(seconds=1), lease=LEASE) == []
        )
    with db.session() as session:
        (again,) = claim_due(session, claimer="survivor", now=now + LEASE + timedelta(seconds=1), lease=LEASE)
        assert (again.id, again.claimed_by, again.attempts) == (pk, "survivor", 2)
    # The dead claimer's late verdict no longer counts; the survivor's does.
    with db.session() as session:
        assert not mark_retry(session, pk, claimer="killed", error="x", next_attempt_at=now, now=now)
        assert not mark_failed(session, pk, claimer="killed", error="x", now=now)
        assert not renew_lease(session, pk, claimer="killed", until=now + LEASE * 3)
        assert renew_lease(session, pk, claimer="survivor", until=now + LEASE * 3)
        assert mark_retry(session, pk, claimer="survivor", error="503", next_attempt_at=now, now=now)


def test_concurrent_claimers_never_claim_the_same_message(db: Database, now) -> None:
    total = 60
    with db.session() as session:
        outbound(session, now, total)
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def claimer(name: str, database: Database) -> None:
        mine = claims.setdefault(name, [])
        try:
            barrier.wait(timeout=30)
            while True:
                with database.session() as session:
                    batch = [m.id for m in claim_due(session, claimer=name, now=now, lease=LEASE, limit=3)]
                if not batch:
                    return
                mine.extend(batch)
        except BaseException as error:  # reported below
            errors.append(error)

    # Two claimers per engine, two engines: like two nodes with two sender threads each.
    other = Database.open(db.url)
    try:
        threads = [
            threading.Thread(target=claimer, args=(f"node{i}", database))
            for i, database in enumerate((db, db, other, other))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        other.close()
    assert errors == []
    everything = [pk for batch in claims.values() for pk in batch]
    assert len(everything) == total
    assert len(set(everything)) == total
    with db.read_session() as session:
        owners = {m.id: m.claimed_by for m in session.query(Message)}
    assert all(owners[pk] == name for name, batch in claims.items() for pk in batch)


def test_settling_a_send_moves_the_message_and_keeps_the_wire_bytes(db: Database, now) -> None:
    later = now + timedelta(minutes=1)
    with db.session() as session:
        a, b, c = outbound(session, now, 3)
        set_wire(session, a, digest="cd" * 32, content_type='multipart/related; boundary="x"', now=now)
    with db.session() as session:
        claim_due(session, claimer="n", now=now, lease=LEASE)
        assert mark_delivered(session, c, receipt_digest="ef" * 32, now=now)
        assert not mark_delivered(session, c, receipt_digest="00" * 32, now=now)
        assert mark_retry(session, a, claimer="n", error="HTTP 503", next_attempt_at=later, now=now)
        assert mark_failed(session, b, claimer="n", error="EBMS:0004", now=now)
    with db.read_session() as session:
        ma, mb, mc = (session.get(Message, pk) for pk in (a, b, c))
        assert (ma.state, ma.next_attempt_at, ma.last_error, ma.wire_digest) == (
            "pending",
            later,
            "HTTP 503",
            "cd" * 32,
        )
        assert (mb.state, mb.last_error, mb.claimed_by) == ("failed", "EBMS:0004", None)
        assert (mc.state, mc.receipt_digest, mc.receipt_status, mc.delivered_at) == (
            "delivered",
            "ef" * 32,
            "valid",
            now,
        )
    with db.session() as session:
        assert claim_due(session, claimer="n", now=now, lease=LEASE) == []
        assert [m.id for m in claim_due(session, claimer="n", now=later, lease=LEASE)] == [a]


def test_after_a_partner_was_down_its_messages_go_out_in_order_of_submission(db: Database, now) -> None:
    minute = timedelta(minutes=1)
    with db.session() as session:
        queued = outbound(session, now, 4)
        (other,) = outbound(session, now, 1, partner="vn")
    # The partner is down: the first batch fails, each message with its own backoff.
    with db.session() as session:
        assert claim(session, now) == [*queued, other]
        for pk, delay in zip(queued, (3, 5, 1, 2), strict=True):
            mark_retry(
                session, pk, claimer="n", error="refused", next_attempt_at=now + delay * minute, now=now
            )
        mark_delivered(session, other, receipt_digest=None, now=now)
    with db.session() as session:
        newer = outbound(session, now + minute, 2, first=4)
        (other_newer,) = outbound(session, now + minute, 1, partner="vn", first=1)
    # Younger messages wait behind the oldest retry; other partners are not held up.
    with db.session() as session:
        assert claim(session, now + 2 * minute) == [other_newer]
    with db.session() as session:
        assert claim(session, now + 3 * minute) == [queued[0]]
        assert claim(session, now + 3 * minute) == []
    # The partner is back: the retry succeeds, the rest follow in order of submission.
    sent = [queued[0]]
    at = now + 3 * minute
    with db.session() as session:
        mark_delivered(session, queued[0], receipt_digest=None, now=at)
    while True:
        with db.session() as session:
            batch = claim(session, at)
            for pk in batch:
                mark_delivered(session, pk, receipt_digest=None, now=at)
        if not batch:
            break
        sent.extend(batch)
    assert sent == [*queued, *newer]


def test_claims_out_of_order_when_asked(db: Database, now) -> None:
    with db.session() as session:
        first, second = outbound(session, now, 2)
        claim(session, now)
        mark_retry(session, first, claimer="n", error="x", next_attempt_at=now + LEASE, now=now)
        mark_retry(session, second, claimer="n", error="x", next_attempt_at=now, now=now)
    with db.session() as session:
        assert claim(session, now) == []
        assert [m.id for m in claim_due(session, claimer="n", now=now, lease=LEASE, in_order=False)] == [
            second
        ]


def test_a_window_claims_only_the_head_of_each_partners_queue(db: Database, now) -> None:
    with db.session() as session:
        th = outbound(session, now, 4, partner="th")
        sg = outbound(session, now, 2, partner="sg")
    with db.session() as session:
        first = claim_due(session, claimer="n", now=now, lease=LEASE, window=2)
        assert sorted(m.id for m in first) == sorted(th[:2] + sg[:2])
        # The window is full while those are in flight.
        assert claim_due(session, claimer="n", now=now, lease=LEASE, window=2) == []
        mark_delivered(session, th[0], receipt_digest=None, now=now)
        assert [m.id for m in claim_due(session, claimer="n", now=now, lease=LEASE, window=2)] == [th[2]]
    with db.session() as session, pytest.raises(ValueError):
        claim_due(session, claimer="n", now=now, lease=LEASE, window=0)


def test_a_late_receipt_closes_a_failed_message_and_resend_requeues_a_failed_one(db: Database, now) -> None:
    with db.session() as session:
        a, b = outbound(session, now, 2)
        claim_due(session, claimer="n", now=now, lease=LEASE)
        mark_failed(session, a, claimer="n", error="gave up", now=now)
        mark_failed(session, b, claimer="n", error="gave up", now=now)
    with db.session() as session:
        assert mark_delivered(session, a, receipt_digest="ef" * 32, now=now)
        assert not resend(session, a, now=now)
        assert resend(session, b, now=now)
    with db.read_session() as session:
        assert session.get(Message, a).state == "delivered"
        resent = session.get(Message, b)
        assert (resent.state, resent.attempts, resent.message_id) == ("pending", 0, "m1-th@aswnode")


def test_release_gives_claims_back_without_counting_the_attempt(db: Database, now) -> None:
    with db.session() as session:
        outbound(session, now, 2)
        claim_due(session, claimer="stopping", now=now, lease=LEASE)
    with db.session() as session:
        assert release_claims(session, claimer="stopping", now=now) == 2
    with db.read_session() as session:
        assert {(m.state, m.attempts, m.claimed_by) for m in session.query(Message)} == {("pending", 0, None)}
