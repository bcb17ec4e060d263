"""Every namespace URI the mappings use, in one place."""

from __future__ import annotations

__all__ = [
    "ANSWER",
    "EFORMD_1",
    "PREFIXES",
    "QDT",
    "RAM",
    "RSM_SPS_CERTIFICATE",
    "UDT",
]

# UN/CEFACT D17A, as used by the IPPC ePhyto Hub (capital "S" in QDT's "Standard" is real).
RSM_SPS_CERTIFICATE = "urn:un:unece:uncefact:data:standard:SPSCertificate:17"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:21"
QDT = "urn:un:unece:uncefact:data:Standard:QualifiedDataType:21"

# The project's own interim formats (not the ASW or IPPC schemas).
EFORMD_1 = "urn:aswnode:eformd:1"
ANSWER = "urn:aswnode:answer:1"

PREFIXES: dict[str, str] = {
    "rsm": RSM_SPS_CERTIFICATE,
    "ram": RAM,
    "udt": UDT,
    "fd": EFORMD_1,
    "ans": ANSWER,
}
