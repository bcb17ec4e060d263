"""The mapping profiles by document type and version: what the submission API and inbound delivery call.

    profile("ephyto").to_treaty(domestic)         # the current profile of a document type
    profile("eco", "aswnode-eformd-1")            # one version, e.g. the one a partner agreed to

Adding the official ASW e-Form D schema means adding one profile module and one line in
`_PROFILES`; the node does not change.
"""

from __future__ import annotations

from mappings.eco.profile import PROFILE as ECO_EFORMD_1
from mappings.ephyto.profile import PROFILE as EPHYTO_SPS_D17A
from mappings.profile import MappingProfile

__all__ = ["MappingProfile", "document_types", "profile", "versions"]

# document type → (version → profile); the first version listed is the default.
_PROFILES: dict[str, dict[str, MappingProfile]] = {
    "eco": {ECO_EFORMD_1.version: ECO_EFORMD_1},
    "ephyto": {EPHYTO_SPS_D17A.version: EPHYTO_SPS_D17A},
}


def document_types() -> tuple[str, ...]:
    """The domestic document types that have a profile."""
    return tuple(_PROFILES)


def versions(document_type: str) -> tuple[str, ...]:
    """The treaty-format versions of a document type, default first."""
    return tuple(_by_type(document_type))


def profile(document_type: str, version: str | None = None) -> MappingProfile:
    """The profile for `document_type` in `version` (default: the current one); KeyError names what exists."""
    by_version = _by_type(document_type)
    if version is None:
        return next(iter(by_version.values()))
    if version not in by_version:
        raise KeyError(f"no {document_type} profile version {version!r}; known: {', '.join(by_version)}")
    return by_version[version]


def _by_type(document_type: str) -> dict[str, MappingProfile]:
    if document_type not in _PROFILES:
        raise KeyError(
            f"no mapping profile for document type {document_type!r}; known: {', '.join(_PROFILES)}"
        )
    return _PROFILES[document_type]
