"""The console's operators: the `operators:` section of node.yaml (id -> password hash), read and written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from node.console.passwords import hash_password
from node.nodedir import write_section

__all__ = [
    "Operator",
    "OperatorsFileError",
    "add_operator",
    "parse_operators",
    "read_operators",
    "remove_operator",
]

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SECTION = "operators"


class OperatorsFileError(Exception):
    """node.yaml's `operators:` section is unusable; str() is one line naming the file and the key."""


@dataclass(frozen=True, slots=True)
class Operator:
    """A person allowed into the console. Operators are not ministry API clients."""

    id: str
    password_hash: str
    name: str = ""
    disabled: bool = False

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"operator id {self.id!r} must be lower-case letters, digits, '.', '_' or '-'")
        if not self.password_hash.startswith("scrypt$"):
            raise ValueError(f"operator {self.id!r} has no scrypt password_hash")


def parse_operators(section: Mapping[str, Any] | None, *, source: str = "node.yaml") -> dict[str, Operator]:
    """Operators by id from the section's mapping `{id: {password_hash, name?, disabled?}}`."""
    operators: dict[str, Operator] = {}
    for op_id, entry in (section or {}).items():
        if not isinstance(entry, Mapping):
            raise OperatorsFileError(f"{source}: {SECTION}.{op_id}: must be a mapping")
        try:
            operators[str(op_id)] = Operator(
                id=str(op_id),
                password_hash=str(entry.get("password_hash", "")),
                name=str(entry.get("name", "")),
                disabled=bool(entry.get("disabled", False)),
            )
        except ValueError as exc:
            raise OperatorsFileError(f"{source}: {SECTION}.{op_id}: {exc}") from None
    return operators


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise OperatorsFileError(
            f"{path}: not found (is this a node directory made by `aswnode init`?)"
        ) from None
    except yaml.YAMLError as exc:
        raise OperatorsFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except UnicodeDecodeError as exc:
        raise OperatorsFileError(f"{path}: is not UTF-8 text (byte {exc.start})") from None
    if not isinstance(document, dict):
        raise OperatorsFileError(f"{path}: must be a mapping")
    return document


def read_operators(node_yaml: Path) -> dict[str, Operator]:
    section = _load_yaml(node_yaml).get(SECTION)
    if section is not None and not isinstance(section, Mapping):
        raise OperatorsFileError(f"{node_yaml}: {SECTION}: must be a mapping of operator id to settings")
    return parse_operators(section, source=str(node_yaml))


def add_operator(node_yaml: Path, operator_id: str, password: str, *, name: str = "") -> Operator:
    """Add the operator, or set a new password for an existing one."""
    document = _load_yaml(node_yaml)
    section = dict(document.get(SECTION) or {})
    operator = Operator(id=operator_id, password_hash=hash_password(password), name=name)
    entry = {"password_hash": operator.password_hash}
    if name:
        entry["name"] = name
    section[operator_id] = entry
    write_section(node_yaml, SECTION, section)
    return operator


def remove_operator(node_yaml: Path, operator_id: str) -> None:
    document = _load_yaml(node_yaml)
    section = dict(document.get(SECTION) or {})
    if operator_id not in section:
        raise OperatorsFileError(f"{node_yaml}: {SECTION}.{operator_id}: no such operator")
    del section[operator_id]
    write_section(node_yaml, SECTION, section)
