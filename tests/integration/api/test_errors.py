"""node.api.errors: RFC 6901 pointers (escaped tokens) and the `{"errors": [...]}` answer."""

from __future__ import annotations

import pytest
import pytest_twisted

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


def test_a_query_parameter_problem_points_at_the_parameter() -> None:
    assert FieldError("bad_parameter", "m", "?status").as_json()["pointer"] == "?status"
    with pytest.raises(ValueError):
        FieldError("code", "message", "status")


@pytest_twisted.ensureDeferred
async def test_a_deeply_nested_body_is_400_malformed_json_pointing_at_the_whole_body(api_node):
    r = await api_node.call("POST", "/api/v1/submissions", ministry="mard", raw=b"[" * 100_000)
    assert r.code == 400, r.body
    assert r.json() == {
        "errors": [{"pointer": "", "code": "malformed_json", "message": "the body is nested too deeply"}]
    }


@pytest_twisted.ensureDeferred
async def test_every_4xx_of_the_api_carries_a_pointer(api_node):
    calls = [
        (("GET", "/api/v1/submissions?status=nope"), 400, ["?status"]),
        (("GET", "/api/v1/submissions?limit=x"), 400, ["?limit"]),
        (("GET", "/api/v1/submissions?limit=0"), 400, ["?limit"]),
        (("GET", "/api/v1/submissions?before=x"), 400, ["?before"]),
        (("GET", "/api/v1/inbox?state=nope"), 400, ["?state"]),
        (("GET", "/api/v1/inbox?after=x"), 400, ["?after"]),
        (("POST", "/api/v1/submissions/raw?partner=th"), 400, ["?service", "?action"]),
        (("GET", "/api/v1/submissions/nosuch"), 404, [""]),
        (("GET", "/api/v1/inbox/12345"), 404, [""]),
        (("GET", "/api/v1/nothing-here"), 404, [""]),
        (("DELETE", "/api/v1/submissions"), 405, [""]),
    ]
    for (method, path), status, pointers in calls:
        r = await api_node.call(method, path, ministry="moit", raw=b"x" if method == "POST" else None)
        assert r.code == status, (path, r.body)
        assert [e["pointer"] for e in r.json()["errors"]] == pointers, (path, r.body)
    r = await api_node.call("GET", "/api/v1/submissions", ministry=None)
    assert r.code == 401 and [e["pointer"] for e in r.json()["errors"]] == [""]
    r = await api_node.call(
        "POST", "/api/v1/submissions/raw?partner=th&service=s&action=a", ministry="mard", raw=b"x"
    )
    assert r.code == 403 and [e["pointer"] for e in r.json()["errors"]] == [""]
