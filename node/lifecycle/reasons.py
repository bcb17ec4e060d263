"""Why a connection is suspended (Art. 12) or terminated (Art. 13): the operator's choices."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SuspensionCause", "TerminationReason"]


class SuspensionCause(StrEnum):
    MAINTENANCE = "maintenance"  # all users, notice ≥ 7 working days ahead
    FORCE_MAJEURE = "force_majeure"  # immediate, notified at once
    VIOLATION = "violation"  # one user, notice within 1 day naming the violation and restore steps
    UNSAFE = "unsafe"  # one user, connection found unsafe; as violation


class TerminationReason(StrEnum):
    """seed 000 Art. 13."""

    PURPOSE_INVALID = "purpose_invalid"  # the purpose of the connection is no longer valid
    CANNOT_RESTORE = "cannot_restore"  # the connection cannot be restored
    AUTHORITY_ORDER = "authority_order"  # order of a competent authority
    NO_LONGER_NEEDED = "no_longer_needed"  # the user no longer needs it / the agreement expired
