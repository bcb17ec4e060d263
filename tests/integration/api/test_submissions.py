"""/api/v1/submissions and submissions.submit: accepted, refused with pointers, idempotent, isolated."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest_twisted
from sqlalchemy import func, select

from node.store.models import AuditRecord, Message, Partner, Submission
from node.submissions import DOCUMENT_COLLABORATIONS, profile_for


def _count(node, model) -> int:
    with node.ctx.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _submission_audits(node) -> list[AuditRecord]:
    with node.ctx.db.read_session() as s:
        return [r for r in s.scalars(select(AuditRecord)) if r.action == "submission.accept"]


EPHYTO = json.loads((Path(__file__).parent / "ephyto.json").read_text())


def _ephyto(**changes):
    body = {"document_type": "ephyto", "partner": "th", "payload": json.loads(json.dumps(EPHYTO))}
    body.update(changes)
    return body


@pytest_twisted.ensureDeferred
async def test_a_valid_ephyto_is_accepted_mapped_and_queued_as_a_pending_message(api_node):
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto())
    assert r.code == 202, r.body
    answer = r.json()
    assert answer["state"] == "pending" and answer["message_id"].endswith("@vn-nsw")
    assert r.header("location") == f"/api/v1/submissions/{answer['id']}"

    with api_node.ctx.db.read_session() as s:
        message = s.scalar(select(Message).where(Message.message_id == answer["message_id"]))
        assert message.direction == "outbound" and message.state == "pending" and message.partner_id == "th"
        assert (message.service, message.action) == DOCUMENT_COLLABORATIONS["ephyto"]
        assert message.submission_id == answer["id"] and message.ministry == "mard"
        part = message.payloads[0]
        xml = api_node.ctx.blobs.read_stored(part.blob_digest, part.data, 10_000_000)
        assert message.payloads[0].mime_type == "application/xml"
    assert profile_for("ephyto").from_treaty(xml) == EPHYTO
    audits = _submission_audits(api_node)
    assert len(audits) == 1 and audits[0].actor == "ministry:mard" and audits[0].form == "api"

    shown = await api_node.call("GET", f"/api/v1/submissions/{answer['id']}", ministry="mard")
    assert shown.code == 200
    view = shown.json()
    assert view["status"] == "pending" and view["partner"] == "th" and view["document_type"] == "ephyto"
    assert view["message"]["message_id"] == answer["message_id"]
    assert [h["status"] for h in view["history"]] == ["submitted"]


@pytest_twisted.ensureDeferred
async def test_an_invalid_domestic_document_is_422_with_a_pointer_per_field_and_nothing_is_stored(api_node):
    body = _ephyto()
    body["payload"]["consignor"]["name"] = ""
    body["payload"]["export_country"] = "ZZ"
    del body["payload"]["signatory"]
    body["colour"] = "blue"
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=body)
    assert r.code == 422
    errors = r.json()["errors"]
    assert {e["pointer"] for e in errors} == {"/colour"}  # the request's own fields are checked first
    del body["colour"]
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=body)
    assert r.code == 422
    errors = r.json()["errors"]
    pointers = {e["pointer"] for e in errors}
    assert {"/payload/consignor/name", "/payload/export_country"} <= pointers
    assert any(p == "/payload" or p.startswith("/payload/signatory") for p in pointers)
    assert all(e["code"] and e["message"] for e in errors)
    assert _count(api_node, Submission) == 0 and _count(api_node, Message) == 0
    assert _submission_audits(api_node) == []


@pytest_twisted.ensureDeferred
async def test_request_field_problems_come_all_at_once_with_pointers(api_node):
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body={"payload": []})
    assert r.code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert pointers == {"/document_type", "/partner", "/payload"}
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", raw=b"{not json")
    assert r.code == 400 and r.json()["errors"][0]["pointer"] == ""
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto(partner="nowhere"))
    assert r.code == 422 and r.json()["errors"][0]["pointer"] == "/partner"
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto(document_type="eco"))
    assert r.code == 422 and r.json()["errors"][0]["code"] == "document_type_not_allowed"
    assert _count(api_node, Submission) == 0


@pytest_twisted.ensureDeferred
async def test_an_idempotency_key_makes_a_retry_safe_and_refuses_a_different_body(api_node):
    key = {"Idempotency-Key": "mard-2026-000123"}
    first = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto(), headers=key)
    again = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto(), headers=key)
    assert first.code == again.code == 202
    assert first.json() == again.json()
    assert again.header("idempotent-replayed") == "true"
    assert _count(api_node, Submission) == 1 and _count(api_node, Message) == 1

    changed = _ephyto()
    changed["payload"]["consignee"]["name"] = "Someone Else Ltd."
    other = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=changed, headers=key)
    assert other.code == 422 and other.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert _count(api_node, Submission) == 1

    # The key is the ministry's own: another ministry may use the same text.
    raw = {
        "document_type": "raw",
        "partner": "th",
        "payload": base64.b64encode(b"x").decode(),
        "mime_type": "text/plain",
        "service": "urn:test:svc",
        "action": "Go",
    }
    mine = await api_node.call("POST", "/api/v1/submissions", ministry="moit", body=raw, headers=key)
    assert mine.code == 202 and mine.json()["id"] != first.json()["id"]


@pytest_twisted.ensureDeferred
async def test_a_ministry_sees_only_its_own_submissions_and_others_are_not_found(api_node):
    theirs = (await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto())).json()
    raw = {
        "document_type": "raw",
        "partner": "th",
        "payload": base64.b64encode(b"hello").decode(),
        "mime_type": "text/plain",
        "service": "urn:test:svc",
        "action": "Go",
    }
    mine = (await api_node.call("POST", "/api/v1/submissions", ministry="moit", body=raw)).json()

    r = await api_node.call("GET", f"/api/v1/submissions/{theirs['id']}", ministry="moit")
    assert r.code == 404 and r.json()["errors"][0]["code"] == "not_found"
    listed = (await api_node.call("GET", "/api/v1/submissions", ministry="moit")).json()["items"]
    assert [i["id"] for i in listed] == [mine["id"]]
    pending = (await api_node.call("GET", "/api/v1/submissions?status=pending", ministry="mard")).json()
    assert [i["id"] for i in pending["items"]] == [theirs["id"]]
    none = (await api_node.call("GET", "/api/v1/submissions?status=accepted", ministry="mard")).json()
    assert none["items"] == []
    bad = await api_node.call("GET", "/api/v1/submissions?status=maybe", ministry="mard")
    assert bad.code == 400


@pytest_twisted.ensureDeferred
async def test_a_raw_payload_is_stored_byte_for_byte(api_node):
    data = bytes(range(256)) * 40
    raw = {
        "document_type": "raw",
        "partner": "th",
        "payload": base64.b64encode(data).decode(),
        "mime_type": "application/octet-stream",
        "service": "urn:test:svc",
        "action": "Go",
    }
    r = await api_node.call("POST", "/api/v1/submissions", ministry="moit", body=raw)
    assert r.code == 202
    with api_node.ctx.db.read_session() as s:
        message = s.scalar(select(Message).where(Message.message_id == r.json()["message_id"]))
        digest, inline = message.payloads[0].blob_digest, message.payloads[0].data
    assert api_node.ctx.blobs.read_stored(digest, inline, len(data)) == data


@pytest_twisted.ensureDeferred
async def test_a_partner_that_may_not_exchange_gets_409_with_the_reason_and_nothing_is_stored(api_node):
    with api_node.ctx.db.session() as s:
        s.get(Partner, "kh").state = "suspended"
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto(partner="kh"))
    assert r.code == 409
    error = r.json()["errors"][0]
    assert error["pointer"] == "/partner" and "suspended" in error["message"]
    assert _count(api_node, Submission) == 0 and _count(api_node, Message) == 0


@pytest_twisted.ensureDeferred
async def test_a_raw_body_upload_is_streamed_to_the_blob_store_and_is_idempotent(api_node):
    import hashlib

    data = bytes(range(256)) * 4096 * 3  # 3 MiB: twisted.web spools it to a temporary file
    path = "/api/v1/submissions/raw?partner=th&service=urn:test:svc&action=Go"
    headers = {"Content-Type": "application/pdf", "Idempotency-Key": "upload-1"}
    r = await api_node.call("POST", path, ministry="moit", raw=data, headers=headers)
    assert r.code == 202, r.body
    again = await api_node.call("POST", path, ministry="moit", raw=data, headers=headers)
    assert again.code == 202 and again.json() == r.json()
    with api_node.ctx.db.read_session() as s:
        message = s.scalar(select(Message).where(Message.message_id == r.json()["message_id"]))
        part = message.payloads[0]
        assert (part.mime_type, part.size, message.service, message.action) == (
            "application/pdf",
            len(data),
            "urn:test:svc",
            "Go",
        )
    assert part.blob_digest == hashlib.sha256(data).hexdigest()
    refused = await api_node.call("POST", path, ministry="mard", raw=data, headers=headers)
    assert refused.code == 403
    missing = await api_node.call("POST", "/api/v1/submissions/raw?partner=th", ministry="moit", raw=data)
    assert missing.code == 400 and "service" in missing.json()["errors"][0]["message"]
    assert _count(api_node, Submission) == 1


@pytest_twisted.ensureDeferred
async def test_an_eco_from_the_mappings_sample_is_accepted_and_mapped_to_e_form_d(api_node):
    import mappings

    sample = json.loads((Path(mappings.__file__).parent / "eco" / "sample.json").read_text())
    r = await api_node.call(
        "POST",
        "/api/v1/submissions",
        ministry="moit",
        body={"document_type": "eco", "partner": "th", "payload": sample},
    )
    assert r.code == 202, r.body
    with api_node.ctx.db.read_session() as s:
        message = s.scalar(select(Message).where(Message.message_id == r.json()["message_id"]))
        assert (message.service, message.action) == DOCUMENT_COLLABORATIONS["eco"]
        part = message.payloads[0]
        xml = api_node.ctx.blobs.read_stored(part.blob_digest, part.data, 10_000_000)
    back = profile_for("eco").from_treaty(xml)
    assert back["reference_number"] == sample["reference_number"]
    assert back["exporter"]["name"] == sample["exporter"]["name"]
    empty = await api_node.call(
        "POST",
        "/api/v1/submissions",
        ministry="moit",
        body={"document_type": "eco", "partner": "th", "payload": {}},
    )
    assert empty.code == 422
    assert {"/payload/exporter", "/payload/items", "/payload/box13"} <= {
        e["pointer"] for e in empty.json()["errors"]
    }


def _partner_collaborations(node, partner_id: str, collaborations: dict) -> None:
    import yaml

    path = node.directory / "partners.yaml"
    data = yaml.safe_load(path.read_text())
    for entry in data["partners"]:
        if entry["id"] == partner_id:
            entry["pmode"] = {"collaborations": collaborations}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    node.ctx.partners.reload()


@pytest_twisted.ensureDeferred
async def test_a_partner_p_mode_names_the_service_and_action_a_document_travels_under(api_node):
    _partner_collaborations(
        api_node,
        "kh",
        {"ephyto": {"service": "urn:kh:ippc:ephyto", "action": "Phyto"}, "answer": {"action": "Reply"}},
    )
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto(partner="kh"))
    assert r.code == 202, r.body
    default = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto())
    assert default.code == 202, default.body
    with api_node.ctx.db.read_session() as s:
        sent = {m.partner_id: (m.service, m.action) for m in s.scalars(select(Message))}
    assert sent == {"kh": ("urn:kh:ippc:ephyto", "Phyto"), "th": DOCUMENT_COLLABORATIONS["ephyto"]}


@pytest_twisted.ensureDeferred
async def test_a_suspension_of_all_exchanges_in_force_refuses_a_submission_with_409_and_the_reason(api_node):
    from datetime import timedelta

    from node.store.lifecycle_models import Suspension

    now = api_node.clock()
    with api_node.ctx.db.session() as s:
        s.add(
            Suspension(
                partner_id=None,
                cause="maintenance",
                reason="certificate rollover",
                starts_at=now - timedelta(minutes=5),
                restore_at=now + timedelta(hours=2),
                created_by="operator:alice",
            )
        )
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto())
    assert r.code == 409, r.body
    [error] = r.json()["errors"]
    assert error["pointer"] == "/partner" and "certificate rollover" in error["message"]
    assert "suspended" in error["message"]
    assert _count(api_node, Submission) == 0 and _count(api_node, Message) == 0


@pytest_twisted.ensureDeferred
async def test_a_domestic_document_is_validated_once_per_submission(api_node, monkeypatch):
    profile = profile_for("ephyto")
    calls = []
    real = type(profile).validate

    def counted(self, document):
        calls.append(document)
        return real(self, document)

    monkeypatch.setattr(type(profile), "validate", counted)
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=_ephyto())
    assert r.code == 202, r.body
    assert len(calls) == 1
    bad = _ephyto()
    del bad["payload"]["consignor"]
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", body=bad)
    assert r.code == 422 and r.json()["errors"][0]["pointer"].startswith("/payload/consignor")
    assert len(calls) == 2


@pytest_twisted.ensureDeferred
async def test_a_deeply_nested_document_from_the_cli_path_is_refused_with_a_pointer(api_node):
    from node.submissions import SubmissionRefused, submit

    for document_type in ("ephyto", "answer"):
        try:
            await submit(
                api_node.ctx,
                ministry="operator:alice",
                partner_id="th",
                document_type=document_type,
                payload=b"[" * 100_000,
                form="cli",
            )
        except SubmissionRefused as exc:
            assert exc.status == 422
            assert [(e.pointer, e.code) for e in exc.errors] == [("/payload", "malformed_json")]
        else:
            raise AssertionError("a nested document was accepted")
    assert _count(api_node, Submission) == 0
