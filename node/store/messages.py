"""Message queries in one place: the outbound queue, received messages, and reading.

The functions live in node.store.outbound_queue, node.store.inbound_messages and
node.store.message_queries; import them from here or from there.
"""

from __future__ import annotations

from node.store.inbound_messages import find_received, insert_inbound, set_receipt, store_inbound
from node.store.message_queries import (
    MessageFilter,
    MessagePage,
    count_by_partner,
    count_by_state,
    find_message,
    get_message,
    list_messages,
    queue_depth,
)
from node.store.outbound_queue import (
    ClaimedMessage,
    claim_due,
    create_outbound,
    mark_delivered,
    mark_failed,
    mark_retry,
    release_claims,
    renew_lease,
    resend,
    set_wire,
)
from node.store.payloads import NewPayload

__all__ = [
    "ClaimedMessage",
    "MessageFilter",
    "MessagePage",
    "NewPayload",
    "claim_due",
    "count_by_partner",
    "count_by_state",
    "create_outbound",
    "find_message",
    "find_received",
    "get_message",
    "insert_inbound",
    "list_messages",
    "mark_delivered",
    "mark_failed",
    "mark_retry",
    "queue_depth",
    "release_claims",
    "renew_lease",
    "resend",
    "set_receipt",
    "set_wire",
    "store_inbound",
]
