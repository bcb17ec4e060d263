"""The node directory's configuration: node.yaml and partners.yaml, loaded and checked.

Every problem is a `ConfigError` whose text is one line naming the file and the
key, e.g. ``partners.yaml: partners[2].endpoint: not an http(s) URL``. Paths in
the files are relative to the node directory.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from protocols.as4.namespaces import PARTYID_TYPE_UNREGISTERED

__all__ = [
    "DEFAULT_PARTY_ID_TYPE",
    "ENVIRONMENTS",
    "NODE_FILE",
    "PARTNERS_FILE",
    "ConfigError",
    "Keys",
    "Limits",
    "Listen",
    "NodeConfig",
    "PartnerConfig",
    "is_loopback_host",
    "load_partners",
    "parse_partner",
    "read_yaml",
]

NODE_FILE = "node.yaml"
PARTNERS_FILE = "partners.yaml"
ENVIRONMENTS = ("sandbox", "production")
DEFAULT_PARTY_ID_TYPE = PARTYID_TYPE_UNREGISTERED
_PARTNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Every key node.yaml may hold: those read here, then the sections other components read (NodeConfig.section).
_NODE_KEYS = (
    "party_id", "party_id_type", "environment", "listen", "database", "keys", "limits", "sender",
    "metrics", "ministries", "storage", "notices", "smtp", "holidays", "operators", "console",
)  # fmt: skip
_PARTNER_KEYS = (
    "id", "party_id", "party_id_type", "endpoint", "signing_cert", "cert", "tls_ca", "focal_points",
    "agreement", "treaty", "pmode",
)  # fmt: skip


class ConfigError(Exception):
    """A configuration problem an operator can fix: one line naming the file and the key."""

    def __init__(self, file: str, key: str, message: str, *, partner: str | None = None) -> None:
        self.file = file
        self.key = key
        self.message = message
        self.partner = partner
        text = f"{file}: {key}: {message}" if key else f"{file}: {message}"
        super().__init__(f"{text} (partner {partner})" if partner else text)


def read_yaml(path: Path) -> Mapping[str, Any]:
    """A YAML mapping from `path` (empty file → {}), or ConfigError naming the file."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, "", f"not found in {path.parent}") from None
    except OSError as exc:
        raise ConfigError(name, "", f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(name, "", f"is not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise ConfigError(name, where, "not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(name, "", "must be a mapping at the top level")
    return data


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Reader:
    """Typed access to one mapping of one file, with error messages naming the key path."""

    def __init__(self, file: str, prefix: str, data: Any) -> None:
        self.file = file
        self.prefix = prefix
        if not isinstance(data, dict):
            raise ConfigError(file, prefix or "(top)", "must be a mapping")
        self.data: dict[str, Any] = data

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def only(self, known: tuple[str, ...]) -> None:
        """A key not in `known` is a mistake (a misspelt key would silently leave its default)."""
        for name in self.data:
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
                raise self.error(str(name), f"unknown key ({hint})")

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), message)

    def sub(self, name: str, *, required: bool = False) -> _Reader:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.error(name, "missing")
            value = {}
        return _Reader(self.file, self.key(name), value)

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(name, default)
        if value is None:
            if required:
                raise self.error(name, "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(name, "must be a string")
        text = str(value).strip()
        if required and not text:
            raise self.error(name, "must not be empty")
        return text

    def int(self, name: str, default: int, *, low: int, high: int) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, "must be an integer")
        if not low <= value <= high:
            raise self.error(name, f"must be between {low} and {high}")
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false")
        return value

    def path(self, name: str, base: Path, *, required: bool = False, must_exist: bool = True) -> Path | None:
        text = self.str(name, required=required)
        if not text:
            return None
        path = Path(text)
        if not path.is_absolute():
            path = base / path
        if must_exist and not path.is_file():
            raise self.error(name, f"file not found: {text}")
        return path


