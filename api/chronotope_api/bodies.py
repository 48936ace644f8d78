"""Request bodies of samples as columns: JSON, NDJSON, CSV, Arrow IPC and the binary batch, by Content-Type.

Every format becomes the same thing, a dict of numpy columns ``object_id``,
``t`` (int64 UTC nanoseconds), ``x``, ``y``, ``[z]`` and properties, ready for
``Collection.append`` (which checks values and the schema). Parsing is
vectorised: JSON is decoded once by the standard library, its records gathered
into columns by C-level maps and each column converted by numpy; NDJSON, CSV and
Arrow are read by pyarrow (NDJSON falls back to the standard library for a
precise error); the batch by
:func:`chronotope.batch.decode_batch`; RFC 3339 times by
:func:`chronotope_api.instants.parse_instants`.

A body that cannot be read is a :class:`~chronotope_api.problems.Problem` 400
(415 for an unknown Content-Type, 413 for a batch too large to decode); one that
reads but holds wrong values raises InvalidArgumentError naming the column and
row (the route answers it 422).
"""

from __future__ import annotations

import io
import itertools
import json
import re

import numpy as np

from chronotope import batch
from chronotope.errors import CorruptDataError, InvalidArgumentError
from chronotope_api.instants import parse_instants
from chronotope_api.problems import Problem

__all__ = ["parse_body", "MEDIA_TYPES", "REQUIRED"]

REQUIRED = ("object_id", "t", "x", "y")
JSON, NDJSON, CSV, ARROW, BATCH = ("application/json", "application/x-ndjson", "text/csv",
                                   "application/vnd.apache.arrow.stream", batch.MEDIA_TYPE)
MEDIA_TYPES = (JSON, NDJSON, CSV, ARROW, BATCH)
_ALIASES = {"application/ndjson": NDJSON, "application/jsonl": NDJSON, "application/json-lines": NDJSON}
_BLANK_LINES = re.compile(rb"\n[ \t\r]*(?=\n)")
_NOT_AN_OBJECT = re.compile(rb"\n[ \t\r]*[^{ \t\r]")  # a line that starts with something else than {
_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$|^[-+]?(inf|infinity|nan)$"


def parse_body(body: bytes, content_type: str | None, *, schema: dict[str, str] | None = None,
               string_ids: bool = False, max_bytes: int = batch.DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """The columns of a request body ({} when it holds no rows). ``schema``: the collection's properties
    (a property missing from a row is NaN, or 0 for an integer property); ``string_ids``: the collection
    keeps string ids, so integer ids are taken as their decimal text."""
    media = _media_type(content_type)
    fills = {name: 0 if np.dtype(dtype).kind in "biu" else np.nan for name, dtype in (schema or {}).items()}
    if media == JSON:
        cols = _from_json(_json(body), fills)
    elif media == NDJSON:
        cols = _from_ndjson(body, fills)
    elif media == CSV:
        cols = _from_arrow(_csv(body), fills)
        if cols and not string_ids:
            cols["object_id"] = _integers_if_all(cols.get("object_id"))
    elif media == ARROW:
        cols = _from_arrow(_arrow_stream(body), fills)
    else:
        cols = _batch(body, max_bytes)
    if not cols or len(cols.get("t", (0,))) == 0:
        return {}  # nothing to append
    return _finish(cols, string_ids)


def _media_type(content_type: str | None) -> str:
    if not content_type:
        raise Problem(415, f"send a Content-Type: one of {', '.join(MEDIA_TYPES)}")
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    media = _ALIASES.get(media, media)
    if media not in MEDIA_TYPES:
        raise Problem(415, f"Content-Type {media!r} is not supported here; use one of {', '.join(MEDIA_TYPES)}")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.I)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8", "us-ascii"):
        raise Problem(415, f"charset {charset.group(1)!r} is not supported; send UTF-8")
    return media


# ---- JSON and NDJSON ----

