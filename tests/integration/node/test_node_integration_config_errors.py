"""partners.yaml `pmode:` checked whole (partners check, load, reload) and config files that are not
UTF-8 or a bad --party-id: one line naming file and key, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from node.config import ConfigError
from node.partners import PartnerDirectory

ASWNODE = str(Path(sys.executable).with_name("aswnode"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ASWNODE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def node(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    out = run("init", str(directory), "--party-id", "vn-asw", "--port", "18443")
    assert out.returncode == 0, out.stderr
    cert = json.loads(out.stdout)["signing_cert"]
    added = run(
        "partners", "add", str(directory), "--id", "th", "--party-id", "TH-NSW",
        "--endpoint", "https://gw.example.th/as4", "--cert", cert,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return directory


def _set_pmode(directory: Path, pmode: object) -> None:
    path = directory / "partners.yaml"
    data = yaml.safe_load(path.read_text())
    data["partners"][0]["pmode"] = pmode
    path.write_text(yaml.safe_dump(data))


BAD_PMODES = [
    ({"security": {"encrypt": "maybe"}}, "partners[0].pmode.security.encrypt"),
    ({"security": {"signature_algorithm": "md5"}}, "partners[0].pmode.security.signature_algorithm"),
    ({"reliability": {"retries": -5}}, "partners[0].pmode.reliability.retries"),
    ({"reliability": {"duplicate_window_seconds": "30 days"}},
     "partners[0].pmode.reliability.duplicate_window_seconds"),
    ({"inbound": {"require_encryption": "no thanks"}}, "partners[0].pmode.inbound.require_encryption"),
    ({"inbound": {"require_encription": True}}, "partners[0].pmode.inbound.require_encription"),
    ({"inbound": "yes"}, "partners[0].pmode.inbound"),
    ({"compress": "sometimes"}, "partners[0].pmode.compress"),
    ({"bogus": 1}, "partners[0].pmode.bogus"),
]  # fmt: skip


@pytest.mark.parametrize(("pmode", "key"), BAD_PMODES, ids=[k.rsplit(".", 1)[1] for _, k in BAD_PMODES])
def test_partners_check_names_a_bad_pmode_key_in_one_line(node: Path, pmode: dict, key: str) -> None:
    _set_pmode(node, pmode)
    result = run("partners", "check", str(node))
    assert result.returncode == 1, result.stdout
    [line] = result.stdout.strip().splitlines()
    assert line.startswith(f"partners.yaml: {key}: ") and line.endswith("(partner th)"), line
    assert "Traceback" not in result.stderr


def test_a_good_pmode_passes_the_check_and_loads(node: Path) -> None:
    _set_pmode(
        node,
        {
            "security": {"encrypt": True},
            "reliability": {"retries": 3, "duplicate_window_seconds": 86400},
            "inbound": {"require_encryption": True},
        },
    )
    result = run("partners", "check", str(node))
    assert result.returncode == 0, result.stdout
    from node.pmodes import inbound_policy

    partner = PartnerDirectory(node).by_id("th")
    assert partner is not None
    assert inbound_policy(partner) == {"require_encryption": True, "duplicate_window_seconds": 86400.0}


def test_a_bad_pmode_fails_the_load_and_a_reload_keeps_the_partners_we_had(node: Path) -> None:
    _set_pmode(node, {"reliability": {"duplicate_window_seconds": "30 days"}})
    with pytest.raises(ConfigError) as raised:
        PartnerDirectory(node)
    assert raised.value.key == "partners[0].pmode.reliability.duplicate_window_seconds"
    _set_pmode(node, {"reliability": {"retries": 2}})
    directory = PartnerDirectory(node)
    _set_pmode(node, {"security": {"encrypt": "maybe"}})
    with pytest.raises(ConfigError) as raised:
        directory.reload()
    assert raised.value.key == "partners[0].pmode.security.encrypt"
    partner = directory.by_id("th")
    assert partner is not None and partner.pmode_overrides == {"reliability": {"retries": 2}}


@pytest.mark.parametrize("name", ["node.yaml", "partners.yaml"])
def test_a_config_file_that_is_not_utf8_is_one_line_naming_it(node: Path, name: str) -> None:
    (node / name).write_bytes(b"party_id: \xff\xfe\n")
    commands = (("partners", "check"), ("messages",)) if name == "node.yaml" else (("partners", "check"),)
    for args in commands:
        result = run(*args, str(node))
        assert result.returncode == 1
        output = (result.stdout + result.stderr).strip()
        assert "Traceback" not in output
        [line] = output.splitlines()
        assert f"{name}: is not UTF-8 text" in line, output


@pytest.mark.parametrize("party_id", ["", " ", "a b", "x" * 256, "vn\nasw", "<script>"])
def test_init_refuses_a_bad_party_id_in_one_line(tmp_path: Path, party_id: str) -> None:
    result = run("init", str(tmp_path / "n"), "--party-id", party_id)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "party-id" in result.stderr, result.stderr
    assert not (tmp_path / "n" / "node.yaml").exists()


def test_init_accepts_party_ids_of_the_usual_forms(tmp_path: Path) -> None:
    for i, party_id in enumerate(
        ("vn-asw", "VN.NSW_01", "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088")
    ):
        result = run("init", str(tmp_path / f"n{i}"), "--party-id", party_id)
        assert result.returncode == 0, result.stderr


def test_the_inbound_policy_is_the_partners_p_mode_encryption_required_of_business_messages(
    node: Path,
) -> None:
    from node.pmodes import inbound_policy
    from protocols.as4.namespaces import TEST_ACTION, TEST_SERVICE

    partner = PartnerDirectory(node).by_id("th")
    assert partner is not None
    business = inbound_policy(partner, service="urn:aswnode:test:business", action="Deliver")
    assert business == {"require_encryption": True, "duplicate_window_seconds": 30 * 24 * 3600.0}
    assert inbound_policy(partner, service=TEST_SERVICE, action=TEST_ACTION)["require_encryption"] is False
    assert inbound_policy(partner)["require_encryption"] is False  # no service named: only an explicit true
    _set_pmode(node, {"inbound": {"require_encryption": False}})
    relaxed = PartnerDirectory(node).by_id("th")
    assert relaxed is not None
    assert inbound_policy(relaxed, service="urn:x", action="Deliver")["require_encryption"] is False


@pytest.mark.parametrize(
    "args", [("operators", "list"), ("ministries", "list")], ids=["operators", "ministries"]
)
def test_operator_and_ministry_commands_name_a_node_yaml_that_is_not_utf8(node: Path, args: tuple) -> None:
    (node / "node.yaml").write_bytes(b"party_id: \xff\xfe\n")
    result = run(*args, str(node))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "node.yaml: is not UTF-8 text" in result.stderr, result.stderr
