"""Query results as HTTP responses: JSON columns, NDJSON, Arrow IPC stream or CSV, chosen by ``Accept`` or ``f``.

Rows are encoded in chunks of ``CHUNK_ROWS`` with pyarrow compute kernels (numbers and
times turned into text column-wise, lines joined by one kernel call, the bytes taken
from the string array's value buffer), never a Python loop over rows. NDJSON, Arrow
and CSV stream chunk by chunk; JSON is one document and is refused beyond
``json_max_rows`` rows (406: ask for a streamed format), so that neither the server
nor a client has to hold a huge JSON text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse

from chronotope import Result
from chronotope_api.problems import PROBLEM_JSON, Problem

__all__ = ["Format", "TimeFormat", "Output", "output", "respond", "negotiate", "rfc3339", "MEDIA_TYPES",
           "ROWS_RESPONSES", "CHUNK_ROWS", "DEFAULT_JSON_MAX_ROWS"]

CHUNK_ROWS = 65_536
DEFAULT_JSON_MAX_ROWS = 100_000  # until the settings carry json_max_rows


class Format(str, Enum):
    json = "json"
    ndjson = "ndjson"
    arrow = "arrow"
    csv = "csv"


class TimeFormat(str, Enum):
    rfc3339 = "rfc3339"
    ns = "ns"


#: The media type of each format (the first is what responses carry), in the server's order of preference.
MEDIA_TYPES: dict[Format, tuple[str, ...]] = {
    Format.json: ("application/json",),
    Format.ndjson: ("application/x-ndjson", "application/ndjson"),
    Format.arrow: ("application/vnd.apache.arrow.stream",),
    Format.csv: ("text/csv",),
}
_CONTENT_TYPE = {Format.json: "application/json", Format.ndjson: "application/x-ndjson",
                 Format.arrow: "application/vnd.apache.arrow.stream", Format.csv: "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class Output:
    """How a request wants its rows: the format, how times are written, and the JSON row cap."""

    format: Format
    time_format: TimeFormat = TimeFormat.rfc3339
    json_max_rows: int = DEFAULT_JSON_MAX_ROWS


# ---- content negotiation ----

def _ranges(accept: str) -> list[tuple[str, str, float]]:
    """The media ranges of an Accept header as (type, subtype, q), in the header's order; bad ones skipped."""
    out = []
    for part in accept.split(","):
        media, *params = part.split(";")
        kind, slash, sub = media.strip().lower().partition("/")
        if not slash or not kind or not sub:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = -1.0
        if q >= 0:
            out.append((kind, sub, q))
    return out


def negotiate(accept: str | None) -> Format | None:
    """The format an Accept header asks for (None: nothing this server writes matches).

    Each format takes the q of the most specific range naming it; the highest q wins, then
    the more specific range, then the earlier one in the header, then the server's order.

    >>> negotiate("text/csv, application/json").value, negotiate(None).value, negotiate("*/*;q=0.5").value
    ('csv', 'json', 'json')
    >>> negotiate("application/json;q=0, application/*").value, negotiate("text/html") is None
    ('ndjson', True)
    """
    if accept is None or not accept.strip():
        return Format.json
    ranges = _ranges(accept)
    best, best_key = None, None
    for order, (fmt, types) in enumerate(MEDIA_TYPES.items()):
        match = None  # (specificity, position, q) of the most specific range naming the format
        for media in types:
            kind, sub = media.split("/")
            for position, (rk, rs, q) in enumerate(ranges):
                specificity = 3 if (rk, rs) == (kind, sub) else 2 if (rk == kind and rs == "*") else \
                    1 if (rk, rs) == ("*", "*") else 0
                if specificity and (match is None or specificity > match[0]):
                    match = (specificity, position, q)
        if match is None or match[2] <= 0:
            continue
        key = (match[2], match[0], -match[1], -order)
        if best_key is None or key > best_key:
            best, best_key = fmt, key
    return best


async def output(  # async: trivial work, so FastAPI runs it inline instead of in a worker thread
    request: Request,
    f: Format | None = Query(
        None, description="The response format, overriding the `Accept` header: `json` (columns), `ndjson` "
                          "(one record a line), `arrow` (Arrow IPC stream) or `csv`.",
        openapi_examples={"json": {"summary": "JSON columns", "value": "json"},
                          "arrow": {"summary": "Arrow IPC stream", "value": "arrow"}}),
    time_format: TimeFormat = Query(
        TimeFormat.rfc3339, description="How JSON, NDJSON and CSV write times: `rfc3339` (UTC, e.g. "
                                        "`2020-12-03T03:20:15Z`) or `ns` (integer nanoseconds since "
                                        "1970-01-01T00:00:00Z). Arrow always carries `timestamp[ns, UTC]`.",
        openapi_examples={"rfc3339": {"summary": "RFC 3339 strings", "value": "rfc3339"},
                          "ns": {"summary": "epoch nanoseconds", "value": "ns"}}),
) -> Output:
    """The dependency choosing a row route's output (406 before any work when nothing matches)."""
    fmt = f if f is not None else negotiate(request.headers.get("accept"))
    if fmt is None:
        raise Problem(406, f"nothing this endpoint writes matches Accept {request.headers.get('accept')!r}: ask for "
                           + ", ".join(types[0] for types in MEDIA_TYPES.values())
                           + " (or give f=json|ndjson|arrow|csv)")
    cap = getattr(request.app.state.settings, "json_max_rows", DEFAULT_JSON_MAX_ROWS)
    return Output(fmt, time_format, cap)