def _json(body: bytes):
    try:
        return json.loads(body.decode("utf-8-sig"))  # UTF-8 only (json.loads would guess UTF-16 and -32 too)
    except UnicodeDecodeError as exc:
        raise Problem(400, f"the body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise Problem(400, f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise Problem(400, "the body is not JSON this server reads: nested too deeply") from None


def _from_json(doc, fills: dict) -> dict:
    if isinstance(doc, list):
        return _from_records(doc, fills, "row", 0)
    if isinstance(doc, dict):
        for name, values in doc.items():
            if not isinstance(values, list) and name != "object_id":
                raise InvalidArgumentError(f"column {name!r} must be an array of values, got {type(values).__name__}")
        return {name: _column(values, name, fills.get(name, np.nan)) for name, values in doc.items()}
    kind = {str: "string", int: "number", float: "number", bool: "boolean"}.get(type(doc), "null")
    raise InvalidArgumentError(f"the body must be an array of sample records or an object of columns, got a {kind}")


def _from_ndjson(body: bytes, fills: dict) -> dict:
    """NDJSON by pyarrow's parallel reader when it can (no Python object per row); what it refuses, reads
    into a wrong column or reads as other than one record a line goes the standard library's way, which
    names the line."""
    text = _BLANK_LINES.sub(b"", body.replace(b"\r\n", b"\n")).strip()
    if not text:
        return {}
    lines = text.count(b"\n") + 1
    try:
        import pyarrow as pa
        import pyarrow.json as pj
    except ImportError:
        pa = None
    # pyarrow's JSON reader is no parser for hostile input (pyarrow 26 crashes on a body starting with null):
    # it only gets bodies whose every line starts an object
    if pa is not None and text.startswith(b"{") and not _NOT_AN_OBJECT.search(text):
        for schema in (pa.schema([("t", pa.string())]), None):  # times as RFC 3339 text, else as numbers
            try:
                table = pj.read_json(io.BytesIO(text), parse_options=pj.ParseOptions(explicit_schema=schema))
                if table.num_rows == lines:
                    return _from_arrow(table, fills)
            except (pa.lib.ArrowException, InvalidArgumentError):
                continue
    return _from_records(_ndjson(body, text, lines), fills, "line", 1)


def _ndjson(body: bytes, text: bytes, lines: int) -> list:
    """NDJSON as a list of records, in one decoder call: each line is wrapped as a one-element array."""
    try:
        rows = json.loads(b"[[" + text.replace(b"\n", b"],[") + b"]]")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        rows = None
    if rows is None or len(rows) != lines or set(map(len, rows)) != {1}:
        _bad_line(body)
    return list(itertools.chain.from_iterable(rows))


def _bad_line(body: bytes) -> None:
    """The error path only: find the first line that is not one JSON value."""
    for number, line in enumerate(body.split(b"\n"), 1):
        if line.strip():
            try:
                json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise Problem(400, f"NDJSON line {number} is not JSON: {getattr(exc, 'msg', exc)}") from None
    raise Problem(400, "the body is not NDJSON: one JSON record per line")


def _from_records(records: list, fills: dict, unit: str, first: int) -> dict:
    """An array of records as columns: a key missing from a record is null there."""
    if set(map(type, records)) - {dict}:
        row = next(i for i, r in enumerate(records) if not isinstance(r, dict))
        raise InvalidArgumentError(f"{unit} {row + first} is not a JSON object but {json.dumps(records[row])[:64]}")
    names = set().union(*records)
    missing = [name for name in REQUIRED if name not in names]
    if records and missing:
        raise InvalidArgumentError(f"missing column(s) {missing}: every sample needs object_id, t, x and y")
    return {name: _column(list(map(dict.get, records, itertools.repeat(name))), name, fills.get(name, np.nan),
                          unit, first) for name in names}  # the map runs in C: no Python code per row


def _column(values, name: str, fill=np.nan, unit: str = "row", first: int = 0) -> np.ndarray:
    """A JSON array as a numpy column: numbers, strings (ids and times only) or, for properties, null as
    ``fill``."""
    if name == "object_id" and not isinstance(values, list):
        return np.asarray(values)  # one id for every row
    text = name in ("object_id", "t")
    try:
        a = np.array(values) if values else np.empty(0)
    except (ValueError, OverflowError):  # nested arrays of different lengths
        a = None
    if a is not None and a.ndim == 1:
        if a.dtype.kind in "iuf" or (a.dtype.kind == "U" and text):
            return a
        if a.dtype.kind == "O" and name not in REQUIRED:  # nulls among the numbers of a property
            null = a == None  # noqa: E711 - elementwise on an object array
            kinds = {type(v) for v in a[~null]}
            if null.any() and kinds <= {int, float}:
                try:
                    return np.where(null, fill, a).astype(np.int64 if fill == 0 and float not in kinds else np.float64)
                except OverflowError:  # an integer beyond 64 bits: named below
                    pass
    row, why = _odd_one(values, text, nullable=name not in REQUIRED)
    raise InvalidArgumentError(f"column {name!r}: {unit} {row + first} holds {json.dumps(values[row])[:64]}, {why}")


def _odd_one(values: list, text: bool, nullable: bool) -> tuple[int, str]:
    """The error path: the first value that is not a number (or, with ``text``, a string; with ``nullable``,
    null), and why."""
    wanted = "not a number or a string" if text else "not a number"
    for row, v in enumerate(values):
        if v is None and nullable:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, str) if text else (int, float)):
            return row, wanted
        if isinstance(v, int) and not -2**63 <= v < 2**64:
            return row, "out of the 64-bit integer range"
    return 0, wanted


