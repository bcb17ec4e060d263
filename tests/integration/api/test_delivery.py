"""node.delivery: routing received documents, a signed webhook retried until 2xx, pull + ack, test service."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import pytest_twisted
from sqlalchemy import func, select

from node.api import ministries_of
from node.api.signature import SignatureError, sign, verify
from node.delivery import DeliveryService, Retry
from node.store.messages import NewPayload, store_inbound
from node.store.models import Delivery, Message
from node.submissions import DOCUMENT_COLLABORATIONS, profile_for
from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE


def _receive(
    node, data: bytes, *, service: str, action: str, mime: str, is_test: bool = False, partner: str = "th"
) -> str:
    """What node.inbound stores for a received message (same repository function)."""
    blob = node.ctx.blobs.put_bytes(data)
    message_id = f"{uuid.uuid4()}@th-nsw"
    with node.ctx.db.session() as s:
        store_inbound(
            s,
            partner_id=partner,
            message_id=message_id,
            service=service,
            action=action,
            payloads=(NewPayload(blob=blob, mime_type=mime, content_id="part-1@th-nsw"),),
            now=node.clock(),
            wire_digest=None,
            is_test=is_test,
            ministry="-" if is_test else None,
            audit=node.ctx.audit,
        )
    return message_id


def _deliveries(node) -> list[Delivery]:
    with node.ctx.db.read_session() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def _service(node, **kw) -> DeliveryService:
    return DeliveryService(node.ctx, ministries_of(node.ctx), retry=Retry(first=10, cap=60), **kw)


@pytest_twisted.ensureDeferred
async def test_a_received_document_is_pushed_by_signed_webhook_and_retried_until_acknowledged(api_node):
    data = b"<raw>document for moit</raw>"
    message_id = _receive(api_node, data, service="urn:test:svc", action="Go", mime="application/xml")
    service = _service(api_node)
    await service.tick()
    [delivery] = _deliveries(api_node)
    assert delivery.ministry == "moit" and delivery.state == "pending" and delivery.attempts == 1
    assert "503" in delivery.last_error
    assert len(api_node.webhook.calls) == 1

    await service.tick()  # not due yet: backoff
    assert len(api_node.webhook.calls) == 1

    # A restart: a new service instance picks the schedule up from the database.
    api_node.clock.advance(seconds=11)
    await _service(api_node).tick()
    assert len(api_node.webhook.calls) == 2 and _deliveries(api_node)[0].attempts == 2
    api_node.clock.advance(seconds=19)
    await _service(api_node).tick()
    assert _deliveries(api_node)[0].attempts == 2  # second backoff is 20 s
    api_node.clock.advance(seconds=2)
    await _service(api_node).tick()
    [delivery] = _deliveries(api_node)
    assert delivery.state == "delivered" and delivery.attempts == 3 and delivery.delivered_at is not None
    assert [code for _, _, code in api_node.webhook.calls] == [503, 503, 204]

    api_node.clock.advance(seconds=3600)
    await _service(api_node).tick()
    assert len(api_node.webhook.calls) == 3  # acknowledged: never again

    headers, body, _ = api_node.webhook.calls[-1]
    now = int(api_node.clock().timestamp()) - 3600
    verify(api_node.webhook_secret, headers["x-asw-signature"], body, now=now)
    with pytest.raises(SignatureError):
        verify(api_node.webhook_secret, headers["x-asw-signature"], body + b" ", now=now)
    with pytest.raises(SignatureError):
        verify("another secret of enough length", headers["x-asw-signature"], body, now=now)
    event = json.loads(body)
    assert event["event"] == "document.received" and event["message_id"] == message_id
    assert event["partner"] == "th" and event["document_type"] == "raw"
    assert base64.b64decode(event["payloads"][0]["data_base64"]) == data


@pytest_twisted.ensureDeferred
async def test_a_test_service_message_is_never_delivered(api_node):
    _receive(api_node, b"ping", service=TEST_SERVICE, action=TEST_ACTION, mime="text/plain", is_test=True)
    with api_node.ctx.db.session() as s:  # even one the inbound side left unmarked
        s.scalar(select(Message)).ministry = None
    await _service(api_node).tick()
    assert _deliveries(api_node) == []
    assert api_node.webhook.calls == []
    for ministry in ("moit", "mard"):
        r = await api_node.call("GET", "/api/v1/inbox?state=all", ministry=ministry)
        assert r.json()["items"] == []


@pytest_twisted.ensureDeferred
async def test_an_ephyto_is_pulled_from_the_inbox_as_domestic_json_and_acknowledged(api_node, ephyto):
    xml = profile_for("ephyto").to_treaty(ephyto)
    service, action = DOCUMENT_COLLABORATIONS["ephyto"]
    message_id = _receive(api_node, xml, service=service, action=action, mime="application/xml")
    await _service(api_node).tick()
    assert api_node.webhook.calls == []  # mard has no webhook: pull only

    listed = (await api_node.call("GET", "/api/v1/inbox", ministry="mard")).json()["items"]
    assert [i["message_id"] for i in listed] == [message_id]
    item_id = listed[0]["id"]
    item = await api_node.call("GET", f"/api/v1/inbox/{item_id}", ministry="mard")
    assert item.code == 200
    assert item.json()["document"] == ephyto and item.json()["document_type"] == "ephyto"

    for method, path in (("GET", f"/api/v1/inbox/{item_id}"), ("POST", f"/api/v1/inbox/{item_id}/ack")):
        other = await api_node.call(method, path, ministry="moit")
        assert other.code == 404  # another ministry's item does not exist for moit
    assert (await api_node.call("GET", "/api/v1/inbox", ministry="moit")).json()["items"] == []

    ack = await api_node.call("POST", f"/api/v1/inbox/{item_id}/ack", ministry="mard")
    assert ack.code == 200 and ack.json()["state"] == "acked"
    again = await api_node.call("POST", f"/api/v1/inbox/{item_id}/ack", ministry="mard")
    assert again.code == 200 and again.json()["acked_at"] == ack.json()["acked_at"]
    assert (await api_node.call("GET", "/api/v1/inbox", ministry="mard")).json()["items"] == []
    acked = (await api_node.call("GET", "/api/v1/inbox?state=acked", ministry="mard")).json()["items"]
    assert [i["id"] for i in acked] == [item_id]


@pytest_twisted.ensureDeferred
async def test_routing_twice_creates_no_second_delivery(api_node):
    _receive(api_node, b"once", service="urn:test:svc", action="Go", mime="text/plain")
    service = _service(api_node)
    await service.tick()
    await service.tick()
    with api_node.ctx.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1


def test_the_signature_refuses_a_stale_timestamp_and_a_missing_header() -> None:
    body = b'{"a":1}'
    header = sign("s" * 32, 1_000_000, body)
    assert verify("s" * 32, header, body, now=1_000_100) == 1_000_000
    with pytest.raises(SignatureError):
        verify("s" * 32, header, body, now=1_000_000 + 301)
    with pytest.raises(SignatureError):
        verify("s" * 32, None, body, now=1_000_000)
    with pytest.raises(SignatureError):
        verify("s" * 32, "v1=abc", body, now=1_000_000)


@pytest_twisted.ensureDeferred
async def test_the_partners_business_answer_moves_the_submission_and_reaches_the_ministry(api_node, ephyto):
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
    _receive(
        api_node, answers.to_xml(answer), service=service, action="BusinessAnswer", mime="application/xml"
    )
    api_node.clock.advance(seconds=5)
    await _service(api_node).tick()

    view = (await api_node.call("GET", f"/api/v1/submissions/{submitted['id']}", ministry="mard")).json()
    assert view["status"] == "amendment_requested"
    assert view["answer"]["status"] == "amendment_requested" and "BOTANICAL" in view["answer"]["detail"]
    assert [h["status"] for h in view["history"]] == ["submitted", "amendment_requested"]
    listed = await api_node.call("GET", "/api/v1/submissions?status=amendment_requested", ministry="mard")
    assert [i["id"] for i in listed.json()["items"]] == [submitted["id"]]

    [item] = (await api_node.call("GET", "/api/v1/inbox", ministry="mard")).json()["items"]
    assert item["document_type"] == "answer"
    full = (await api_node.call("GET", f"/api/v1/inbox/{item['id']}", ministry="mard")).json()
    assert full["document"]["status"] == "amendment-requested"
    assert full["document"]["reasons"][0]["field"] == "/items/0"


@pytest_twisted.ensureDeferred
async def test_a_ministry_answers_a_received_certificate_through_the_api(api_node):
    answer = {
        "document_type": "ephyto",
        "certificate_reference": "TH-PC-77",
        "status": "accepted",
        "issued_at": "2026-11-23T09:00:00+07:00",
        "authority": "Plant Protection Department",
        "country": "VN",
        "ref_to_message_id": await _received_ephyto(api_node),
    }
    body = {"document_type": "answer", "partner": "th", "payload": answer}
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=body)
    assert r.code == 202, r.body
    with api_node.ctx.db.read_session() as s:
        message = s.scalar(select(Message).where(Message.message_id == r.json()["message_id"]))
        assert message.action == "BusinessAnswer"
        assert message.ref_to_message_id == answer["ref_to_message_id"]
        part = message.payloads[0]
        xml = api_node.ctx.blobs.read_stored(part.blob_digest, part.data, 1_000_000)
    from mappings import answers

    assert answers.from_xml(xml).status == answers.AnswerStatus.ACCEPTED

    bad = dict(answer, status="maybe", country="")
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=dict(body, payload=bad))
    assert r.code == 422
    assert {e["pointer"] for e in r.json()["errors"]} == {"/payload/status", "/payload/country"}


async def _received_ephyto(node, partner: str = "th") -> str:
    """An ePhyto received from `partner` and routed (to mard, the ministry of ePhytos)."""
    service, action = DOCUMENT_COLLABORATIONS["ephyto"]
    message_id = _receive(
        node, b"<ephyto/>", service=service, action=action, mime="application/xml", partner=partner
    )
    await _service(node).tick()
    return message_id


def _answer_to(ref: str, document_type: str = "ephyto") -> dict:
    payload = {
        "document_type": document_type,
        "certificate_reference": "TH-PC-78",
        "status": "accepted",
        "issued_at": "2026-11-23T09:00:00+07:00",
        "authority": "Plant Protection Department",
        "country": "VN",
        "ref_to_message_id": ref,
    }
    return {"document_type": "answer", "partner": "th", "payload": payload}


@pytest_twisted.ensureDeferred
async def test_a_ministry_cannot_answer_for_certificate_types_it_does_not_handle(api_node):
    ref = await _received_ephyto(api_node)
    r = await api_node.call("POST", "/api/v1/submissions", ministry="moit", body=_answer_to(ref))
    assert r.code == 422, r.body
    [error] = r.json()["errors"]
    assert error["pointer"] == "/payload/document_type" and error["code"] == "document_type_not_allowed"
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_answer_to(ref, "eco"))
    assert r.code == 422, r.body
    assert [e["pointer"] for e in r.json()["errors"]] == ["/payload/document_type"]
    with api_node.ctx.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "outbound")) == 0


@pytest_twisted.ensureDeferred
async def test_an_answer_must_name_a_message_this_partner_sent_to_this_ministry(api_node):
    from node.store.models import Submission

    theirs = await _received_ephyto(api_node)
    # Received from another partner, and unknown: refused alike, with the same wording as a stranger's.
    other_partner = await _received_ephyto(api_node, partner="kh")
    for ref in (other_partner, "nosuch@th-nsw"):
        r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_answer_to(ref))
        assert r.code == 422, r.body
        [error] = r.json()["errors"]
        assert error["pointer"] == "/payload/ref_to_message_id" and error["code"] == "unknown_message"
    # An answer names the message it answers.
    body = _answer_to(theirs)
    del body["payload"]["ref_to_message_id"]
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=body)
    assert r.code == 422 and [e["pointer"] for e in r.json()["errors"]] == ["/payload/ref_to_message_id"]
    with api_node.ctx.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_answer_to(theirs))
    assert r.code == 202, r.body


@pytest_twisted.ensureDeferred
async def test_an_answer_to_a_message_routed_to_another_ministry_reads_as_unknown(api_node):
    # A raw document goes to moit (raw) only; mard answering it is told it does not exist.
    ref = _receive(api_node, b"<x/>", service="urn:test:svc", action="Go", mime="application/xml")
    await _service(api_node).tick()
    with api_node.ctx.db.read_session() as s:
        assert s.scalar(select(Message.ministry).where(Message.message_id == ref)) == "moit"
    unknown = await api_node.call(
        "POST", "/api/v1/submissions", ministry="mard", body=_answer_to("nosuch@th-nsw")
    )
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_answer_to(ref))
    assert r.code == 422, r.body
    assert r.json()["errors"][0]["pointer"] == "/payload/ref_to_message_id"
    assert r.json()["errors"][0]["message"].replace(ref, "X") == unknown.json()["errors"][0][
        "message"
    ].replace("nosuch@th-nsw", "X")


@pytest_twisted.ensureDeferred
async def test_the_attached_api_runs_delivery_on_its_own_until_stopped(api_node):
    from twisted.internet import reactor, task
    from twisted.web.resource import Resource

    import node.api

    api_node.webhook.failures = 0
    node.api.attach(api_node.ctx, Resource())  # as node.service does: the delivery loop starts
    try:
        _receive(api_node, b"pushed without help", service="urn:test:svc", action="Go", mime="text/plain")
        for _ in range(100):
            if api_node.webhook.calls:
                break
            await task.deferLater(reactor, 0.1, lambda: None)
        assert [code for _, _, code in api_node.webhook.calls] == [204]
    finally:
        await node.api.stop()
    for _ in range(20):
        if _deliveries(api_node)[0].state == "delivered":
            break
        await task.deferLater(reactor, 0.1, lambda: None)
    assert _deliveries(api_node)[0].state == "delivered"


@pytest_twisted.ensureDeferred
async def test_a_payload_too_large_to_inline_is_streamed_from_its_href(api_node):
    import hashlib

    from node.delivery import INLINE_PAYLOAD_LIMIT

    data = bytes(range(251)) * (INLINE_PAYLOAD_LIMIT // 251 + 1000)
    _receive(api_node, data, service="urn:test:svc", action="Go", mime="application/octet-stream")
    await _service(api_node).tick()
    [delivery] = _deliveries(api_node)
    item = (await api_node.call("GET", f"/api/v1/inbox/{delivery.id}", ministry="moit")).json()
    [part] = item["payloads"]
    assert "data_base64" not in part and part["size"] == len(data)
    download = await api_node.call("GET", part["href"], ministry="moit")
    assert download.code == 200 and download.header("content-type") == "application/octet-stream"
    assert hashlib.sha256(download.body).hexdigest() == part["sha256"] == hashlib.sha256(data).hexdigest()
    assert (await api_node.call("GET", part["href"], ministry="mard")).code == 404
    assert (await api_node.call("GET", part["href"][:-1] + "7", ministry="moit")).code == 404


@pytest_twisted.ensureDeferred
async def test_a_document_is_recognised_by_the_service_and_action_of_its_partner_p_mode(api_node, ephyto):
    import yaml

    path = api_node.directory / "partners.yaml"
    data = yaml.safe_load(path.read_text())
    data["partners"][1]["pmode"] = {
        "collaborations": {"ephyto": {"service": "urn:kh:ephyto", "action": "Phyto"}}
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    api_node.ctx.partners.reload()
    xml = profile_for("ephyto").to_treaty(ephyto)
    from_kh = _receive(
        api_node, xml, service="urn:kh:ephyto", action="Phyto", mime="application/xml", partner="kh"
    )
    from_th = _receive(api_node, xml, service="urn:kh:ephyto", action="Phyto", mime="application/xml")
    await _service(api_node).tick()
    with api_node.ctx.db.read_session() as s:
        types = {m.message_id: (m.document_type, m.ministry) for m in s.scalars(select(Message))}
    assert types[from_kh] == ("ephyto", "mard")  # kh's P-Mode names that collaboration
    assert types[from_th] == ("raw", "moit")  # th runs the defaults: the same values mean nothing there
