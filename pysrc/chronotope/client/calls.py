"""The requests behind each method of a remote store, shared by the sync and the async client.

Every method of :class:`~chronotope.client.remote.RemoteCollection` checks its
arguments with the package's own parsers (so a bad argument raises the same
exception, with the same message, as the embedded store, before any request),
turns them into one :class:`Call` (method, path, parameters, body) and decodes
the answer with the call's ``decode``. The sync and async classes differ only in
how they send a call.
"""

from __future__ import annotations

import math
import numbers
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

import numpy as np

from chronotope.errors import InvalidArgumentError
from chronotope.client import wire
from chronotope.ingest import (check_metadata, check_name, check_schema, duration_ns, normalise_batch, parse_partition,
                               time_range, to_ns)
from chronotope.results import Result
from chronotope.spatial import parse_bbox, parse_point, parse_polygon

__all__ = ["Call", "Description", "store_calls", "collection_calls", "rows_call", "next_page", "plan_of",
           "aggregate_of", "extent_of"]


@dataclass
class Call:
    """One HTTP request and how to read its answer."""

    method: str
    path: str
    params: dict | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict = field(default_factory=dict)
    idempotency_key: str | None = None
    decode: Callable[[Any], Any] = lambda resp: resp.json()
    #: called with the exception a problem answer raised: returns the method's value, or re-raises
    on_error: Callable[[BaseException], Any] | None = None
    #: the answer is rows in an Arrow IPC stream, decoded while it arrives (``decode`` is not used)
    rows: bool = False

    def kwargs(self, timeout: float | None = None) -> dict:
        """The keyword arguments of ``Transport.request``."""
        kw = {"params": {k: v for k, v in (self.params or {}).items() if v is not None} or None,
              "json": self.json, "content": self.content, "headers": self.headers or None,
              "idempotency_key": self.idempotency_key}
        if timeout is not None:
            kw["timeout"] = timeout
        return {k: v for k, v in kw.items() if v is not None}


def _seg(value) -> str:
    """A path segment (ids may hold '/', spaces, ...)."""
    return quote(str(value.item() if isinstance(value, np.generic) else value), safe="")


def _rows(resp) -> Result:
    return wire.decode_arrow(resp.content)


def rows_call(method: str, path: str, **fields) -> Call:
    """A call answering rows: asks for Arrow, read as a stream by the clients."""
    return Call(method, path, headers={"Accept": wire.ARROW}, decode=_rows, rows=True, **fields)


# ---- the collection's description ----

def _crs(uri: str) -> str:
    """The store's CRS name from the URI a collection document carries."""
    if uri == "http://www.opengis.net/def/crs/OGC/1.3/CRS84":
        return "EPSG:4326"
    prefix = "http://www.opengis.net/def/crs/"
    if uri.startswith(prefix):
        authority, _version, code = uri[len(prefix):].split("/", 2)
        return f"{authority}:{code}"
    return uri


def _timedelta(text: str) -> np.timedelta64:
    ns = int(text[:-2]) if text.endswith("ns") else int(text[:-1]) * 10**9
    return np.timedelta64(ns, "ns")