# ---- CSV and Arrow ----

def _pyarrow():
    try:
        import pyarrow
        import pyarrow.csv  # noqa: F401
        import pyarrow.ipc  # noqa: F401
    except ImportError:
        raise Problem(415, "this server cannot read CSV or Arrow bodies (pyarrow is not installed); "
                           "send JSON, NDJSON or the binary batch") from None
    return pyarrow


def _csv(body: bytes):
    pa = _pyarrow()
    types = {"t": pa.string(), "object_id": pa.string()}  # ids as written: "0042" or 2020-12-01 stay text
    try:
        table = pa.csv.read_csv(io.BytesIO(body), convert_options=pa.csv.ConvertOptions(column_types=types))
        table.column_names  # names are decoded lazily: a bad one fails here  # noqa: B018
        return table
    except (pa.lib.ArrowException, UnicodeDecodeError) as exc:
        raise Problem(400, f"the body is not CSV with a header row: {str(exc).splitlines()[0][:300]}") from None


def _arrow_stream(body: bytes):
    pa = _pyarrow()
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        table.validate(full=True)  # the reader trusts offsets, dictionary indices and UTF-8: check them all
        [(field.name, str(field.type)) for field in table.schema]  # names, time zones: decoded lazily, fail here
        return table
    except (pa.lib.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise Problem(400, f"the body is not an Arrow IPC stream: {str(exc).splitlines()[0][:300]}") from None


def _from_arrow(table, fills: dict) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    names = table.column_names
    if table.num_rows == 0:
        return {}
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"column names repeat: {names}")
    cols = {}
    for name in names:
        arr = table.column(name).combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        numeric = pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
        if arr.null_count and (name in REQUIRED or not numeric):
            row = pc.index(arr.is_null(), True).as_py()
            raise InvalidArgumentError(f"column {name!r}: no value at row {row}")
        if arr.null_count:  # a property missing from some rows
            fill = fills.get(name, np.nan)
            arr = pc.fill_null(arr if fill == 0 else arr.cast(pa.float64()), fill)
        if (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) and name not in ("object_id", "t"):
            cols[name] = _arrow_numbers(arr, name)
        elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            cols[name] = _arrow_strings(arr.cast(pa.large_string()), name)
        elif pa.types.is_temporal(arr.type) and not (name == "t" and pa.types.is_timestamp(arr.type)):
            raise InvalidArgumentError(f"column {name!r} holds dates or times; only t is a time")
        elif pa.types.is_timestamp(arr.type):
            cols[name] = _arrow_times(arr, name)
        elif pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
            cols[name] = arr.to_numpy(zero_copy_only=False)
        else:
            raise InvalidArgumentError(f"column {name!r} has the Arrow type {arr.type}; use numbers, strings "
                                       "(ids, RFC 3339 times) or timestamps")
    return cols


