"""Domestic catalogue documents: JSON Schemas (draft 2020-12), validation to field errors, field listing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from mappings.codelists import load as load_codelist
from mappings.errors import FieldError

__all__ = [
    "DomesticField",
    "SemanticCheck",
    "fields",
    "is_date",
    "label",
    "load_schema",
    "pointer",
    "validate",
]

SemanticCheck = Callable[[dict[str, Any]], Iterable[FieldError]]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

_formats = FormatChecker(formats=())


@_formats.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_DATE.match(value)) and date.fromisoformat(value) is not None


def is_date(value: object) -> bool:
    """True for a valid YYYY-MM-DD date string (semantic checks compare only those)."""
    try:
        return isinstance(value, str) and _is_date(value)
    except ValueError:
        return False


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_DATETIME.match(value)) and datetime.fromisoformat(value.replace("Z", "+00:00")) is not None


def _codelist_keyword(
    validator: Any, list_id: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and instance not in load_codelist(list_id):
        yield ValidationError(f"{instance!r} is not in code list {list_id}")


_Validator = validators.extend(Draft202012Validator, {"x-codelist": _codelist_keyword})


@cache
def load_schema(document_type: str) -> dict[str, Any]:
    """The domestic JSON Schema of `document_type` (`eco`, `ephyto`), shipped in its package."""
    text = resources.files(f"mappings.{document_type}").joinpath("domestic.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


def _inline(root: dict[str, Any], node: Any) -> Any:
    """The schema with every local `$ref` replaced by its definition (no recursion here): faster."""
    if isinstance(node, list):
        return [_inline(root, n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        node = _resolve(root, node)
    return {k: _inline(root, v) for k, v in node.items() if k != "$defs"}


@cache
def _validator(document_type: str) -> Any:
    schema = load_schema(document_type)
    return _Validator(_inline(schema, schema), format_checker=_formats)


def pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 JSON pointer of a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and schema["$ref"].startswith("#/$defs/"):
        merged = dict(root["$defs"][schema["$ref"][len("#/$defs/") :]])
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        schema = merged
    return schema


def _subschema(root: dict[str, Any], parts: Iterable[str | int]) -> dict[str, Any] | None:
    schema = _resolve(root, root)
    for part in parts:
        if isinstance(part, int) or part == "*":
            schema = schema.get("items")
        else:
            schema = schema.get("properties", {}).get(part)
        if schema is None:
            return None
        schema = _resolve(root, schema)
    return schema


def _label_vi(root: dict[str, Any], parts: list[str | int]) -> str:
    """The field's Vietnamese label, prefixed by its object's label when the object is a shared $defs type."""
    schema = root
    labels: list[str] = []
    for part in parts:
        current = _resolve(root, schema)
        if isinstance(part, int) or part == "*":
            nxt = current.get("items")
        else:
            nxt = current.get("properties", {}).get(part)
        if nxt is None:
            return ""
        if "x-label-vi" in nxt:
            if labels and "$ref" in schema:
                labels.append(nxt["x-label-vi"])
            else:
                labels = [nxt["x-label-vi"]]
        schema = nxt
    return " – ".join(labels)


def label(document_type: str, parts: Iterable[str | int]) -> str:
    """'Vietnamese label (field)' of the field at `parts`, for messages an officer reads."""
    parts = list(parts)
    names = [p for p in parts if isinstance(p, str) and p != "*"]
    name = names[-1] if names else "document"
    vi = _label_vi(load_schema(document_type), parts)
    return f"{vi} ({name})" if vi else name


def _errors_of(document_type: str, error: ValidationError) -> Iterator[FieldError]:
    parts = list(error.absolute_path)
    where = label(document_type, parts)
    kind = error.validator
    value = error.instance
    if kind == "required":
        for prop in error.validator_value:
            if isinstance(value, dict) and prop not in value:
                yield FieldError(
                    pointer([*parts, prop]),
                    "required",
                    f"{label(document_type, [*parts, prop])}: is required.",
                )
        return
    if kind in ("additionalProperties", "unevaluatedProperties"):
        known = set(error.schema.get("properties", {}))
        for prop in sorted(set(value) - known) if isinstance(value, dict) else ():
            yield FieldError(
                pointer([*parts, prop]), "unknown-field", f"'{prop}' is not a field of this document."
            )
        return
    if kind == "x-codelist":
        codelist = load_codelist(error.validator_value)
        yield FieldError(
            pointer(parts), "unknown-code", f"{where}: '{value}' is not a code in {codelist.title}."
        )
        return
    code, text = _describe(kind, error.validator_value, value, error.message)
    yield FieldError(pointer(parts), code, f"{where}: {text}.")


_TYPE_WORDS = {
    "object": "a group of fields",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}
_FORMAT_WORDS = {"date": "date (YYYY-MM-DD)", "date-time": "date and time (YYYY-MM-DDThh:mm:ss+hh:mm)"}


def _describe(kind: str, limit: Any, value: Any, fallback: str) -> tuple[str, str]:
    """Code and sentence for one JSON Schema failure, in words an officer reads."""
    if kind == "type":
        return "wrong-type", f"must be {_TYPE_WORDS.get(limit, limit)}" if isinstance(
            limit, str
        ) else "has the wrong type"
    if kind == "format":
        code = "bad-date" if limit in _FORMAT_WORDS else "bad-format"
        return code, f"'{value}' is not a valid {_FORMAT_WORDS.get(limit, limit)}"
    if kind == "pattern":
        return "bad-format", f"'{value}' does not have the expected form"
    if kind == "minLength":
        return (
            ("empty", "must not be empty")
            if limit == 1
            else ("too-short", f"needs at least {limit} characters")
        )
    if kind == "maxLength":
        return "too-long", f"is longer than {limit} characters"
    if kind in ("minimum", "exclusiveMinimum"):
        return "out-of-range", f"must be {'at least' if kind == 'minimum' else 'more than'} {limit}"
    if kind in ("maximum", "exclusiveMaximum"):
        return "out-of-range", f"must be {'at most' if kind == 'maximum' else 'less than'} {limit}"
    if kind == "minItems":
        return "too-few", f"needs at least {limit} entr{'y' if limit == 1 else 'ies'}"
    if kind == "maxItems":
        return "too-many", f"allows at most {limit} entries"
    if kind == "enum":
        return "not-allowed", f"must be one of {', '.join(map(str, limit))}"
    if kind == "const":
        return "not-allowed", f"must be {limit}"
    if kind == "uniqueItems":
        return "duplicate", "has the same entry twice"
    return "invalid", fallback


def validate(
    document_type: str, document: Any, checks: Iterable[SemanticCheck] = ()
) -> tuple[FieldError, ...]:
    """Every error of `document` at once: schema errors, then the semantic checks, in pointer order."""
    found: list[FieldError] = []
    for error in _validator(document_type).iter_errors(document):
        found.extend(_errors_of(document_type, error))
    if isinstance(document, dict):
        for check in checks:
            try:
                found.extend(check(document))
            except (TypeError, KeyError, ValueError, AttributeError, IndexError):
                continue  # the schema errors above already say what is wrong with the shape
    unique = dict.fromkeys(found)
    return tuple(sorted(unique, key=lambda e: (e.pointer, e.code)))


@dataclass(frozen=True, slots=True)
class DomesticField:
    """A leaf of the domestic schema: pointer pattern (`*` = any index), label, cardinality, code list."""

    pointer: str
    name: str
    label_vi: str
    description: str
    cardinality: str
    codelist: str | None


def fields(document_type: str) -> tuple[DomesticField, ...]:
    """Every leaf field of the domestic schema, in schema order."""
    root = load_schema(document_type)
    out: list[DomesticField] = []

    def walk(schema: dict[str, Any], parts: list[str], required: bool, inherited_label: str | None) -> None:
        schema = _resolve(root, schema)
        inherited_label = _label_vi(root, parts) or inherited_label
        kind = schema.get("type")
        if kind == "object":
            needed = set(schema.get("required", ()))
            for name, sub in schema.get("properties", {}).items():
                walk(sub, [*parts, name], name in needed, None)
            return
        vi = inherited_label or ""
        if kind == "array":
            low = schema.get("minItems", 0) if required else 0
            items = _resolve(root, schema["items"])
            if items.get("type") == "object":
                walk(items, [*parts, "*"], True, None)
                return
            out.append(
                _leaf([*parts, "*"], vi, schema.get("description", ""), f"{low}..n", items.get("x-codelist"))
            )
            return
        out.append(
            _leaf(
                parts,
                vi,
                schema.get("description", ""),
                "1" if required else "0..1",
                schema.get("x-codelist"),
            )
        )

    def _leaf(
        parts: list[str], vi: str, description: str, cardinality: str, codelist: str | None
    ) -> DomesticField:
        name = next(p for p in reversed(parts) if p != "*")
        return DomesticField(pointer(parts), name, vi, description, cardinality, codelist)

    walk(root, [], True, None)
    return tuple(out)
