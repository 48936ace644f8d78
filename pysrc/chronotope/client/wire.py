"""What goes over the wire: rows in and out of the server, times as RFC 3339, MF-JSON and GeoJSON helpers.

Answers arrive as Arrow IPC streams and become :class:`chronotope.Result` with the
dtypes the embedded store returns (``t`` datetime64[ns], ids int64 or unicode,
coordinates float64, properties their schema's dtype), column-wise with
pyarrow/numpy. Samples leave as the package's binary batch (default), an Arrow
IPC stream or JSON columns.
"""

from __future__ import annotations

import datetime
import functools
import io
import itertools
import json
from typing import Any

import numpy as np

from chronotope import batch
from chronotope.errors import CorruptDataError, InvalidArgumentError
from chronotope.ingest import normalise_times, to_ns
from chronotope.results import Result

__all__ = ["ChunkReader", "decode_arrow_chunks", "ARROW", "BATCH", "JSON", "FORMATS", "rfc3339", "parse_rfc3339", "interval", "duration",
           "decode_arrow", "encode_samples", "to_mfjson", "from_mfjson", "to_geojson"]

ARROW = "application/vnd.apache.arrow.stream"
BATCH = "application/vnd.chronotope.batch"
JSON = "application/json"
#: Ingest formats and their media types.
FORMATS = {"batch": BATCH, "arrow": ARROW, "json": JSON}
_I64 = np.iinfo(np.int64)
_EPOCH = datetime.datetime(1970, 1, 1)
_MAX_STRING_WIDTH = 4096  # characters: a server's dtype hint wider than this is ignored (memory)


# ---- times ----

def rfc3339(t) -> str:
    """One instant (datetime64, ISO string, int ns — what the embedded store accepts) as RFC 3339 UTC.

    >>> rfc3339(1_500_000_000), rfc3339("2020-12-03T04:20:15")
    ('1970-01-01T00:00:01.5Z', '2020-12-03T04:20:15Z')
    """
    seconds, frac = divmod(to_ns(t, "time"), 10**9)
    text = (_EPOCH + datetime.timedelta(seconds=seconds)).isoformat()  # int64 ns stays within years 1677-2262
    return f"{text}.{frac:09d}".rstrip("0") + "Z" if frac else f"{text}Z"


def parse_rfc3339(texts) -> np.ndarray:
    """RFC 3339 UTC strings (as the server writes them, ``Z``) as datetime64[ns]."""
    a = np.asarray(texts, dtype=str)
    if not a.size:
        return np.empty(a.shape, dtype="datetime64[ns]")
    return np.char.rstrip(a, "Zz").astype("datetime64[ns]")


def interval(lo: int, hi: int) -> str | None:
    """An inclusive (start, end) in ns as the ``datetime`` parameter (``..`` for open ends); None: no limit."""
    start = ".." if lo == int(_I64.min) else rfc3339(lo)
    end = ".." if hi == int(_I64.max) else rfc3339(hi)
    return None if start == end == ".." else f"{start}/{end}"


def duration(ns: int | None) -> str | None:
    """A duration in ns as the server reads it (plain nanoseconds)."""
    return None if ns is None else str(int(ns))


# ---- rows from the server ----

@functools.cache
def _plain_types() -> frozenset:
    """Arrow types whose ``to_numpy`` is already the embedded store's column."""
    import pyarrow as pa

    return frozenset([pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(),
                      pa.uint64(), pa.float32(), pa.float64(), pa.bool_()])


def _column(arr) -> np.ndarray:
    """An Arrow column as the numpy array the embedded store would return (no per-row Python)."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if arr.type in _plain_types():  # the common columns: numbers
        return arr.to_numpy(zero_copy_only=False)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type):
        factor = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[arr.type.unit]
        raw = arr.view(pa.int64()).to_numpy(zero_copy_only=False)
        return (raw * factor if factor != 1 else raw).view("datetime64[ns]")
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
        if not len(arr):
            return np.empty(0, dtype="U1")
        _, offsets_buf, data_buf = arr.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
        return batch.utf8_to_strings(offsets - offsets[0], data[offsets[0]: offsets[-1]], max_bytes=2**62)
    return arr.to_numpy(zero_copy_only=False)


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (a streamed response body), for pyarrow's reader."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not len(self._pending):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, fewer only at the end (pyarrow takes a short read for a truncated stream)."""
        if size is None or size < 0:
            return self.readall()
        out = bytearray(size)
        view, got = memoryview(out), 0
        while got < size:
            n = self.readinto(view[got:])
            if not n:
                break
            got += n
        return bytes(out[:got])


