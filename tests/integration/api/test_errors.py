"""node.api.errors: RFC 6901 pointers (escaped tokens) and the `{"errors": [...]}` answer."""

from __future__ import annotations

import pytest

from node.api.errors import ApiError, FieldError, pointer


def test_pointers_escape_tilde_and_slash_as_rfc_6901_says() -> None:
    assert pointer() == ""
    assert pointer("payload", "items", 0, "hs_code") == "/payload/items/0/hs_code"
    assert pointer("a/b", "m~n") == "/a~1b/m~0n"


def test_an_error_answer_lists_every_problem_with_its_pointer() -> None:
    error = ApiError(422, (FieldError("required", "name is required", "/payload/name"), FieldError("x", "y")))
    assert error.as_json() == {
        "errors": [
            {"pointer": "/payload/name", "code": "required", "message": "name is required"},
            {"code": "x", "message": "y"},
        ]
    }
    with pytest.raises(ValueError):
        ApiError(422, ())
    with pytest.raises(ValueError):
        FieldError("code", "message", "payload/name")
