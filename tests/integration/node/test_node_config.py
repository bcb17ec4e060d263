"""node.yaml and partners.yaml: loaded into frozen values; every problem is one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from node.config import ConfigError, NodeConfig, load_partners
from node.nodedir import create_node_directory
from node.partners import PartnerDirectory


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    create_node_directory(directory, party_id="vn-asw", port=18443)
    return directory


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text()) or {}
    change(data)
    path.write_text(yaml.safe_dump(data))


def _partner(directory: Path, **entry) -> None:  # type: ignore[no-untyped-def]
    base = {
        "id": "th",
        "party_id": "TH-NSW",
        "endpoint": "https://gw.example.th/as4",
        "signing_cert": "keys/signing.pem",
    }
    base.update(entry)
    _edit(directory / "partners.yaml", lambda d: d.setdefault("partners", []).append(base))


def test_an_initialised_directory_loads_with_sandbox_and_tls_defaults(node_dir: Path) -> None:
    config = NodeConfig.load(node_dir)
    assert (config.party_id, config.environment, config.listen.tls) == ("vn-asw", "sandbox", True)
    assert config.endpoint == "https://127.0.0.1:18443/as4"
    assert config.database_url.startswith("sqlite:///")
    assert config.keys.signing_cert.is_file() and config.keys.tls_cert is not None
    assert "production" not in (node_dir / "node.yaml").read_text()


def test_plain_http_is_refused_on_a_non_loopback_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^node.yaml: listen.tls: "):
        create_node_directory(tmp_path / "n", party_id="x", port=80, host="0.0.0.0", tls=False)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("party_id"), "node.yaml: party_id: missing"),
        (
            lambda d: d.update(environment="staging"),
            "node.yaml: environment: must be one of sandbox, production",
        ),
        (lambda d: d["listen"].update(port="eighty"), "node.yaml: listen.port: must be an integer"),
        (
            lambda d: d["keys"].update(signing_cert="keys/nope.pem"),
            "node.yaml: keys.signing_cert: file not found",
        ),
        (
            lambda d: d["listen"].update(host="10.1.2.3", tls=False),
            "node.yaml: listen.tls: false (plain HTTP)",
        ),
    ],
)
def test_a_bad_node_yaml_is_one_line_naming_the_key(node_dir: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    _edit(node_dir / "node.yaml", change)
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(node_dir)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_open_sections_belong_to_other_components(node_dir: Path) -> None:
    _edit(node_dir / "node.yaml", lambda d: d.update(ministries={"moit": {"token_sha256": "x"}}))
    assert NodeConfig.load(node_dir).section("ministries") == {"moit": {"token_sha256": "x"}}
    assert NodeConfig.load(node_dir).section("smtp") == {}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"endpoint": "ftp://gw"}, "partners.yaml: partners[0].endpoint: not an http(s) URL (partner th)"),
        (
            {"endpoint": "http://gw.example.th/"},
            "partners.yaml: partners[0].endpoint: plain http is allowed only",
        ),
        ({"signing_cert": "missing.pem"}, "partners.yaml: partners[0].signing_cert: file not found"),
        ({"party_id": None}, "partners.yaml: partners[0].party_id: missing"),
        ({"id": "no spaces"}, "partners.yaml: partners[0].id: must be"),
        ({"focal_points": "Ms. A"}, "partners.yaml: partners[0].focal_points: must be a list"),
    ],
)
def test_a_bad_partner_entry_is_one_line_naming_file_partner_and_key(
    node_dir: Path, entry, expected: str
) -> None:  # type: ignore[no-untyped-def]
    _partner(node_dir, **entry)
    with pytest.raises(ConfigError) as caught:
        load_partners(node_dir)
    assert str(caught.value).startswith(expected)


def test_check_reports_every_problem_and_keeps_the_good_partners(node_dir: Path) -> None:
    _partner(node_dir)
    _partner(node_dir, id="bad-url", party_id="B", endpoint="gopher://x")
    _partner(node_dir, id="th", party_id="C")
    _partner(node_dir, id="not-pem", party_id="D", signing_cert="node.yaml")
    problems = [str(p) for p in PartnerDirectory.check(node_dir)]
    assert problems == [
        "partners.yaml: partners[1].endpoint: not an http(s) URL (partner bad-url)",
        "partners.yaml: partners[2].id: 'th' already used by partners[0] (partner th)",
        "partners.yaml: partners[3].signing_cert: node.yaml holds no X.509 certificate"
        " (PEM or DER expected) (partner not-pem)",
    ]


def test_the_directory_finds_partners_by_party_id_and_collects_tls_cas(node_dir: Path) -> None:
    _partner(node_dir, tls_ca="keys/tls.pem")
    directory = PartnerDirectory(node_dir)
    partner = directory.by_party_id("TH-NSW")
    assert partner is not None and partner.id == "th"
    assert directory.by_party_id("nobody") is None
    assert len(directory.tls_client_cas()) == 1


def test_reloads_one_at_a_time_so_an_older_file_never_wins(node_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Receivers reload from worker threads: one that read the older file must not install it last."""
    import threading
    import time

    import node.partners as partners_module

    directory = PartnerDirectory(node_dir)
    real_load = partners_module._load
    first_read, release = threading.Event(), threading.Event()

    def slow_first_load(path, errors):  # type: ignore[no-untyped-def]
        loaded = real_load(path, errors)
        if not first_read.is_set():
            first_read.set()
            release.wait(5)  # the older file is in hand; a newer one is written and reloaded meanwhile
        return loaded

    monkeypatch.setattr(partners_module, "_load", slow_first_load)
    older = threading.Thread(target=directory.reload)
    older.start()
    assert first_read.wait(5)
    _partner(node_dir, id="th-new", party_id="TH-NEW")
    newer = threading.Thread(target=directory.reload)
    newer.start()
    time.sleep(0.3)  # without the lock the newer reload has installed by now
    release.set()
    older.join(5)
    newer.join(5)
    assert directory.by_party_id("TH-NEW") is not None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["listen"].update(tsl=False),
            "node.yaml: listen.tsl: unknown key (did you mean 'tls'?)",
        ),
        (
            lambda d: d.update(sendr={"window": 4}),
            "node.yaml: sendr: unknown key (did you mean 'sender'?)",
        ),
        (
            lambda d: d.update(limits={"max_request_byte": 4096}),
            "node.yaml: limits.max_request_byte: unknown key (did you mean 'max_request_bytes'?)",
        ),
    ],
)
def test_a_misspelt_node_key_is_refused_not_silently_left_at_its_default(
    node_dir: Path,
    change,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    _edit(node_dir / "node.yaml", change)
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(node_dir)
    assert str(caught.value) == expected


def test_the_sections_other_components_read_are_known_keys(node_dir: Path) -> None:
    sections = ("metrics", "ministries", "storage", "notices", "smtp", "holidays", "operators", "console")
    _edit(node_dir / "node.yaml", lambda d: d.update({name: {} for name in sections}))
    assert NodeConfig.load(node_dir).section("storage") == {}


def test_a_misspelt_partner_key_is_refused(node_dir: Path) -> None:
    _partner(node_dir, tls_cas="keys/tls.pem")
    problems: list[ConfigError] = []
    assert load_partners(node_dir, collect=problems) == ()
    assert [str(p) for p in problems] == [
        "partners.yaml: partners[0].tls_cas: unknown key (did you mean 'tls_ca'?) (partner th)"
    ]
