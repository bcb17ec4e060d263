"""Sample domestic certificates (one valid e-C/O, one valid ePhyto) for connection tests and demos."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["domestic_sample"]


def domestic_sample(document_type: str) -> dict[str, Any]:
    """A fresh copy of the valid sample certificate of `document_type` (`eco` or `ephyto`)."""
    if document_type not in ("eco", "ephyto"):
        raise KeyError(f"no sample for document type {document_type!r}; known: eco, ephyto")
    text = resources.files(f"mappings.{document_type}").joinpath("sample.json").read_text("utf-8")
    return json.loads(text)
