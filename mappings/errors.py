"""The errors of the mappings: a field error for the ministry, a mapping error for everything else."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DomesticInvalid", "FieldError", "MappingError"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem in a domestic document: where (RFC 6901 JSON pointer), what (code), and a sentence."""

    pointer: str
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.pointer and not self.pointer.startswith("/"):
            raise ValueError(f"a JSON pointer starts with '/' or is empty, not {self.pointer!r}")
        if not self.code:
            raise ValueError("a field error needs a code")

    def as_json(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": self.code, "message": self.message}


class MappingError(Exception):
    """A document cannot be mapped: hostile or malformed XML, wrong root, schema failure, invalid input.

    `code` is a stable short name (e.g. `xml-dtd-forbidden`, `wrong-root`, `schema-invalid`).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DomesticInvalid(MappingError):
    """A domestic document failed validation; `errors` holds every field error at once."""

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__(
            "domestic-invalid", f"{len(errors)} field error(s), first at {errors[0].pointer or '/'}"
        )
        self.errors = errors