#: Answers up to this size are gathered and decoded in one piece (cheaper); longer ones as they arrive.
WHOLE_BODY_LIMIT = 4 << 20


def decode_arrow_chunks(chunks, whole_limit: int = WHOLE_BODY_LIMIT) -> Result:
    """An Arrow IPC stream arriving as byte chunks (a streamed body) as a :class:`chronotope.Result`.

    A short answer is joined and decoded from memory; past ``whole_limit`` bytes the
    rest is decoded while it arrives, so a large body is never held whole beside its
    columns. The iterator is read to its end either way.
    """
    chunks = iter(chunks)
    head, size = [], 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size > whole_limit:
            break
    else:
        return decode_arrow(b"".join(head))
    result = decode_arrow(ChunkReader(itertools.chain([b"".join(head)], chunks)))
    for _ in chunks:  # whatever follows the stream's end marker
        pass
    return result


def decode_arrow(body) -> Result:
    """An Arrow IPC stream (bytes or a file-like object) as a :class:`chronotope.Result`."""
    import pyarrow as pa

    source = pa.py_buffer(body) if isinstance(body, (bytes, bytearray, memoryview)) else body
    try:
        table = pa.ipc.open_stream(source).read_all()
    except (pa.ArrowException, OSError) as exc:  # a cut or damaged body (a broken connection raises its own)
        raise CorruptDataError(f"the server's Arrow answer is damaged or cut short: {exc}") from None
    return Result({field.name: _as_dtype(_column(table.column(i)), field.metadata)
                   for i, field in enumerate(table.schema)})


def _as_dtype(a: np.ndarray, metadata: dict | None) -> np.ndarray:
    """A string column at the width the server's store gave it (its field metadata), when that is wider."""
    wanted = (metadata or {}).get(b"chronotope.dtype")
    if wanted is None or a.dtype.kind != "U":
        return a
    try:
        dtype = np.dtype(wanted.decode("ascii"))
    except (TypeError, ValueError, UnicodeDecodeError):
        return a  # not ours to trust: keep the decoded width
    widen = dtype.kind == "U" and a.dtype.itemsize < dtype.itemsize <= _MAX_STRING_WIDTH * 4
    return a.astype(dtype) if widen else a


# ---- samples to the server ----

def _arrow_stream(columns: dict[str, np.ndarray]) -> bytes:
    import pyarrow as pa

    arrays = []
    for name, a in columns.items():
        if a.dtype.kind == "M":
            arrays.append(pa.array(a.astype("datetime64[ns]").view(np.int64), pa.timestamp("ns", tz="UTC")))
        else:
            arrays.append(pa.array(a))
    table = pa.table(arrays, names=list(columns))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _json_columns(columns: dict[str, np.ndarray]) -> bytes:
    out = {}
    for name, a in columns.items():
        if a.dtype.kind == "M":
            a = a.astype("datetime64[ns]").view(np.int64)
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            # JSON has no NaN: a missing property value is null (the server fills it as the store does)
            out[name] = np.where(np.isfinite(a), a, None).tolist()
        else:
            out[name] = a.tolist()
    return json.dumps(out, separators=(",", ":")).encode()


def encode_samples(object_id, t, x, y, z, columns: dict, fmt: str = "batch") -> tuple[bytes, str]:
    """Samples as a request body in ``fmt`` (batch, arrow or json): (body, Content-Type)."""
    if fmt not in FORMATS:
        raise InvalidArgumentError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    # times as the embedded store reads them (datetime64 of any unit or int ns; not text), checked here
    cols: dict[str, Any] = {"t": normalise_times(t), "x": np.asarray(x), "y": np.asarray(y)}
    if z is not None:
        cols["z"] = np.asarray(z)
    cols.update({name: np.asarray(v) for name, v in columns.items()})
    n = len(cols["t"])
    ids = np.asarray(object_id)
    if ids.ndim == 0:  # one id for every row, as the embedded append allows
        ids = np.full(n, ids.item() if ids.dtype.kind not in "US" else str(ids), dtype=ids.dtype)
    cols = {"object_id": ids, **cols}
    if fmt == "batch":
        return batch.encode_batch(cols), BATCH
    for name, a in cols.items():
        if a.ndim != 1:
            raise InvalidArgumentError(f"column {name!r} must be 1-D, got shape {a.shape}")
        if a.dtype.kind == "O":
            cols[name] = batch._as_column(name, a)  # strings of objects as a unicode array, checked
    return (_arrow_stream(cols), ARROW) if fmt == "arrow" else (_json_columns(cols), JSON)


# ---- OGC API – Moving Features: MF-JSON and GeoJSON ----

