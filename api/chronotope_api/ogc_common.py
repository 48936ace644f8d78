"""What the OGC API – Moving Features routes share: parameters, paging links, a feature's visible samples,
the collection's temporal properties, error documentation and fast JSON responses."""

from __future__ import annotations

import datetime as _dt
from urllib.parse import quote

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from chronotope.errors import InvalidArgumentError
from chronotope_api import mfjson, motion, params, problems
from chronotope_api.mfjson import MFJSONError, PropertySpec
from chronotope_api.problems import Problem

__all__ = ["base", "MAX_LIMIT", "DEFAULT_LIMIT", "errors", "json_response", "created", "timestamp", "parse_limit",
           "parse_flag", "parse_leaf", "bounded", "offset_of", "page_links", "property_specs", "feature_id",
           "feature_url", "visible_track", "with_values", "unprocessable", "collection_of", "crs_and_trs"]

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 10
_DESCRIPTIONS = {
    400: "a query parameter is invalid (bbox, datetime, limit, leaf, cursor, ...), or the body is not JSON",
    401: "no credentials, or bad ones",
    403: "the credentials lack the role on this collection, or the write lies outside the grant's region or time",
    404: "no such collection, moving feature, temporal geometry or temporal property",
    405: "the resource does not support this method",
    409: "the request conflicts with what is stored",
    422: "the request body is not valid (MF-JSON or the collection's schema); the detail names the member",
}


_PROBLEM_SCHEMA = {
    "type": "object", "title": "Problem", "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"}},
}


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def errors(*codes: int) -> dict:
    """OpenAPI ``responses`` entries for problem+json errors."""
    out = {}
    for code in codes:
        example = problems.problem_body(code, _DESCRIPTIONS[code], "/collections/ais/items")
        out[code] = {"description": _DESCRIPTIONS[code],
                     "content": {problems.PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA, "example": example}}}
    return out


def json_response(content, status: int = 200, headers: dict | None = None) -> JSONResponse:
    """A JSON response serialised once, without FastAPI's per-item encoding (large coordinate arrays)."""
    return JSONResponse(content, status_code=status, headers=headers)


def created(urls: list[str]) -> Response:
    """201 Created: ``Location`` names the (first) new resource, ``Locations`` all of them, in order."""
    return Response(status_code=201, headers={"Location": urls[0], "Locations": ", ".join(urls)})


def timestamp() -> str:
    """Now as RFC 3339 UTC (the ``timeStamp`` of a response)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        n = int(text)
    except ValueError:
        raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {text!r}") from None
    if not 1 <= n <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {n}")
    return n


def parse_flag(text: str | None, name: str) -> bool:
    if text is None:
        return False
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise InvalidArgumentError(f"{name} must be true or false, got {text!r}")
    return value == "true"


def parse_leaf(text: str | None) -> np.ndarray | None:
    """``leaf``: comma-separated RFC 3339 instants, strictly increasing."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) > MAX_LIMIT:
        raise InvalidArgumentError(f"leaf holds at most {MAX_LIMIT} instants")
    at = np.array([params.instant(p, "leaf") for p in parts], dtype=np.int64)
    if (np.diff(at) <= 0).any():
        raise InvalidArgumentError("leaf instants must be strictly increasing")
    return at


def bounded(interval, name: str) -> tuple[int, int]:
    """The (start, end) of a ``datetime`` that ``subTrajectory``/``subTemporalValue`` needs bounded."""
    if interval is None or interval[0] is None or interval[1] is None:
        raise InvalidArgumentError(f"{name}=true needs a bounded datetime interval start/end")
    return interval


def offset_of(cursor: str | None) -> int:
    if cursor is None:
        return 0
    state = params.decode_cursor(cursor)
    offset = state.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidArgumentError("cursor is not one this server issued")
    return offset


