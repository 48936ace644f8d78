"""Bulk ingest: ``POST /collections/{collectionId}/samples`` in JSON, NDJSON, CSV, Arrow IPC or the binary batch.

The body is parsed into columns (:mod:`chronotope_api.bodies`), the rows are
checked against the writer's grant, and ``Collection.append`` stores them:
all of them or, if any value is wrong, none. With an ``Idempotency-Key``
header the store records the key in the same log record as the rows
(``Collection.append_once``), so a retried request — even after a crash
between the write and the answer — is stored once and answered as the first.
See docs/api-ingest.md.
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chronotope.batch import DEFAULT_MAX_BYTES
from chronotope.errors import InvalidArgumentError
from chronotope.ingest import normalise_batch
from chronotope.store import IDEMPOTENCY_KEYS
from chronotope_api import bodies, problems
from chronotope_api.deps import Access, require
from chronotope_api.problems import Problem

__all__ = ["router", "REPLAYED"]

router = APIRouter(tags=["Ingest"])

#: The response header that marks the repeated answer to a retried request.
REPLAYED = "Idempotent-Replayed"
_KEY_CHARS = r"[!#-~]{1,255}"  # visible ASCII but the double quote
_KEY = re.compile(rf'({_KEY_CHARS})|"({_KEY_CHARS})"')  # bare, or quoted as a structured-field string

_RECORDS = [{"object_id": 367000150, "t": "2020-12-01T04:49:45Z", "x": -74.0123, "y": 40.6512, "sog": 11.2},
            {"object_id": 367000150, "t": "2020-12-01T04:50:05.5+00:00", "x": -74.0131, "y": 40.6520, "sog": 11.0}]
_COLUMNS = {"object_id": [367000150, 367000150], "t": [1606798185000000000, 1606798205500000000],
            "x": [-74.0123, -74.0131], "y": [40.6512, 40.6520], "sog": [11.2, 11.0]}
_SAMPLE = {"type": "object", "required": ["object_id", "t", "x", "y"], "additionalProperties": {"type": "number"},
           "properties": {
               "object_id": {"oneOf": [{"type": "integer"}, {"type": "string", "minLength": 1}],
                             "description": "the moving feature's id, as the collection keeps ids"},
               "t": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
                     "description": "RFC 3339 (Z or an offset, up to nanoseconds) or integer epoch nanoseconds"},
               "x": {"type": "number", "description": "longitude (or x in the collection's CRS)"},
               "y": {"type": "number", "description": "latitude (or y in the collection's CRS)"},
               "z": {"type": "number", "description": "height, for collections with z"}}}
_COLUMNAR = {"type": "object", "required": ["object_id", "t", "x", "y"],
             "additionalProperties": {"type": "array", "items": {"type": ["number", "null"]}},
             "properties": {name: {"type": "array", "items": schema}
                            for name, schema in _SAMPLE["properties"].items()}}
_BINARY = {"type": "string", "format": "binary"}
_BODY = {"required": True, "description": "samples: object_id, t, x, y, [z] and the collection's numeric properties",
         "content": {
             bodies.JSON: {"schema": {"oneOf": [{"type": "array", "items": _SAMPLE}, _COLUMNAR]},
                           "examples": {"records": {"summary": "an array of sample records", "value": _RECORDS},
                                        "columns": {"summary": "the same as columns", "value": _COLUMNS}}},
             bodies.NDJSON: {"schema": {"type": "string"},
                             "example": "\n".join(json.dumps(r) for r in _RECORDS) + "\n"},
             bodies.CSV: {"schema": {"type": "string"},
                          "example": "object_id,t,x,y,sog\n367000150,2020-12-01T04:49:45Z,-74.0123,40.6512,11.2\n"
                                     "367000150,1606798205500000000,-74.0131,40.6520,11.0\n"},
             bodies.ARROW: {"schema": _BINARY},
             bodies.BATCH: {"schema": _BINARY}}}
_ERRORS = {
    400: "the body cannot be read as its Content-Type (malformed JSON, CSV, Arrow or batch), or the "
         "Idempotency-Key is not 1 to 255 visible ASCII characters",
    401: "no credentials, or bad ones",
    403: "the credentials lack the writer role on this collection, or a row lies outside the grant's region or "
         "time window (nothing is stored)",
    404: "no such collection",
    413: "the body (or the binary batch decoded) is larger than the server accepts",
    415: "the Content-Type is none of the five formats",
    422: "a value is wrong (the detail names the column and the row), a column is missing or unknown, or the "
         "Idempotency-Key was used for other rows; nothing is stored",
}
_RESPONSES = {
    200: {"description": f"stored; a repeated answer to a retried request carries `{REPLAYED}: true`",
          "content": {"application/json": {"schema": {
              "type": "object", "required": ["appended"],
              "properties": {"appended": {"type": "integer", "minimum": 0,
                                          "description": "rows appended (by the first request with the key)"}}},
              "example": {"appended": 2}}},
          "headers": {REPLAYED: {"description": "true when this answers a retry of a request already stored",
                                 "schema": {"type": "string", "enum": ["true"]}}}},
    **{code: {"description": text, "content": {problems.PROBLEM_JSON: {
        "schema": {"type": "object", "required": ["type", "title", "status", "detail", "instance"]},
        "example": problems.problem_body(code, text, "/collections/ais/samples")}}}
       for code, text in _ERRORS.items()},
}


def _idempotency_key(header: str | None) -> str | None:
    if header is None:
        return None
    found = _KEY.fullmatch(header)
    if not found:
        raise Problem(400, "Idempotency-Key must be 1 to 255 visible ASCII characters but \" (a UUID, say), "
                           "optionally in double quotes")
    return found.group(1) or found.group(2)


def _ingest(access: Access, body: bytes, content_type: str | None, key: str | None) -> tuple[int, bool]:
    """Parse, check the grant, append: (rows, replayed). Runs in a worker thread."""
    coll = access.db.collection(access.collection)
    try:
        cols = bodies.parse_body(body, content_type, schema=coll.schema, string_ids=coll.id_kind == "str",
                                 max_bytes=DEFAULT_MAX_BYTES)
        if not cols:
            return 0, False
        core = [cols.pop(name) for name in bodies.REQUIRED]
        z = cols.pop("z", None)
        if access.scope.limited:  # values first (422 names the bad row), then the grant (403)
            _, checked = normalise_batch(*core, z, cols, schema=coll.schema, has_z=coll.has_z,
                                         geographic=coll.crs == "EPSG:4326")
            access.scope.check_write(checked["t"], checked["x"], checked["y"])
        if key is None:
            return coll.append(*core, z, **cols), False
        return tuple(coll.append_once(key, *core, z, **cols))
    except InvalidArgumentError as exc:  # a wrong value, or IdempotencyConflictError: the key named other rows
        raise Problem(422, str(exc)) from None


@router.post(
    "/collections/{collectionId}/samples", summary="Append samples in bulk (JSON, NDJSON, CSV, Arrow, binary batch)",
    responses=_RESPONSES, openapi_extra={"requestBody": _BODY}, response_class=JSONResponse,
    description="Appends rows `object_id, t, x, y, [z]` and the collection's numeric properties, all or none: "
                "a wrong value (the detail names the column and the row), a row outside the writer's grant or "
                "an unknown column stores nothing. The body's `Content-Type` says its format: `application/json` "
                "(an array of records, or an object of columns), `application/x-ndjson` (one record per line), "
                "`text/csv` (a header row), `application/vnd.apache.arrow.stream` (Arrow IPC stream) or "
                "`application/vnd.chronotope.batch` (the package's compressed batch, `chronotope.batch`). `t` is "
                "RFC 3339 (`Z` or an offset) or integer epoch nanoseconds. A missing property is NaN (0 for "
                "integer properties); the same (object_id, t) twice keeps the last write. See docs/api-ingest.md.")
async def post_samples(
    request: Request,
    collectionId: str = Path(description="the collection's id", examples=["ais"]),  # noqa: N803
    idempotency_key: str = Header(  # declared str without None: the documented schema is the string alone
        None, alias="Idempotency-Key", json_schema_extra={"pattern": f'^({_KEY_CHARS}|"{_KEY_CHARS}")$'},
        description="1 to 255 visible ASCII characters but `\"` (double quotes around them are dropped), new "
                    "for each batch: it makes a retry safe. The first request with a key is stored, a later one "
                    "with the same key and the same rows stores nothing and gets the first answer again (with "
                    f"`{REPLAYED}: true`); with other rows it is refused (422). Keys are remembered per collection "
                    f"(the last {IDEMPOTENCY_KEYS:,}, 24 hours each), across restarts and crashes.",
        openapi_examples={"uuid": {"summary": "a UUID per batch", "value": "8e03978e-40d5-43e8-bc93-6894a57f9324"}}),
    access: Access = Depends(require("writer")),
) -> JSONResponse:
    key = _idempotency_key(idempotency_key)
    body = await request.body()
    rows, replayed = await run_in_threadpool(_ingest, access, body, request.headers.get("content-type"), key)
    return JSONResponse({"appended": rows}, headers={REPLAYED: "true"} if replayed else None)
