"""Real nodes for the procedure tests, from the node tests' harness (aswnode init/serve on loopback)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HARNESS = Path(__file__).resolve().parent.parent / "node" / "conftest.py"


def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("lifecycle_node_harness", _HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _harness()
__all__ = ["harness"]


@pytest.fixture
def real_nodes(tmp_path: Path) -> Iterator[Any]:
    made = harness.Nodes(tmp_path)
    try:
        yield made
    finally:
        made.close()
