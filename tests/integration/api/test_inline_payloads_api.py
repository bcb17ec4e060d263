"""Payload parts kept in their row (payloads.data): webhook, inbox pull and download, business answers and
submissions read them as they read a blob; SQLite and PostgreSQL (the api_node fixture)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import pytest_twisted
from sqlalchemy import select
from sqlalchemy.orm import undefer

from node.api import ministries_of
from node.delivery import DeliveryService, Retry
from node.store.messages import NewPayload, store_inbound
from node.store.models import Delivery, Message, Payload
from node.submissions import DOCUMENT_COLLABORATIONS, profile_for
from protocols.as4.payload import InMemory


def _receive_inline(node, data: bytes, *, service: str, action: str, mime: str) -> str:  # type: ignore[no-untyped-def]
    """What node.inbound stores for a small received part: its bytes in the row, no blob file."""
    stored = node.ctx.blobs.put_or_inline(InMemory(data), len(data))
    assert stored.data == data
    message_id = f"{uuid.uuid4()}@th-nsw"
    with node.ctx.db.session() as s:
        store_inbound(
            s,
            partner_id="th",
            message_id=message_id,
            service=service,
            action=action,
            payloads=(NewPayload.stored(stored, mime, "part-1@th-nsw"),),
            now=node.clock(),
            wire_digest=None,
            audit=node.ctx.audit,
        )
    assert not node.ctx.blobs.exists(stored.digest)
    return message_id


def _service(node) -> DeliveryService:  # type: ignore[no-untyped-def]
    return DeliveryService(node.ctx, ministries_of(node.ctx), retry=Retry(first=10, cap=60))


def _delivery(node) -> Delivery:  # type: ignore[no-untyped-def]
    with node.ctx.db.read_session() as s:
        return s.scalars(select(Delivery)).one()


@pytest_twisted.ensureDeferred
async def test_an_inline_payload_reaches_the_webhook_the_inbox_item_and_its_download(api_node):  # type: ignore[no-untyped-def]
    data = b"<raw>a small document kept in its row</raw>"
    _receive_inline(api_node, data, service="urn:test:svc", action="Go", mime="application/xml")
    await _service(api_node).tick()
    [(_, body, _)] = api_node.webhook.calls
    [pushed] = json.loads(body)["payloads"]
    assert base64.b64decode(pushed["data_base64"]) == data
    assert pushed["sha256"] == hashlib.sha256(data).hexdigest() and pushed["size"] == len(data)

    delivery = _delivery(api_node)
    item = (await api_node.call("GET", f"/api/v1/inbox/{delivery.id}", ministry="moit")).json()
    [part] = item["payloads"]
    assert base64.b64decode(part["data_base64"]) == data
    download = await api_node.call("GET", part["href"], ministry="moit")
    assert download.code == 200 and download.body == data
    assert download.header("content-type") == "application/xml"
    assert download.header("digest") == "sha-256=" + base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert (await api_node.call("GET", part["href"], ministry="mard")).code == 404
    assert (await api_node.call("GET", part["href"][:-1] + "1", ministry="moit")).code == 404


@pytest_twisted.ensureDeferred
async def test_an_inline_ephyto_is_mapped_for_the_pulling_ministry(api_node, ephyto):  # type: ignore[no-untyped-def]
    xml = profile_for("ephyto").to_treaty(ephyto)
    service, action = DOCUMENT_COLLABORATIONS["ephyto"]
    _receive_inline(api_node, xml, service=service, action=action, mime="application/xml")
    await _service(api_node).tick()
    delivery = _delivery(api_node)
    item = (await api_node.call("GET", f"/api/v1/inbox/{delivery.id}", ministry="mard")).json()
    assert item["document_type"] == "ephyto" and item["document"] == ephyto


@pytest_twisted.ensureDeferred
async def test_an_inline_business_answer_moves_the_submission(api_node, ephyto):  # type: ignore[no-untyped-def]
    from mappings import answers

    body = {"document_type": "ephyto", "partner": "th", "payload": ephyto}
    submitted = (await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=body)).json()
    answer = answers.BusinessAnswer(
        document_type="ephyto",
        certificate_reference=ephyto["certificate_number"],
        status=answers.AnswerStatus.AMENDMENT_REQUESTED,
        issued_at=api_node.clock(),
        authority="Department of Agriculture",
        country="TH",
        reasons=(answers.Reason("BOTANICAL", "botanical name does not match the permit", "/items/0"),),
        ref_to_message_id=submitted["message_id"],
    )
    service, _ = DOCUMENT_COLLABORATIONS["ephyto"]
    _receive_inline(
        api_node, answers.to_xml(answer), service=service, action="BusinessAnswer", mime="application/xml"
    )
    api_node.clock.advance(seconds=5)
    await _service(api_node).tick()
    view = (await api_node.call("GET", f"/api/v1/submissions/{submitted['id']}", ministry="mard")).json()
    assert view["status"] == "amendment_requested"
    [item] = (await api_node.call("GET", "/api/v1/inbox", ministry="mard")).json()["items"]
    full = (await api_node.call("GET", f"/api/v1/inbox/{item['id']}", ministry="mard")).json()
    assert full["document"]["status"] == "amendment-requested"


def _submitted_part(node, message_id: str) -> Payload:  # type: ignore[no-untyped-def]
    with node.ctx.db.read_session() as s:
        return s.scalars(
            select(Payload)
            .join(Message, Message.id == Payload.message_pk)
            .where(Message.message_id == message_id)
            .options(undefer(Payload.data))
        ).one()


@pytest_twisted.ensureDeferred
async def test_a_small_submission_is_kept_in_its_row_and_a_large_one_in_the_blob_store(api_node):  # type: ignore[no-untyped-def]
    path = "/api/v1/submissions/raw?partner=th&service=urn:test:svc&action=Go"
    small = b"%PDF-1.7 small"
    large = bytes(range(256)) * 4096 * 2  # 2 MiB: over the default inline limit (256 KiB)
    kept = {}
    for name, data in (("small", small), ("large", large)):
        headers = {"Content-Type": "application/pdf"}
        r = await api_node.call("POST", path, ministry="moit", raw=data, headers=headers)
        assert r.code == 202, r.body
        part = _submitted_part(api_node, r.json()["message_id"])
        assert (part.blob_digest, part.size) == (hashlib.sha256(data).hexdigest(), len(data))
        kept[name] = (part.data, api_node.ctx.blobs.exists(part.blob_digest))
        with api_node.ctx.blobs.open_stored(part.blob_digest, part.data) as source:
            assert b"".join(source.chunks()) == data
    assert kept == {"small": (small, False), "large": (None, True)}
