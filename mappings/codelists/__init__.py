"""Code lists as data: each file names its source and version; `load(list_id)` returns one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["CodeList", "available", "load"]


@dataclass(frozen=True, slots=True)
class CodeList:
    """A code list: identifier, title, where it comes from, its version, and code → name."""

    id: str
    name: str
    source: str
    version: str
    note: str
    codes: Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.codes:
            raise ValueError(f"code list {self.id} is empty")

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    @property
    def title(self) -> str:
        """How an officer sees the list named: its name and version."""
        return f"{self.name} ({self.id}, version {self.version})"


def _data():  # type: ignore[no-untyped-def]
    return resources.files("mappings.codelists.data")


@cache
def available() -> tuple[str, ...]:
    """The identifiers of every shipped code list."""
    return tuple(sorted(p.name[:-5] for p in _data().iterdir() if p.name.endswith(".json")))


@cache
def load(list_id: str) -> CodeList:
    """The code list `list_id` (e.g. `iso3166-alpha2`); KeyError if there is none."""
    if list_id not in available():
        raise KeyError(f"no code list {list_id!r}; available: {', '.join(available())}")
    raw = json.loads(_data().joinpath(f"{list_id}.json").read_text(encoding="utf-8"))
    return CodeList(
        id=raw["id"],
        name=raw["name"],
        source=raw["source"],
        version=raw["version"],
        note=raw.get("note", ""),
        codes=MappingProxyType(dict(raw["codes"])),
    )
