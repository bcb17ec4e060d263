"""The node tests' harness (tests/integration/node/conftest.py: RealNode, Nodes, cli), loaded by path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["harness"]


def _load() -> Any:
    path = Path(__file__).resolve().parent.parent / "node" / "conftest.py"
    spec = importlib.util.spec_from_file_location("lifecycle_node_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load()