def page_links(request: Request, next_state: dict | None, media: str = "application/json") -> list[dict]:
    """``self`` and, when there is more, ``next`` with an opaque cursor (the other parameters kept)."""
    links = [{"href": str(request.url), "rel": "self", "type": media}]
    if next_state is not None:
        href = request.url.include_query_params(cursor=params.encode_cursor(next_state))
        links.append({"href": str(href), "rel": "next", "type": media})
    return links


def collection_of(access):
    return access.db.collection(access.collection)


def property_specs(coll) -> dict[str, PropertySpec]:
    """The collection's temporal properties: dtypes from its schema, unit, interpolation and description
    from its metadata (floats default to Linear, integers and booleans to Step)."""
    described = coll.metadata.get("properties", {})
    specs = {}
    for name, dtype in coll.schema.items():
        dt = np.dtype(dtype)
        info = described.get(name, {}) if isinstance(described.get(name), dict) else {}
        specs[name] = PropertySpec(name, dt, info.get("interpolation") or ("Linear" if dt.kind == "f" else "Step"),
                                   info.get("form"), info.get("description"))
    return specs


def feature_id(coll, text: str):
    """A moving feature id from the URL; an id that cannot be one of this collection's is not found."""
    try:
        return params.object_id(coll, text)
    except InvalidArgumentError:
        raise Problem(404, f"no moving feature {text!r} in collection {coll.name!r}") from None


def feature_url(request: Request, collection: str, fid, *rest: str) -> str:
    return "/".join([base(request), "collections", collection, "items", quote(str(fid), safe=""), *rest])


def visible_track(access, coll, fid, derive: bool = False) -> dict[str, np.ndarray]:
    """The feature's samples the principal may see (t as int64 ns); 404 when there are none."""
    cols = coll.track(fid, derive=derive).to_dict()
    cols["t"] = cols["t"].view(np.int64)
    if access.scope.limited and len(cols["t"]):
        keep = access.scope.mask(cols["t"], cols["x"], cols["y"])
        cols = {k: v[keep] for k, v in cols.items()}
    if not len(cols["t"]):
        raise Problem(404, f"no moving feature {fid!r} in collection {coll.name!r}")
    return cols


def unprocessable(exc: MFJSONError | InvalidArgumentError) -> Problem:
    return Problem(422, str(exc))


def with_values(track: dict[str, np.ndarray], posted: dict[str, tuple], specs: dict[str, PropertySpec], *,
                max_gap: int, geographic: bool, has_z: bool, instants: np.ndarray | None = None) -> dict:
    """Rows to append so that the properties take the ``posted`` values {name: (t, values)}: one row per
    posted instant (and per ``instants``). A row at an existing sample keeps its position and its other
    values; a new instant gets the position interpolated along the track (422 where no temporal primitive
    of the track covers it) and no value (NaN; 0 for integers) for the other properties."""
    parts = [t for t, _ in posted.values()] + ([instants] if instants is not None else [])
    at = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
    t = track["t"]
    idx, frac = motion.locate(t, motion.starts_of(t, max_gap), at)
    if (idx < 0).any():
        when = params.iso(at[int(np.argmax(idx < 0))])
        raise Problem(422, f"no position of the feature at {when}: its temporal geometry does not cover that "
                           f"instant")
    exact = t[idx] == at
    rows = {"t": at, "x": motion.linear(track["x"], idx, frac, wrap=geographic),
            "y": motion.linear(track["y"], idx, frac)}
    if has_z:
        rows["z"] = motion.linear(track["z"], idx, frac) if "z" in track else np.full(len(at), np.nan)
    for name, spec in specs.items():
        blank = np.full(len(at), np.nan, dtype=spec.dtype) if spec.dtype.kind == "f" else np.zeros(len(at), spec.dtype)
        rows[name] = np.where(exact, track[name][idx], blank).astype(spec.dtype) if name in track else blank
    for name, (tp, vp) in posted.items():
        rows[name][np.searchsorted(at, tp)] = vp
    return rows


def crs_and_trs(coll) -> dict:
    return {"crs": mfjson.crs_member(coll.crs), "trs": mfjson.trs_member()}
