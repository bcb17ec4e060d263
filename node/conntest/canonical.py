"""Canonical JSON: the exact bytes that plans and minutes are digested and signed over.

UTF-8, keys sorted, no insignificant whitespace, no NaN/Infinity; the same
document always gives the same bytes, whoever serialises it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(document: Any) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
