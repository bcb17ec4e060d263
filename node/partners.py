"""PartnerDirectory: registered partners with their certificates, by id or by PartyId; reloadable."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from node.collaborations import Collaborations, collaborations_from
from node.config import PARTNERS_FILE, ConfigError, PartnerConfig, load_partners
from node.pmodes import check_overrides
from protocols.as4.pmode import PModeError

__all__ = ["Partner", "PartnerDirectory", "load_certificates", "parse_certificates"]

_SHA256 = hashes.SHA256()


def load_certificates(
    path: Path, *, file: str = PARTNERS_FILE, key: str = ""
) -> tuple[x509.Certificate, ...]:
    """Every PEM (or a single DER) certificate in `path`, or ConfigError naming the file and key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(file, key, f"cannot read {path}: {exc.strerror}") from None
    return parse_certificates(data, name=path.name, file=file, key=key)


def parse_certificates(
    data: bytes, *, name: str, file: str = PARTNERS_FILE, key: str = ""
) -> tuple[x509.Certificate, ...]:
    """Every PEM (or a single DER) certificate in `data` (called `name` in errors), or ConfigError."""
    try:
        if b"-----BEGIN" in data:
            certs = tuple(x509.load_pem_x509_certificates(data))
        else:
            certs = (x509.load_der_x509_certificate(data),)
    except ValueError:
        raise ConfigError(file, key, f"{name} holds no X.509 certificate (PEM or DER expected)") from None
    if not certs:
        raise ConfigError(file, key, f"{name} holds no X.509 certificate")
    return certs


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner's configuration with its certificates loaded."""

    config: PartnerConfig
    signing_certificates: tuple[x509.Certificate, ...]
    tls_ca_certificates: tuple[x509.Certificate, ...]

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def party_id(self) -> str:
        return self.config.party_id

    @property
    def endpoint(self) -> str:
        return self.config.endpoint

    @property
    def encryption_certificate(self) -> x509.Certificate:
        """The certificate we encrypt for: the first registered signing certificate."""
        return self.signing_certificates[0]

    @property
    def pmode_overrides(self) -> Mapping[str, Any]:
        return self.config.pmode

    @property
    def collaborations(self) -> Collaborations:
        """Each document type's (service, action) with this partner: P-Mode overrides over the defaults."""
        return collaborations_from(self.config.pmode.get("collaborations"))


def _load(directory: Path, errors: list[ConfigError] | None) -> tuple[Partner, ...]:
    configs = load_partners(directory, collect=errors)
    out: list[Partner] = []
    for config in configs:
        prefix = f"partners[{config.position}]"
        try:
            signing = load_certificates(config.signing_cert, key=f"{prefix}.signing_cert")
            tls_ca = (
                load_certificates(config.tls_ca, key=f"{prefix}.tls_ca") if config.tls_ca is not None else ()
            )
            try:
                collaborations_from(config.pmode.get("collaborations"))
            except ValueError as exc:
                key, _, message = str(exc).partition(": ")
                where = f"{prefix}.pmode.collaborations" + (f".{key}" if message else "")
                raise ConfigError(PARTNERS_FILE, where, message or key) from None
            try:
                check_overrides(config.pmode)
            except PModeError as exc:
                where = exc.key if exc.key.startswith("pmode") else f"pmode.{exc.key}"
                raise ConfigError(PARTNERS_FILE, f"{prefix}.{where}", exc.message) from None
        except ConfigError as exc:
            exc = ConfigError(exc.file, exc.key, exc.message, partner=config.id)
            if errors is None:
                raise exc from None
            errors.append(exc)
            continue
        out.append(Partner(config, signing, tls_ca))
    return tuple(out)


class PartnerDirectory:
    """The partners of DIR/partners.yaml. `reload()` rereads the file; a bad file keeps the old registry."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._reloading = threading.RLock()
        self._by_id: dict[str, Partner] = {}
        self._by_party: dict[str, list[Partner]] = {}
        self._stamp: tuple[float, int] | None = None
        self.listeners: list[Any] = []  # called with the directory after every reload
        self.reload()

    @classmethod
    def check(cls, directory: Path) -> list[ConfigError]:
        """Every problem in partners.yaml (and the certificate files it names)."""
        errors: list[ConfigError] = []
        try:
            _load(Path(directory), errors)
        except ConfigError as exc:
            errors.append(exc)
        return errors

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            stat = (self.directory / PARTNERS_FILE).stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def maybe_reload(self) -> bool:
        """Reload when partners.yaml changed on disk (`partners add` beside a running node); True if it did.

        A file that does not load keeps the registry we have (ConfigError propagates for the log).
        """
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self.reload()
        return True

    def reload(self) -> None:
        # One reload at a time (receivers reload from worker threads): read and installed in turn, a
        # reload that read the older file can never install it over a newer one.
        with self._reloading:
            stamp = self._file_stamp()
            partners = _load(self.directory, None)
            by_id = {p.id: p for p in partners}
            by_party: dict[str, list[Partner]] = {}
            for p in partners:
                by_party.setdefault(p.party_id, []).append(p)
            with self._lock:
                self._by_id = by_id
                self._by_party = by_party
                self._stamp = stamp
            for listener in list(self.listeners):
                listener(self)

    def __iter__(self) -> Iterator[Partner]:
        with self._lock:
            return iter(tuple(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def by_id(self, partner_id: str) -> Partner | None:
        with self._lock:
            return self._by_id.get(partner_id)

    def by_party_id(self, party_id: str, party_id_type: str | None = None) -> Partner | None:
        """The partner with this PartyId; with several (same value, different types) the type decides."""
        with self._lock:
            candidates = self._by_party.get(party_id, [])
        if party_id_type is not None:
            typed = [p for p in candidates if p.config.party_id_type == party_id_type]
            if typed:
                return typed[0]
        return candidates[0] if len(candidates) == 1 else None

    def tls_client_cas(self) -> tuple[x509.Certificate, ...]:
        """The union of every partner's TLS CA: what the server asks client certificates to chain to."""
        seen: dict[bytes, x509.Certificate] = {}
        for partner in self:
            for cert in partner.tls_ca_certificates:
                seen.setdefault(cert.fingerprint(_SHA256), cert)
        return tuple(seen.values())