class Description:
    """What ``GET /collections/{id}`` says about a collection: fixed at creation, so kept by the handle."""

    def __init__(self, doc: dict):
        own = doc.get("chronotope", {})
        self.name: str = doc["id"]
        self.schema: dict[str, str] = {k: np.dtype(v["type"]).str for k, v in own.get("properties", {}).items()}
        self.crs: str = _crs((doc.get("crs") or ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"])[0])
        self.has_z: bool = bool(own.get("has_z", False))
        self.max_gap = _timedelta(own.get("max_gap", "600s"))
        self.partition = _timedelta(own.get("partition", "86400s"))
        self.id_kind: str | None = own.get("id_kind")  # None until the first append fixes it
        self.metadata: dict = own.get("metadata") or {}


class Described:
    """The attributes a remote collection (sync or async) answers from its :class:`Description`."""

    _desc: Description

    @property
    def schema(self) -> dict[str, str]:
        """Property columns and their dtypes."""
        return dict(self._desc.schema)

    @property
    def crs(self) -> str:
        """The coordinate reference system, e.g. "EPSG:4326" (lon/lat, distances in metres)."""
        return self._desc.crs

    @property
    def has_z(self) -> bool:
        """Whether samples carry a height ``z``."""
        return self._desc.has_z

    @property
    def max_gap(self) -> np.timedelta64:
        """The longest time between two samples that interpolation bridges."""
        return self._desc.max_gap

    @property
    def partition(self) -> np.timedelta64:
        """The length of the time partitions segments are cut into."""
        return self._desc.partition

    @property
    def id_kind(self) -> str | None:
        """"int" or "str": the kind of object ids the first append fixed; None while the collection is empty
        (as this handle last saw it: it is refreshed by its own appends, ``extent()`` and the metadata)."""
        return self._desc.id_kind


def extent_of(doc: dict) -> dict:
    """The embedded ``Collection.extent()`` from a collection document."""
    ext = doc.get("extent")
    if not ext:
        return {"bbox": None, "time": None}
    bbox = [float(v) for v in ext["spatial"]["bbox"][0]]
    t0, t1 = wire.parse_rfc3339(ext["temporal"]["interval"][0])
    return {"bbox": bbox, "time": [t0, t1]}


def plan_of(doc: dict):
    """The embedded :class:`chronotope.planner.Plan` from an explain answer (``str()`` is the server's text)."""
    from dataclasses import fields

    from chronotope.planner import Plan

    names = {f.name for f in fields(Plan)}
    return Plan(**{k: v for k, v in doc.items() if k in names})


def aggregate_of(doc: dict):
    """The embedded :class:`chronotope.queries.Aggregate` from an aggregate answer."""
    from chronotope.queries import Aggregate

    shape = tuple(doc["shape"])
    count = np.array(doc["count"], dtype=np.int64).reshape(shape)
    if doc["stat"] == "count":
        values = count
    else:
        values = np.array(doc["values"], dtype=np.float64).reshape(shape)  # null (an empty bin) becomes NaN
    axes = doc.get("axes", {})
    x = np.array(axes["x"], dtype=np.float64) if "x" in axes else None
    y = np.array(axes["y"], dtype=np.float64) if "y" in axes else None
    t = wire.parse_rfc3339(axes["t"]) if "t" in axes else None
    return Aggregate(count, values, x, y, t, doc["stat"])


# ---- argument checks the embedded store makes before any work ----

def _columns(columns) -> list[str] | None:
    if columns is None:
        return None
    return [columns] if isinstance(columns, str) else [str(c) for c in columns]


def _ids(ids) -> list | None:
    if ids is None:
        return None
    a = np.atleast_1d(np.asarray(ids))
    if a.size and a.dtype.kind not in "iuUSO":
        raise InvalidArgumentError(f"ids must be integers or strings, got dtype {a.dtype}")
    return a.tolist()


def _polygon(polygon):
    """The polygon as GeoJSON for the server, after the embedded store's checks."""
    if polygon is None:
        return None
    parse_polygon(polygon)  # raises what the embedded store raises
    geo = getattr(polygon, "__geo_interface__", polygon)
    if isinstance(geo, dict):  # GeoJSON, or a shapely geometry's __geo_interface__ (tuples)
        return {"type": geo["type"], "coordinates": _plain(geo["coordinates"])}
    return {"type": "Polygon", "coordinates": _plain(geo)}  # a list of rings


def _plain(value):
    """Nested sequences (tuples, numpy arrays) as lists of floats for JSON."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64).tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return float(value)


def _gap(max_gap) -> str | None:
    if max_gap is None:
        return None
    from chronotope.queries import _max_gap

    return wire.duration(_max_gap(None, max_gap))  # the embedded checks (zero allowed)


def _k(k) -> int:
    from chronotope.queries import _k as check

    return check(k)


def _bbox_text(bbox) -> str | None:
    box = parse_bbox(bbox)
    return None if box is None else ",".join(repr(v) for v in box)


def _time_text(time) -> str | None:
    return None if time is None else wire.interval(*time_range(time))


def _seconds(value, what: str, partition: bool = False) -> str:
    """A duration of ``create_collection`` as the server's ``900s`` form."""
    ns = parse_partition(value) if partition else duration_ns(value, what)
    if ns % 10**9:
        raise InvalidArgumentError(f"{what} {value!r}: a remote store takes whole seconds")
    return f"{ns // 10**9}s"


def _not_found_none(marker: str):
    def handle(exc: BaseException):
        if getattr(exc, "status", None) == 404 and marker in str(exc):
            return None
        raise exc
    return handle


# ---- the store ----

class StoreCalls:
    """Calls of the store's methods."""

    @staticmethod
    def collections() -> Call:
        return Call("GET", "/collections", decode=lambda r: sorted(c["id"] for c in r.json()["collections"]))

    @staticmethod
    def describe(name: str) -> Call:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"no collection {name!r}")
        return Call("GET", f"/collections/{_seg(name)}")

    @staticmethod
    def create_collection(name, properties=None, crs="EPSG:4326", partition="1D", has_z=False,
                          max_gap="10m") -> Call:
        check_name(name, "collection")
        props = {prop: dt.name for prop, dt in check_schema(properties).items()}
        if not isinstance(crs, str) or not crs:
            raise InvalidArgumentError(f"invalid crs {crs!r}")
        body = {"id": name, "itemType": "movingfeature", "properties": props, "crs": crs, "has_z": bool(has_z),
                "max_gap": _seconds(max_gap, "max_gap"), "partition": _seconds(partition, "partition", True)}

        def conflict(exc: BaseException):
            if getattr(exc, "status", None) == 409:
                raise InvalidArgumentError(f"collection {name!r} exists already") from exc
            raise exc
        return Call("POST", "/collections", json=body, on_error=conflict)

    @staticmethod
    def drop_collection(name: str) -> Call:
        return Call("DELETE", f"/collections/{_seg(name)}", decode=lambda r: None)

    @staticmethod
    def compact() -> Call:
        return Call("POST", "/admin/compact")

    @staticmethod
    def prune(older_than, keep_every=None) -> Call:
        cutoff = to_ns(older_than, "older_than")
        step = None if keep_every is None else duration_ns(keep_every, "keep_every")
        return Call("POST", "/admin/prune", params={"older_than": wire.rfc3339(cutoff),
                                                    "keep_every": wire.duration(step)})

    @staticmethod
    def verify() -> Call:
        return Call("POST", "/admin/verify", decode=lambda r: list(r.json()["problems"]))

    @staticmethod
    def stats() -> Call:
        return Call("GET", "/stats")


store_calls = StoreCalls()


# ---- a collection ----

#: Rows per ingest request by default: a longer append is sent as several requests, in order.
BATCH_ROWS = 1_000_000


class CollectionCalls:
    """Calls of one collection's methods."""

    def __init__(self, desc: Description, batch_rows: int = BATCH_ROWS):
        self.desc = desc
        self.name = desc.name
        self.base = f"/collections/{_seg(desc.name)}"
        self.batch_rows = batch_rows

    def append_parts(self, object_id, t, x, y, z=None, *, idempotency_key=None, format="batch",  # noqa: A002
                     columns: dict, once: bool = False) -> list[Call]:
        """An append as requests of at most ``batch_rows`` rows. A longer one is first checked whole, as the
        embedded store checks it (nothing is sent if any row is bad), and part i carries the key ``{key}.{i}``:
        a retried call stores each part once."""
        def call(key, oid, tt, xx, yy, zz, cols):
            if once:
                return self.append_once(key, oid, tt, xx, yy, zz, format=format, columns=cols)
            return self.append(oid, tt, xx, yy, zz, idempotency_key=key, format=format, columns=cols)

        if (len(np.asarray(t)) if np.ndim(t) else 1) <= self.batch_rows:
            return [call(idempotency_key, object_id, t, x, y, z, columns)]
        ids, cols = normalise_batch(object_id, t, x, y, z, columns, schema=self.desc.schema,
                                    has_z=self.desc.has_z, geographic=self.desc.crs == "EPSG:4326")
        whole = (ids, cols.pop("t"), cols.pop("x"), cols.pop("y"), cols.pop("z", None))
        n = len(ids)
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        if not isinstance(key, str) or not 1 <= len(key) <= 255 - len(f".{n // self.batch_rows}"):
            raise InvalidArgumentError(f"idempotency key must be 1 to 255 characters with the part number an "
                                       f"append of {n:,} rows adds to it, got {key!r}")
        parts = []
        for i, lo in enumerate(range(0, n, self.batch_rows)):
            rows = slice(lo, lo + self.batch_rows)
            parts.append(call(f"{key}.{i}", *(None if a is None else a[rows] for a in whole),
                              {k: v[rows] for k, v in cols.items()}))
        return parts

    def describe(self) -> Call:
        return Call("GET", self.base)

    def set_metadata(self, metadata) -> Call:
        return Call("PUT", self.base, json={"metadata": check_metadata(metadata)}, decode=lambda r: None)

    def append(self, object_id, t, x, y, z=None, *, idempotency_key=None, format="batch",  # noqa: A002
               columns: dict) -> Call:
        body, media = wire.encode_samples(object_id, t, x, y, z, columns, format)
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())  # makes retries safe
        return Call("POST", f"{self.base}/samples", content=body, headers={"Content-Type": media},
                    idempotency_key=key, decode=lambda r: int(r.json()["appended"]))

    def append_once(self, key: str, object_id, t, x, y, z=None, *, format="batch", columns: dict) -> Call:  # noqa: A002
        from chronotope.collection import AppendReceipt

        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise InvalidArgumentError(f"idempotency key must be 1 to 255 characters, got {key!r}")
        call = self.append(object_id, t, x, y, z, idempotency_key=key, format=format, columns=columns)
        call.decode = lambda r: AppendReceipt(int(r.json()["appended"]),
                                              r.headers.get("Idempotent-Replayed") == "true")
        return call

    def delete(self, object_id, time=None) -> Call:
        if np.ndim(object_id) != 0:
            raise InvalidArgumentError(f"delete takes one object id, got {object_id!r}")
        return Call("DELETE", f"{self.base}/track/{_seg(object_id)}", params={"datetime": _time_text(time)},
                    decode=lambda r: None)

    def set_properties(self, object_id, doc, at=None) -> Call:
        if not isinstance(doc, dict):
            raise InvalidArgumentError(f"a document must be a dict, got {type(doc).__name__}")
        from chronotope.documents import diff

        diff({}, doc)  # the embedded check that the document is JSON
        return Call("PUT", f"{self.base}/documents/{_seg(object_id)}",
                    params={"at": None if at is None else wire.rfc3339(to_ns(at, "at"))}, json=doc,
                    decode=lambda r: None)

    def properties(self, object_id, as_of=None) -> Call:
        return Call("GET", f"{self.base}/documents/{_seg(object_id)}",
                    params={"asOf": None if as_of is None else wire.rfc3339(to_ns(as_of, "as_of"))},
                    decode=lambda r: r.json()["properties"], on_error=_not_found_none("has no document"))

    def history(self, object_id) -> Call:
        def decode(resp):
            versions = resp.json()["versions"]
            starts = wire.parse_rfc3339([v["validFrom"] for v in versions])
            return [(start, v["properties"]) for start, v in zip(starts, versions)]
        return Call("GET", f"{self.base}/documents/{_seg(object_id)}/history", decode=decode)

    def _query_body(self, bbox, time, polygon, ids, columns) -> dict:
        box = parse_bbox(bbox)
        body = {"bbox": None if box is None else list(box), "datetime": _time_text(time),
                "polygon": _polygon(polygon), "ids": _ids(ids), "columns": _columns(columns)}
        return {k: v for k, v in body.items() if v is not None}

    # A query with a polygon, or ids a comma could be part of, POSTs its arguments. It only reads, so it is
    # safe to send again: a key (which the query routes ignore) tells the transport it may retry it like a GET.
    # Without them it is a plain GET, which the server answers with less work.
    def query(self, bbox=None, time=None, polygon=None, ids=None, columns=None) -> Call:
        body = self._query_body(bbox, time, polygon, ids, columns)
        if "polygon" in body or body.get("ids") == [] or any("," in str(i) for i in body.get("ids", ())):
            return rows_call("POST", f"{self.base}/query", json=body, idempotency_key=_read_key())
        params = {"bbox": ",".join(repr(v) for v in body["bbox"]) if "bbox" in body else None,
                  "datetime": body.get("datetime"),
                  "ids": ",".join(str(i) for i in body["ids"]) if "ids" in body else None,
                  "columns": ",".join(body["columns"]) if "columns" in body else None}
        return rows_call("GET", f"{self.base}/query", params={k: v for k, v in params.items() if v is not None})

    def explain(self, bbox=None, time=None, polygon=None, ids=None, columns=None) -> Call:
        return Call("POST", f"{self.base}/explain", json=self._query_body(bbox, time, polygon, ids, columns),
                    idempotency_key=_read_key(), decode=lambda r: plan_of(r.json()))

    def features(self, bbox=None, time=None, limit=100, sub_trajectory=False) -> Call:
        """The first page of ``GET /collections/{id}/items`` (MF-JSON); :func:`next_page` gives the next."""
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or not 1 <= limit <= 10_000:
            raise InvalidArgumentError(f"limit must be an integer from 1 to 10000, got {limit!r}")
        params = {"bbox": _bbox_text(bbox), "datetime": _time_text(time), "limit": int(limit),
                  "subTrajectory": "true" if sub_trajectory else None}
        return Call("GET", f"{self.base}/items", params=params)

    def count(self) -> Call:
        return Call("GET", f"{self.base}/count", decode=lambda r: int(r.json()["rows"]))

    def nearest(self, x, y, k=10, at=None, time=None, max_gap=None, columns=None) -> Call:
        qx, qy = parse_point(x, y)
        k = _k(k)
        if (at is None) == (time is None):
            raise InvalidArgumentError("nearest needs exactly one of at= (objects at a time) and time= (samples "
                                       "in an interval)")
        params = {"x": repr(qx), "y": repr(qy), "k": k, "max_gap": _gap(max_gap), "columns": _list(columns)}
        if at is not None:
            params["at"] = wire.rfc3339(to_ns(at, "at"))
        else:
            params["datetime"] = _time_text(time) or "../.."
        return rows_call("GET", f"{self.base}/nearest", params=params)

    def snapshot(self, at, bbox=None, max_gap=None, columns=None) -> Call:
        params = {"at": wire.rfc3339(to_ns(at, "at")), "bbox": _bbox_text(bbox), "max_gap": _gap(max_gap),
                  "columns": _list(columns)}
        return rows_call("GET", f"{self.base}/snapshot", params=params)

    def track(self, object_id, time=None, simplify=None, derive=False, columns=None) -> Call:
        lo_hi = _time_text(time)
        if simplify is not None and (isinstance(simplify, bool) or not isinstance(simplify, numbers.Real)
                                     or not simplify >= 0 or not math.isfinite(simplify)):
            raise InvalidArgumentError(f"simplify must be a tolerance >= 0, got {simplify!r}")
        if np.ndim(object_id) != 0:
            raise InvalidArgumentError(f"track takes one object id, got {object_id!r}")
        params = {"datetime": lo_hi, "simplify": None if simplify is None else repr(float(simplify)),
                  "derive": "true" if derive else None, "columns": _list(columns)}
        return rows_call("GET", f"{self.base}/track/{_seg(object_id)}", params=params)

    def aggregate(self, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count") -> Call:
        from chronotope import _query
        from chronotope.queries import _cell

        if stat not in _query.STATS:
            raise InvalidArgumentError(f"stat must be one of {list(_query.STATS)}, got {stat!r}")
        sizes = _cell(cell)
        bucket_ns = None if bucket is None else duration_ns(bucket, "bucket")
        params = {"cell": None if sizes is None else f"{sizes[0]!r},{sizes[1]!r}", "bucket": wire.duration(bucket_ns),
                  "bbox": _bbox_text(bbox), "datetime": _time_text(time), "value": value, "stat": stat}
        return Call("GET", f"{self.base}/aggregate", params=params, decode=lambda r: aggregate_of(r.json()))


def next_page(page: dict) -> Call | None:
    """The call following a page's ``rel=next`` link (its path and query, on the transport's server); None
    on the last page."""
    from urllib.parse import parse_qsl, urlsplit

    for link in page.get("links", []):
        if link.get("rel") == "next":
            href = urlsplit(link["href"])
            return Call("GET", href.path, params=dict(parse_qsl(href.query)))
    return None


def _read_key() -> str:
    return f"read-{uuid.uuid4()}"


def _list(columns) -> str | None:
    names = _columns(columns)
    if names is not None and not names:
        raise InvalidArgumentError("columns must name at least one column (leave it out for all)")
    return None if names is None else ",".join(names)


def collection_calls(desc: Description, batch_rows: int = BATCH_ROWS) -> CollectionCalls:
    return CollectionCalls(desc, batch_rows)


def receipt_of(receipts: list):
    """One append_once receipt for its parts: their rows; replayed only if every part was."""
    from chronotope.collection import AppendReceipt

    return AppendReceipt(sum(r.rows for r in receipts), all(r.replayed for r in receipts))


def check_batch_rows(batch_rows) -> int:
    if not isinstance(batch_rows, (int, np.integer)) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise InvalidArgumentError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    return int(batch_rows)


def mapping_columns(cols: dict) -> tuple[tuple, dict]:
    """``append_arrow``/``append_pandas`` columns as append's arguments (as the embedded store splits them)."""
    missing = [c for c in ("object_id", "t", "x", "y") if c not in cols]
    if missing:
        raise InvalidArgumentError(f"missing column(s) {missing}")
    core = tuple(cols.pop(k) for k in ("object_id", "t", "x", "y"))
    return (*core, cols.pop("z", None)), cols


def arrow_columns(table) -> dict:
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def pandas_columns(df) -> dict:
    return {name: df[name].to_numpy() for name in df.columns}
