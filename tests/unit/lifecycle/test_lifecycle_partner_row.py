"""A partner with no lifecycle row (added to partners.yaml by hand) starts where the exchange gate says."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from lifecycle_procedure_fixtures import make_node

from node.lifecycle.service import SuspensionCause
from node.lifecycle.states import State
from node.registry import partner_state
from node.store.models import Partner

node_in = contextmanager(make_node)


@pytest.mark.parametrize(("environment", "expected"), [("sandbox", "active"), ("production", "registered")])
def test_the_row_is_created_in_the_state_the_registry_shows(
    tmp_path: Path, environment: str, expected: str
) -> None:
    with node_in(tmp_path, environment=environment) as node:
        sandbox = node.config.is_sandbox
        assert node.do(partner_state, "th", sandbox=sandbox) == expected
        assert node.do(node.procedure.state, "th") is State(expected)
        row = node.do(lambda s: s.get(Partner, "th"))
        assert (row.state, row.party_id) == (expected, "TH-NSW")
        assert node.do(partner_state, "th", sandbox=sandbox) == expected


def test_a_hand_added_sandbox_partner_can_be_suspended(tmp_path: Path) -> None:
    with node_in(tmp_path, environment="sandbox") as node:
        node.do(
            node.procedure.suspend,
            "operator:alice",
            "th",
            cause=SuspensionCause.VIOLATION,
            reason="unsigned documents",
            restore_steps=("sign every message",),
        )
        [event] = node.do(node.procedure.history, "th")
        assert (event.from_state, event.to_state) == ("active", "suspended")


def test_the_command_line_agrees_with_partners_list_for_a_hand_added_partner(sandbox_cli) -> None:  # type: ignore[no-untyped-def]
    node, d = sandbox_cli, str(sandbox_cli.directory)
    partners_file = sandbox_cli.directory / "partners.yaml"
    data = yaml.safe_load(partners_file.read_text())
    data["partners"].append(
        {
            "id": "th-nsw",
            "party_id": "TH-NSW",
            "endpoint": "http://127.0.0.1:9/as4",
            "signing_cert": str(sandbox_cli.signing_cert),
        }
    )
    partners_file.write_text(yaml.safe_dump(data))
    listed = {p["id"]: p["state"] for p in json.loads(node.run("partners", "list", d, "--json").stdout)}
    assert listed["th-nsw"] == "active"
    node.run("suspend", d, "th-nsw", "--cause", "violation", "--reason", "x", "--restore-step", "y")
    listed = {p["id"]: p["state"] for p in json.loads(node.run("partners", "list", d, "--json").stdout)}
    assert listed["th-nsw"] == "suspended"
