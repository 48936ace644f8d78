"""Collections: the moving features of one kind, and how their rows are read back.

A :class:`Collection` is a handle; its state lives in the :class:`~chronotope.store.Store`
(manifest entry, open segments, the writer's memtable). Reads merge, per time
partition, the segments (in LSN order) and the unflushed rows, drop rows that
tombstones delete, keep the last write of each (object, t), and return rows
sorted by (object, t) — objects in code order: integer ids by value, string
ids in the order they were first written.
"""

from __future__ import annotations

import numpy as np

from chronotope._sort import sort_pairs
from chronotope.errors import InvalidArgumentError
from chronotope.ingest import normalise_batch, to_ns
from chronotope.results import Result

__all__ = ["Collection"]

_KEYS = ("oid", "t")


def _time_range(time) -> tuple[int, int]:
    if time is None:
        return np.iinfo(np.int64).min, np.iinfo(np.int64).max
    try:
        t0, t1 = time
    except (TypeError, ValueError):
        raise InvalidArgumentError("time must be a (start, end) pair; either end may be None") from None
    lo = np.iinfo(np.int64).min if t0 is None else to_ns(t0, "time start")
    hi = np.iinfo(np.int64).max if t1 is None else to_ns(t1, "time end")
    if lo > hi:
        raise InvalidArgumentError(f"time range is empty: start {t0!r} is after end {t1!r}")
    return lo, hi


def _last_of_each(oid: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Mask of the last row of every run of equal (oid, t) in rows sorted by them."""
    keep = np.ones(len(oid), dtype=bool)
    keep[:-1] = (oid[1:] != oid[:-1]) | (t[1:] != t[:-1])
    return keep


def _dedup_last(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sort by (oid, t) and keep the last row of every (oid, t): last write wins.

    The rows must come oldest write first (segments in LSN order, then the
    memtable's batches): the C sort is stable, so among equal keys the last
    row is the newest.
    """
    order = sort_pairs(cols["oid"], cols["t"])
    order = order[_last_of_each(cols["oid"][order], cols["t"][order])]
    return {k: v[order] for k, v in cols.items()}


def _merge_destinations(oids: list[np.ndarray]) -> list[np.ndarray]:
    """Where each partition's rows go in the (oid, t) order of all partitions together.

    Each partition is sorted by (oid, t) and the partitions are disjoint time
    slices in order, so the result is, object by object, that object's run in
    each partition in turn: sort the runs (few: objects x partitions), not the
    rows, then every row moves once (a scatter with sequential reads).
    """
    run_oid, run_part, run_start, run_len = [], [], [], []
    for p, oid in enumerate(oids):
        starts = np.concatenate([[0], np.flatnonzero(np.diff(oid)) + 1]) if len(oid) else np.empty(0, np.int64)
        run_oid.append(oid[starts])
        run_part.append(np.full(len(starts), p))
        run_start.append(starts)
        run_len.append(np.diff(np.append(starts, len(oid))))
    counts = [len(r) for r in run_start]
    run_oid, run_part = np.concatenate(run_oid), np.concatenate(run_part)
    run_len = np.concatenate(run_len)
    by = np.lexsort((run_part, run_oid))
    dest_start = np.empty(len(by), dtype=np.int64)
    dest_start[by] = np.concatenate([[0], np.cumsum(run_len[by])[:-1]])  # in each run's own (partition) order
    out, k = [], 0
    for oid, starts, c in zip(oids, run_start, counts):
        lens = run_len[k : k + c]
        out.append(np.repeat(dest_start[k : k + c] - starts, lens) + np.arange(len(oid)))
        k += c
    return out


def _tombstone_mask(oid, t, row_lsn, tombstones) -> np.ndarray | None:
    """Rows deleted by tombstones written after them (None when nothing is deleted)."""
    dead = None
    for tomb in tombstones:  # few: one per delete call, cleared by compaction
        m = (oid == tomb["oid"]) & (t >= tomb["t0"]) & (t <= tomb["t1"]) & (row_lsn < tomb["lsn"])
        if m.any():
            dead = m if dead is None else dead | m
    return dead


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

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, properties={self.schema}, crs={self.crs!r})"

    # ---- writes (the store logs and applies them) ----

    def append(self, object_id, t, x, y, z=None, **columns) -> int:
        """Append samples: numpy arrays of one length (object_id may be a scalar).

        ``t`` is datetime64 of any unit or int64 UTC nanoseconds. Everything is
        checked before anything is written; a bad call raises
        InvalidArgumentError naming the column and the first bad row.
        Returns the number of rows appended.
        """
        meta = self._meta
        ids, cols = normalise_batch(
            object_id, t, x, y, z, columns, schema=meta["schema"], has_z=meta.get("has_z", False),
            geographic=meta["crs"] == "EPSG:4326",
        )
        return self._store._append(self.name, ids, cols)

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
        t0, t1 = _time_range(time)
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
        lo, hi = _time_range(time)
        store = self._store
        meta = self._meta
        prop_names = ["z"] * bool(meta.get("has_z")) + list(meta["schema"])
        available = ["object_id", "t", "x", "y", *prop_names]
        if columns is None:
            want = available
        else:
            want = list(columns)
            unknown = sorted(set(want) - set(available))
            if unknown:
                raise InvalidArgumentError(f"unknown column(s) {unknown}; available: {available}")
        stored = [c for c in ("x", "y", *prop_names) if c in want]
        oids = None if ids is None else store._lookup_ids(self.name, ids)
        parts = self._gather(lo, hi, oids, stored)
        if len(parts) == 1:
            rows = parts[0]
        elif parts:
            dests = _merge_destinations([p["oid"] for p in parts])
            total = sum(len(d) for d in dests)
            rows = {}
            for k in parts[0]:
                col = rows[k] = np.empty(total, dtype=parts[0][k].dtype)
                for part, dest in zip(parts, dests):
                    col[dest] = part[k]
        else:
            rows = {k: np.empty(0, dtype=store._column_dtype(self.name, k)) for k in ("oid", "t", *stored)}
        out = {}
        for name in want:
            if name == "object_id":
                out[name] = store._ids_of(self.name, rows["oid"])
            elif name == "t":
                out[name] = rows["t"].view("datetime64[ns]")
            else:
                out[name] = rows[name]
        return Result(out)

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
                dead = _tombstone_mask(rows["oid"], rows["t"], np.full(len(rows["t"]), entry["lsn_max"]), live) if live else None
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
                dead = _tombstone_mask(mem["oid"], mem["t"], mem["_lsn"], tombs)
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
            parts.append(_dedup_last(cols))  # chunks are in write order: segments by LSN, then the memtable
        return parts