def _arrow_times(arr, name: str) -> np.ndarray:
    """A timestamp array (any unit; UTC whatever its time zone, which is not even read) as int64 ns."""
    import pyarrow as pa

    factor = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[arr.type.unit]
    raw = arr.view(pa.int64()).to_numpy()
    outside = np.abs(raw) > np.iinfo(np.int64).max // factor
    if outside.any():
        raise InvalidArgumentError(f"column {name!r}: row {int(np.argmax(outside))} is outside the nanosecond "
                                   "time range (1677-09-22 to 2262-04-11)")
    return raw * factor


def _arrow_numbers(arr, name: str) -> np.ndarray:
    """Text where numbers belong (a CSV column with a word in it): numbers if they all read, else the bad row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        number = pc.match_substring_regex(pc.utf8_trim_whitespace(arr), _NUMBER, ignore_case=True)
        row = pc.index(number, False).as_py()
        raise InvalidArgumentError(f"column {name!r}: row {max(row, 0)} holds {arr[max(row, 0)].as_py()[:64]!r}, "
                                   "not a number") from None


def _arrow_strings(arr, name: str) -> np.ndarray:
    """A large_string array as a numpy unicode array, through its offsets and UTF-8 bytes (no per-row objects);
    Arrow IPC does not check the bytes, so they are checked here."""
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    if not 0 <= offsets[0] <= offsets[-1] <= len(data):
        raise Problem(400, f"column {name!r}: string offsets outside the data")
    try:
        return batch.utf8_to_strings(offsets - offsets[0], data[offsets[0] : offsets[-1]], what=f"column {name!r}")
    except CorruptDataError as exc:
        raise Problem(400, f"the body holds damaged strings: {exc}") from None


def _integers_if_all(ids):
    """CSV ids that are all integers (no leading zeros) as int64, else as they are."""
    if ids is None or ids.dtype.kind != "U" or not len(ids):
        return ids
    digits = np.char.lstrip(ids, "-")
    lengths = np.char.str_len(digits)
    integral = np.char.isdigit(digits) & (lengths <= 18) & (np.char.str_len(ids) - lengths <= 1)
    integral &= (lengths == 1) | ~np.char.startswith(digits, "0")
    return ids.astype(np.int64) if integral.all() else ids


# ---- the binary batch ----

def _batch(body: bytes, max_bytes: int) -> dict:
    try:
        cols = batch.decode_batch(body, max_bytes=max_bytes)
    except CorruptDataError as exc:
        raise Problem(400, f"the body is not a valid chronotope batch: {exc}") from None
    except InvalidArgumentError as exc:
        raise Problem(413, str(exc)) from None
    return cols


# ---- common to all ----

def _finish(cols: dict, string_ids: bool) -> dict[str, np.ndarray]:
    missing = [name for name in REQUIRED if name not in cols]
    if missing:
        raise InvalidArgumentError(f"missing column(s) {missing}: every sample needs object_id, t, x and y")
    t = np.asarray(cols["t"])
    if t.dtype.kind in "UO":
        cols["t"] = parse_instants(t)
    elif t.dtype.kind not in "iuM":
        raise InvalidArgumentError(f"column 't' must hold RFC 3339 date-times or integer nanoseconds, got {t.dtype}")
    ids = np.asarray(cols["object_id"])
    if string_ids and ids.dtype.kind in "iu":
        cols["object_id"] = ids.astype(str)
    return cols
