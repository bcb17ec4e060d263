"""The ministry API's error answers: an HTTP status and one entry per bad field, each with a JSON pointer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ApiError", "FieldError", "escape_pointer", "pointer", "query_pointer"]


def escape_pointer(token: str | int) -> str:
    """One RFC 6901 reference token: `~` becomes `~0`, `/` becomes `~1`."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """An RFC 6901 JSON pointer from its tokens; no tokens is the whole document ("")."""
    return "".join("/" + escape_pointer(t) for t in tokens)


def query_pointer(name: str) -> str:
    """Where a problem with query parameter `name` is: `?name` (the API's documented form)."""
    return "?" + name


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem: where it is, a stable code, a message.

    `pointer` is an RFC 6901 JSON pointer into the request body ("" is the request as a whole),
    or `?name` for the query parameter `name`; None only for a problem that is not the request's."""

    code: str
    message: str
    pointer: str | None = None

    def __post_init__(self) -> None:
        if not self.code or not self.message:
            raise ValueError("a field error needs a code and a message")
        if self.pointer and not self.pointer.startswith(("/", "?")):
            raise ValueError(f"not a JSON pointer: {self.pointer!r}")

    def as_json(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.pointer is not None:
            out = {"pointer": self.pointer, **out}
        return out


class ApiError(Exception):
    """An answer a ministry can act on: 4xx with `{"errors": [...]}`; never a traceback."""

    def __init__(self, status: int, errors: Iterable[FieldError], headers: dict[str, str] | None = None):
        self.status = status
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        if not self.errors:
            raise ValueError("an API error names at least one problem")
        super().__init__(f"{status}: " + "; ".join(e.message for e in self.errors))

    @classmethod
    def single(cls, status: int, code: str, message: str, pointer: str | None = None) -> ApiError:
        return cls(status, (FieldError(code, message, pointer),))

    def as_json(self) -> dict[str, list[dict[str, str]]]:
        return {"errors": [e.as_json() for e in self.errors]}
