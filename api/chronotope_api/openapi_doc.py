"""The OpenAPI document's shared parts: the problem schema and the errors any operation can answer.

Routes document their own answers; this adds what the layers around them can
answer on every route — 413, 429 and 503 from the request guards, 401 and 403
where credentials are needed, 422 for invalid input, 500 for the unexpected —
each as ``application/problem+json`` with the RFC 9457 schema (FastAPI's own
422 schema describes a body this server never sends).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chronotope_api.problems import PROBLEM_JSON

__all__ = ["install"]

PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the problem type", "example": "about:blank"},
        "title": {"type": "string", "description": "the status in words", "example": "Bad Request"},
        "status": {"type": "integer", "description": "the HTTP status", "example": 400},
        "detail": {"type": "string", "description": "what went wrong, for a person",
                   "example": "bbox minLat 41.0 is above maxLat 40.0"},
        "instance": {"type": "string", "description": "the request path", "example": "/collections/ais/query"},
        "request_id": {"type": "string", "description": "the request's id (also the X-Request-ID header)",
                       "example": "5f0c2a9e1b7d4c3a"},
        "error": {"type": "string", "description": "the chronotope exception class behind the problem, when "
                                                   "there is one (the SDK raises the same)",
                  "example": "InvalidArgumentError"},
    },
}
_REF = {"$ref": "#/components/schemas/Problem"}
_EVERYWHERE = {
    "413": "the request body is larger than the server's max_body",
    "429": "too many requests: wait for Retry-After seconds (RateLimit-* headers tell the budget)",
    "500": "an internal error (never caused by input; the detail hides internals)",
    "503": "the response did not start within the request timeout",
}
_SECURED = {"401": "no, bad or expired credentials (a bearer token or an X-API-Key)",
            "403": "the credentials lack the role, on this collection, that the operation needs"}
_INVALID = "invalid parameters or body: the detail names each offending field"
_RATE_HEADERS = {name: {"description": text, "schema": {"type": "integer"}} for name, text in (
    ("Retry-After", "seconds to wait"), ("RateLimit-Limit", "requests allowed per window"),
    ("RateLimit-Remaining", "requests left in the window"), ("RateLimit-Reset", "seconds until the window resets"))}


def _problem(description: str) -> dict:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _REF}}}


def complete(schema: dict) -> dict:
    """Add the Problem schema and the shared error answers to every operation of ``schema``."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for code, resp in responses.items():  # the routes' own error answers: problem documents too
                if code[0] in "45" and "content" in resp:
                    media = dict(resp["content"].get(PROBLEM_JSON) or {})  # keep the route's examples
                    resp["content"] = {PROBLEM_JSON: {**media, "schema": _REF}}
            if op.get("parameters") or op.get("requestBody"):
                responses.setdefault("422", _problem(_INVALID))
                if "application/json" in responses["422"].get("content", {}):
                    responses["422"] = _problem(_INVALID)
            for code, text in _EVERYWHERE.items():
                responses.setdefault(code, _problem(text))
            responses["429"].setdefault("headers", _RATE_HEADERS)
            if op.get("security"):
                for code, text in _SECURED.items():
                    responses.setdefault(code, _problem(text))
    return schema


def install(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url``."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi
