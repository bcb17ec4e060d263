"""Every ebMS3 and AS4 error in one table, and the one exception that carries it.

Codes, short names, severities and categories are those of OASIS ebMS 3.0 Core
§6.7.1–6.7.3 and the AS4 profile §3.5 (EBMS:0301–0303).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

__all__ = ["EbmsError", "EbmsException", "Severity"]


class Severity(StrEnum):
    FAILURE = "failure"
    WARNING = "warning"


class EbmsError(Enum):
    """(code, short description, severity, category)."""

    # ebMS 3.0 Core §6.7.1 — ebMS processing errors
    VALUE_NOT_RECOGNIZED = ("EBMS:0001", "ValueNotRecognized", Severity.FAILURE, "Content")
    FEATURE_NOT_SUPPORTED_WARNING = ("EBMS:0002", "FeatureNotSupported", Severity.WARNING, "Content")
    VALUE_INCONSISTENT = ("EBMS:0003", "ValueInconsistent", Severity.FAILURE, "Content")
    OTHER = ("EBMS:0004", "Other", Severity.FAILURE, "Content")
    CONNECTION_FAILURE = ("EBMS:0005", "ConnectionFailure", Severity.FAILURE, "Communication")
    EMPTY_MPC = ("EBMS:0006", "EmptyMessagePartitionChannel", Severity.WARNING, "Communication")
    MIME_INCONSISTENCY = ("EBMS:0007", "MimeInconsistency", Severity.FAILURE, "Unpackaging")
    FEATURE_NOT_SUPPORTED = ("EBMS:0008", "FeatureNotSupported", Severity.FAILURE, "Unpackaging")
    INVALID_HEADER = ("EBMS:0009", "InvalidHeader", Severity.FAILURE, "Unpackaging")
    PROCESSING_MODE_MISMATCH = ("EBMS:0010", "ProcessingModeMismatch", Severity.FAILURE, "Processing")
    EXTERNAL_PAYLOAD_ERROR = ("EBMS:0011", "ExternalPayloadError", Severity.FAILURE, "Content")
    # §6.7.2 — security processing errors
    FAILED_AUTHENTICATION = ("EBMS:0101", "FailedAuthentication", Severity.FAILURE, "Processing")
    FAILED_DECRYPTION = ("EBMS:0102", "FailedDecryption", Severity.FAILURE, "Processing")
    POLICY_NONCOMPLIANCE = ("EBMS:0103", "PolicyNoncompliance", Severity.FAILURE, "Processing")
    # §6.7.3 — reliable messaging errors
    DYSFUNCTIONAL_RELIABILITY = ("EBMS:0201", "DysfunctionalReliability", Severity.FAILURE, "Processing")
    DELIVERY_FAILURE = ("EBMS:0202", "DeliveryFailure", Severity.FAILURE, "Communication")
    # AS4 profile §3.5 — reception awareness and compression
    MISSING_RECEIPT = ("EBMS:0301", "MissingReceipt", Severity.FAILURE, "Communication")
    INVALID_RECEIPT = ("EBMS:0302", "InvalidReceipt", Severity.FAILURE, "Communication")
    DECOMPRESSION_FAILURE = ("EBMS:0303", "DecompressionFailure", Severity.FAILURE, "Communication")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def short_description(self) -> str:
        return self.value[1]

    @property
    def severity(self) -> Severity:
        return self.value[2]

    @property
    def category(self) -> str:
        return self.value[3]

    @classmethod
    def by_code(cls, code: str) -> EbmsError | None:
        return next((e for e in cls if e.code == code), None)


@dataclass(frozen=True, slots=True)
class _Carried:
    error: EbmsError
    detail: str
    ref_to_message_id: str | None


class EbmsException(Exception):
    """A rejection that a foreign gateway must see as this ebMS error.

    `detail` goes on the wire as eb:ErrorDetail: it must name what was wrong
    without leaking secrets or internal paths.
    """

    def __init__(self, error: EbmsError, detail: str, *, ref_to_message_id: str | None = None) -> None:
        super().__init__(f"{error.code} {error.short_description}: {detail}")
        self._carried = _Carried(error, detail, ref_to_message_id)

    @property
    def error(self) -> EbmsError:
        return self._carried.error

    @property
    def detail(self) -> str:
        return self._carried.detail

    @property
    def ref_to_message_id(self) -> str | None:
        return self._carried.ref_to_message_id

    def with_ref(self, ref_to_message_id: str | None) -> EbmsException:
        """The same error, now knowing which message it refers to."""
        if self.ref_to_message_id or not ref_to_message_id:
            return self
        return EbmsException(self.error, self.detail, ref_to_message_id=ref_to_message_id)
