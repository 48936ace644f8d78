"""The engine's queries beyond OGC API – Moving Features: box/polygon x interval, explain, nearest, snapshot,
track, aggregate, property documents and their history, and the store's maintenance (docs/api-engine.md).

Every handler parses the request into the package's arguments, narrows them to the
principal's grant (``access.scope``), calls one ``Collection``/``Store`` method and
encodes what comes back; rows leave through :mod:`chronotope_api.outputs`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time as clock
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from chronotope import Result
from chronotope.errors import CorruptDataError, InvalidArgumentError
from chronotope.ingest import duration_ns
from chronotope_api import params
from chronotope_api.deps import Access, OutsideScope, Scope, require
from chronotope_api.outputs import ROWS_RESPONSES, Output, output, respond, rfc3339
from chronotope_api.problems import PROBLEM_JSON, Problem

router = APIRouter()

#: JSON grids (aggregate) hold at most this many cells; beyond, the request is refused before any work.
DEFAULT_JSON_MAX_CELLS = 1_000_000
_I64 = np.iinfo(np.int64)
_XYT = ("t", "x", "y")
_QUERIES, _DOCUMENTS, _ADMIN = "Engine queries", "Property documents", "Administration"


# ---- errors ----

@contextlib.contextmanager
def bad_arguments():
    """Plain ValueErrors of the package (bad arguments it did not wrap) become 400; damaged data stays a 500."""
    try:
        yield
    except CorruptDataError:
        raise
    except InvalidArgumentError:
        raise  # answered 400 by the application's handler
    except ValueError as exc:
        raise Problem(400, str(exc)) from None


_WHY = {400: "A parameter or the body is invalid (the detail names it)",
        401: "No credentials, or bad ones", 403: "The principal's grant does not allow this",
        404: "No such collection (or feature)", 422: "The request does not match the schema"}
_PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status", "detail", "instance"],
                   "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                  "status": {"type": "integer"}, "detail": {"type": "string"},
                                  "instance": {"type": "string"}}}


def _problems(*codes: int) -> dict:
    """``responses=`` entries documenting error answers as RFC 9457 problems."""
    return {code: {"description": _WHY[code], "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA, "example": {
        "type": "about:blank", "title": {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                                         422: "Unprocessable Content"}[code],
        "status": code, "detail": _WHY[code], "instance": "/collections/ais/query"}}}} for code in codes}


def _json_responses(description: str, example, schema: dict | None = None, errors=(400, 401, 403, 404, 422)) -> dict:
    content = {"example": example, **({"schema": schema} if schema else {})}
    return {200: {"description": description, "content": {"application/json": content}}, **_problems(*errors)}


_ROWS = {**ROWS_RESPONSES, **_problems(400, 401, 403, 404, 422)}


def _json(obj, status: int = 200) -> Response:
    """A JSON response (numpy scalars and arrays turned into plain values; never NaN)."""
    def plain(value):
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        raise TypeError(f"cannot encode {type(value).__name__}")

    return Response(json.dumps(obj, default=plain, allow_nan=False, separators=(",", ":")), status_code=status,
                    media_type="application/json")


# ---- parameters ----

CollectionId = Annotated[str, Path(description="The collection's id", openapi_examples={"ais": {"value": "ais"}})]
ObjectId = Annotated[str, Path(description="The moving feature's id (an integer or a string, as the collection "
                                           "stores ids; percent-encoded, it may hold '/')", openapi_examples={"vessel": {"value": "367000150"}})]
BBox = Annotated[str | None, Query(
    description="minLon,minLat,maxLon,maxLat (or the 6-number form with heights, which are ignored), borders "
                "included; minLon > maxLon crosses the antimeridian",
    openapi_examples={"harbour": {"summary": "a corner of New York harbour", "value": "-74.05,40.60,-74.00,40.70"}})]
Datetime = Annotated[str | None, Query(
    description="An RFC 3339 instant, or an interval start/end with `..` (or nothing) for an open end; inclusive",
    openapi_examples={"morning": {"summary": "six hours", "value": "2020-12-03T00:00:00Z/2020-12-03T06:00:00Z"},
                      "open": {"summary": "from an instant on", "value": "2020-12-06T00:00:00Z/.."}})]
Ids = Annotated[str | None, Query(
    description="Comma-separated feature ids; only their samples (unknown ids match nothing)",
    openapi_examples={"two": {"summary": "two vessels", "value": "367000150,367791540"}})]
Columns = Annotated[str | None, Query(
    description="Comma-separated columns to return (default all: object_id, t, x, y[, z], the properties); "
                "unknown names are an error",
    openapi_examples={"positions": {"summary": "ids and positions", "value": "object_id,x,y"}})]
MaxGap = Annotated[str | None, Query(
    description="The longest time between two samples that interpolation bridges: an ISO 8601 duration (PT10M) "
                "or 10m/90s/2h/1D style; default the collection's (10 minutes unless set)",
    openapi_examples={"two_minutes": {"summary": "two minutes", "value": "PT2M"}})]
Instant = Annotated[str, Query(description="An RFC 3339 instant", openapi_examples={
    "noon": {"summary": "noon, 3 December", "value": "2020-12-03T12:00:00Z"}})]
Stat = Literal["count", "sum", "mean", "min", "max"]

_ISO_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,9}))?S)?)?")
_SHORT_DURATION = re.compile(r"(\d+)([Dhms])")
_UNIT_NS = {"D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9}
_MAX_DURATION_NS = 2**62  # about 146 years: sums with any stored time stay within int64


def duration(text: str | None, what: str) -> int | None:
    """A duration parameter in ns: ISO 8601 (PT10M), the package's 10m/90s/6h/1D, or plain nanoseconds.
    Zero passes (where the package allows it); negative or longer than ~146 years does not.

    >>> duration("PT1M30.5S", "max_gap"), duration("10m", "max_gap"), duration(None, "max_gap")
    (90500000000, 600000000000, None)
    """
    if text is None:
        return None
    text = text.strip()
    iso = _ISO_DURATION.fullmatch(text) if text not in ("P", "PT") and not text.endswith("T") else None
    short = _SHORT_DURATION.fullmatch(text)
    if text.isdigit():
        ns = int(text)
    elif short:
        ns = int(short.group(1)) * _UNIT_NS[short.group(2)]
    elif iso:
        w, d, h, mi, s = (int(g) if g else 0 for g in iso.groups()[:5])
        ns = ((((w * 7 + d) * 24 + h) * 60 + mi) * 60 + s) * 10**9 + int((iso.group(6) or "").ljust(9, "0"))
    else:
        raise InvalidArgumentError(f"{what} {text!r} is not a duration such as PT10M, 10m, 90s, 6h or 1D")
    if ns > _MAX_DURATION_NS:
        raise InvalidArgumentError(f"{what} {text!r} is too long (at most about 146 years)")
    return ns


_YEARS = re.compile(r"(?:^|/)\s*(\d{4})-")
_FIRST_YEAR, _LAST_YEAR = 1678, 2261  # the whole years int64 nanoseconds hold


def _check_years(text: str, what: str) -> None:
    """Refuse instants int64 nanoseconds cannot hold (params' parser would wrap them around)."""
    for year in _YEARS.findall(text):
        if not _FIRST_YEAR <= int(year) <= _LAST_YEAR:
            raise InvalidArgumentError(f"{what} {text!r} lies outside the years {_FIRST_YEAR}-{_LAST_YEAR} that "
                                       "nanosecond times can hold (use '..' for an open end)")


def instant(text: str, what: str) -> int:
    """An RFC 3339 instant in int64 ns (``params.instant``, with its range checked)."""
    _check_years(text, what)
    return params.instant(text, what)


def interval(text: str | None) -> tuple[int | None, int | None] | None:
    """``datetime``: an instant or start/end with open ends (``params.datetime_interval``, range checked)."""
    if text is not None:
        _check_years(text, "datetime")
    return params.datetime_interval(text)


def _list(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise InvalidArgumentError(f"{what} has an empty item: {text!r}")
    return items


def _names(columns: list[str] | None) -> list[str] | None:
    if columns is not None and not columns:
        raise InvalidArgumentError("columns must name at least one column (leave it out for all)")
    return columns


def _ids(coll, items) -> list | None:
    return None if items is None else [params.object_id(coll, str(item)) for item in items]


def _coll(access: Access):
    return access.db.collection(access.collection)


# ---- the grant's scope ----

def _project(result: Result, columns: list[str]) -> Result:
    return result if result.columns == columns else Result({c: result[c] for c in columns})


def _with_xyt(columns: list[str] | None) -> list[str] | None:
    """The columns to ask for so that the grant's filter sees t, x and y."""
    return None if columns is None else list(dict.fromkeys([*columns, *_XYT]))


def _scoped(scope: Scope, columns: list[str] | None, extra: list[str], run) -> Result:
    """``run(columns)``'s rows the grant lets the principal see, in the columns asked for (+ ``extra``)."""
    if not scope.limited:
        return run(columns)
    kept = scope.filter(run(_with_xyt(columns)))
    return kept if columns is None else _project(kept, [*columns, *extra])


def _empty(coll, columns: list[str] | None, extra: list[str] = ()) -> Result:
    """No rows, in the columns (and dtypes) the query would have had."""
    base = coll.query(ids=[], columns=columns).to_dict()
    return Result({**base, **{name: np.empty(0, dtype=np.float64) for name in extra}})


def _visible(scope: Scope, coll, object_id) -> bool:
    """Whether a limited grant sees the feature: it has a sample inside the region and time window."""
    try:
        bbox, time = scope.window(None, None)
    except OutsideScope:
        return False
    return len(coll.query(bbox=bbox, time=time, polygon=scope.polygon, ids=[object_id], columns=["t"])) > 0


def _clip(box, region):
    """The part of ``box`` inside ``region`` (either may cross the antimeridian) as one box; None if none."""
    from chronotope.spatial import boxes_of

    pieces = []
    for a in boxes_of(box):
        for b in boxes_of(region):
            piece = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
            if piece[0] <= piece[2] and piece[1] <= piece[3]:
                pieces.append(piece)
    if not pieces:
        return None
    if len(pieces) == 1:
        return pieces[0]
    east, west = sorted(pieces, key=lambda p: -p[0])[:2]  # the two sides of the antimeridian
    return (east[0], east[1], west[2], east[3])


# ---- box, polygon x interval: query and explain ----

class QueryBody(BaseModel):
    """The arguments of a query, with a polygon (a geofence)."""

    model_config = ConfigDict(extra="forbid")

    bbox: list[float] | None = Field(None, description="[minLon, minLat, maxLon, maxLat] (or 6 numbers with heights); "
                                                       "minLon > maxLon crosses the antimeridian",
                                     examples=[[-74.05, 40.60, -74.00, 40.70]])
    datetime: str | None = Field(None, description="An RFC 3339 instant or an interval start/end (`..` for an "
                                                   "open end)", examples=["2020-12-03T00:00:00Z/2020-12-03T06:00:00Z"])
    polygon: dict[str, Any] | None = Field(
        None, description="A GeoJSON Polygon or MultiPolygon (or a Feature holding one), lon/lat; holes are "
                          "respected (even-odd rule)",
        examples=[{"type": "Polygon", "coordinates": [[[-74.05, 40.60], [-74.00, 40.60], [-74.00, 40.70],
                                                       [-74.05, 40.70], [-74.05, 40.60]]]}])
    ids: list[int | str] | None = Field(None, description="Feature ids; only their samples", examples=[[367000150]])
    columns: list[str] | None = Field(None, description="Columns to return (default all)",
                                      examples=[["object_id", "t", "x", "y"]])


_BODY_EXAMPLES = {
    "geofence": {"summary": "a polygon over six hours", "value": {
        "polygon": {"type": "Polygon", "coordinates": [[[-74.05, 40.60], [-74.00, 40.60], [-74.02, 40.70],
                                                        [-74.05, 40.60]]]},
        "datetime": "2020-12-03T00:00:00Z/2020-12-03T06:00:00Z"}},
    "box": {"summary": "a box, one vessel", "value": {"bbox": [-74.3, 40.4, -73.7, 40.9], "ids": [367000150]}},
}


def _polygon(body: QueryBody):
    geo = body.polygon
    if isinstance(geo, dict) and geo.get("type") == "Feature":
        geo = geo.get("geometry")
        if not isinstance(geo, dict):
            raise InvalidArgumentError("polygon is a Feature without a geometry")
    return geo


def _body_args(coll, body: QueryBody) -> dict:
    bbox = None if body.bbox is None else params.bbox(",".join(repr(v) for v in body.bbox))
    return {"bbox": bbox, "time": interval(body.datetime), "polygon": _polygon(body),
            "ids": _ids(coll, body.ids), "columns": _names(body.columns)}


def _get_args(coll, bbox, datetime, ids, columns) -> dict:
    return {"bbox": params.bbox(bbox), "time": interval(datetime), "polygon": None,
            "ids": _ids(coll, _list(ids, "ids")), "columns": _list(columns, "columns")}


def _narrowed(scope: Scope, args: dict) -> dict:
    """The query's arguments inside the grant (raises OutsideScope); a region polygon is pushed into the
    query when the request has none (the rows are filtered again after)."""
    bbox, time = scope.window(args["bbox"], args["time"])
    polygon = args["polygon"] if args["polygon"] is not None else scope.polygon
    return {**args, "bbox": bbox, "time": time, "polygon": polygon}


def _run_query(access: Access, args: dict, out: Output) -> Response:
    coll = _coll(access)
    with bad_arguments():
        try:
            narrowed = _narrowed(access.scope, args)
        except OutsideScope:
            return respond(_empty(coll, args["columns"]), out)
        rows = _scoped(access.scope, args["columns"], [], lambda columns: coll.query(
            bbox=narrowed["bbox"], time=narrowed["time"], polygon=narrowed["polygon"], ids=narrowed["ids"],
            columns=columns))
    return respond(rows, out)


def _run_explain(access: Access, args: dict) -> Response:
    coll = _coll(access)
    with bad_arguments():
        try:
            args = _narrowed(access.scope, args)
        except OutsideScope:
            args = {**args, "bbox": None, "time": None, "polygon": None, "ids": []}
        plan = coll.explain(**args)
    return _json({**plan.to_dict(), "text": str(plan)})


_QUERY_DOC = ("The samples inside the box, the interval and of the ids given (all conditions hold), sorted by "
              "(feature, t); the same as `Collection.query`. A grant limited to a region or time window sees only "
              "the rows inside it.")


@router.get("/collections/{collectionId}/query", summary="Samples in a box x interval", tags=[_QUERIES],
            response_class=Response, responses=_ROWS, description=_QUERY_DOC)
def query_get(collectionId: CollectionId, bbox: BBox = None, datetime: Datetime = None, ids: Ids = None,  # noqa: N803
              columns: Columns = None, access: Access = Depends(require("reader")),
              out: Output = Depends(output)) -> Response:
    with bad_arguments():
        args = _get_args(_coll(access), bbox, datetime, ids, columns)
    return _run_query(access, args, out)


@router.post("/collections/{collectionId}/query", summary="Samples in a polygon x box x interval", tags=[_QUERIES],
             response_class=Response, responses=_ROWS,
             description=_QUERY_DOC + " The body carries the arguments, with a GeoJSON polygon (a geofence).")
def query_post(collectionId: CollectionId, body: QueryBody = Body(openapi_examples=_BODY_EXAMPLES),  # noqa: N803
               access: Access = Depends(require("reader")), out: Output = Depends(output)) -> Response:
    with bad_arguments():
        args = _body_args(_coll(access), body)
    return _run_query(access, args, out)


_PLAN_EXAMPLE = {"strategy": "index", "reason": "the chunks to read fit the decoded-block cache", "probe": "chunks",
                 "segments": 7, "segments_considered": 1, "blocks": 46, "blocks_considered": 8,
                 "chunks_considered": 502, "chunks_matched": 62, "blocks_decoded": 8, "cache_hits": 0,
                 "rows_scanned": 3968, "rows_returned": 1037, "memtable_rows": 0, "merged_partitions": [],
                 "text": "strategy: index (the chunks to read fit the decoded-block cache); chunks probe\n..."}
_PLAN_SCHEMA = {"type": "object", "required": ["strategy", "rows_returned", "text"],
                "properties": {"strategy": {"type": "string", "enum": ["index", "scan"]}, "reason": {"type": "string"},
                               "probe": {"type": "string"}, "rows_returned": {"type": "integer"},
                               "text": {"type": "string"}},
                "additionalProperties": True}
_EXPLAIN_DOC = ("Runs the query with the same arguments as `query` and answers its plan and costs (`Plan.to_dict()`, "
                "see docs/queries.md, plus `text`, the plan as printed). Under a limited grant the plan is the "
                "narrowed query's, before the grant's exact filter.")


@router.get("/collections/{collectionId}/explain", summary="The plan of a box x interval query", tags=[_QUERIES],
            response_class=Response, description=_EXPLAIN_DOC,
            responses=_json_responses("The plan and what running it cost", _PLAN_EXAMPLE, _PLAN_SCHEMA))
def explain_get(collectionId: CollectionId, bbox: BBox = None, datetime: Datetime = None, ids: Ids = None,  # noqa: N803
                columns: Columns = None, access: Access = Depends(require("reader"))) -> Response:
    with bad_arguments():
        args = _get_args(_coll(access), bbox, datetime, ids, columns)
    return _run_explain(access, args)


@router.post("/collections/{collectionId}/explain", summary="The plan of a polygon x box x interval query",
             tags=[_QUERIES], response_class=Response, description=_EXPLAIN_DOC,
             responses=_json_responses("The plan and what running it cost", _PLAN_EXAMPLE, _PLAN_SCHEMA))
def explain_post(collectionId: CollectionId, body: QueryBody = Body(openapi_examples=_BODY_EXAMPLES),  # noqa: N803
                 access: Access = Depends(require("reader"))) -> Response:
    with bad_arguments():
        args = _body_args(_coll(access), body)
    return _run_explain(access, args)


# ---- nearest, snapshot, track ----

def _nearest_in_scope(scope: Scope, k: int, columns: list[str] | None, ask) -> Result:
    """The k nearest the grant lets the principal see: the first k of the global nearest list that lie in
    the scope, so ask again for 4 times as many until k survive or the list is exhausted."""
    want = k
    while True:
        found = ask(want, _with_xyt(columns))
        kept = scope.filter(found)
        if len(kept) >= k or len(found) < want:
            break
        want *= 4
    kept = Result({c: v[:k] for c, v in kept.to_dict().items()})
    return kept if columns is None else _project(kept, [*columns, "distance"])


@router.get("/collections/{collectionId}/nearest", summary="The k nearest features (at an instant) or samples "
            "(in an interval)", tags=[_QUERIES], response_class=Response, responses=_ROWS,
            description="With `at`: the k **features** nearest to (x, y) at that instant, their positions "
                        "interpolated between samples at most `max_gap` apart. With `datetime`: the k nearest "
                        "**samples** in the interval. Give exactly one of them. Rows are sorted by `distance` "
                        "(metres, great circle, for lon/lat collections), ties by feature then t. Under a grant "
                        "limited to a region, the k nearest inside it.")
def nearest(collectionId: CollectionId,  # noqa: N803
            x: float = Query(description="Longitude (or x) of the point", openapi_examples={"x": {"value": -74.02}}),
            y: float = Query(description="Latitude (or y) of the point", openapi_examples={"y": {"value": 40.65}}),
            k: int = Query(10, ge=1, description="How many (fewer when there are not as many)",
                           openapi_examples={"three": {"value": 3}}),
            at: str | None = Query(None, description="An RFC 3339 instant: the nearest features then",
                                   openapi_examples={"noon": {"value": "2020-12-03T12:00:00Z"}}),
            datetime: Datetime = None, max_gap: MaxGap = None, columns: Columns = None,
            access: Access = Depends(require("reader")), out: Output = Depends(output)) -> Response:
    coll = _coll(access)
    with bad_arguments():
        if (at is None) == (datetime is None):
            raise InvalidArgumentError("nearest needs exactly one of at (features at an instant) and datetime "
                                       "(samples in an interval)")
        t = None if at is None else instant(at, "at")
        time = interval(datetime)
        gap, cols = duration(max_gap, "max_gap"), _list(columns, "columns")
        try:
            _, window = access.scope.window(None, (t, t) if t is not None else time)
        except OutsideScope:
            return respond(_empty(coll, cols, ["distance"]), out)

        def ask(n, columns):
            if t is not None:
                return coll.nearest(x, y, k=n, at=t, max_gap=gap, columns=columns)
            return coll.nearest(x, y, k=n, time=window, max_gap=gap, columns=columns)

        rows = _nearest_in_scope(access.scope, k, cols, ask) if access.scope.limited else ask(k, cols)
    return respond(rows, out)


@router.get("/collections/{collectionId}/snapshot", summary="Every feature's position at an instant", tags=[_QUERIES],
            response_class=Response, responses=_ROWS,
            description="One row per feature: its sample at `at`, or the linear interpolation between its samples "
                        "around `at` when they are at most `max_gap` apart (features without one are left out), "
                        "inside `bbox` when given; sorted by feature.")
def snapshot(collectionId: CollectionId, at: Instant, bbox: BBox = None, max_gap: MaxGap = None,  # noqa: N803
             columns: Columns = None, access: Access = Depends(require("reader")),
             out: Output = Depends(output)) -> Response:
    coll = _coll(access)
    with bad_arguments():
        t, box = instant(at, "at"), params.bbox(bbox)
        gap, cols = duration(max_gap, "max_gap"), _list(columns, "columns")
        try:
            box, _ = access.scope.window(box, (t, t))
        except OutsideScope:
            return respond(_empty(coll, cols), out)
        rows = _scoped(access.scope, cols, [], lambda columns: coll.snapshot(at=t, bbox=box, max_gap=gap,
                                                                              columns=columns))
    return respond(rows, out)


@router.get("/collections/{collectionId}/track/{objectId:path}", summary="One feature's track", tags=[_QUERIES],
            response_class=Response, responses=_ROWS,
            description="The feature's samples in `datetime`, sorted by t (an unknown feature has none), optionally "
                        "simplified (Douglas-Peucker: every dropped sample lies within `simplify` metres of the kept "
                        "line) and with `speed` (m/s) and `heading` (degrees from north) of the step from the "
                        "previous sample when `derive` is true.")
def track(collectionId: CollectionId, objectId: ObjectId, datetime: Datetime = None,  # noqa: N803
          simplify: float | None = Query(None, ge=0, description="Simplification tolerance, metres (CRS units "
                                                                  "for projected collections)",
                                         openapi_examples={"25m": {"value": 25.0}}),
          derive: bool = Query(False, description="Add speed and heading columns"),
          columns: Columns = None, access: Access = Depends(require("reader")),
          out: Output = Depends(output)) -> Response:
    coll = _coll(access)
    with bad_arguments():
        oid, time, cols = params.object_id(coll, objectId), interval(datetime), _list(columns, "columns")
        extra = ["speed", "heading"] if derive else []
        try:
            _, time = access.scope.window(None, time)
        except OutsideScope:
            return respond(_empty(coll, cols, extra), out)
        rows = _scoped(access.scope, cols, extra, lambda columns: coll.track(
            oid, time=time, simplify=simplify, derive=derive, columns=columns))
    return respond(rows, out)


@router.delete("/collections/{collectionId}/track/{objectId:path}", summary="Delete a feature's samples in an interval",
               tags=[_QUERIES], status_code=204, response_class=Response,
               description="Deletes the feature's samples in `datetime` (inclusive; all of them without it), as "
                        "`Collection.delete(object_id, time)` does; an unknown feature has nothing to delete (204). "
                        "Needs the writer role; under a grant limited to a region or time window, every sample "
                        "deleted must lie inside it (403 otherwise, nothing deleted).",
               responses={204: {"description": "deleted (or nothing to delete)"}, **_problems(400, 401, 403, 404, 422)})
def delete_track(collectionId: CollectionId, objectId: ObjectId, datetime: Datetime = None,  # noqa: N803
                 access: Access = Depends(require("writer"))) -> Response:
    coll = _coll(access)
    with bad_arguments():
        oid, time = params.object_id(coll, objectId), interval(datetime)
        if access.scope.limited:
            doomed = coll.track(oid, time=time, columns=["t", "x", "y"]).to_dict()
            access.scope.check_write(doomed["t"].view(np.int64), doomed["x"], doomed["y"])
        coll.delete(oid, time=time)
    return Response(status_code=204)


@router.get("/collections/{collectionId}/count", summary="How many samples the collection holds", tags=[_QUERIES],
            response_class=Response, description="The number of stored samples (`len(collection)`); under a grant "
                                                  "limited to a region or time window, of those inside it.",
            responses=_json_responses("The count", {"rows": 172679},
                                      {"type": "object", "required": ["rows"],
                                       "properties": {"rows": {"type": "integer", "minimum": 0}}},
                                      errors=(401, 403, 404)))
def count(collectionId: CollectionId, access: Access = Depends(require("reader"))) -> Response:  # noqa: N803
    coll, scope = _coll(access), access.scope
    if not scope.limited:
        return _json({"rows": len(coll)})
    try:
        bbox, time = scope.window(None, None)
    except OutsideScope:
        return _json({"rows": 0})
    rows = scope.filter(coll.query(bbox=bbox, time=time, polygon=scope.polygon, columns=["t", "x", "y"]))
    return _json({"rows": len(rows)})


# ---- aggregate ----

def _cell(text: str | None):
    if text is None:
        return None
    items = _list(text, "cell")
    try:
        sizes = [float(item) for item in items]
    except ValueError:
        raise InvalidArgumentError(f"cell must be a size or cx,cy in degrees (CRS units), got {text!r}") from None
    if len(sizes) not in (1, 2):
        raise InvalidArgumentError(f"cell must be a size or cx,cy, got {text!r}")
    return sizes[0] if len(sizes) == 1 else tuple(sizes)


def _grid_cells(coll, cell, bucket_ns: int | None, bbox, time) -> float:
    """An upper bound of the cells ``aggregate`` would answer, from the arguments and the collection's extent
    (infinite when the sizes are too small to count them)."""
    extent = coll.extent()
    if extent["bbox"] is None:
        return 0
    cells = 1.0
    if cell is not None:
        cx, cy = (cell, cell) if isinstance(cell, float) else cell
        if not (cx > 0 and cy > 0 and math.isfinite(cx) and math.isfinite(cy)):
            return 0  # the package refuses these, naming the argument
        xmin, ymin, xmax, ymax = bbox if bbox is not None else extent["bbox"]
        if xmin > xmax:
            xmax += 360.0
        with np.errstate(over="ignore", invalid="ignore"):
            nx = np.floor(np.float64(xmax) / cx) - np.floor(np.float64(xmin) / cx) + 1
            ny = np.floor(np.float64(ymax) / cy) - np.floor(np.float64(ymin) / cy) + 1
        cells *= float(nx) * float(ny) if np.isfinite(nx) and np.isfinite(ny) else math.inf
    if bucket_ns is not None:
        lo, hi = time if time is not None else (None, None)
        lo = int(extent["time"][0].astype(np.int64)) if lo in (None, int(_I64.min)) else lo
        hi = int(extent["time"][1].astype(np.int64)) if hi in (None, int(_I64.max)) else hi
        cells *= max(0, hi // bucket_ns - lo // bucket_ns + 1)
    return cells


def _grid_json(agg, stat: str, value: str | None, dims: list[str]) -> dict:
    """An Aggregate (None: an empty grid) as JSON: arrays nested in the order of ``dims``, NaN as null."""
    axes = {}
    if agg is None:
        count = values = np.zeros([0] * len(dims), dtype=np.int64)
        axes = {dim: [] for dim in dims}
    else:
        count, values = agg.count, agg.values
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), None, values)
        if "t" in dims:
            axes["t"] = rfc3339(agg.t).to_pylist()
        if "x" in dims:
            axes["y"], axes["x"] = agg.y.tolist(), agg.x.tolist()
    return {"stat": stat, "value": value, "dims": dims, "shape": list(count.shape), "axes": axes,
            "count": count.tolist(), "values": values.tolist()}


_GRID_EXAMPLE = {"stat": "count", "value": None, "dims": ["t"], "shape": [7],
                 "axes": {"t": ["2020-12-01T00:00:00Z", "2020-12-02T00:00:00Z", "2020-12-03T00:00:00Z",
                               "2020-12-04T00:00:00Z", "2020-12-05T00:00:00Z", "2020-12-06T00:00:00Z",
                               "2020-12-07T00:00:00Z"]},
                 "count": [21159, 35099, 32073, 30733, 21315, 18131, 14169],
                 "values": [21159, 35099, 32073, 30733, 21315, 18131, 14169]}
_GRID_SCHEMA = {"type": "object", "required": ["stat", "dims", "shape", "axes", "count", "values"],
                "properties": {"stat": {"type": ["string", "null"]}, "value": {"type": ["string", "null"]},
                               "dims": {"type": "array", "items": {"type": "string", "enum": ["t", "y", "x"]}},
                               "shape": {"type": "array", "items": {"type": "integer"}},
                               "axes": {"type": "object", "additionalProperties": {"type": "array"}},
                               "count": {}, "values": {}}}


@router.get("/collections/{collectionId}/aggregate", summary="Counts or statistics per grid cell x time bucket",
            tags=[_QUERIES], response_class=Response,
            description="Bins the samples of `bbox` x `datetime` into cells of `cell` degrees and buckets of "
                        "`bucket` and answers, per bin, their `count` and the `stat` (count, or sum/mean/min/max "
                        "of the numeric column `value`; NaN ignored, null where a bin is empty). Arrays are nested "
                        "in the order of `dims` (t, y, x; the time axis only with `bucket`, the space axes only "
                        "with `cell`); `axes.t` holds the bucket starts, `axes.x`/`axes.y` the cell edges (one "
                        "more than cells). Under a grant limited to a box the box is clipped to it; a grant "
                        "limited to a polygon cannot aggregate (403).",
            responses=_json_responses("The grid", _GRID_EXAMPLE, _GRID_SCHEMA))
def aggregate(request: Request, collectionId: CollectionId,  # noqa: N803
              cell: str | None = Query(None, description="Cell size in degrees (CRS units): one size or cx,cy",
                                       openapi_examples={"0.05": {"value": "0.05"}}),
              bucket: str | None = Query(None, description="Time bucket: ISO 8601 duration (PT1H) or 1D/6h/30m/90s",
                                         openapi_examples={"day": {"value": "1D"}}),
              bbox: BBox = None, datetime: Datetime = None,
              value: str | None = Query(None, description="The numeric column the statistic is of (x, y, z or a "
                                                          "property)", openapi_examples={"x": {"value": "x"}}),
              stat: Stat = Query("count", description="count, or sum/mean/min/max of value"),
              access: Access = Depends(require("reader"))) -> Response:
    coll, scope = _coll(access), access.scope
    if scope.polygon is not None:
        raise Problem(403, "your grant is limited to a polygon, which a grid of cells cannot follow: aggregate is "
                           "only open to grants limited to a box or not limited in space")
    with bad_arguments():
        sizes, bucket = _cell(cell), duration(bucket, "bucket")
        bucket = None if bucket is None else duration_ns(bucket, "bucket")  # positive
        box, time = params.bbox(bbox), interval(datetime)
        dims = (["t"] if bucket is not None else []) + (["y", "x"] if sizes is not None else [])
        try:
            clipped, time = scope.window(box, time)
        except OutsideScope:
            return _json(_grid_json(None, stat, value, dims))
        if box is not None and scope.bbox is not None:
            clipped = _clip(box, scope.bbox)
            if clipped is None:
                return _json(_grid_json(None, stat, value, dims))
        cap = getattr(request.app.state.settings, "json_max_cells", DEFAULT_JSON_MAX_CELLS)
        bound = _grid_cells(coll, sizes, bucket, clipped, time)
        if bound > cap:
            raise InvalidArgumentError(f"the grid could have {bound:,.0f} cells, more than the {cap:,} this server "
                                       "answers: use larger cells or buckets, or a smaller bbox or datetime")
        agg = coll.aggregate(cell=sizes, bucket=bucket, bbox=clipped, time=time, value=value, stat=stat)
    return _json(_grid_json(agg, stat, value, dims))


# ---- property documents ----

_DOC_EXAMPLE = {"id": 367000150, "asOf": "2020-12-03T00:00:00Z",
                "properties": {"name": "EVENING TIDE", "type": "tug", "destination": "NEWARK"}}
_DOC_SCHEMA = {"type": "object", "required": ["id", "asOf", "properties"],
               "properties": {"id": {"type": ["integer", "string"]}, "asOf": {"type": ["string", "null"]},
                              "properties": {"type": "object"}}}


def _document_window(scope: Scope, coll, oid, objectId: str) -> tuple[int, int] | None:  # noqa: N803
    """404 unless a limited grant sees the feature; its time window (None: unlimited)."""
    if not scope.limited:
        return None
    if not _visible(scope, coll, oid):
        raise Problem(404, f"no feature {objectId!r} inside the region and time window of your grant")
    return scope.time


_HISTORY_EXAMPLE = {"id": 367000150, "versions": [
    {"validFrom": "2020-12-01T00:00:00Z", "validTo": "2020-12-03T00:00:00Z", "properties": {"destination": "NEWARK"}},
    {"validFrom": "2020-12-03T00:00:00Z", "validTo": None, "properties": {"destination": "PORT ELIZABETH"}}]}


def _encoded_history(request: Request) -> bool:
    """Whether the path's "/history" came percent-encoded (part of an id), not as the route's own segment."""
    raw = request.scope.get("raw_path")
    return raw is not None and not raw.split(b"?", 1)[0].endswith(b"/history")


# before the document's route: an id may hold '/' ({objectId:path}), and ".../history" must reach this one
@router.get("/collections/{collectionId}/documents/{objectId:path}/history", summary="Every version of a feature's "
            "property document", tags=[_DOCUMENTS], response_class=Response,
            description="The versions oldest first, each valid from `validFrom` until `validTo` (the next version; "
                        "null for the latest). Under a grant limited in time, only the versions valid during its "
                        "window.",
            responses=_json_responses("The versions", _HISTORY_EXAMPLE,
                                      {"type": "object", "required": ["id", "versions"],
                                       "properties": {"versions": {"type": "array"}}}))
def history(request: Request, collectionId: CollectionId, objectId: ObjectId,  # noqa: N803
            access: Access = Depends(require("reader"))) -> Response:
    if _encoded_history(request):  # "/documents/a%2Fhistory": the document of the id "a/history"
        return document(collectionId, objectId + "/history", request.query_params.get("asOf"), access)
    coll = _coll(access)
    with bad_arguments():
        oid = params.object_id(coll, objectId)
        window = _document_window(access.scope, coll, oid, objectId)
        versions = coll.history(oid)
    starts = [int(t.astype(np.int64)) for t, _ in versions]
    ends = starts[1:] + [None]
    out = []
    for start, end, (_, doc) in zip(starts, ends, versions):
        if window is not None and (start > window[1] or (end is not None and end <= window[0])):
            continue  # valid only outside the grant's window
        out.append({"validFrom": params.iso(start), "validTo": None if end is None else params.iso(end),
                    "properties": doc})
    return _json({"id": oid, "versions": out})


@router.get("/collections/{collectionId}/documents/{objectId:path}", summary="A feature's property document as of a time",
            tags=[_DOCUMENTS], response_class=Response,
            description="The JSON document (name, type, destination, ...) valid at `asOf`, rebuilt from its "
                        "version chain; the latest without `asOf` (under a grant limited in time: as of the end of "
                        "its window). 404 when the feature had none then.",
            responses=_json_responses("The document", _DOC_EXAMPLE, _DOC_SCHEMA))
def document(collectionId: CollectionId, objectId: ObjectId,  # noqa: N803
             asOf: str | None = Query(None,  # noqa: N803
                                      description="An RFC 3339 instant (default: the latest version)",
                                      openapi_examples={"then": {"value": "2020-12-03T00:00:00Z"}}),
             access: Access = Depends(require("reader"))) -> Response:
    coll = _coll(access)
    with bad_arguments():
        oid = params.object_id(coll, objectId)
        as_of = None if asOf is None else instant(asOf, "asOf")
        window = _document_window(access.scope, coll, oid, objectId)
        if window is not None:
            if as_of is None and window[1] < int(_I64.max):
                as_of = window[1]
            if as_of is not None and not window[0] <= as_of <= window[1]:
                raise Problem(404, f"asOf {asOf} lies outside the time window of your grant")
        doc = coll.properties(oid, as_of=as_of)
    if doc is None:
        when = "" if as_of is None else f" as of {params.iso(as_of)}"
        raise Problem(404, f"feature {objectId!r} has no document{when}")
    return _json({"id": oid, "asOf": None if as_of is None else params.iso(as_of), "properties": doc})


@router.put("/collections/{collectionId}/documents/{objectId:path}", summary="Record a new version of a feature's "
            "property document", tags=[_DOCUMENTS], response_class=Response,
            description="Stores the body (a JSON object) as the feature's document valid from `at` (default now); "
                        "earlier versions stay readable with `asOf`. Needs the writer role; under a grant limited "
                        "to a region or time window, `at` must lie in the window and the feature must have a "
                        "sample inside the grant.",
            responses=_json_responses("The version stored", {"id": 367000150, "at": "2020-12-03T00:00:00Z",
                                                             "properties": _DOC_EXAMPLE["properties"]},
                                      {"type": "object", "required": ["id", "at", "properties"]}))
def put_document(collectionId: CollectionId, objectId: ObjectId,  # noqa: N803
                 doc: dict[str, Any] = Body(description="The document: any JSON object", openapi_examples={
                     "vessel": {"summary": "a vessel's voyage data",
                                "value": {"name": "EVENING TIDE", "type": "tug", "destination": "NEWARK"}}}),
                 at: str | None = Query(None, description="RFC 3339 instant the version is valid from (default now)",
                                        openapi_examples={"then": {"value": "2020-12-03T00:00:00Z"}}),
                 access: Access = Depends(require("writer"))) -> Response:
    coll, scope = _coll(access), access.scope
    with bad_arguments():
        oid = params.object_id(coll, objectId)
        t = clock.time_ns() if at is None else instant(at, "at")
        if scope.limited:
            if scope.time is not None and not scope.time[0] <= t <= scope.time[1]:
                raise Problem(403, f"at {params.iso(t)} lies outside the time window of your grant")
            if not _visible(scope, coll, oid):
                raise Problem(403, f"feature {objectId!r} has no sample inside the region and time window of "
                                   "your grant")
        coll.set_properties(oid, doc, at=t)
    return _json({"id": oid, "at": params.iso(t), "properties": doc})


# ---- the store: statistics and maintenance (admin) ----

_STATS_EXAMPLE = {"collections": {"ais": {"points": 172679, "unflushed_points": 0, "objects": 140, "segments": 7,
                                          "partitions": 7, "blocks": 46, "bytes_on_disk": 829166,
                                          "bytes_per_column": {"oid": 4531, "t": 271476, "x": 249961, "y": 246231},
                                          "raw_bytes": 5525728, "compression_ratio": 6.66, "tombstones": 0,
                                          "index_bytes": 179485}},
                  "cache": {"budget_bytes": 536870912, "bytes": 5451136, "entries": 28, "hits": 135, "misses": 180,
                            "evictions": 0}, "format": 1, "manifest_version": 4}


@router.get("/stats", summary="The store's statistics", tags=[_ADMIN], response_class=Response,
            description="Points, objects, segments, blocks, bytes per column, compression ratio and index memory "
                        "per collection, and the decoded-block cache's figures (`Store.stats()`). Admin only.",
            responses=_json_responses("The statistics", _STATS_EXAMPLE, {"type": "object",
                                                                         "required": ["collections", "cache"]},
                                      errors=(401, 403)))
def stats(access: Access = Depends(require("admin"))) -> Response:
    return _json(access.db.stats())


@router.post("/admin/compact", summary="Compact the store", tags=[_ADMIN], response_class=Response,
             description="Merges each partition's segments into one, applies deletes and rewrites property "
                         "documents' version chains with fresh keyframes (`Store.compact()`). Admin only.",
             responses=_json_responses("What was done", {"segments_merged": 12}, {"type": "object"}, errors=(401, 403)))
def compact(access: Access = Depends(require("admin"))) -> Response:
    return _json(access.db.compact())


@router.post("/admin/prune", summary="Apply retention", tags=[_ADMIN], response_class=Response,
             description="Drops the samples older than `older_than`, or with `keep_every` thins them to one sample "
                         "per feature and interval (`Store.prune()`). Admin only.",
             responses=_json_responses("What was removed", {"rows_removed": 20311}, {"type": "object"},
                                       errors=(400, 401, 403, 422)))
def prune(older_than: str = Query(description="An RFC 3339 instant, or an ISO 8601 duration (P30D) meaning that "
                                              "long before now",
                                  openapi_examples={"instant": {"value": "2020-12-02T00:00:00Z"},
                                                    "month": {"value": "P30D"}}),
          keep_every: str | None = Query(None, description="Keep one sample per feature and this interval (ISO 8601 "
                                                           "or 10m style) instead of dropping",
                                         openapi_examples={"ten_minutes": {"value": "PT10M"}}),
          access: Access = Depends(require("admin"))) -> Response:
    with bad_arguments():
        text = older_than.strip()
        if text.startswith("P"):  # that long before now
            cutoff = clock.time_ns() - duration_ns(duration(text, "older_than"), "older_than")
        else:
            cutoff = instant(text, "older_than")
        report = access.db.prune(older_than=cutoff, keep_every=duration(keep_every, "keep_every"))
    return _json(report)


@router.post("/admin/verify", summary="Verify every checksum", tags=[_ADMIN], response_class=Response,
             description="Reads every segment, id table and document file and checks its checksums "
                         "(`Store.verify()`): `ok` and one message per damaged file or block. Admin only.",
             responses=_json_responses("The report", {"ok": True, "problems": []},
                                       {"type": "object", "required": ["ok", "problems"]}, errors=(401, 403)))
def verify(access: Access = Depends(require("admin"))) -> Response:
    found = access.db.verify()
    return _json({"ok": not found, "problems": found})
