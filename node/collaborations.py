"""The ebMS CollaborationInfo (service, action) each document type travels under: the node's one place
for these values and a partner's P-Mode overrides of them (partners.yaml `pmode.collaborations`).

    pmode:
      collaborations:
        eco:    {service: urn:aswnode:service:eco, action: EFormD}
        ephyto: {service: urn:aswnode:service:ephyto, action: SPSCertificate}
        answer: {action: BusinessAnswer}   # sent under the answered certificate's service

The defaults are project URNs (like the interim formats of mappings.namespaces); a partner whose
P-Mode names other values gets them on what we send, and what it sends is recognised by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTION_BUSINESS_ANSWER",
    "ACTION_EFORMD",
    "ACTION_SPS_CERTIFICATE",
    "CERTIFICATE_TYPES",
    "DEFAULT_COLLABORATIONS",
    "SERVICE_ECO",
    "SERVICE_EPHYTO",
    "Collaboration",
    "Collaborations",
    "collaborations_from",
]

SERVICE_ECO = "urn:aswnode:service:eco"
SERVICE_EPHYTO = "urn:aswnode:service:ephyto"
ACTION_EFORMD = "EFormD"
ACTION_SPS_CERTIFICATE = "SPSCertificate"
ACTION_BUSINESS_ANSWER = "BusinessAnswer"

# The document types that travel as certificates (a business answer refers to one of them).
CERTIFICATE_TYPES = ("eco", "ephyto")


@dataclass(frozen=True, slots=True)
class Collaboration:
    """The eb:Service and eb:Action a document travels under."""

    service: str
    action: str

    def __post_init__(self) -> None:
        for name in ("service", "action"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}: must be a non-empty string")


@dataclass(frozen=True, slots=True)
class Collaborations:
    """The certificates' collaborations and the business answer's action, for one partner."""

    eco: Collaboration
    ephyto: Collaboration
    answer_action: str

    def __post_init__(self) -> None:
        if not isinstance(self.answer_action, str) or not self.answer_action.strip():
            raise ValueError("answer.action: must be a non-empty string")
        if self.answer_action in (self.eco.action, self.ephyto.action):
            raise ValueError("answer.action: must differ from the certificates' actions")

    def of(self, document_type: str) -> Collaboration:
        """The collaboration of a certificate type (KeyError for any other type)."""
        if document_type not in CERTIFICATE_TYPES:
            raise KeyError(document_type)
        return self.eco if document_type == "eco" else self.ephyto

    def document_type(self, service: str | None, action: str | None) -> str | None:
        """What a received (service, action) carries: `answer`, a certificate type, or None."""
        if action == self.answer_action:
            return "answer"
        for document_type in CERTIFICATE_TYPES:
            known = self.of(document_type)
            if service == known.service and action == known.action:
                return document_type
        return None

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The partners.yaml form (what the console shows as the partner's P-Mode)."""
        return {
            "eco": {"service": self.eco.service, "action": self.eco.action},
            "ephyto": {"service": self.ephyto.service, "action": self.ephyto.action},
            "answer": {"action": self.answer_action},
        }


DEFAULT_COLLABORATIONS = Collaborations(
    eco=Collaboration(SERVICE_ECO, ACTION_EFORMD),
    ephyto=Collaboration(SERVICE_EPHYTO, ACTION_SPS_CERTIFICATE),
    answer_action=ACTION_BUSINESS_ANSWER,
)


def collaborations_from(section: Any) -> Collaborations:
    """A partner's `pmode.collaborations` (absent: the defaults) over the defaults.

    ValueError's message starts with the key inside the section (`eco.service: ...`)."""
    if section is None:
        return DEFAULT_COLLABORATIONS
    if not isinstance(section, Mapping):
        raise ValueError("must be a mapping of eco, ephyto, answer")
    for key in section:
        if key not in (*CERTIFICATE_TYPES, "answer"):
            raise ValueError(f"{key}: unknown document type (known: eco, ephyto, answer)")
    certificates = {}
    for document_type in CERTIFICATE_TYPES:
        entry = section.get(document_type) or {}
        if not isinstance(entry, Mapping):
            raise ValueError(f"{document_type}: must be a mapping with service and action")
        default = DEFAULT_COLLABORATIONS.of(document_type)
        for key in entry:
            if key not in ("service", "action"):
                raise ValueError(f"{document_type}.{key}: unknown key (known: service, action)")
        try:
            certificates[document_type] = Collaboration(
                entry.get("service", default.service), entry.get("action", default.action)
            )
        except ValueError as exc:
            raise ValueError(f"{document_type}.{exc}") from None
    answer = section.get("answer") or {}
    if not isinstance(answer, Mapping) or set(answer) - {"action"}:
        raise ValueError("answer: must be a mapping with action (the service is the certificate's)")
    return Collaborations(
        answer_action=answer.get("action", DEFAULT_COLLABORATIONS.answer_action), **certificates
    )
