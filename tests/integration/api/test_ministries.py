"""`aswnode ministries` and the `ministries:` section: the token is shown once and only its hash is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.api.ministries import MinistryConfigError, hash_token, parse_ministries
from node.cli import cli
from node.config import NodeConfig
from node.nodedir import create_node_directory


@pytest.fixture
def node_yaml_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    create_node_directory(directory, party_id="vn-nsw", port=0, tls=False)
    return directory


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_adding_a_ministry_prints_its_token_once_and_stores_only_the_hash(node_yaml_dir: Path) -> None:
    text_before = (node_yaml_dir / "node.yaml").read_text()
    result = _run(
        "ministries",
        "add",
        str(node_yaml_dir),
        "--id",
        "moit",
        "--documents",
        "eco",
        "--webhook",
        "https://moit.example/asw",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["id"] == "moit" and out["api_token"].startswith("aswm_") and len(out["webhook_secret"]) >= 32
    text = (node_yaml_dir / "node.yaml").read_text()
    assert out["api_token"] not in text and hash_token(out["api_token"]) in text
    assert text.startswith(text_before.rstrip("\n"))  # the rest of node.yaml, comments included, is kept
    registry = parse_ministries(NodeConfig.load(node_yaml_dir).raw["ministries"])
    moit = registry.by_token(out["api_token"])
    assert moit is not None and moit.id == "moit" and moit.documents == ("eco",)
    assert registry.by_token(out["api_token"] + "x") is None
    assert out["api_token"] not in repr(moit) and out["webhook_secret"] not in repr(moit)

    listed = _run("ministries", "list", str(node_yaml_dir), "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.output) == [
        {
            "id": "moit",
            "name": "moit",
            "documents": ["eco"],
            "token": True,
            "client_certificate": False,
            "webhook": "https://moit.example/asw",
        }
    ]
    assert out["api_token"] not in listed.output and out["webhook_secret"] not in listed.output


def test_operator_mistakes_are_one_line_naming_the_file_and_key(node_yaml_dir: Path) -> None:
    assert _run("ministries", "add", str(node_yaml_dir), "--id", "moit", "--documents", "eco").exit_code == 0
    again = _run("ministries", "add", str(node_yaml_dir), "--id", "moit", "--documents", "eco")
    assert again.exit_code == 1
    assert again.output.strip().splitlines() == [
        "aswnode: node.yaml: ministries.moit: already exists (remove it first)"
    ]
    bad = _run("ministries", "add", str(node_yaml_dir), "--id", "MOIT!", "--documents", "eco")
    assert bad.exit_code == 1 and "ministries.MOIT!" in bad.output and "Traceback" not in bad.output
    hook = _run(
        "ministries",
        "add",
        str(node_yaml_dir),
        "--id",
        "mard",
        "--documents",
        "ephyto",
        "--webhook",
        "ftp://x",
    )
    assert hook.exit_code == 1 and "ministries.mard.webhook.url" in hook.output
    gone = _run("ministries", "remove", str(node_yaml_dir), "--id", "nobody")
    assert gone.exit_code == 1 and "ministries.nobody: no such ministry" in gone.output
    assert _run("ministries", "remove", str(node_yaml_dir), "--id", "moit").exit_code == 0
    assert json.loads(_run("ministries", "list", str(node_yaml_dir), "--json").output) == []


def test_a_bad_ministries_section_names_the_key() -> None:
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries({"moit": {"documents": ["eco"], "api_token_sha256": "md5:abc"}})
    assert err.value.key == "ministries.moit.api_token_sha256"
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries({"moit": {"documents": ["coffee"], "api_token_sha256": hash_token("t")}})
    assert err.value.key == "ministries.moit" and "coffee" in err.value.message
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries({"moit": {"documents": ["eco"]}})
    assert "token" in err.value.message
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries({"moit": {"documents": ["eco"], "api_token_sha256": hash_token("t"), "colour": 1}})
    assert err.value.key == "ministries.moit.colour"


def test_a_ministry_client_ca_is_read_from_the_node_directory_and_checked(tmp_path: Path) -> None:
    pin = "ab" * 32
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries(
            {"customs": {"documents": ["raw"], "api_token_sha256": hash_token("t"), "client_ca": "ca.pem"}}
        )
    assert err.value.key == "ministries.customs" and "client_cert_sha256" in err.value.message
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries(
            {"customs": {"documents": ["raw"], "client_cert_sha256": pin, "client_ca": "ca.pem"}}, tmp_path
        )
    assert err.value.key == "ministries.customs.client_ca" and "cannot read" in err.value.message
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(MinistryConfigError) as err:
        parse_ministries(
            {"customs": {"documents": ["raw"], "client_cert_sha256": pin, "client_ca": "ca.pem"}}, tmp_path
        )
    assert err.value.key == "ministries.customs.client_ca" and "no X.509" in err.value.message
    keys = tmp_path / "node"
    create_node_directory(keys, party_id="vn-asw", port=0)
    entry = {"documents": ["raw"], "client_cert_sha256": pin, "client_ca": "keys/tls.pem"}
    registry = parse_ministries({"customs": entry, "again": dict(entry)}, keys)
    assert len(registry.client_cas()) == 1  # the same CA once
    unread = parse_ministries({"customs": entry})  # no directory: not read, and never accepted by certificate
    assert unread.ministries[0].client_ca_certificates == () and not unread.ministries[0].chain_accepted(())


def test_ministries_add_records_a_client_ca_it_can_read(node_yaml_dir: Path) -> None:
    pin = "ab" * 32
    base = ("ministries", "add", str(node_yaml_dir), "--documents", "raw", "--client-cert-sha256", pin)
    bad = _run(*base, "--id", "customs", "--client-ca", str(node_yaml_dir / "nowhere.pem"))
    assert bad.exit_code == 1 and "ministries.customs.client_ca: cannot read" in bad.output
    ca = node_yaml_dir / "keys" / "tls.pem"
    assert _run(*base, "--id", "customs", "--client-ca", str(ca)).exit_code == 0
    registry = parse_ministries(NodeConfig.load(node_yaml_dir).raw["ministries"], node_yaml_dir)
    assert registry.by_id("customs").client_ca == str(ca.resolve()) and len(registry.client_cas()) == 1


def test_inbound_routing_prefers_a_service_route_over_the_document_type() -> None:
    registry = parse_ministries(
        {
            "moit": {"documents": ["eco", "raw"], "api_token_sha256": hash_token("a")},
            "customs": {
                "documents": [],
                "api_token_sha256": hash_token("b"),
                "routes": [{"service": "urn:svc:manifest"}],
            },
        }
    )
    assert [m.id for m in registry.receivers("raw", "urn:svc:manifest", "Any")] == ["customs"]
    assert [m.id for m in registry.receivers("raw", "urn:svc:other", "Any")] == ["moit"]
    assert registry.receivers("ephyto", "urn:svc:other", "Any") == ()


def test_adding_renewing_and_removing_a_ministry_is_audited(node_yaml_dir: Path) -> None:
    from node.audit import AuditLog
    from node.store.database import Database

    assert _run("ministries", "add", str(node_yaml_dir), "--id", "moit", "--documents", "eco").exit_code == 0
    renewed = _run("ministries", "token", str(node_yaml_dir), "--id", "moit")
    assert renewed.exit_code == 0 and json.loads(renewed.output)["id"] == "moit"
    assert _run("ministries", "remove", str(node_yaml_dir), "--id", "moit").exit_code == 0
    missing = _run("ministries", "token", str(node_yaml_dir), "--id", "moit")
    assert missing.exit_code == 1 and "ministries.moit: no such ministry" in missing.output
    db = Database.open(NodeConfig.load(node_yaml_dir).database_url)
    try:
        with db.read_session() as session:
            records = [(r.action, r.subject, r.actor) for r in AuditLog().entries(session)]
    finally:
        db.close()
    assert [r for r in records if r[1] == "ministry:moit"] == [
        ("ministry.add", "ministry:moit", "operator:cli"),
        ("ministry.token", "ministry:moit", "operator:cli"),
        ("ministry.remove", "ministry:moit", "operator:cli"),
    ]
