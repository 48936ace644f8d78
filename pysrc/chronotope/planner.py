"""The query planner: from a request to the rows it selects, with a handful of C calls.

For a request (time interval, boxes, polygon, objects) the planner

1. probes the collection's space-time index (one C call over every block and
   chunk summary) for the chunks that may hold matching rows;
2. per segment holding such chunks, gets the columns the exact test needs from
   the decoded-block cache (one C call decodes the missing blocks), runs the
   exact filter over those chunks only (one C call), then gathers the output
   columns of the blocks that kept rows;
3. merges what each partition's sources returned: a partition whose sources
   (segments, unflushed rows) overlap in time may hold several writes of one
   (object, t), so its rows are merged, last write first, before the spatial
   test; elsewhere the filtered rows are simply put in (object, t) order.

It picks the ``index`` strategy (rows kept in the cache) unless the probe says
the rows to read would fill more than half of the cache: then ``scan`` decodes
the blocks straight into fresh arrays and leaves the cache alone. ``Plan``
records what it did and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from chronotope import _query
from chronotope._sort import sort_pairs
from chronotope.merge import dedup_last, tombstone_mask
from chronotope.segment import CHUNK_ROWS

__all__ = ["Plan", "Request", "select"]

_I64 = np.iinfo(np.int64)


@dataclass
class Request:
    """A checked request: what rows to select (all bounds inclusive)."""

    lo: int = int(_I64.min)
    hi: int = int(_I64.max)
    bbox: tuple | None = None  # may cross the antimeridian
    boxes: list = field(default_factory=list)  # the box(es) for the C kernels, polygon box included
    polygon: object = None  # _query.Polygon
    oids: np.ndarray | None = None  # sorted object codes
    empty: bool = False  # the conditions exclude everything (e.g. polygon outside the box)

    def window(self, space: bool = True) -> tuple:
        if self.oids is not None and len(self.oids):
            olo, ohi = int(self.oids[0]), int(self.oids[-1])
        else:
            olo, ohi = int(_I64.min), int(_I64.max)
        return (self.lo, self.hi, olo, ohi, list(self.boxes) if space else [])

    @property
    def spatial(self) -> bool:
        return bool(self.boxes) or self.polygon is not None


@dataclass
class Plan:
    """What a query did: ``to_dict()`` for the figures, ``str()`` for text."""

    strategy: str = "index"
    reason: str = ""
    probe: str = "chunks"
    segments: int = 0
    segments_considered: int = 0
    blocks: int = 0
    blocks_considered: int = 0
    chunks_considered: int = 0
    chunks_matched: int = 0
    blocks_decoded: int = 0
    cache_hits: int = 0
    rows_scanned: int = 0
    rows_returned: int = 0
    memtable_rows: int = 0
    merged_partitions: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"strategy: {self.strategy} ({self.reason}); {self.probe} probe",
            f"segments: {self.segments_considered} of {self.segments} overlap the query",
            f"blocks:   {self.blocks_considered} of {self.blocks} pass their summaries; "
            f"{self.blocks_decoded} decoded, {self.cache_hits} found in the cache",
            f"chunks:   {self.chunks_matched} of {self.chunks_considered} tested pass the index",
            f"rows:     {self.rows_scanned} before the exact filter, {self.rows_returned} returned"
            + (f" ({self.memtable_rows} unflushed rows tested)" if self.memtable_rows else ""),
        ]
        if self.merged_partitions:
            lines.append(f"merged before filtering (overlapping sources; compact() removes them): partitions "
                         f"{self.merged_partitions}")
        return "\n".join(lines)


def _distinct(a: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (cheaper than np.unique's hashing)."""
    if len(a) < 2:
        return a
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


def _members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Mask of the values found in a sorted array of distinct values (np.isin without its sort)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_set, values)
    return sorted_set[np.minimum(pos, len(sorted_set) - 1)] == values


def _overlapping(ranges: list[tuple[int, int]]) -> bool:
    """Whether any two of the time ranges share an instant."""
    ranges = sorted(ranges)
    return any(b[0] <= a[1] for a, b in zip(ranges, ranges[1:]))


def _filter_rows(rows: dict, req: Request, spatial: bool) -> dict:
    """The exact test (one C call) over rows already in memory."""
    keep = _query.filter_all(rows["t"], rows.get("x") if spatial else None, rows.get("y") if spatial else None,
                             req.window(space=spatial), req.polygon if spatial else None)
    if req.oids is not None:
        keep = keep[_members(rows["oid"][keep], req.oids)]
    return {k: v[keep] for k, v in rows.items()}


