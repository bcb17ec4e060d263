"""Test runs from the console: started by the runner, polled as JSON by the page, refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater

from node.cli.partners import add_command


@pytest.fixture
def environment() -> str:
    return "production"


def _register(node) -> None:
    add_command.callback(
        directory=node.directory,
        partner_id="th-nsw",
        party_id="th-nsw",
        party_id_type=None,
        endpoint="http://127.0.0.1:9/as4",
        cert=Path(node.ctx.config.keys.signing_cert),
        tls_ca=None,
    )
    node.ctx.partners.reload()


@pytest_twisted.ensureDeferred
async def test_a_run_is_started_and_its_progress_polled_until_finished(node):
    _register(node)
    c = node.client()
    await c.login()
    page = await c.get("/console/partners/th-nsw")
    await c.post("/console/partners/th-nsw/plan", {"csrf": page.csrf(), "scope": "foreign"})
    page = await c.get("/console/partners/th-nsw")
    r = await c.post("/console/partners/th-nsw/run", {"csrf": page.csrf(), "step": "domestic"})
    assert r.code == 303 and "/console/partners/th-nsw/runs/" in r.header("location")
    run_page = await c.get(r.header("location"))
    assert run_page.code == 200 and 'data-poll="/console/partners/th-nsw/runs/' in run_page.text
    state = {}
    for _ in range(200):
        reply = await c.get(r.header("location") + ".json")
        assert reply.code == 200 and reply.header("content-type") == "application/json"
        state = json.loads(reply.body)
        if state["finished"]:
            break
        await deferLater(reactor, 0.2, lambda: None)
    assert state["finished"] and state["state"] == "finished" and state["step"] == "domestic"
    assert state["done"] == state["total"] == len(state["cases"]) == 4
    for case in state["cases"]:
        assert case["result"] in ("passed", "failed")
        assert case["result"] == "passed" or case["detail"], case  # a failed case says why
    partner = await c.get("/console/partners/th-nsw")
    assert "domestic (finished)" in partner.text


@pytest_twisted.ensureDeferred
async def test_a_run_the_procedure_does_not_allow_is_refused_with_the_reason(node):
    _register(node)
    c = node.client()
    await c.login()
    page = await c.get("/console/partners/th-nsw")
    r = await c.post("/console/partners/th-nsw/run", {"csrf": page.csrf(), "step": "foreign"})
    assert r.code == 303 and r.header("location") == "/console/partners/th-nsw"
    page = await c.get("/console/partners/th-nsw")
    assert "flash flash-error" in page.text and "registered" in page.text
    assert (await c.get("/console/partners/th-nsw/runs/999.json")).code == 404
