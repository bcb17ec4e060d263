"""The ebMS3 message model (OASIS ebMS 3.0 Core §5.2) as frozen value objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from protocols.as4.errors import EbmsError, Severity
from protocols.as4.namespaces import COMPRESSION_GZIP, DEFAULT_MPC, TEST_ACTION, TEST_SERVICE

__all__ = [
    "AgreementRef",
    "CollaborationInfo",
    "ErrorDetail",
    "MessageInfo",
    "MessagePartReference",
    "PartInfo",
    "Party",
    "PartyId",
    "Property",
    "Receipt",
    "Service",
    "SignalMessage",
    "UserMessage",
    "format_timestamp",
    "is_test_message",
    "utc_millis",
]


def utc_millis(moment: datetime) -> datetime:
    """`moment` in UTC, truncated to milliseconds (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_timestamp(moment: datetime) -> str:
    """xsd:dateTime in UTC with milliseconds and 'Z' (ebMS 3.0 Core §5.2.2.1)."""
    m = utc_millis(moment)
    date = f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
    return f"{date}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}Z"


def _require(value: str, what: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"{what} must not be empty")


@dataclass(frozen=True, slots=True)
class PartyId:
    value: str
    type: str | None = None

    def __post_init__(self) -> None:
        _require(self.value, "PartyId")


@dataclass(frozen=True, slots=True)
class Party:
    """eb:From or eb:To: one or more PartyIds and the Role (§5.2.2.3–4)."""

    party_ids: tuple[PartyId, ...]
    role: str

    def __post_init__(self) -> None:
        if not self.party_ids:
            raise ValueError("a party needs at least one PartyId")
        _require(self.role, "Role")


@dataclass(frozen=True, slots=True)
class Service:
    value: str
    type: str | None = None

    def __post_init__(self) -> None:
        _require(self.value, "Service")


@dataclass(frozen=True, slots=True)
class AgreementRef:
    value: str
    type: str | None = None
    pmode: str | None = None

    def __post_init__(self) -> None:
        _require(self.value, "AgreementRef")


@dataclass(frozen=True, slots=True)
class Property:
    name: str
    value: str
    type: str | None = None

    def __post_init__(self) -> None:
        _require(self.name, "Property/@name")


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One payload reference (§5.2.2.13). `href` is `cid:...` for an attachment, None for the SOAP Body."""

    href: str | None
    part_properties: tuple[Property, ...] = ()

    def __post_init__(self) -> None:
        if self.href is not None:
            _require(self.href, "PartInfo/@href")

    def part_property(self, name: str) -> str | None:
        return next((p.value for p in self.part_properties if p.name == name), None)

    @property
    def content_id(self) -> str | None:
        """The Content-ID the href points at (no `cid:`, no brackets), None for a Body payload."""
        if self.href is None or not self.href.startswith("cid:"):
            return None
        return self.href[4:]

    @property
    def mime_type(self) -> str | None:
        return self.part_property("MimeType")

    @property
    def compression_type(self) -> str | None:
        return self.part_property("CompressionType")

    @property
    def compressed(self) -> bool:
        return self.compression_type == COMPRESSION_GZIP


@dataclass(frozen=True, slots=True)
class MessageInfo:
    message_id: str
    timestamp: datetime
    ref_to_message_id: str | None = None

    def __post_init__(self) -> None:
        _require(self.message_id, "MessageId")
        if "<" in self.message_id or ">" in self.message_id:
            raise ValueError("MessageId must not contain angle brackets")
        if self.timestamp.tzinfo is None:
            raise ValueError("Timestamp must be timezone-aware (UTC)")
        object.__setattr__(self, "timestamp", utc_millis(self.timestamp))


@dataclass(frozen=True, slots=True)
class CollaborationInfo:
    service: Service
    action: str
    conversation_id: str = "1"
    agreement_ref: AgreementRef | None = None

    def __post_init__(self) -> None:
        _require(self.action, "Action")
        _require(self.conversation_id, "ConversationId")


@dataclass(frozen=True, slots=True)
class UserMessage:
    message_info: MessageInfo
    from_party: Party
    to_party: Party
    collaboration_info: CollaborationInfo
    message_properties: tuple[Property, ...] = ()
    payload_info: tuple[PartInfo, ...] = ()
    mpc: str = DEFAULT_MPC

    def __post_init__(self) -> None:
        hrefs = [p.href for p in self.payload_info]
        if len(hrefs) != len(set(hrefs)):
            raise ValueError("two PartInfo elements refer to the same part")

    @property
    def message_id(self) -> str:
        return self.message_info.message_id


def is_test_message(user_message: UserMessage) -> bool:
    """True for the ebMS3 test service and action (§5.2.2.9): answered, never delivered."""
    info = user_message.collaboration_info
    return info.service.value == TEST_SERVICE and info.action == TEST_ACTION


@dataclass(frozen=True, slots=True)
class MessagePartReference:
    """One ebbp:MessagePartNRInformation: a ds:Reference's URI and digest."""

    uri: str
    digest_method: str
    digest_value: str

    def key(self) -> tuple[str, str, str]:
        return (self.uri, self.digest_method, self.digest_value)


@dataclass(frozen=True, slots=True)
class Receipt:
    """eb:Receipt; `references` is the NonRepudiationInformation (empty for a non-NRR receipt)."""

    references: tuple[MessagePartReference, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One eb:Error (§6.2). `code` is kept as received even when it is not in our table."""

    error: EbmsError
    detail: str = ""
    ref_to_message_id: str | None = None
    origin: str | None = None
    code: str = ""
    severity: Severity | None = None

    def __post_init__(self) -> None:
        if not self.code:
            object.__setattr__(self, "code", self.error.code)
        if self.severity is None:
            object.__setattr__(self, "severity", self.error.severity)

    @property
    def short_description(self) -> str:
        return self.error.short_description if self.error.code == self.code else self.code

    @property
    def category(self) -> str:
        return self.error.category


@dataclass(frozen=True, slots=True)
class SignalMessage:
    """eb:SignalMessage carrying either a Receipt or one or more Errors."""

    message_info: MessageInfo
    receipt: Receipt | None = None
    errors: tuple[ErrorDetail, ...] = ()

    def __post_init__(self) -> None:
        if (self.receipt is None) == (not self.errors):
            raise ValueError("a signal carries either a receipt or errors")

    @property
    def message_id(self) -> str:
        return self.message_info.message_id