def _memtable_source(store, name: str, names: list[str], req: Request, tombs: list) -> tuple[dict, dict] | None:
    """Unflushed rows in the interval, deletes applied, last write of each (object, t) kept; and their partitions."""
    mem = store._memtable_rows(name, names)
    if mem is None:
        return None
    m = (mem["t"] >= req.lo) & (mem["t"] <= req.hi)
    if req.oids is not None:
        m &= _members(mem["oid"], req.oids)
    dead = tombstone_mask(mem["oid"], mem["t"], mem["_lsn"], tombs)
    if dead is not None:
        m &= ~dead
    if not m.any():
        return None
    rows = dedup_last({k: mem[k][m] for k in [*names, "_part"]})
    return rows, {"rows": len(mem["t"])}


def select(coll, req: Request, stored: list[str], plan: Plan, spatial_rows: bool = True, mode: str = "chunks",
           paths: bool = False, around: int | None = None) -> list[dict]:
    """Rows matching ``req`` per time partition, each partition's rows sorted by (oid, t) and unique.

    Returns dicts with ``oid``, ``t`` and the ``stored`` columns. With
    ``spatial_rows=False`` the boxes and polygon prune blocks and chunks only;
    ``mode="paths"`` prunes chunks by the paths leaving them (for interpolation).
    ``around=t`` (for interpolation, without a spatial row test) keeps of each
    segment's rows only every object's last row before t and first row at or
    after it, per chunk: the pair around t is always among them.
    ``paths=True`` (for interpolation) also reads the chunk after every chunk the
    probe keeps whose path may go on in it, so a kept sample comes with the next
    one, and adds ``_seq``: the row's position in its segment counted across all
    segments (consecutive values are consecutive rows of one segment), or -1
    for unflushed rows and rows of merged partitions (read in full).
    """
    store = coll._store
    name = coll.name
    index = store._index(name)
    cache = store._cache
    spatial = req.spatial and spatial_rows
    names = ["oid", "t", *[c for c in stored if c not in ("oid", "t")]]
    need = names + [c for c in ("x", "y") if spatial and c not in names]
    tombs = store._tombstones(name)
    plan.segments = len(index.segments)
    plan.blocks = len(index.blocks["t_min"])
    if req.empty:
        plan.reason = "the conditions exclude every row"
        return []

    # sources per partition: segments overlapping the interval, then the unflushed rows
    mem = _memtable_source(store, name, need, req, tombs)
    live = np.flatnonzero((index.seg_t_max >= req.lo) & (index.seg_t_min <= req.hi))
    plan.segments_considered = len(live)
    mem_parts = {}
    if mem is not None:
        rows, info = mem
        plan.memtable_rows = info["rows"]
        order = np.argsort(rows["_part"], kind="stable")  # partitions ascending, (oid, t) kept within each
        rows = {k: v[order] for k, v in rows.items()}
        parts, starts = np.unique(rows["_part"], return_index=True)
        ends = np.append(starts[1:], len(rows["t"]))
        for p, a, b in zip(parts.tolist(), starts, ends):  # one step per partition with unflushed rows
            mem_parts[p] = {k: v[a:b] for k, v in rows.items() if k != "_part"}
    # partitions whose sources overlap in time: their segments' own overlaps (from the index),
    # and segments overlapping the unflushed rows
    merged = set(index.seg_part[live][index.seg_overlap[live]].tolist())
    for p, m in mem_parts.items():
        segs = live[index.seg_part[live] == p]
        if np.any((index.seg_t_max[segs] >= m["t"].min()) & (index.seg_t_min[segs] <= m["t"].max())):
            merged.add(p)
    plan.merged_partitions = sorted(merged)
    no_space = live[np.isin(index.seg_part[live], list(merged))] if merged else None

    # one segment and no unflushed rows in the interval: no path can join two sources
    one_source = len(live) == 1 and mem is None
    # with only time to test and a window of a partition or more, the chunk level would keep nearly
    # every chunk of the blocks that pass: probe the blocks only
    whole = mode == "chunks" and not req.spatial and req.oids is None and req.hi - req.lo >= coll._meta["partition_ns"]
    plan.probe = "blocks" if whole else mode
    chunks, st = index.probe(req.window() + (around, one_source), plan.probe, no_space, req.oids)
    if paths and len(chunks):
        # the sample after a kept one may open the next chunk: add it, unless the chunk holds one
        # object and a sample at or after the time (then that sample is in the chunk itself)
        seg = np.searchsorted(index.seg_chunk0, chunks, side="right") - 1
        c = index.chunks
        until = around if around is not None else req.hi
        open_end = (c["oid_min"][chunks] != c["oid_max"][chunks]) | (c["t_max"][chunks] < until)
        nxt = chunks[open_end & (chunks + 1 < index.seg_chunk0[seg + 1])] + 1
        chunks = _distinct(np.sort(np.concatenate([chunks, nxt])))
    plan.blocks_considered = int(st["blocks_matched"])
    plan.chunks_considered, plan.chunks_matched = int(st["chunks_considered"]), int(st["chunks_matched"])
    row_bytes = 8 * len(need)
    budget = cache.budget
    keep_in_cache = len(chunks) * CHUNK_ROWS * row_bytes <= budget // 2
    scratch = None if keep_in_cache else {}  # the scan strategy's private decoded columns
    plan.strategy = "index" if keep_in_cache else "scan"
    plan.reason = ("the chunks to read fit the decoded-block cache" if keep_in_cache else
                   "the chunks to read exceed half the decoded-block cache: blocks decoded without caching")

    seg_of = np.searchsorted(index.seg_chunk0, chunks, side="right") - 1
    if not len(chunks) or seg_of[0] == seg_of[-1]:  # the common case: one segment
        cuts = [0, len(chunks)]
    else:
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(seg_of)) + 1, [len(chunks)]])
    found: dict[int, list] = {}
    for a, b in zip(cuts[:-1], cuts[1:]):  # one step per segment with candidate chunks
        if a == b:
            continue
        s = int(seg_of[a])
        entry, seg = index.segments[s]
        p = entry["partition"]
        if index.seg_t_max[s] < req.lo or index.seg_t_min[s] > req.hi:
            continue
        is_merged = p in merged
        local = chunks[a:b] - index.seg_chunk0[s]
        blocks = _distinct(index.chunk_block[index.seg_chunk0[s] + local])
        test_space = spatial and not is_merged

        def columns(names_, blks, seg=seg):
            arrays, hits, misses = cache.columns(seg, names_, blks, scratch)
            plan.cache_hits += hits
            plan.blocks_decoded += misses
            return arrays

        live = [tb for tb in tombs if tb["lsn"] > entry["lsn_max"]]
        # keeping only the rows around `around` is exact unless deletes may remove some of them
        if around is not None and not test_space and not live:
            oid_col, t = columns(["oid", "t"], blocks)
            rows, scanned = _query.filter_around(oid_col, t, index.chunk_row0[s], local, around, req.lo, req.hi,
                                                 index.c_index, index.seg_chunk0[s])
        else:
            if test_space:
                t, x, y = columns(["t", "x", "y"], blocks)
            else:
                (t,), x, y = columns(["t"], blocks), None, None
            rows, scanned = _query.filter_chunks(t, x, y, index.chunk_row0[s], local, req.window(space=test_space),
                                                 req.polygon if test_space else None, index.c_index,
                                                 index.seg_chunk0[s])
        plan.rows_scanned += scanned
        if not len(rows):
            continue
        used = _distinct(rows // seg.rows_per_block)
        if req.oids is not None or live:
            oid = columns(["oid"], used)[0][rows]
            keep = np.ones(len(rows), dtype=bool)
            if req.oids is not None:
                keep &= _members(oid, req.oids)
            if live:
                dead = tombstone_mask(oid, t[rows], np.full(len(rows), entry["lsn_max"]), live)
                if dead is not None:
                    keep &= ~dead
            if not keep.all():
                rows = rows[keep]
                if not len(rows):
                    continue
                used = _distinct(rows // seg.rows_per_block)
        wanted = need if is_merged else names
        out = {c: a[rows] for c, a in zip(wanted, columns(wanted, used))}
        if paths:
            out["_seq"] = np.full(len(rows), -1, np.int64) if is_merged else rows + index.seg_row0[s]
        found.setdefault(p, []).append((entry["lsn_max"], out))

    parts = []
    for p in sorted(set(found) | set(mem_parts)):
        chunks_p = [rows for _, rows in sorted(found.get(p, []), key=lambda e: e[0])]
        if p in mem_parts:
            m = mem_parts[p]
            plan.rows_scanned += len(m["t"])
            m = m if p in merged else _filter_rows(m, req, spatial)
            if paths:
                m = dict(m, _seq=np.full(len(m["t"]), -1, np.int64))
            chunks_p.append(m)
        chunks_p = [c for c in chunks_p if len(c["t"])]
        if not chunks_p:
            continue
        if p in merged:
            cols = {k: np.concatenate([c[k] for c in chunks_p]) for k in chunks_p[0]}
            rows = dedup_last(cols)  # sources in write order: the last write of each (oid, t) wins
            if paths:
                rows["_seq"] = np.full(len(rows["t"]), -1, np.int64)
            if spatial:
                rows = _filter_rows(rows, req, True)
        elif len(chunks_p) == 1:
            rows = chunks_p[0]
        else:  # disjoint in time: no duplicates, only the order to restore
            cols = {k: np.concatenate([c[k] for c in chunks_p]) for k in chunks_p[0]}
            order = sort_pairs(cols["oid"], cols["t"])
            rows = {k: v[order] for k, v in cols.items()}
        rows = {k: rows[k] for k in (names + ["_seq"] if paths else names)}
        if len(rows["t"]):
            parts.append(rows)
    plan.rows_returned = sum(len(r["t"]) for r in parts)
    return parts
