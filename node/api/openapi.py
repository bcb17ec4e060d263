"""The ministry API's OpenAPI 3.1 document, built from the same constants the handlers use."""

from __future__ import annotations

from typing import Any

from node.api.inbox_routes import INBOX_STATES
from node.api.signature import SIGNATURE_HEADER
from node.api.submission_routes import STATUSES
from node.delivery import ANSWER_EVENT, DOCUMENT_EVENT
from node.submissions import ANSWER_STATUS_OF, DOCUMENT_COLLABORATIONS, DOCUMENT_TYPES

__all__ = ["document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Errors"), description)


_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
}
_STAMP = {"type": ["string", "null"], "format": "date-time"}


def _hoisted(value: Any, prefix: str) -> Any:
    """`value` with its `#/$defs/X` references pointing at `#/components/schemas/<prefix>X`."""
    if isinstance(value, dict):
        out = {k: _hoisted(v, prefix) for k, v in value.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = f"#/components/schemas/{prefix}{ref[len('#/$defs/') :]}"
        return out
    if isinstance(value, list):
        return [_hoisted(v, prefix) for v in value]
    return value


def _domestic_schemas(document_type: str, name: str) -> dict[str, Any]:
    """The mappings' domestic JSON Schema as `name`, its `$defs` beside it as `<name>_<def>`."""
    try:
        from mappings.domestic import load_schema

        schema = dict(load_schema(document_type))
    except (ImportError, OSError, ValueError, KeyError):
        return {name: {"type": "object", "description": f"the domestic {document_type} catalogue document"}}
    prefix = f"{name}_"
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    out = {name: _hoisted(schema, prefix)}
    out.update({prefix + key: _hoisted(value, prefix) for key, value in defs.items()})
    return out


def _schemas() -> dict[str, Any]:
    message = {
        "type": ["object", "null"],
        "properties": {
            "message_id": {"type": "string"},
            "state": {"type": "string"},
            "attempts": {"type": "integer"},
            "receipt_status": {"type": ["string", "null"]},
            "last_error": {"type": ["string", "null"]},
            "sent_at": _STAMP,
            "delivered_at": _STAMP,
        },
    }
    event = {
        "type": "object",
        "required": ["at", "status"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "status": {"type": "string"},
            "detail": {"type": ["string", "null"]},
            "message_id": {"type": "string"},
        },
    }
    inbox_summary = {
        "type": "object",
        "required": ["id", "state", "message_id", "partner", "service", "action", "received_at"],
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": [s for s in INBOX_STATES if s not in ("open", "all")]},
            "attempts": {"type": "integer"},
            "document_type": {"type": ["string", "null"]},
            "message_id": {"type": "string"},
            "partner": {"type": "string"},
            "service": {"type": "string"},
            "action": {"type": "string"},
            "conversation_id": {"type": ["string", "null"]},
            "ref_to_message_id": {"type": ["string", "null"]},
            "received_at": {"type": "string", "format": "date-time"},
            "acked_at": _STAMP,
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["pointer", "code", "message"],
            "properties": {
                "pointer": {
                    "type": "string",
                    "description": (
                        "where the problem is: an RFC 6901 JSON pointer into the request body "
                        '("" is the request as a whole: body, headers, path), or "?name" for the query '
                        "parameter name"
                    ),
                },
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
        },
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "minItems": 1, "items": _ref("Error")}},
        },
        **_domestic_schemas("eco", "EcoDocument"),
        **_domestic_schemas("ephyto", "EphytoDocument"),
        "SubmissionRequest": {
            "type": "object",
            "required": ["document_type", "partner", "payload"],
            "additionalProperties": False,
            "properties": {
                "document_type": {"type": "string", "enum": list(DOCUMENT_TYPES)},
                "partner": {"type": "string", "description": "the destination partner's id (partners.yaml)"},
                "payload": {
                    "description": "the domestic document (eco, ephyto), a business answer, or base64 (raw)",
                    "anyOf": [
                        _ref("EcoDocument"),
                        _ref("EphytoDocument"),
                        _ref("BusinessAnswer"),
                        {"type": "string", "contentEncoding": "base64"},
                    ],
                },
                "mime_type": {"type": "string", "description": "raw only: the payload's MIME type"},
                "service": {"type": "string", "description": "ebMS Service; defaults to the mapping's"},
                "action": {"type": "string", "description": "ebMS Action; defaults to the mapping's"},
            },
        },
        "BusinessAnswer": {
            "description": "the importing side's decision on a certificate (seed 001 Art. 21)",
            "type": "object",
            "additionalProperties": False,
            "required": [
                "document_type",
                "certificate_reference",
                "status",
                "issued_at",
                "authority",
                "country",
            ],
            "properties": {
                "document_type": {"type": "string", "enum": sorted(DOCUMENT_COLLABORATIONS)},
                "certificate_reference": {"type": "string"},
                "status": {"type": "string", "enum": sorted(ANSWER_STATUS_OF)},
                "issued_at": {"type": "string", "format": "date-time"},
                "authority": {"type": "string"},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "reasons": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "text"],
                        "properties": {
                            "code": {"type": "string"},
                            "text": {"type": "string"},
                            "field": {"type": ["string", "null"]},
                        },
                    },
                },
                "result": {"type": ["string", "null"]},
                "ref_to_message_id": {
                    "type": ["string", "null"],
                    "description": (
                        "the certificate's AS4 message; required when a ministry submits an answer: "
                        "a message that partner sent and the node routed to this ministry"
                    ),
                },
            },
        },
        "SubmissionAccepted": {
            "type": "object",
            "required": ["id", "message_id", "state"],
            "properties": {
                "id": {"type": "string"},
                "message_id": {"type": "string"},
                "state": {"type": "string"},
            },
        },
        "Submission": {
            "type": "object",
            "required": ["id", "document_type", "partner", "status", "history"],
            "properties": {
                "id": {"type": "string"},
                "sequence": {"type": ["integer", "null"]},
                "document_type": {"type": "string"},
                "partner": {"type": "string"},
                "status": {"type": "string", "enum": [*STATUSES, "submitted"]},
                "answer": {"oneOf": [_ref("HistoryEvent"), {"type": "null"}]},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "message": message,
                "history": {"type": "array", "items": _ref("HistoryEvent")},
            },
        },
        "SubmissionPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Submission")},
                "next_before": {"type": ["integer", "null"]},
            },
        },
        "HistoryEvent": event,
        "InboxSummary": inbox_summary,
        "InboxPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("InboxSummary")},
                "next_after": {"type": ["string", "null"]},
            },
        },
        "InboxItem": {
            "allOf": [
                _ref("InboxSummary"),
                {
                    "type": "object",
                    "properties": {
                        "document": {"type": ["object", "null"], "description": "mapped to domestic JSON"},
                        "mapping_error": {"type": "string"},
                        "payloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "href": {"type": "string", "description": "where to download the bytes"},
                                    "content_id": {"type": ["string", "null"]},
                                    "mime_type": {"type": "string"},
                                    "size": {"type": "integer"},
                                    "sha256": {"type": "string"},
                                    "data_base64": {
                                        "type": "string",
                                        "contentEncoding": "base64",
                                        "description": "inline up to 16 MiB; larger payloads: href only",
                                    },
                                },
                            },
                        },
                    },
                },
            ]
        },
        "DocumentReceived": {
            "allOf": [
                {
                    "type": "object",
                    "properties": {"event": {"enum": [DOCUMENT_EVENT, ANSWER_EVENT]}},
                    "description": f"{ANSWER_EVENT}: the partner's business answer (document_type answer)",
                },
                _ref("InboxItem"),
            ]
        },
    }


