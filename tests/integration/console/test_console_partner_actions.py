"""The lifecycle actions from the console, in a production node: each goes through the Procedure, audited."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_twisted
from sqlalchemy import select

from node.collaborations import SERVICE_EPHYTO
from node.lifecycle.service import Procedure
from node.nodedir import create_node_directory
from node.store.models import AuditRecord


@pytest.fixture
def environment() -> str:
    return "production"


@pytest.fixture
def partner_cert(tmp_path: Path) -> str:
    other = tmp_path / "partner"
    create_node_directory(other, party_id="th-nsw", port=0, tls=False)
    return (other / "keys" / "signing.pem").read_text()


def _flash(page) -> str:
    m = re.search(r'class="flash flash-(ok|error)"[^>]*>([^<]*)<', page.text)
    return f"{m.group(1)}: {m.group(2)}" if m else ""


def _state(page) -> str:
    return re.search(r'id="partner-state">([a-z]+)<', page.text).group(1)


async def _act(c, action: str, form: dict[str, str]):
    page = await c.get("/console/partners/th-nsw")
    r = await c.post(f"/console/partners/th-nsw/{action}", {"csrf": page.csrf(), **form})
    assert r.code == 303 and r.header("location") == "/console/partners/th-nsw"
    return await c.get("/console/partners/th-nsw")


async def _add_partner(c, cert: str):
    form_page = await c.get("/console/partners/new")
    return await c.post(
        "/console/partners/new",
        {
            "csrf": form_page.csrf(),
            "id": "th-nsw",
            "party_id": "th-nsw",
            "endpoint": "http://127.0.0.1:9/as4",
            "cert_pem": cert,
        },
    )


@pytest_twisted.ensureDeferred
async def test_the_whole_procedure_from_registration_to_termination(node, partner_cert):
    c = node.client()
    await c.login()
    r = await _add_partner(c, partner_cert)
    assert r.code == 303 and r.header("location") == "/console/partners/th-nsw"
    page = await c.get("/console/partners/th-nsw")
    assert _state(page) == "registered" and "Partner th-nsw registered" in page.text
    assert 'id="pmode"' in page.text and "signed NRR" in page.text and "flash-error" not in page.text
    assert 'id="collaborations"' in page.text and SERVICE_EPHYTO in page.text  # documented in its P-Mode

    page = await _act(c, "golive", {"at": "2026-12-01T09:00", "at_tz": "+07:00"})
    assert _flash(page).startswith("error:") and _state(page) == "registered"

    page = await _act(c, "plan", {"scope": "foreign"})
    assert _state(page) == "testing", _flash(page)
    with node.ctx.db.read_session() as s:
        _, plan = Procedure(node.ctx.config).current_plan(s, "th-nsw")
    for case in plan.cases:
        page = await _act(c, "record", {"case_id": case.id, "outcome": "passed", "detail": "seen by hand"})
        assert _flash(page).startswith("ok:"), _flash(page)

    page = await _act(c, "minutes", {})
    assert "passed" in _flash(page)
    minutes = await c.get("/console/partners/th-nsw/minutes")
    assert minutes.code == 200 and 'id="minutes-outcome">passed<' in minutes.text
    for role, name in (("operator", "Alice"), ("ministry", "Minh (MOIT)"), ("provider", "Lan (VNACCS)")):
        page = await _act(c, "confirm", {"role": role, "name": name})
        assert _flash(page).startswith("ok:"), _flash(page)
    assert _state(page) == "tested"

    at = node.clock() + timedelta(hours=2)
    page = await _act(c, "golive", {"at": at.strftime("%Y-%m-%dT%H:%M"), "at_tz": "Z"})
    assert _state(page) == "scheduled", _flash(page)
    node.clock.advance(hours=3)
    with node.ctx.db.session() as s:
        Procedure(node.ctx.config, clock=node.clock).activate_due(s)
    await c.login()  # three idle hours ended the session
    page = await c.get("/console/partners/th-nsw")
    assert _state(page) == "active"

    page = await _act(
        c, "suspend", {"cause": "violation", "reason": "unsigned documents", "restore_steps": "fix it"}
    )
    assert _state(page) == "suspended", _flash(page)
    page = await _act(c, "resume", {"evidence": "signed again since 10:00"})
    assert _state(page) == "active", _flash(page)
    page = await _act(c, "terminate", {"reason": "no_longer_needed", "note": "agreement expired"})
    assert _state(page) == "terminated", _flash(page)
    assert "registered → testing" not in page.text  # the history is a table, not prose
    assert page.text.count("<td>operator:alice</td>") >= 6

    with node.ctx.db.read_session() as s:
        records = list(s.scalars(select(AuditRecord).where(AuditRecord.subject == "partner:th-nsw")))
    console_records = [r for r in records if r.form == "console"]
    actions = {r.action for r in console_records}
    assert {"partner.start_test", "conntest.confirm", "partner.announce", "partner.suspend"} <= actions
    assert all(r.actor == "operator:alice" for r in console_records)
    assert any(r.action == "console.golive" and r.status == "refused" for r in console_records)
    with node.ctx.db.read_session() as s:
        assert node.ctx.audit.verify(s) is None


@pytest_twisted.ensureDeferred
async def test_a_partner_with_a_bad_certificate_is_not_added(node):
    c = node.client()
    await c.login()
    r = await _add_partner(c, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----")
    assert r.code == 422 and 'id="partner-error"' in r.text
    assert (await c.get("/console/partners/th-nsw")).code == 404


@pytest_twisted.ensureDeferred
async def test_an_incident_holds_and_then_releases_a_partner(node, partner_cert):
    c = node.client()
    await c.login()
    await _add_partner(c, partner_cert)
    page = await c.get("/console/incidents")
    r = await c.post(
        "/console/incidents",
        {"csrf": page.csrf(), "title": "HSM failure", "partners": "th-nsw", "description": ""},
    )
    assert r.code == 303
    page = await c.get("/console/incidents")
    assert "Incident #1 opened" in page.text and "HSM failure" in page.text
    dashboard = await c.get("/console/")
    assert "HSM failure" in dashboard.text
    r = await c.post("/console/incidents/1/close", {"csrf": page.csrf(), "repair_note": "HSM replaced"})
    page = await c.get("/console/incidents")
    assert "Incident #1 closed" in page.text


@pytest_twisted.ensureDeferred
async def test_a_partner_added_in_the_console_is_audited_once_as_the_operator(node, partner_cert, capfd):
    c = node.client()
    await c.login()
    r = await _add_partner(c, partner_cert)
    assert r.code == 303
    with node.ctx.db.read_session() as s:
        records = list(s.scalars(select(AuditRecord).where(AuditRecord.subject == "partner:th-nsw")))
    assert [(r.actor, r.form, r.action, r.status) for r in records] == [
        ("operator:alice", "console", "partner.register", "ok")
    ]
    assert records[0].request_digest.startswith("sha256:")
    assert '"party_id": "th-nsw"' not in capfd.readouterr().out  # nothing printed on the server's stdout
    assert not list((Path(node.ctx.config.var_dir)).glob("console-uploads/*"))