def respond(result: Result, out: Output) -> Response:
    """The response carrying ``result`` as ``out`` asks; streamed in chunks unless JSON or one chunk long."""
    if out.format is Format.json:
        if len(result) > out.json_max_rows:
            raise Problem(406, f"the answer has {len(result):,} rows, more than the {out.json_max_rows:,} this server "
                               "writes as one JSON document: ask for a streamed format (Accept: application/x-ndjson, "
                               "application/vnd.apache.arrow.stream or text/csv, or f=ndjson|arrow|csv) or narrow "
                               "the query")
        return Response(json_document(result, out.time_format), media_type=_CONTENT_TYPE[Format.json])
    if out.format is Format.arrow:
        body = arrow_chunks(result)
    elif out.format is Format.ndjson:
        body = ndjson_chunks(result, out.time_format)
    else:
        body = csv_chunks(result, out.time_format)
    if len(result) <= CHUNK_ROWS:  # one chunk: sent whole with a length (streaming it would save nothing)
        return Response(b"".join(body), media_type=_CONTENT_TYPE[out.format])
    return StreamingResponse(body, media_type=_CONTENT_TYPE[out.format])


# ---- encoders ----

def rfc3339(t_ns: np.ndarray) -> pa.StringArray:
    """int64 ns (or datetime64) as RFC 3339 UTC strings, trailing zeros of the fraction dropped (as
    ``params.iso_array`` writes them).

    >>> rfc3339(np.array([0, 1_500_000_000, 1606969215 * 10**9])).to_pylist()
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:01.5Z', '2020-12-03T04:20:15Z']
    """
    ns = np.asarray(t_ns).astype("datetime64[ns]")
    if not len(ns):
        return pa.array([], pa.string())
    whole = (ns.view(np.int64) % 1_000_000_000 == 0).all()
    text = pa.array(np.datetime_as_string(ns, unit="s" if whole else "ns"))
    if not whole:
        text = pc.replace_substring_regex(text, r"\.?0+$", "")
    return pc.binary_join_element_wise(text, "Z", "")


