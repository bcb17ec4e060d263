"""Business answers (seed 001 Art. 21): accepted, not accepted, amendment requested, result; both ways.

xml = to_xml(BusinessAnswer(...))      # the importing side answers
answer = from_xml(xml)                 # the submitting side reads the decision
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources

from lxml import etree

from mappings import xmlsafe
from mappings.errors import MappingError
from mappings.namespaces import ANSWER

__all__ = ["MIME_TYPE", "ROOT_ELEMENT", "AnswerStatus", "BusinessAnswer", "Reason", "from_xml", "to_xml"]

MIME_TYPE = "application/xml"
ROOT_ELEMENT = f"{{{ANSWER}}}BusinessAnswer"
_MAX_BYTES = 1024 * 1024
_SCHEMAS = threading.local()


class AnswerStatus(StrEnum):
    """The decisions of Art. 21: first accepted / not accepted / amendment requested, then the result."""

    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not-accepted"
    AMENDMENT_REQUESTED = "amendment-requested"
    PROCESSING_RESULT = "processing-result"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why: a code, a sentence, and optionally the domestic field (JSON pointer) it concerns."""

    code: str
    text: str
    field: str | None = None

    def __post_init__(self) -> None:
        if not self.code or not self.text:
            raise ValueError("a reason needs a code and a text")


@dataclass(frozen=True, slots=True)
class BusinessAnswer:
    """The importing side's answer about one certificate."""

    document_type: str  # "eco" | "ephyto"
    certificate_reference: str
    status: AnswerStatus
    issued_at: datetime  # timezone-aware
    authority: str
    country: str  # ISO 3166-1 alpha-2 of the answering side
    reasons: tuple[Reason, ...] = ()
    result: str | None = None  # the processing result, e.g. "preferential treatment given"
    ref_to_message_id: str | None = None  # the AS4 message that carried the certificate

    def __post_init__(self) -> None:
        if self.document_type not in ("eco", "ephyto"):
            raise ValueError(f"unknown document type {self.document_type!r}")
        object.__setattr__(self, "status", AnswerStatus(self.status))
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must carry a time zone")
        if len(self.country) != 2 or not self.country.isupper():
            raise ValueError(f"country must be ISO 3166-1 alpha-2, not {self.country!r}")
        if not isinstance(self.reasons, tuple):
            object.__setattr__(self, "reasons", tuple(self.reasons))
        if self.status in (AnswerStatus.NOT_ACCEPTED, AnswerStatus.AMENDMENT_REQUESTED) and not self.reasons:
            raise ValueError(f"a '{self.status}' answer must give at least one reason")
        if self.status is AnswerStatus.PROCESSING_RESULT and not self.result:
            raise ValueError("a processing-result answer must state the result")


def _q(local: str) -> str:
    return f"{{{ANSWER}}}{local}"


def _schema() -> etree.XMLSchema:
    schema = getattr(_SCHEMAS, "schema", None)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        with resources.as_file(resources.files("mappings").joinpath("answers.xsd")) as path:
            schema = _SCHEMAS.schema = etree.XMLSchema(etree.parse(str(path), parser))
    return schema


def _check(root: etree._Element) -> None:
    schema = _schema()
    if not schema.validate(root):
        first = schema.error_log[0]
        raise MappingError(
            "schema-invalid", f"business answer fails answers.xsd at line {first.line}: {first.message}"
        )


def to_xml(answer: BusinessAnswer) -> bytes:
    """The answer as an `ans:BusinessAnswer` document (UTF-8), validated against answers.xsd."""
    root = etree.Element(ROOT_ELEMENT, {"formatVersion": "1.0"}, nsmap={None: ANSWER})

    def add(parent: etree._Element, local: str, text: str | None) -> None:
        if text is not None:
            etree.SubElement(parent, _q(local)).text = text

    add(root, "DocumentType", answer.document_type)
    add(root, "CertificateReference", answer.certificate_reference)
    add(root, "RefToMessageId", answer.ref_to_message_id)
    add(root, "Status", answer.status.value)
    add(root, "IssuedAt", answer.issued_at.isoformat())
    add(root, "Authority", answer.authority)
    add(root, "Country", answer.country)
    for reason in answer.reasons:
        element = etree.SubElement(root, _q("Reason"))
        add(element, "Code", reason.code)
        add(element, "Text", reason.text)
        add(element, "Field", reason.field)
    add(root, "Result", answer.result)
    _check(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def from_xml(data: bytes) -> BusinessAnswer:
    """Read a business answer (hardened parse, schema-checked); MappingError if it is not one."""
    root = xmlsafe.parse(data, root=ROOT_ELEMENT, max_bytes=_MAX_BYTES)
    _check(root)

    def text(parent: etree._Element, local: str) -> str | None:
        element = parent.find(_q(local))
        return None if element is None else element.text

    try:
        return BusinessAnswer(
            document_type=text(root, "DocumentType") or "",
            certificate_reference=text(root, "CertificateReference") or "",
            status=AnswerStatus(text(root, "Status")),
            issued_at=datetime.fromisoformat((text(root, "IssuedAt") or "").replace("Z", "+00:00")),
            authority=text(root, "Authority") or "",
            country=text(root, "Country") or "",
            reasons=tuple(
                Reason(text(r, "Code") or "", text(r, "Text") or "", text(r, "Field"))
                for r in root.findall(_q("Reason"))
            ),
            result=text(root, "Result"),
            ref_to_message_id=text(root, "RefToMessageId"),
        )
    except ValueError as exc:
        raise MappingError("answer-invalid", str(exc)) from None