@dataclass(frozen=True, slots=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True

    def __post_init__(self) -> None:
        if not self.tls and not is_loopback_host(self.host):
            raise ValueError("plain HTTP is allowed only on a loopback address")


@dataclass(frozen=True, slots=True)
class Keys:
    signing_key: Path
    signing_cert: Path
    tls_key: Path | None
    tls_cert: Path | None
    tls_ca: Path | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Inbound size limits (bytes) and the duplicate-elimination window."""

    max_request_bytes: int = 256 * 1024 * 1024
    max_header_bytes: int = 4 * 1024 * 1024
    max_payload_bytes: int = 512 * 1024 * 1024
    duplicate_window_days: int = 30


@dataclass(frozen=True, slots=True)
class NodeConfig:
    directory: Path
    party_id: str
    environment: str
    listen: Listen
    database_url: str
    keys: Keys
    party_id_type: str = DEFAULT_PARTY_ID_TYPE
    limits: Limits = field(default_factory=Limits)
    sender_interval_seconds: float = 0.5
    sender_concurrency: int = 8
    # Messages in flight per partner; 1 keeps a partner's messages strictly in submission order.
    sender_window: int = 1
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {ENVIRONMENTS}")

    @property
    def is_sandbox(self) -> bool:
        return self.environment == "sandbox"

    @property
    def var_dir(self) -> Path:
        return self.directory / "var"

    @property
    def blob_dir(self) -> Path:
        return self.var_dir / "blobs"

    @property
    def spool_dir(self) -> Path:
        return self.var_dir / "spool"

    @property
    def partners_file(self) -> Path:
        return self.directory / PARTNERS_FILE

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.listen.tls else "http"
        host = f"[{self.listen.host}]" if ":" in self.listen.host else self.listen.host
        return f"{scheme}://{host}:{self.listen.port}/as4"

    def section(self, name: str) -> dict[str, Any]:
        """An open section of node.yaml owned by another component (`ministries`, `operators`, ...)."""
        value = self.raw.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(NODE_FILE, name, "must be a mapping")
        return dict(value)

    @classmethod
    def load(cls, directory: Path | str) -> NodeConfig:
        directory = Path(directory).resolve()
        if not directory.is_dir():
            raise ConfigError(NODE_FILE, "", f"no node directory at {directory}")
        data = read_yaml(directory / NODE_FILE)
        top = _Reader(NODE_FILE, "", data)
        top.only(_NODE_KEYS)
        party_id = top.str("party_id", required=True)
        environment = top.str("environment", "sandbox")
        if environment not in ENVIRONMENTS:
            raise top.error("environment", f"must be one of {', '.join(ENVIRONMENTS)}")
        lr = top.sub("listen")
        lr.only(("host", "port", "tls"))
        host = lr.str("host", "127.0.0.1") or "127.0.0.1"
        port = lr.int("port", 8443, low=0, high=65535)
        tls = lr.bool("tls", True)
        if not tls and not is_loopback_host(host):
            raise lr.error("tls", "false (plain HTTP) is allowed only on a loopback host")
        db = top.sub("database")
        db.only(("url",))
        url = db.str("url") or f"sqlite:///{directory / 'var' / 'node.db'}"
        kr = top.sub("keys", required=True)
        kr.only(("signing_key", "signing_cert", "tls_key", "tls_cert", "tls_ca"))
        keys = Keys(
            signing_key=kr.path("signing_key", directory, required=True),  # type: ignore[arg-type]
            signing_cert=kr.path("signing_cert", directory, required=True),  # type: ignore[arg-type]
            tls_key=kr.path("tls_key", directory, required=tls),
            tls_cert=kr.path("tls_cert", directory, required=tls),
            tls_ca=kr.path("tls_ca", directory),
        )
        lim = top.sub("limits")
        lim.only(("max_request_bytes", "max_header_bytes", "max_payload_bytes", "duplicate_window_days"))
        _DEFAULT_LIMITS = Limits()
        limits = Limits(
            max_request_bytes=lim.int(
                "max_request_bytes", _DEFAULT_LIMITS.max_request_bytes, low=1024, high=2**40
            ),
            max_header_bytes=lim.int(
                "max_header_bytes", _DEFAULT_LIMITS.max_header_bytes, low=1024, high=2**30
            ),
            max_payload_bytes=lim.int(
                "max_payload_bytes", _DEFAULT_LIMITS.max_payload_bytes, low=1024, high=2**40
            ),
            duplicate_window_days=lim.int(
                "duplicate_window_days", _DEFAULT_LIMITS.duplicate_window_days, low=1, high=3650
            ),
        )
        sender = top.sub("sender")
        sender.only(("interval_ms", "concurrency", "window"))
        interval_ms = sender.int("interval_ms", 500, low=10, high=600_000)
        concurrency = sender.int("concurrency", 8, low=1, high=256)
        window = sender.int("window", 1, low=1, high=256)
        return cls(
            directory=directory,
            party_id=party_id,  # type: ignore[arg-type]
            party_id_type=top.str("party_id_type", DEFAULT_PARTY_ID_TYPE) or DEFAULT_PARTY_ID_TYPE,
            environment=environment,  # type: ignore[arg-type]
            listen=Listen(host=host, port=port, tls=tls),
            database_url=url,
            keys=keys,
            limits=limits,
            sender_interval_seconds=interval_ms / 1000,
            sender_concurrency=concurrency,
            sender_window=window,
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    """One foreign gateway as the operator registered it in partners.yaml."""

    id: str
    party_id: str
    endpoint: str
    signing_cert: Path
    party_id_type: str = DEFAULT_PARTY_ID_TYPE
    tls_ca: Path | None = None
    focal_points: tuple[Mapping[str, Any], ...] = ()
    agreement: str | None = None
    treaty: str | None = None
    pmode: Mapping[str, Any] = field(default_factory=dict)
    # Where the entry is in partners.yaml (for error messages); -1 when not from the file.
    position: int = field(default=-1, compare=False)

    def __post_init__(self) -> None:
        if not _PARTNER_ID.match(self.id):
            raise ValueError(f"partner id {self.id!r} must be 1-64 letters, digits, '.', '_' or '-'")

    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        """The partners.yaml entry; paths relative to `base` when they are under it."""

        def rel(p: Path | None) -> str | None:
            if p is None:
                return None
            if base is not None:
                try:
                    return str(p.resolve().relative_to(base.resolve()))
                except ValueError:
                    pass
            return str(p)

        out: dict[str, Any] = {
            "id": self.id,
            "party_id": self.party_id,
            "party_id_type": self.party_id_type,
            "endpoint": self.endpoint,
            "signing_cert": rel(self.signing_cert),
        }
        if self.tls_ca is not None:
            out["tls_ca"] = rel(self.tls_ca)
        if self.focal_points:
            out["focal_points"] = [dict(fp) for fp in self.focal_points]
        if self.agreement:
            out["agreement"] = self.agreement
        if self.treaty:
            out["treaty"] = self.treaty
        if self.pmode:
            out["pmode"] = dict(self.pmode)
        return out


def _check_endpoint(reader: _Reader, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise reader.error("endpoint", "not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise reader.error("endpoint", "plain http is allowed only to a loopback host; use https")


def _partner(reader: _Reader, directory: Path, index: int) -> PartnerConfig:
    reader.only(_PARTNER_KEYS)
    pid = reader.str("id", required=True)
    if not _PARTNER_ID.match(pid or ""):
        raise reader.error("id", "must be 1-64 letters, digits, '.', '_' or '-'")
    endpoint = reader.str("endpoint", required=True) or ""
    _check_endpoint(reader, endpoint)
    focal = reader.data.get("focal_points") or ()
    if not isinstance(focal, list | tuple) or not all(isinstance(f, dict) for f in focal):
        raise reader.error("focal_points", "must be a list of mappings (name, position, phone, email)")
    pmode = reader.data.get("pmode") or {}
    if not isinstance(pmode, dict):
        raise reader.error("pmode", "must be a mapping of P-Mode overrides")
    cert_key = "signing_cert" if "signing_cert" in reader.data else "cert"
    return PartnerConfig(
        id=pid,  # type: ignore[arg-type]
        party_id=reader.str("party_id", required=True),  # type: ignore[arg-type]
        party_id_type=reader.str("party_id_type", DEFAULT_PARTY_ID_TYPE) or DEFAULT_PARTY_ID_TYPE,
        endpoint=endpoint,
        signing_cert=reader.path(cert_key, directory, required=True),  # type: ignore[arg-type]
        tls_ca=reader.path("tls_ca", directory),
        focal_points=tuple(dict(f) for f in focal),
        agreement=reader.str("agreement"),
        treaty=reader.str("treaty"),
        pmode=dict(pmode),
        position=index,
    )


def parse_partner(entry: Any, index: int, directory: Path) -> PartnerConfig:
    """One partners.yaml entry (at `partners[index]`), checked; ConfigError names the partner and key."""
    name = entry.get("id") if isinstance(entry, dict) else None
    try:
        return _partner(_Reader(PARTNERS_FILE, f"partners[{index}]", entry), directory, index)
    except ConfigError as exc:
        raise ConfigError(exc.file, exc.key, exc.message, partner=str(name) if name else None) from None


def load_partners(
    directory: Path | str, *, collect: list[ConfigError] | None = None
) -> tuple[PartnerConfig, ...]:
    """The partners of partners.yaml in file order.

    Without `collect` the first problem raises; with it, every problem is appended
    and the partners that are fine are returned (what `partners check` reports).
    """
    directory = Path(directory).resolve()
    path = directory / PARTNERS_FILE
    if not path.exists():
        return ()
    data = read_yaml(path)
    entries = data.get("partners") or []
    if not isinstance(entries, list):
        raise ConfigError(PARTNERS_FILE, "partners", "must be a list")
    out: list[PartnerConfig] = []
    seen_ids: dict[str, int] = {}
    seen_parties: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        prefix = f"partners[{index}]"
        try:
            reader = _Reader(PARTNERS_FILE, prefix, entry)
            partner = parse_partner(entry, index, directory)
            if partner.id in seen_ids:
                raise ConfigError(
                    PARTNERS_FILE,
                    reader.key("id"),
                    f"{partner.id!r} already used by partners[{seen_ids[partner.id]}]",
                    partner=partner.id,
                )
            party = (partner.party_id_type, partner.party_id)
            if party in seen_parties:
                raise ConfigError(
                    PARTNERS_FILE,
                    reader.key("party_id"),
                    f"{partner.party_id!r} already used by partners[{seen_parties[party]}]",
                    partner=partner.id,
                )
        except ConfigError as exc:
            if collect is None:
                raise
            collect.append(exc)
            continue
        seen_ids[partner.id] = index
        seen_parties[party] = index
        out.append(partner)
    return tuple(out)
