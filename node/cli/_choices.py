"""Option choices read from modules too heavy to import for every `aswnode` command."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click

__all__ = ["LazyChoice"]


class LazyChoice(click.Choice[str]):
    """A `click.Choice` whose values come from `load()`, called the first time they are read.

    Click reads them only to show a command's help, to check a value or to complete one,
    so `aswnode --help` and the other commands never import where they live.
    """

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._loaded: tuple[str, ...] | None = None
        super().__init__((), case_sensitive)

    @property
    def choices(self) -> tuple[str, ...]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, _placeholder: tuple[str, ...]) -> None:
        """`click.Choice.__init__` stores the empty placeholder here: the loaded values stand instead."""