def _quoted(values: np.ndarray, quote) -> pa.Array:
    """Strings quoted by ``quote`` (a function on one string), applied to the distinct values only."""
    encoded = pa.array(values, pa.string()).dictionary_encode()
    words = pa.array([quote(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return words.take(encoded.indices)


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _text(col: np.ndarray, time_format: TimeFormat, csv: bool = False) -> pa.Array:
    """Each value as JSON text (or as a CSV field): numbers as the shortest text that reads back the
    same, NaN and infinities as null (an empty CSV field), times per ``time_format``."""
    kind = col.dtype.kind
    if kind == "M":
        ns = col.astype("datetime64[ns]").view(np.int64)
        if time_format is TimeFormat.ns:
            return pc.cast(pa.array(ns), pa.string())
        text = rfc3339(ns)
        return text if csv else pc.binary_join_element_wise('"', text, '"', "")
    if kind in "USO":
        return _quoted(col, _csv_quote if csv else json.dumps)
    text = pc.cast(pa.array(col), pa.string())  # bool -> true/false; floats: shortest round-trip digits
    if kind == "f":
        finite = np.isfinite(col)
        if not finite.all():
            text = pc.if_else(pa.array(finite), text, pa.scalar("" if csv else "null"))
    return text


def _concat(text: pa.Array) -> bytes:
    """All the strings of ``text`` one after the other: a slice of its value buffer (no nulls there)."""
    if not len(text):
        return b""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset: text.offset + len(text) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    return text.buffers()[2].slice(start, end - start).to_pybytes()


def _slices(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK_ROWS):
        yield slice(start, min(n, start + CHUNK_ROWS))


def json_document(result: Result, time_format: TimeFormat) -> bytes:
    """``{"numberReturned": n, "columns": {name: [values...], ...}}``: one array per column, in row order."""
    cols = result.to_dict()
    parts = [b'{"numberReturned":%d,"columns":{' % len(result)]
    for i, (name, col) in enumerate(cols.items()):
        parts.append((("," if i else "") + json.dumps(name) + ":[").encode())
        for j, rows in enumerate(_slices(len(col))):
            if j:
                parts.append(b",")
            text = _text(col[rows], time_format)
            parts.append(_concat(pc.binary_join_element_wise(text, ",", ""))[:-1])
        parts.append(b"]")
    parts.append(b"}}")
    return b"".join(parts)


def ndjson_chunks(result: Result, time_format: TimeFormat) -> Iterator[bytes]:
    """One JSON object per row and line, ``CHUNK_ROWS`` rows a chunk."""
    cols = result.to_dict()
    keys = [("{" if i == 0 else ",") + json.dumps(name) + ":" for i, name in enumerate(cols)]
    for rows in _slices(len(result)):
        pieces = []
        for key, col in zip(keys, cols.values()):
            pieces += [key, _text(col[rows], time_format)]
        yield _concat(pc.binary_join_element_wise(*pieces, "}\n", ""))


def csv_chunks(result: Result, time_format: TimeFormat) -> Iterator[bytes]:
    """A header line, then ``CHUNK_ROWS`` rows a chunk (RFC 4180 quoting; NaN as an empty field)."""
    cols = result.to_dict()
    yield (",".join(_csv_quote(name) for name in cols) + "\r\n").encode()
    for rows in _slices(len(result)):
        pieces = []
        for i, col in enumerate(cols.values()):
            pieces += ([","] if i else []) + [_text(col[rows], time_format, csv=True)]
        yield _concat(pc.binary_join_element_wise(*pieces, "\r\n", ""))


#: Field metadata of an Arrow answer's string columns: their numpy dtype (e.g. ``<U12``).
DTYPE_KEY = "chronotope.dtype"


def _arrow(col: np.ndarray) -> pa.Array:
    if col.dtype.kind == "M":
        return pa.array(col.astype("datetime64[ns]").view(np.int64), pa.timestamp("ns", tz="UTC"))
    return pa.array(col)


def arrow_chunks(result: Result) -> Iterator[bytes]:
    """An Arrow IPC stream: the schema, then a record batch per ``CHUNK_ROWS`` rows, then the end marker."""
    cols = result.to_dict()
    sink = io.BytesIO()

    def batch(rows: slice) -> pa.RecordBatch:
        return pa.record_batch([_arrow(col[rows]) for col in cols.values()], names=list(cols))

    first = batch(slice(0, min(len(result), CHUNK_ROWS)))
    schema = first.schema
    for i, col in enumerate(cols.values()):
        if col.dtype.kind == "U":  # the numpy width, so that a client gets the embedded store's exact dtype
            schema = schema.set(i, schema.field(i).with_metadata({DTYPE_KEY: col.dtype.str}))
    with pa.ipc.new_stream(sink, schema) as writer:
        for rows in _slices(len(result)):
            writer.write_batch(first if rows.start == 0 else batch(rows))
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()  # the schema of an empty answer, and the end-of-stream marker


# ---- OpenAPI ----

_ROWS_EXAMPLE = {"numberReturned": 2, "columns": {"object_id": [367000150, 367000150],
                                                  "t": ["2020-12-03T00:00:05Z", "2020-12-03T00:01:15Z"],
                                                  "x": [-74.01296, -74.01301], "y": [40.6437, 40.64369]}}
_ROWS_SCHEMA = {
    "type": "object", "required": ["numberReturned", "columns"],
    "properties": {
        "numberReturned": {"type": "integer", "minimum": 0, "description": "the number of rows"},
        "columns": {"type": "object", "description": "one array per column, all of length numberReturned, in row "
                                                      "order: object_id, t, x, y[, z], properties[, derived columns]",
                    "additionalProperties": {"type": "array", "items": {}}},
    },
}

#: The ``responses=`` of a route answering rows (200 in every format, 406).
ROWS_RESPONSES = {
    200: {"description": "The rows, in the format `Accept` or `f` asks for (JSON when neither does). NDJSON, Arrow "
                         "and CSV are streamed (chunked), 65,536 rows at a time, when longer than that.",
          "content": {
              "application/json": {"schema": _ROWS_SCHEMA, "example": _ROWS_EXAMPLE},
              "application/x-ndjson": {"schema": {"type": "string"},
                                       "example": '{"object_id":367000150,"t":"2020-12-03T00:00:05Z","x":-74.01296,'
                                                  '"y":40.6437}\n'},
              "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
              "text/csv": {"schema": {"type": "string"},
                           "example": "object_id,t,x,y\r\n367000150,2020-12-03T00:00:05Z,-74.01296,40.6437\r\n"},
          }},
    406: {"description": "No format this endpoint writes matches `Accept`, or a JSON answer would exceed the "
                         "server's row cap (ask for NDJSON, Arrow or CSV)",
          "content": {PROBLEM_JSON: {"example": {
              "type": "about:blank", "title": "Not Acceptable", "status": 406,
              "detail": "the answer has 172,679 rows, more than the 100,000 this server writes as one JSON document: "
                        "ask for a streamed format ...", "instance": "/collections/ais/query"}}}},
}
