"""A mapping profile: one treaty format in one version, with the operations the node calls."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

from lxml import etree

from mappings import domestic, rules, xmlsafe
from mappings.errors import DomesticInvalid, FieldError, MappingError
from mappings.namespaces import PREFIXES

__all__ = ["MappingProfile", "TableRow"]

_SCHEMAS = threading.local()  # lxml validators are not shared between threads


@dataclass(frozen=True, slots=True)
class TableRow:
    """One line of a published mapping table."""

    domestic_field: str
    label_vi: str
    treaty_path: str
    codelist: str
    cardinality: str
    transformation: str


@dataclass(frozen=True, slots=True)
class MappingProfile:
    """Domestic catalogue document ⇄ one treaty XML format and version.

    The node calls `validate`, `to_treaty`, `from_treaty` and reads `mime_type`, `root_element`
    and `unmapped_fields`; nothing else of a profile is part of the contract.
    """

    document_type: str  # the domestic catalogue format: "eco" | "ephyto"
    version: str  # the treaty format version this profile writes
    treaty_format: str  # what the treaty document is, in words
    mime_type: str
    root_element: str  # Clark notation {namespace}local
    rules: tuple[rules.Rule, ...]
    xsd_package: str
    xsd_file: str
    unmapped: Mapping[str, str]  # domestic pointer pattern → why the treaty cannot carry it
    checks: tuple[domestic.SemanticCheck, ...] = ()
    strict_inbound: bool = True  # False: read foreign documents even when they fail the XSD
    nsmap: Mapping[str | None, str] = field(default_factory=dict)
    root_attributes: Mapping[str, str] = field(
        default_factory=dict
    )  # constant attributes, e.g. a format version
    max_bytes: int = xmlsafe.DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "unmapped", MappingProxyType(dict(self.unmapped)))
        mapped = {_pattern(r.field) for r in rules.rows(self.rules)}
        schema = {f.pointer for f in domestic.fields(self.document_type)}
        silent = schema - mapped - set(self.unmapped)
        if silent:
            raise ValueError(
                f"{self.document_type} {self.version}: fields neither mapped nor listed unmapped: "
                f"{sorted(silent)}"
            )
        stray = (mapped | set(self.unmapped)) - schema
        if stray:
            raise ValueError(
                f"{self.document_type} {self.version}: rules name fields the schema lacks: {sorted(stray)}"
            )

    # ---- the contract ----------------------------------------------------------------------

    @property
    def unmapped_fields(self) -> tuple[str, ...]:
        """Domestic fields (JSON pointer patterns, `*` = any index) the treaty format cannot carry."""
        return tuple(sorted(self.unmapped))

    def validate(self, document: Any) -> tuple[FieldError, ...]:
        """Every error of a domestic document at once (empty tuple: valid)."""
        return domestic.validate(self.document_type, document, self.checks)

    def to_treaty(self, document: dict[str, Any]) -> bytes:
        """Domestic document → treaty XML (UTF-8), validated against the treaty schema.

        Raises DomesticInvalid (with every field error) for an invalid document.
        """
        errors = self.validate(document)
        if errors:
            raise DomesticInvalid(errors)
        root = etree.Element(self.root_element, dict(self.root_attributes), nsmap=dict(self.nsmap))
        rules.build(self.rules, document, root)
        self._check_schema(root, "our output")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def from_treaty(self, xml: bytes) -> dict[str, Any]:
        """Treaty XML → domestic document, parsed with the hardened parser.

        Strict profiles refuse a document that fails their XSD; lenient ones (ePhyto) read
        any element order and leave schema findings to `schema_errors`.
        """
        root = xmlsafe.parse(xml, root=self.root_element, max_bytes=self.max_bytes)
        if self.strict_inbound:
            self._check_schema(root, "the document")
        document: dict[str, Any] = {}
        rules.read(self.rules, root, document)
        return document

    # ---- helpers beyond the contract -------------------------------------------------------

    def schema_errors(self, xml: bytes) -> tuple[str, ...]:
        """The treaty-schema findings for a document ('line N: message'), empty when it validates."""
        root = xmlsafe.parse(xml, root=self.root_element, max_bytes=self.max_bytes)
        schema = self._schema()
        if schema.validate(root):
            return ()
        return tuple(f"line {e.line}: {e.message}" for e in schema.error_log)

    def unread(self, xml: bytes) -> tuple[str, ...]:
        """What a treaty document says that `from_treaty` does not carry into the domestic document.

        One `path = 'text'` line per element text or attribute, for the receiving ministry and the log.
        """
        root = xmlsafe.parse(xml, root=self.root_element, max_bytes=self.max_bytes)
        seen: set[tuple[etree._Element, str | None]] = {(root, name) for name in self.root_attributes}
        rules.read(self.rules, root, {}, seen)
        return rules.unread(root, seen)

    def table(self) -> tuple[TableRow, ...]:
        """The published table: every mapped field, then every field the treaty cannot carry."""
        by_pointer = {f.pointer: f for f in domestic.fields(self.document_type)}
        out = []
        for row in rules.rows(self.rules):
            info = by_pointer[_pattern(row.field)]
            out.append(
                TableRow(
                    row.field,
                    info.label_vi,
                    self._root_name() + row.path,
                    row.codelist or info.codelist or "",
                    info.cardinality,
                    row.transform,
                )
            )
        for pointer in self.unmapped_fields:
            info = by_pointer[pointer]
            out.append(
                TableRow(
                    info.pointer,
                    info.label_vi,
                    "— not carried",
                    info.codelist or "",
                    info.cardinality,
                    f"not mapped: {self.unmapped[pointer]}",
                )
            )
        return tuple(out)

    def _root_name(self) -> str:
        namespace, _, local = self.root_element[1:].partition("}")
        prefix = next((p for p, uri in PREFIXES.items() if uri == namespace), "")
        return f"{prefix}:{local}" if prefix else local

    def _schema(self) -> etree.XMLSchema:
        cache = getattr(_SCHEMAS, "by_file", None)
        if cache is None:
            cache = _SCHEMAS.by_file = {}
        key = (self.xsd_package, self.xsd_file)
        if key not in cache:
            path = resources.files(self.xsd_package).joinpath(self.xsd_file)
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            with resources.as_file(path) as real:
                cache[key] = etree.XMLSchema(etree.parse(str(real), parser))
        return cache[key]

    def _check_schema(self, root: etree._Element, whose: str) -> None:
        schema = self._schema()
        if not schema.validate(root):
            first = schema.error_log[0]
            raise MappingError(
                "schema-invalid",
                f"{whose} fails {self.xsd_file} ({len(schema.error_log)} error(s)); "
                f"first at line {first.line}: {first.message}",
            )


def _pattern(pointer: str) -> str:
    return "/".join("*" if p.isdigit() else p for p in pointer.split("/"))
