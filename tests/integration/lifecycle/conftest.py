"""Real nodes for the procedure tests: `aswnode init`/`serve` on loopback (the node tests' harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_harness import harness


@pytest.fixture
def real_nodes(tmp_path: Path) -> Iterator[Any]:
    made = harness.Nodes(tmp_path)
    try:
        yield made
    finally:
        made.close()
