"""GET /api/v1/openapi.json: public, a valid OpenAPI 3.1 document that names every route the API serves."""

from __future__ import annotations

import pytest_twisted
from openapi_spec_validator import validate

import node.api
from node.api.openapi import document


@pytest_twisted.ensureDeferred
async def test_the_openapi_document_is_served_without_credentials_and_is_valid(api_node):
    r = await api_node.call("GET", "/api/v1/openapi.json", ministry=None)
    assert r.code == 200 and r.header("content-type") == "application/json"
    spec = r.json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_route_of_the_api_is_in_the_document(api_node) -> None:
    paths = document()["paths"]
    resource = node.api.api_resource(api_node.ctx)
    for route in resource._routes:
        path = "/api/v1/" + route.pattern
        assert path in paths, path
        assert route.method.lower() in paths[path], (route.method, path)


def test_the_domestic_schemas_are_part_of_the_document() -> None:
    schemas = document()["components"]["schemas"]
    assert "certificate_number" in schemas["EphytoDocument"]["properties"]
    assert "exporter" in schemas["EcoDocument"]["properties"]
    refs = str(schemas)
    assert "#/$defs/" not in refs  # every reference resolves inside the OpenAPI document
