"""Declarative mapping rules (domestic field ⇄ treaty element) and the engine that runs them both ways.

A profile is a tuple of rules in the treaty schema's element order. The same rules build the
treaty XML, read it back, and print the published table, so the three cannot drift apart.

Paths are `/`-separated steps relative to the current element: `ram:Name`, `@unitCode`, or
`ram:Description[1]` (the second `Description`). Building reuses the last child when it has
the step's name, so sibling rules fill the same element; reading takes the first match and does
not depend on element order (foreign documents are read leniently).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from lxml import etree

from mappings.errors import MappingError
from mappings.namespaces import PREFIXES

__all__ = [
    "BOOLEAN",
    "CODE",
    "DATE",
    "DATETIME",
    "DECIMAL",
    "INTEGER",
    "TEXT",
    "Each",
    "Keyed",
    "Leaf",
    "Row",
    "Rule",
    "Transform",
    "build",
    "read",
    "rows",
    "unread",
]


@dataclass(frozen=True, slots=True)
class Transform:
    """How a domestic value becomes element text and back, with the sentence the table prints."""

    name: str
    description: str
    to_text: Callable[[Any], str]
    from_text: Callable[[str], Any]


def _decimal_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MappingError("bad-value", f"expected a number, got {value!r}")
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)), "f")


def _decimal_value(text: str) -> int | float:
    text = text.strip()
    try:
        Decimal(text)
    except InvalidOperation:
        raise MappingError("bad-value", f"not a number: {text!r}") from None
    if "." in text or "e" in text.lower():
        return float(text)
    return int(text)


def _integer_value(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise MappingError("bad-value", f"not an integer: {text!r}") from None


def _boolean_value(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise MappingError("bad-value", f"not a boolean: {text!r}")


TEXT = Transform("text", "copied as is", str, str)
CODE = Transform("code", "code copied as is", str, lambda t: t.strip())
DATE = Transform("date", "ISO 8601 date YYYY-MM-DD, copied", str, lambda t: t.strip())
DATETIME = Transform("date-time", "ISO 8601 date-time with offset, copied", str, lambda t: t.strip())
DECIMAL = Transform("decimal", "JSON number ⇄ decimal text (no exponent)", _decimal_text, _decimal_value)
INTEGER = Transform("integer", "JSON integer ⇄ integer text", str, _integer_value)
BOOLEAN = Transform("boolean", "true/false ⇄ xs:boolean", lambda v: "true" if v else "false", _boolean_value)


@dataclass(frozen=True, slots=True)
class Leaf:
    """One domestic value (`field`; `a/b` nested; `.` the list item) ⇄ one element text or attribute."""

    field: str
    path: str
    transform: Transform = TEXT
    codelist: str | None = None


@dataclass(frozen=True, slots=True)
class Each:
    """A domestic list ⇄ repeated elements: one fresh last step of `path` per item, `rules` inside it."""

    field: str
    path: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Keyed:
    """Elements told apart by a key child (`ram:IncludedSPSNote` with `ram:Subject` = `ADEDL`).

    Without `field` the `rules` read and write the current object (one element at most);
    with `field` they map each item of that list to one element.
    """

    path: str
    key_path: str
    key: str
    rules: tuple[Rule, ...]
    field: str | None = None


Rule = Leaf | Each | Keyed


# ---- paths -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    tag: str  # Clark notation; for an attribute, the attribute name
    attribute: bool
    index: int | None


@cache
def _steps(path: str) -> tuple[_Step, ...]:
    out = []
    for raw in path.split("/"):
        if raw.startswith("@"):
            out.append(_Step(raw[1:], True, None))
            continue
        index = None
        if raw.endswith("]"):
            raw, _, num = raw[:-1].partition("[")
            index = int(num)
        prefix, _, local = raw.rpartition(":")
        ns = PREFIXES[prefix] if prefix else None
        out.append(_Step(f"{{{ns}}}{local}" if ns else local, False, index))
    return tuple(out)


def _get(obj: Any, dotted: str) -> Any:
    if dotted == ".":
        return obj
    for part in dotted.split("/"):
        if isinstance(obj, list) and part.isdigit():
            obj = obj[int(part)] if int(part) < len(obj) else None
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
        if obj is None:
            return None
    return obj


def _put(obj: Any, dotted: str, value: Any) -> None:
    """Set a nested value; a numeric step (`address_lines/2`) appends to a list, so gaps close up."""
    parts = dotted.split("/")
    for part, following in itertools.pairwise(parts):
        obj = obj.setdefault(part, [] if following.isdigit() else {})
    last = parts[-1]
    if last.isdigit():
        obj.append(value)
    else:
        obj[last] = value


def _child(parent: etree._Element, step: _Step, *, fresh: bool) -> etree._Element:
    if step.index is not None:
        same = [c for c in parent if c.tag == step.tag]
        while len(same) <= step.index:
            same.append(etree.SubElement(parent, step.tag))
        return same[step.index]
    if not fresh and len(parent) and parent[-1].tag == step.tag:
        return parent[-1]
    return etree.SubElement(parent, step.tag)


def _make(parent: etree._Element, steps: tuple[_Step, ...], text: str) -> None:
    for step in steps[:-1]:
        parent = _child(parent, step, fresh=False)
    last = steps[-1]
    if last.attribute:
        parent.set(last.tag, text)
    else:
        _child(parent, last, fresh=False).text = text


def _find(element: etree._Element, steps: tuple[_Step, ...], seen: _Seen | None = None) -> str | None:
    for step in steps:
        if step.attribute:
            if seen is not None:
                seen.add((element, step.tag))
            return element.get(step.tag)
        same = [c for c in element if c.tag == step.tag]
        index = step.index or 0
        if len(same) <= index:
            return None
        element = same[index]
    if seen is not None:
        seen.add((element, None))
    return element.text


def _find_all(element: etree._Element, steps: tuple[_Step, ...]) -> list[etree._Element]:
    for step in steps[:-1]:
        match = next((c for c in element if c.tag == step.tag), None)
        if match is None:
            return []
        element = match
    return [c for c in element if c.tag == steps[-1].tag]


# ---- building --------------------------------------------------------------------------------


def build(rules: tuple[Rule, ...], obj: dict[str, Any], parent: etree._Element) -> None:
    """Write the domestic object `obj` under `parent` as the rules say, in rule order."""
    for rule in rules:
        if isinstance(rule, Leaf):
            value = _get(obj, rule.field)
            if value is not None:
                _make(parent, _steps(rule.path), rule.transform.to_text(value))
        elif isinstance(rule, Each):
            for item in _get(obj, rule.field) or ():
                _append_fresh(
                    parent,
                    _steps(rule.path),
                    lambda el, item=item, rule=rule: _build_item(rule.rules, item, el),
                )
        else:
            items = [obj] if rule.field is None else list(_get(obj, rule.field) or ())
            for item in items:
                _append_keyed(parent, rule, item)


def _append_fresh(
    parent: etree._Element, steps: tuple[_Step, ...], fill: Callable[[etree._Element], None]
) -> etree._Element:
    for step in steps[:-1]:
        parent = _child(parent, step, fresh=False)
    element = etree.SubElement(parent, steps[-1].tag)
    fill(element)
    return element


def _append_keyed(parent: etree._Element, rule: Keyed, item: Any) -> None:
    steps = _steps(rule.path)
    probe = etree.Element(steps[-1].tag)
    _make(probe, _steps(rule.key_path), rule.key)
    only_key = _size(probe)
    _build_item(rule.rules, item, probe)
    if _size(probe) == only_key:
        return  # nothing but the key: the domestic side had no value here
    for step in steps[:-1]:
        parent = _child(parent, step, fresh=False)
    parent.append(probe)


def _size(element: etree._Element) -> int:
    return sum(1 + len(e.attrib) for e in element.iter())


def _build_item(rules: tuple[Rule, ...], item: Any, element: etree._Element) -> None:
    if isinstance(item, dict):
        build(rules, item, element)
        return
    for rule in rules:  # a scalar list item: only `.` leaves apply
        if isinstance(rule, Leaf) and rule.field == ".":
            _make(element, _steps(rule.path), rule.transform.to_text(item))


# ---- reading ---------------------------------------------------------------------------------


_Seen = set[
    tuple[etree._Element, str | None]
]  # (element, None) = its text was read; (element, name) = attribute


def read(
    rules: tuple[Rule, ...], element: etree._Element, obj: dict[str, Any], seen: _Seen | None = None
) -> None:
    """Read the rules' values from `element` into `obj`; empty elements (`<ram:Name/>`) count as absent.

    With `seen`, every text and attribute the rules read is added to it (see `unread`).
    """
    for rule in rules:
        if isinstance(rule, Leaf):
            text = _find(element, _steps(rule.path), seen)
            if text:
                _put(obj, rule.field, rule.transform.from_text(text))
        elif isinstance(rule, Each):
            items = [_read_item(rule.rules, el, seen) for el in _find_all(element, _steps(rule.path))]
            items = [i for i in items if i is not None]
            if items:
                _put(obj, rule.field, items)
        else:
            matches = [
                el
                for el in _find_all(element, _steps(rule.path))
                if (_find(el, _steps(rule.key_path)) or "").strip() == rule.key
            ]
            if rule.field is None:
                matches = matches[:1]
            for el in matches:
                _find(el, _steps(rule.key_path), seen)
            if rule.field is None:
                for el in matches:
                    read(rule.rules, el, obj, seen)
                continue
            items = [_read_item(rule.rules, el, seen) for el in matches]
            items = [i for i in items if i is not None]
            if items:
                _put(obj, rule.field, items)


def _read_item(rules: tuple[Rule, ...], element: etree._Element, seen: _Seen | None) -> Any:
    scalar = [r for r in rules if isinstance(r, Leaf) and r.field == "."]
    if scalar:
        text = _find(element, _steps(scalar[0].path), seen)
        return scalar[0].transform.from_text(text) if text else None
    item: dict[str, Any] = {}
    read(rules, element, item, seen)
    return item or None


def unread(root: etree._Element, seen: _Seen) -> tuple[str, ...]:
    """What a document says that no rule read: `path = 'text'` per element text and attribute, in order."""
    prefixes = {uri: prefix for prefix, uri in PREFIXES.items()}

    def name(tag: str) -> str:
        qname = etree.QName(tag)
        prefix = prefixes.get(qname.namespace or "")
        return f"{prefix}:{qname.localname}" if prefix else qname.localname

    def path(element: etree._Element) -> str:
        steps = []
        while element is not None:
            parent = element.getparent()
            if parent is None:
                steps.append(name(element.tag))
            else:
                same = [c for c in parent if c.tag == element.tag]
                position = f"[{same.index(element)}]" if len(same) > 1 else ""
                steps.append(f"{name(element.tag)}{position}")
            element = parent
        return "/".join(reversed(steps))

    def shown(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= 60 else text[:57] + "..."

    out = []
    for element in root.iter(etree.Element):
        text = (element.text or "").strip()
        if text and len(element) == 0 and (element, None) not in seen:
            out.append(f"{path(element)} = '{shown(text)}'")
        for attribute, value in element.attrib.items():
            if (element, attribute) not in seen:
                out.append(f"{path(element)}/@{name(attribute)} = '{shown(value)}'")
    return tuple(out)


# ---- the published table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the published table, before the domestic schema adds label and cardinality."""

    field: str  # JSON-pointer pattern, `*` for any list index
    path: str  # treaty element path, XPath-like
    transform: str
    codelist: str | None
    notes: tuple[str, ...] = field(default=())


def rows(rules: tuple[Rule, ...], field_prefix: str = "", path_prefix: str = "") -> Iterator[Row]:
    """Every leaf of the rules as a table row, with absolute domestic pointer and treaty path."""
    for rule in rules:
        if isinstance(rule, Leaf):
            pointer = field_prefix if rule.field == "." else f"{field_prefix}/{rule.field}"
            yield Row(pointer, f"{path_prefix}/{rule.path}", rule.transform.description, rule.codelist)
        elif isinstance(rule, Each):
            yield from rows(rule.rules, f"{field_prefix}/{rule.field}/*", f"{path_prefix}/{rule.path}")
        else:
            where = f"{path_prefix}/{rule.path}[{rule.key_path}='{rule.key}']"
            prefix = field_prefix if rule.field is None else f"{field_prefix}/{rule.field}/*"
            yield from rows(rule.rules, prefix, where)
