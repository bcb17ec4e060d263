"""Domestic catalogue documents ⇄ treaty formats (ATIGA e-Form D, IPPC ePhyto): pure functions and data.

Entry points: `mappings.registry.profile(document_type, version)` for mapping and validation,
`mappings.answers` for business answers, `mappings.tables.render` for the published tables.
"""

__all__: list[str] = []
