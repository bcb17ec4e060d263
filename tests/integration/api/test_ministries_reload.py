"""node.api.live_ministries: a running node follows `aswnode ministries` edits of node.yaml, no restart."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import pytest_twisted
import yaml
from click.testing import CliRunner

from node.cli import cli

LIST = "/api/v1/submissions"


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def _code(node, token: str) -> int:
    node.tokens["probe"] = token
    return (await node.call("GET", LIST, ministry="probe")).code


@pytest_twisted.ensureDeferred
async def test_a_removed_ministry_is_refused_and_an_added_one_accepted_without_a_restart(api_node):
    directory = str(api_node.directory)
    moit = api_node.tokens["moit"]
    assert await _code(api_node, moit) == 200

    _run("ministries", "remove", directory, "--id", "moit")
    refused = await api_node.call("GET", LIST, ministry="moit")
    assert refused.code == 401 and refused.json()["errors"][0]["code"] == "unauthenticated"

    customs = json.loads(_run("ministries", "add", directory, "--id", "customs", "--documents", "raw"))
    assert await _code(api_node, customs["api_token"]) == 200
    # The delivery side sees the same ministries: the newcomer now receives raw documents.
    from node.api import ministries_of

    assert [m.id for m in ministries_of(api_node.ctx).receivers("raw", "urn:x", "Go")] == ["customs"]


@pytest_twisted.ensureDeferred
async def test_a_new_token_replaces_the_old_one_at_once(api_node):
    old = api_node.tokens["mard"]
    new = json.loads(_run("ministries", "token", str(api_node.directory), "--id", "mard"))["api_token"]
    assert new != old
    assert await _code(api_node, old) == 401
    assert await _code(api_node, new) == 200
    assert await _code(api_node, api_node.tokens["moit"]) == 200  # the others are untouched


@pytest_twisted.ensureDeferred
async def test_a_broken_edit_keeps_the_credentials_we_have_and_logs_one_line(
    api_node, caplog: pytest.LogCaptureFixture
):
    node_yaml: Path = api_node.directory / "node.yaml"
    assert await _code(api_node, api_node.tokens["moit"]) == 200
    data = yaml.safe_load(node_yaml.read_text())
    data["ministries"]["moit"]["api_token_sha256"] = "md5:0123"
    caplog.set_level(logging.INFO, logger="aswnode.api")
    node_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    for _ in range(3):
        assert await _code(api_node, api_node.tokens["moit"]) == 200
        assert await _code(api_node, api_node.tokens["mard"]) == 200
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(problems) == 1, problems
    assert problems[0].startswith("node.yaml: ministries.moit.api_token_sha256: must be sha256:")
    assert "keeping the 2 ministry(ies) we have" in problems[0]

    # Mended, and the revocation that came with it applies.
    del data["ministries"]["moit"]
    node_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    assert await _code(api_node, api_node.tokens["moit"]) == 401
    assert await _code(api_node, api_node.tokens["mard"]) == 200