def document(server_url: str = "/") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    unauthorised = _error("no valid API token or client certificate")
    not_found = _error("no such resource for this ministry (another ministry's ids are not found either)")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "aswnode ministry API",
            "version": "1.0.0",
            "description": (
                "Submit outbound e-C/O and ePhyto certificates as domestic catalogue data, follow their "
                "status and the importing side's answer, and receive inbound documents by signed webhook "
                'or by pull. Every 4xx answer is `{"errors": [...]}` with an RFC 6901 pointer per field.'
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerToken": []}, {"clientCertificate": []}],
        "paths": {
            "/api/v1/submissions": {
                "post": {
                    "operationId": "submitDocument",
                    "summary": "Submit a document for a partner",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "a retry with the same key and body gets the first answer",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("SubmissionRequest")}},
                    },
                    "responses": {
                        "202": _json(_ref("SubmissionAccepted"), "accepted and queued for sending"),
                        "400": _error("the body is not JSON"),
                        "401": unauthorised,
                        "409": _error(
                            "the partner may not exchange now (lifecycle: not active, suspended ...)"
                        ),
                        "413": _error("the body is too large"),
                        "422": _error("invalid fields, each with its pointer; nothing was stored"),
                    },
                },
                "get": {
                    "operationId": "listSubmissions",
                    "summary": "This ministry's submissions, newest first",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": list(STATUSES)},
                        },
                        {"name": "partner", "in": "query", "schema": {"type": "string"}},
                        _LIMIT,
                        {"name": "before", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": _json(_ref("SubmissionPage"), "a page of submissions"),
                        "400": _error("a bad query parameter"),
                        "401": unauthorised,
                    },
                },
            },
            "/api/v1/submissions/raw": {
                "post": {
                    "operationId": "submitRawPayload",
                    "summary": "Submit raw bytes of any size as the body (streamed, not base64)",
                    "parameters": [
                        {"name": "partner", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "service", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "action", "in": "query", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "schema": {"type": "string", "maxLength": 255},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "description": "the payload; its Content-Type is the payload's MIME type",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "responses": {
                        "202": _json(_ref("SubmissionAccepted"), "accepted and queued for sending"),
                        "400": _error("a query parameter or the Content-Type is missing"),
                        "401": unauthorised,
                        "403": _error("this ministry may not submit raw payloads"),
                        "409": _error("the partner may not exchange now"),
                        "413": _error("the body is larger than the node accepts"),
                        "422": _error("refused; nothing was stored"),
                    },
                }
            },
            "/api/v1/submissions/{id}": {
                "get": {
                    "operationId": "getSubmission",
                    "summary": "A submission's status, history and business answer",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _json(_ref("Submission"), "the submission"),
                        "401": unauthorised,
                        "404": not_found,
                    },
                }
            },
            "/api/v1/inbox": {
                "get": {
                    "operationId": "listInbox",
                    "summary": "Inbound documents routed to this ministry, oldest first",
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"type": "string", "enum": list(INBOX_STATES), "default": "open"},
                        },
                        _LIMIT,
                        {"name": "after", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": _json(_ref("InboxPage"), "a page of inbox items"),
                        "400": _error("a bad query parameter"),
                        "401": unauthorised,
                    },
                }
            },
            "/api/v1/inbox/{id}": {
                "get": {
                    "operationId": "getInboxItem",
                    "summary": "One inbound document, mapped to domestic JSON",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _json(_ref("InboxItem"), "the document"),
                        "401": unauthorised,
                        "404": not_found,
                    },
                }
            },
            "/api/v1/inbox/{id}/ack": {
                "post": {
                    "operationId": "ackInboxItem",
                    "summary": "Acknowledge an inbound document (stops webhook retries)",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _json(_ref("InboxSummary"), "acknowledged (again: the same answer)"),
                        "401": unauthorised,
                        "404": not_found,
                    },
                }
            },
            "/api/v1/inbox/{id}/payloads/{n}": {
                "get": {
                    "operationId": "getInboxPayload",
                    "summary": "One payload's bytes, streamed (for payloads too large to inline)",
                    "parameters": [
                        _ID_PARAM,
                        {
                            "name": "n",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the payload as received, with its MIME type",
                            "headers": {
                                "Digest": {"schema": {"type": "string"}, "description": "sha-256=<base64>"}
                            },
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        "401": unauthorised,
                        "404": not_found,
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
                }
            },
        },
        "webhooks": {
            "documentReceived": {
                "post": {
                    "summary": "An inbound document for this ministry, retried with backoff until a 2xx",
                    "parameters": [
                        {
                            "name": SIGNATURE_HEADER,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": (
                                "`t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the ministry's webhook secret "
                                "over `<t>.<raw body>`; refuse stale timestamps"
                            ),
                        },
                        {
                            "name": "X-ASW-Delivery",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {"content": {"application/json": {"schema": _ref("DocumentReceived")}}},
                    "responses": {"2XX": {"description": "acknowledged: not delivered again"}},
                }
            }
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the ministry's API token",
                },
                "clientCertificate": {"type": "mutualTLS", "description": "a registered client certificate"},
            },
        },
    }
