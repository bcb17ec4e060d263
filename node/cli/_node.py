"""The node directory a command works on: opened, a bad DIR as one operator line, closed after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.cli import OperatorError
from node.config import ConfigError

__all__ = ["opened_node"]


@contextmanager
def opened_node(directory: Path) -> Iterator[Any]:
    """The opened node (database, blobs) of DIR; closed when the block ends."""
    from node.nodedir import open_node

    try:
        node = open_node(directory)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None
    try:
        yield node
    finally:
        node.close()
