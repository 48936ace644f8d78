"""Collections: the moving features of one kind, and how their rows are read back.

A :class:`Collection` is a handle; its state lives in the :class:`~chronotope.store.Store`
(manifest entry, open segments, the writer's memtable). Reads merge, per time
partition, the segments (in LSN order) and the unflushed rows, drop rows that
tombstones delete, keep the last write of each (object, t), and return rows
sorted by (object, t) — objects in code order: integer ids by value, string
ids in the order they were first written.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from chronotope import queries
from chronotope.errors import InvalidArgumentError
from chronotope.ingest import normalise_batch, time_range
from chronotope.merge import dedup_last, merge_destinations, tombstone_mask
from chronotope.results import Result

__all__ = ["Collection", "AppendReceipt"]


class AppendReceipt(NamedTuple):
    """What :meth:`Collection.append_once` did: the rows of the append, and whether it had been done before."""

    rows: int
    replayed: bool

_KEYS = ("oid", "t")


class Collection:
    """A collection of moving features in a store (see ``Store.create_collection``)."""

    def __init__(self, store, name: str):
        self._store = store
        self.name = name

    # ---- description ----

    @property
    def _meta(self) -> dict:
        return self._store._collection_meta(self.name)

    @property
    def schema(self) -> dict[str, str]:
        """Property columns and their dtypes."""
        return dict(self._meta["schema"])

    @property
    def crs(self) -> str:
        return self._meta["crs"]

    @property
    def id_kind(self) -> str | None:
        """"int" or "str": the kind of object ids the first append fixed; None while the collection is empty."""
        return self._meta["id_kind"]

    @property
    def has_z(self) -> bool:
        """Whether samples carry a height ``z``."""
        return bool(self._meta.get("has_z", False))

    @property
    def max_gap(self) -> np.timedelta64:
        """The longest time between two samples that interpolation bridges."""
        return np.timedelta64(int(self._meta.get("max_gap_ns", 600 * 10**9)), "ns")

    @property
    def partition(self) -> np.timedelta64:
        """The length of the time partitions segments are cut into."""
        return np.timedelta64(int(self._meta["partition_ns"]), "ns")

    @property
    def metadata(self) -> dict:
        """Descriptive metadata kept in the manifest (title, description, ...): a copy; {} when never set."""
        return json.loads(json.dumps(self._meta.get("metadata", {})))

    def set_metadata(self, metadata: dict) -> None:
        """Replace the descriptive metadata with ``metadata``, a JSON object (string keys, finite numbers).

        It describes the collection (a title, a description, units of the
        properties); it never changes how samples are stored or queried.
        """
        self._store._set_collection_metadata(self.name, metadata)

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, properties={self.schema}, crs={self.crs!r})"

    def extent(self) -> dict:
        """Bounding box ``[xmin, ymin, xmax, ymax]`` and time interval ``[t0, t1]`` (datetime64[ns])
        of the stored samples, flushed or not; None for an empty collection.

        Read from the segments' summaries, without decoding: after deletes it may
        be larger than the rows left, until ``compact()``.
        """
        store = self._store
        with store._lock:
            store._check_open()
            entries = [e for e, _ in store._segments(self.name) if e["rows"]]
            mem = store._memtable_rows(self.name, ["t", "x", "y"])
        boxes = [e["bbox"] for e in entries]
        times = [(e["t_min"], e["t_max"]) for e in entries]
        if mem is not None and len(mem["t"]):
            boxes.append([float(mem["x"].min()), float(mem["y"].min()), float(mem["x"].max()), float(mem["y"].max())])
            times.append((int(mem["t"].min()), int(mem["t"].max())))
        if not boxes:
            return {"bbox": None, "time": None}
        b = np.array(boxes, dtype=np.float64)
        t = np.array(times, dtype=np.int64)
        return {"bbox": [float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())],
                "time": [t[:, 0].min().astype("datetime64[ns]"), t[:, 1].max().astype("datetime64[ns]")]}

    # ---- writes (the store logs and applies them) ----

    def append(self, object_id, t, x, y, z=None, *, idempotency_key: str | None = None, **columns) -> int:
        """Append samples: numpy arrays of one length (object_id may be a scalar).

        ``t`` is datetime64 of any unit or int64 UTC nanoseconds. Everything is
        checked before anything is written; a bad call raises
        InvalidArgumentError naming the column and the first bad row.
        Returns the number of rows appended. With ``idempotency_key`` a retried
        call is stored once (see :meth:`append_once`).
        """
        if idempotency_key is not None:
            return self.append_once(idempotency_key, object_id, t, x, y, z, **columns).rows
        ids, cols = self._normalise(object_id, t, x, y, z, columns)
        return self._store._append(self.name, ids, cols)

    def append_once(self, key: str, /, object_id, t, x, y, z=None, **columns) -> AppendReceipt:
        """Append samples under an idempotency ``key`` (1 to 255 characters): a retry is stored once.

        The first call with ``key`` appends and records the key, in the same
        log record as the rows (so it survives a crash right after the call).
        A later call with the same key and the same rows (after validation:
        the same values, whatever their dtypes or source) writes nothing and
        returns the first call's row count with ``replayed=True``; with other
        rows it raises IdempotencyConflictError. The store remembers the
        last ``IDEMPOTENCY_KEYS`` (10,000) keys of each collection, each for
        ``IDEMPOTENCY_TTL`` (24 hours).
        """
        ids, cols = self._normalise(object_id, t, x, y, z, columns)
        return AppendReceipt(*self._store._append_once(self.name, key, ids, cols))

    def _normalise(self, object_id, t, x, y, z, columns: dict):
        meta = self._meta
        return normalise_batch(
            object_id, t, x, y, z, columns, schema=meta["schema"], has_z=meta.get("has_z", False),
            geographic=meta["crs"] == "EPSG:4326",
        )

    def append_arrow(self, table) -> int:
        """Append a ``pyarrow.Table`` with columns object_id, t, x, y[, z] and properties."""
        cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
        return self._append_mapping(cols)

    def append_pandas(self, df) -> int:
        """Append a ``pandas.DataFrame`` with columns object_id, t, x, y[, z] and properties."""
        return self._append_mapping({name: df[name].to_numpy() for name in df.columns})

    def _append_mapping(self, cols: dict) -> int:
        missing = [c for c in ("object_id", "t", "x", "y") if c not in cols]
        if missing:
            raise InvalidArgumentError(f"missing column(s) {missing}")
        core = {k: cols.pop(k) for k in ("object_id", "t", "x", "y")}
        return self.append(core["object_id"], core["t"], core["x"], core["y"], cols.pop("z", None), **cols)

    def delete(self, object_id, time=None) -> None:
        """Delete an object's samples, all of them or those in ``time`` = (start, end) inclusive."""
        t0, t1 = time_range(time)
        self._store._delete(self.name, object_id, t0, t1)

    def set_properties(self, object_id, doc: dict, at=None) -> None:
        """Record a new version of an object's JSON document, valid from ``at`` (default now)."""
        self._store._set_properties(self.name, object_id, doc, at)

    def properties(self, object_id, as_of=None) -> dict | None:
        """The object's document as it was at ``as_of`` (default: the latest); None if none."""
        return self._store._properties(self.name, object_id, as_of)

    def history(self, object_id) -> list[tuple[np.datetime64, dict]]:
        """Every version of the object's document: (valid from, document), oldest first."""
        return self._store._history(self.name, object_id)

    # ---- reads ----

    def scan(self, time=None, ids=None, columns=None) -> Result:
        """All stored samples (optionally in ``time`` and of ``ids``), sorted by (object, t).

        Only the blocks whose summaries overlap the request and only the
        columns asked for (plus the keys) are decoded.
        """
        self._store._check_open()
        lo, hi = time_range(time)
        want = self._columns(columns)
        stored = [c for c in want if c not in ("object_id", "t")]
        oids = None if ids is None else self._store._lookup_ids(self.name, ids)
        with self._store._lock:  # one consistent view of segments and memtables (a flush may be installing)
            parts = self._gather(lo, hi, oids, stored)
        return self._result(self._merge(parts, stored), want)

    def _columns(self, columns) -> list[str]:
        """The output columns asked for (default all), checked."""
        meta = self._meta
        available = ["object_id", "t", "x", "y", *(["z"] * bool(meta.get("has_z"))), *meta["schema"]]
        if columns is None:
            return available
        if isinstance(columns, str):
            columns = [columns]
        want = list(columns)
        unknown = sorted(set(want) - set(available), key=str)
        if unknown:
            raise InvalidArgumentError(f"unknown column(s) {unknown}; available: {available}")
        return want

    def _merge(self, parts: list[dict], stored: list[str]) -> dict[str, np.ndarray]:
        """Per-partition rows (each sorted by (oid, t)) as one set of columns in (oid, t) order."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return {k: np.empty(0, dtype=np.int64 if k == "_seq" else self._store._column_dtype(self.name, k))
                    for k in ("oid", "t", *stored)}
        dests = merge_destinations([p["oid"] for p in parts])
        total = sum(len(d) for d in dests)
        rows = {}
        for k in parts[0]:
            col = rows[k] = np.empty(total, dtype=parts[0][k].dtype)
            for part, dest in zip(parts, dests):
                col[dest] = part[k]
        return rows

    def _result(self, rows: dict[str, np.ndarray], want: list[str]) -> Result:
        out = {}
        for name in want:
            if name == "object_id":
                out[name] = self._store._ids_of(self.name, rows["oid"])
            elif name == "t":
                out[name] = rows["t"].view("datetime64[ns]")
            else:
                out[name] = rows[name]
        return Result(out)

    # ---- queries (docs/queries.md) ----

    def query(self, bbox=None, time=None, polygon=None, ids=None, columns=None) -> Result:
        """Samples inside ``bbox`` (xmin, ymin, xmax, ymax; xmin > xmax crosses the antimeridian),
        ``time`` (start, end), ``polygon`` and of ``ids``, sorted by (object, t). Borders are inside."""
        return queries.query(self, bbox, time, polygon, ids, columns)

    def explain(self, bbox=None, time=None, polygon=None, ids=None, columns=None) -> "queries.Plan":
        """Run ``query`` with these arguments and return its plan and costs (``str()`` for text)."""
        return queries.explain(self, bbox, time, polygon, ids, columns)

    def nearest(self, x, y, k=10, at=None, time=None, max_gap=None, columns=None) -> Result:
        """The k objects nearest to (x, y) at time ``at`` (interpolated), or the k nearest samples in
        ``time``; sorted by distance (metres for EPSG:4326), ties by object then t."""
        return queries.nearest(self, x, y, k, at, time, max_gap, columns)

    def snapshot(self, at, bbox=None, max_gap=None, columns=None) -> Result:
        """Every object's position at ``at``, interpolated between samples at most ``max_gap`` apart."""
        return queries.snapshot(self, at, bbox, max_gap, columns)

    def track(self, object_id, time=None, simplify=None, derive=False, columns=None) -> Result:
        """One object's samples in ``time``, optionally simplified (Douglas-Peucker, ``simplify``
        metres for EPSG:4326) and with ``speed``/``heading`` when ``derive``."""
        return queries.track(self, object_id, time, simplify, derive, columns)

    def aggregate(self, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count") -> "queries.Aggregate":
        """Counts (or sum/mean/min/max of ``value``) per time bucket x grid cell."""
        return queries.aggregate(self, cell, bucket, bbox, time, value, stat)

    def ids(self, bbox=None, time=None, polygon=None) -> np.ndarray:
        """The distinct ids of the features with samples in ``bbox`` x ``time`` (and ``polygon``), in the
        collection's id order (integers by value, strings in first-write order), as ``query`` selects rows."""
        col = self.query(bbox=bbox, time=time, polygon=polygon, columns=["object_id"])["object_id"]
        if len(col) < 2:
            return col
        return col[np.r_[True, col[1:] != col[:-1]]]  # rows come sorted by (object, t)

    def __len__(self) -> int:
        return len(self.scan(columns=["t"]))

    def _gather(self, lo: int, hi: int, oids: np.ndarray | None, stored: list[str]) -> list[dict]:
        """Rows per time partition, each partition sorted by (oid, t) and deduplicated."""
        store = self._store
        names = list(_KEYS) + stored
        tombs = store._tombstones(self.name)
        by_part: dict[int, list] = {}
        for entry, seg in store._segments(self.name):
            if entry["t_max"] < lo or entry["t_min"] > hi:
                continue
            by_part.setdefault(entry["partition"], []).append((entry, seg))
        mem = store._memtable_rows(self.name, names)
        if mem is not None:
            for p in np.unique(mem["_part"]):
                by_part.setdefault(int(p), [])
        parts = []
        for p in sorted(by_part):
            chunks, from_memtable = [], False
            for entry, seg in sorted(by_part[p], key=lambda es: es[0]["lsn_max"]):
                s = seg.summary
                sel = (s["t_max"] >= lo) & (s["t_min"] <= hi)
                if oids is not None:
                    # a block holds one of the ids if some id falls in its [oid_min, oid_max]
                    first = np.searchsorted(oids, s["oid_min"])
                    sel &= (first < len(oids)) & (oids[np.minimum(first, len(oids) - 1)] <= s["oid_max"])
                blocks = np.flatnonzero(sel)
                if not blocks.size:
                    continue
                rows = seg.read(names, blocks)
                # row filters only where the blocks' summaries say they can remove something
                keep = None
                if s["t_min"][blocks].min() < lo or s["t_max"][blocks].max() > hi:
                    keep = (rows["t"] >= lo) & (rows["t"] <= hi)
                if oids is not None:
                    inside = np.isin(rows["oid"], oids)
                    keep = inside if keep is None else keep & inside
                live = [tb for tb in tombs if tb["lsn"] > entry["lsn_max"]]
                dead = tombstone_mask(rows["oid"], rows["t"], np.full(len(rows["t"]), entry["lsn_max"]), live) if live else None
                if dead is not None:
                    keep = ~dead if keep is None else keep & ~dead
                if keep is not None and not keep.all():
                    rows = {k: v[keep] for k, v in rows.items()}
                if not len(rows["t"]):
                    continue
                chunks.append(rows)
            if mem is not None:
                m = mem["_part"] == p
                m &= (mem["t"] >= lo) & (mem["t"] <= hi)
                if oids is not None:
                    m &= np.isin(mem["oid"], oids)
                dead = tombstone_mask(mem["oid"], mem["t"], mem["_lsn"], tombs)
                if dead is not None:
                    m &= ~dead
                if m.any():
                    # newer than every segment, and in LSN order among themselves
                    chunks.append({k: mem[k][m] for k in names})
                    from_memtable = True
            if not chunks:
                continue
            if len(chunks) == 1 and not from_memtable:
                parts.append(chunks[0])  # one segment: already sorted and unique
                continue
            cols = {k: np.concatenate([c[k] for c in chunks]) for k in names}
            parts.append(dedup_last(cols))  # chunks are in write order: segments by LSN, then the memtable
        return parts