def _times(t: np.ndarray) -> list[str]:
    ns = np.asarray(t).astype("datetime64[ns]")
    text = np.datetime_as_string(ns, unit="ns")
    return np.char.add(np.char.rstrip(np.char.rstrip(text, "0"), "."), "Z").tolist()


def to_mfjson(result: Result) -> dict:
    """Rows (``object_id, t, x, y[, z]`` and numeric columns, sorted by object then t) as an MF-JSON
    FeatureCollection: one Feature per object with a MovingPoint ``temporalGeometry`` and its other
    columns as ``temporalProperties`` (what ``POST /collections/{id}/items`` takes)."""
    cols = result.to_dict()
    missing = [c for c in ("object_id", "t", "x", "y") if c not in cols]
    if missing:
        raise InvalidArgumentError(f"to_mfjson needs the column(s) {missing}")
    ids = cols["object_id"]
    n = len(ids)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.empty(0, np.int64)
    ends = np.r_[starts[1:], n]
    xyz = ["x", "y", *(["z"] if "z" in cols else [])]
    coords = np.column_stack([cols[c] for c in xyz]).tolist() if n else []
    times = _times(cols["t"])
    extra = [c for c in cols if c not in ("object_id", "t", *xyz)]
    values = {c: np.where(np.isfinite(cols[c]), cols[c], None).tolist() if cols[c].dtype.kind == "f"
              else cols[c].tolist() for c in extra}
    features = []
    for s, e in zip(starts.tolist(), ends.tolist()):  # one Python step per feature, not per row
        feature = {"type": "Feature", "id": ids[s].item(),
                   "temporalGeometry": {"type": "MovingPoint", "datetimes": times[s:e], "coordinates": coords[s:e],
                                        "interpolation": "Linear"}}
        if extra:
            feature["temporalProperties"] = [{"datetimes": times[s:e], **{
                c: {"type": "Measure", "values": values[c][s:e], "interpolation": "Linear"} for c in extra}}]
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def from_mfjson(doc: dict) -> Result:
    """An MF-JSON Feature or FeatureCollection (MovingPoint geometries, Measure properties) as rows
    ``object_id, t, x, y[, z]`` and the properties, sorted by object then t as stored."""
    if not isinstance(doc, dict):
        raise InvalidArgumentError("an MF-JSON document is a JSON object")
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    parts: dict[str, list] = {}
    for i, feature in enumerate(features or []):
        geo = feature.get("temporalGeometry") or {}
        prisms = geo.get("prisms") if geo.get("type") == "MovingGeometryCollection" else [geo]
        for prism in prisms or []:
            times, coords = prism.get("datetimes"), prism.get("coordinates")
            if not isinstance(times, list) or not isinstance(coords, list) or len(times) != len(coords):
                raise InvalidArgumentError(f"feature {i}: a temporal geometry needs datetimes and coordinates "
                                           "of one length")
            xyz = np.asarray(coords, dtype=np.float64).reshape(len(coords), -1)
            parts.setdefault("object_id", []).append(np.full(len(times), feature.get("id", i)))
            parts.setdefault("t", []).append(parse_rfc3339(times))
            parts.setdefault("x", []).append(xyz[:, 0])
            parts.setdefault("y", []).append(xyz[:, 1])
            if xyz.shape[1] > 2:
                parts.setdefault("z", []).append(xyz[:, 2])
        for group in feature.get("temporalProperties") or []:
            for name, prop in group.items():
                if name != "datetimes":
                    values = np.array([np.nan if v is None else v for v in prop.get("values", [])], dtype=np.float64)
                    parts.setdefault(name, []).append(values)
    cols = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    if not cols:
        return Result({})
    order = np.lexsort((cols["t"], cols["object_id"]))
    return Result({name: col[order] for name, col in cols.items() if len(col) == len(order)})


def to_geojson(result: Result) -> dict:
    """Rows with ``x, y`` as a GeoJSON FeatureCollection of Points, the other columns as properties
    (times in RFC 3339)."""
    cols = result.to_dict()
    n = len(result)
    points = np.column_stack([cols["x"], cols["y"]]).tolist() if n else []
    props = {}
    for name, col in cols.items():
        if name in ("x", "y"):
            continue
        if col.dtype.kind == "M":
            props[name] = _times(col)
        elif col.dtype.kind == "f":
            props[name] = np.where(np.isfinite(col), col, None).tolist()
        else:
            props[name] = col.tolist()
    names = list(props)
    rows = zip(*props.values()) if names else iter([()] * n)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": p}, "properties": dict(zip(names, r))}
        for p, r in zip(points, rows)]}
