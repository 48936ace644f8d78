#!/usr/bin/env python3
"""Compare chronotope's space-time queries with rtree, shapely, scipy, DuckDB and plain numpy on real AIS tracks.

What is measured
----------------
Data: the bundled real AIS sample ``nyharbor_week`` (172,679 points, 140
vessels, 6.8 days, New York harbor), columns object_id (int64 MMSI), t (int64
ns), x/y (float64 lon/lat), repeated (object, t) rows dropped, then
replicated in time: copy k shifts ``t`` by k whole **days** and adds
k * 10**9 to the object ids. The sample spans ~7 days, so about 7 copies
overlap at any instant (a busier harbor, not a longer one), and the copies
keep the real tracks' spacing and deltas. The last copy is cut to its
earliest points in time so that exactly ``--points`` points remain.

Every system gets the same points in one process, one system after the
other (built, queried, freed), single thread:

- chronotope: ``ct.open(dir, fsync="never", cache_bytes=--cache-bytes)``,
  ``create_collection("ais")``, ``append`` in 1,000,000-point batches in
  arrival order (sorted by t, as a live feed delivers them), ``flush()``,
  ``compact()``; appends (which include the store's automatic memtable
  flushes every ``flush_rows`` rows), the final flush and the compaction
  are timed separately and "build" is given with and without the
  compaction. The time of a full ``scan()`` gives the decoding allowance of
  the track target (rows returned x ns per point scanned). The store is then
  reopened read-only (same ``cache_bytes``) and queried; with ``--cold``
  it is queried a second time reopened with ``cache_bytes=0`` (no
  decoded-block cache). Index size: ``stats()["collections"]["ais"]
  ["index_bytes"]`` (n/a when the store does not report it).
- numpy scan: the columns in (object, t) order in memory, every query a
  vectorised full scan with boolean masks (no index; data only).
- t-sorted + searchsorted: the columns in arrival order (sorted by t); a
  query cuts its time window with ``np.searchsorted`` and masks inside it.
  Not among the issue's peers, but the strongest in-memory baseline for
  box and window queries here, so it is shown, and the box target is
  judged both with and without it.
- object-sorted + searchsorted: the columns sorted by (object, t) with
  each object's row range, first and last time ("per-object sorted
  arrays"): a track is two binary searches, a snapshot one vectorised
  binary search over all objects alive at the instant.
- rtree (libspatialindex defaults: R*-tree variant, 4 KiB pages, capacity
  100, fill factor 0.7) 3D over (x, y, t in seconds),
  ``interleaved=True``, single points as boxes. Build time is the issue's
  "bulk load via stream": a Python generator of (id, box, None) into an
  in-memory index; the numpy-array bulk load (rtree >= 1.1, same STR
  algorithm, faster) is timed too and that in-memory index answers the
  queries (``intersection_v`` -> ids -> columns gathered from numpy by
  id). Index size: the .dat + .idx files of the same bulk load written to
  disk in a temporary directory.
- shapely 2 STRtree over ``shapely.points(x, y)``; queries ``tree.query(box)``
  (envelope test, exact for points) then a time post-filter. Size: growth
  of the C heap in use while building (point geometries + tree; glibc
  ``mallinfo2``).
- scipy cKDTree over the points as 3D unit vectors (chord distance orders
  points exactly as great-circle distance): used only for the k nearest
  samples in a time window (query k' nearest, time-filter, grow k' by 4x
  until the k-th in-window sample is provably among them); box and
  interpolated queries are n/a. Size: heap growth (unit vectors + tree).
- DuckDB: a table created from Arrow sorted by t (zone maps on t),
  ``SET threads=1``, plain SQL, ``fetchnumpy()``; size = database file
  after CHECKPOINT (the table; DuckDB has no spatial index here).

Query kinds (seeded RNG, the same queries for every system, generated
around randomly chosen sample points so they hit data):

- ``box``: ``query(bbox=(xmin, ymin, xmax, ymax), time=(t0, t1))`` at ~0.01 %,
  0.1 % and 1 % selectivity: a box square in metres and a time window
  around a sample point, both scaled by one factor calibrated (bisection on
  the query set itself) so the mean fraction of points returned is the
  target; the achieved mean selectivity is printed. Every system returns
  object_id, t, x, y as arrays in (object, t) order, as chronotope does.
- ``knn_window``: the 10 nearest samples in a one-hour window,
  ``nearest(x, y, k=10, time=(t0, t0 + 1 h))``.
- ``knn_at``: the 10 nearest objects at an instant, positions interpolated
  (``nearest(x, y, k=10, at=t)``).
- ``snapshot``: every object's interpolated position at t (``snapshot(at=t)``).
- ``track``: one object's samples over six hours (``track(oid, time=...)``).

Interpolation (peers): an object's position at t is its sample at t, or the
linear interpolation between its last sample before and first sample after
t when these are at most 10 minutes apart (the collection default
``max_gap``). Distances: haversine metres on a sphere of radius 6,371,008.8 m;
candidate-search peers (trees, growing boxes) re-rank exactly with haversine
and stop only when a box provably contains the k nearest. Results are sorted
by (distance, object, t).

Correctness: for the first 3 (``--check``) queries of each kind, every
system's answer is compared with the numpy full scan's (same rows as sets;
interpolated coordinates and distances within 1e-9 degrees / 1e-6 m; a
different order between equal distances is accepted); a mismatch prints a
line with the query.

Timing: per system and kind, 10 % of the queries (at least 5) are run as
warm-up, then every query is timed individually with
:func:`time.perf_counter`; median and p99 are reported in microseconds. A
system that spends more than ``--budget`` seconds on one kind stops after at
least 20 timed queries (the count used is shown in the JSON). The 1-minute
load average is printed at start and end: other processes on the machine
skew the numbers.

Usage::

    python asv_bench/compare_queries.py                                  # 10,000,000 points
    python asv_bench/compare_queries.py --points 1000000 10000000 50000000 --cold
    python asv_bench/compare_queries.py --points 1000000 --queries 50 --json out.json
    python asv_bench/compare_queries.py --peers numpy tsorted objsorted duckdb   # skip the slow tree builds
    python asv_bench/compare_queries.py --points 1000000 --check 200 --peers numpy  # check every query
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from compare_codecs import cpu_model, load_average  # same directory: shared report helpers

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
HOUR_NS = 3_600 * NS_PER_S
ID_STRIDE = 10**9
COLUMNS = ("object_id", "t", "x", "y")
EARTH_RADIUS_M = 6_371_008.8
MAX_GAP_NS = 600 * NS_PER_S  # the collection's default max_gap (10 minutes)
K = 10
BATCH = 1_000_000
SELECTIVITIES = (1e-4, 1e-3, 1e-2)
KINDS = ("box_0.01%", "box_0.1%", "box_1%", "knn_window", "knn_at", "snapshot", "track")
KIND_TITLES = {
    "box_0.01%": "box x interval, 0.01 %",
    "box_0.1%": "box x interval, 0.1 %",
    "box_1%": "box x interval, 1 %",
    "knn_window": "10 nearest samples, 1 h window",
    "knn_at": "10 nearest objects at t (interp.)",
    "snapshot": "snapshot at t (interpolated)",
    "track": "one object's track, 6 h",
}
FIXED_SIZE_KINDS = ("knn_window", "knn_at", "snapshot", "track")
ALL_PEERS = ("numpy", "tsorted", "objsorted", "rtree", "strtree", "ckdtree", "duckdb")
PEER_NAMES = {
    "numpy": "numpy scan",
    "tsorted": "t-sorted bsearch",
    "objsorted": "obj-sorted bsearch",
    "rtree": "rtree 3D",
    "strtree": "shapely STRtree",
    "ckdtree": "scipy cKDTree",
    "duckdb": "DuckDB",
}
SHORT_NAMES = {"chronotope": "chronotope", "chronotope_cold": "chrono cold", "numpy": "numpy scan",
               "tsorted": "t-sorted", "objsorted": "obj-sorted", "rtree": "rtree 3D", "strtree": "STRtree",
               "ckdtree": "cKDTree", "duckdb": "DuckDB"}
CHECKED_QUERIES = 3  # default of --check
# the peers the issue names for the box target; "tsorted" (a time-sorted in-memory array cut by binary search) is an
# extra, stronger baseline for box and window queries, reported beside them
ISSUE_PEERS = ("numpy", "objsorted", "rtree", "strtree", "ckdtree", "duckdb")

Columns = Dict[str, np.ndarray]


# --------------------------------------------------------------------------- data


def load_base() -> Columns:
    """The bundled sample sorted by (object, t), repeated (object, t) rows dropped (the last kept, as the store does)."""
    from chronotope.datasets import load_sample

    d = load_sample("nyharbor_week")
    cols = {k: np.asarray(d[k]) for k in COLUMNS}
    order = np.lexsort((cols["t"], cols["object_id"]))
    cols = {k: v[order] for k, v in cols.items()}
    o, t = cols["object_id"], cols["t"]
    last = np.ones(len(t), dtype=bool)
    last[:-1] = (o[1:] != o[:-1]) | (t[1:] != t[:-1])
    cols = {k: np.ascontiguousarray(v[last]) for k, v in cols.items()}
    if cols["object_id"].min() < 0 or cols["object_id"].max() >= ID_STRIDE:
        raise SystemExit("object ids must lie in [0, 1e9) for the id shift of the copies")
    return cols


def replicate_days(base: Columns, points: int) -> tuple[Columns, int]:
    """Copies of ``base``: copy k has t + k days and ids + k * 1e9; cut to ``points``; returned in arrival (t) order.

    The cut keeps the earliest points (in time) of the last copy. Ties in t
    keep (copy, object) order, so the result is deterministic.
    """
    n = len(base["t"])
    copies = math.ceil(points / n)
    parts = {k: [] for k in COLUMNS}
    by_time = np.argsort(base["t"], kind="stable")
    for k in range(copies):
        take = min(n, points - k * n)
        sel = by_time[:take] if take < n else slice(None)
        parts["object_id"].append(base["object_id"][sel] + k * ID_STRIDE)
        parts["t"].append(base["t"][sel] + k * DAY_NS)
        parts["x"].append(base["x"][sel])
        parts["y"].append(base["y"][sel])
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(cols["t"], kind="stable")
    return {k: np.ascontiguousarray(v[order]) for k, v in cols.items()}, copies


def object_order(cols: Columns) -> Columns:
    """The same rows sorted by (object, t)."""
    order = np.lexsort((cols["t"], cols["object_id"]))
    return {k: np.ascontiguousarray(v[order]) for k, v in cols.items()}


# ---------------------------------------------------------------------- geometry


def haversine(x0: float, y0: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres from (x0, y0) to (x, y), degrees, sphere of radius 6,371,008.8 m."""
    lat0 = math.radians(y0)
    lat = np.radians(y)
    s_lat = np.sin((lat - lat0) * 0.5)
    s_lon = np.sin(np.radians(x - x0) * 0.5)
    h = s_lat * s_lat + math.cos(lat0) * np.cos(lat) * s_lon * s_lon
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def box_radius_m(y0: float, rlat: float, rlon: float) -> float:
    """A distance (metres) within which every point lies inside the box (x0 +- rlon, y0 +- rlat) around (x0, y0).

    A point outside has |dlat| > rlat (so distance >= R * rlat) or |dlon| > rlon
    with |lat - y0| <= rlat (so hav(d) >= cos(y0) * min cos(lat) * hav(rlon)).
    """
    if rlon >= 180.0:
        return EARTH_RADIUS_M * math.radians(rlat)
    d_lat = EARTH_RADIUS_M * math.radians(rlat)
    worst = min(89.999999, max(abs(y0 - rlat), abs(y0 + rlat)))
    h = math.cos(math.radians(y0)) * math.cos(math.radians(worst)) * math.sin(math.radians(rlon) / 2) ** 2
    d_lon = 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))
    return min(d_lat, d_lon)


def unit_vectors(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, 3) points on the unit sphere: chord length is monotone in great-circle distance."""
    lon, lat = np.radians(x), np.radians(y)
    c = np.cos(lat)
    return np.column_stack((c * np.cos(lon), c * np.sin(lon), np.sin(lat)))


def top_k(dist: np.ndarray, oid: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest ``dist``, ordered by (distance, object, t); ties at the k-th kept exactly."""
    if len(dist) > k:
        kth = np.partition(dist, k - 1)[k - 1]
        cand = np.flatnonzero(dist <= kth)
    else:
        cand = np.arange(len(dist))
    order = np.lexsort((t[cand], oid[cand], dist[cand]))
    return cand[order[:k]]


def positions_from_rows(o: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, at: int,
                        max_gap: int = MAX_GAP_NS) -> Columns:
    """Interpolated positions at ``at`` from rows sorted by (object, t); one row per object, by object.

    The rows must hold every sample within ``max_gap`` of ``at`` of the objects concerned.
    """
    n = len(t)
    if n == 0:
        return {"object_id": o[:0], "t": t[:0], "x": x[:0], "y": y[:0]}
    le = t <= at
    ge = t >= at
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = o[1:] == o[:-1]
    prev = le.copy()  # last row <= at of each object
    prev[:-1] &= ~(same_next[:-1] & le[1:])
    nxt = ge.copy()  # first row >= at of each object
    nxt[1:] &= ~(same_next[:-1] & ge[:-1])
    ip, inx = np.flatnonzero(prev), np.flatnonzero(nxt)
    _, a, b = np.intersect1d(o[ip], o[inx], assume_unique=True, return_indices=True)
    ip, inx = ip[a], inx[b]
    tp, tn = t[ip], t[inx]
    ok = tn - tp <= max_gap
    ip, inx, tp, tn = ip[ok], inx[ok], tp[ok], tn[ok]
    span = tn - tp
    exact = span == 0
    frac = np.where(exact, 0.0, (at - tp) / np.where(exact, 1, span))
    xp, yp = x[ip], y[ip]
    px = np.where(exact, xp, xp + (x[inx] - xp) * frac)
    py = np.where(exact, yp, yp + (y[inx] - yp) * frac)
    return {"object_id": o[ip], "t": np.full(len(ip), at, dtype=np.int64), "x": px, "y": py}


def nearest_of(pos: Columns, qx: float, qy: float, k: int) -> Columns:
    """The k positions nearest (qx, qy), by (distance, object), with a ``distance`` column."""
    d = haversine(qx, qy, pos["x"], pos["y"])
    sel = top_k(d, pos["object_id"], pos["t"], k)
    out = {c: pos[c][sel] for c in COLUMNS}
    out["distance"] = d[sel]
    return out


def rows_of(cols: Columns, idx: np.ndarray, dist: Optional[np.ndarray] = None) -> Columns:
    out = {c: cols[c][idx] for c in COLUMNS}
    if dist is not None:
        out["distance"] = dist
    return out


def grow_knn(c: Columns, x0: float, y0: float, ids_in) -> Columns:
    """K nearest rows to (x0, y0): grow a box (``ids_in(rlon, rlat)`` gives the row ids inside it)
    until its K nearest by haversine lie within its inscribed radius."""
    rlat = 0.005
    while True:
        rlon = min(180.0, rlat / math.cos(math.radians(y0)))
        ids = ids_in(rlon, rlat)
        if len(ids) >= K or rlat >= 90:
            d = haversine(x0, y0, c["x"][ids], c["y"][ids])
            sel = top_k(d, c["object_id"][ids], c["t"][ids], K)
            if rlat >= 90 or (len(sel) == K and d[sel[-1]] <= box_radius_m(y0, rlat, rlon)):
                return rows_of(c, ids[sel], d[sel])
        rlat *= 2


# ------------------------------------------------------------------------ queries


def _box_params(obj: Columns, centres: np.ndarray, scale: float) -> list:
    """Box (square in metres, half-side scale * 1 km) and window (+- scale * 30 min) around each centre."""
    half_lat = scale * 1_000.0 / (EARTH_RADIUS_M * math.pi / 180.0)
    half_t = max(1, int(round(scale * 1_800))) * NS_PER_S
    out = []
    for i in centres.tolist():
        x0, y0, t0 = float(obj["x"][i]), float(obj["y"][i]), int(obj["t"][i])
        half_lon = half_lat / math.cos(math.radians(y0))
        out.append((x0 - half_lon, y0 - half_lat, x0 + half_lon, y0 + half_lat, t0 - half_t, t0 + half_t))
    return out


def _box_count(arr: Columns, q: tuple) -> int:
    xmin, ymin, xmax, ymax, t0, t1 = q
    lo, hi = int(np.searchsorted(arr["t"], t0, "left")), int(np.searchsorted(arr["t"], t1, "right"))
    x, y = arr["x"][lo:hi], arr["y"][lo:hi]
    return int(np.count_nonzero((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)))


def make_queries(arr: Columns, obj: Columns, count: int, seed: int) -> tuple[Dict[str, list], Dict[str, dict]]:
    """The query sets (tuples of Python scalars) and, per box level, its scale and achieved mean selectivity."""
    rng = np.random.default_rng(seed)
    n = len(obj["t"])
    queries: Dict[str, list] = {}
    info: Dict[str, dict] = {}
    for target, kind in zip(SELECTIVITIES, KINDS[:3]):
        centres = rng.integers(0, n, count)

        def mean_sel(scale: float) -> float:
            return sum(_box_count(arr, q) for q in _box_params(obj, centres, scale)) / (len(centres) * n)

        lo, hi = 1e-3, 1e3  # geometric bisection on the scale factor
        for _ in range(30):
            mid = math.sqrt(lo * hi)
            if mean_sel(mid) < target:
                lo = mid
            else:
                hi = mid
            if hi / lo < 1.01:
                break
        scale = math.sqrt(lo * hi)
        queries[kind] = _box_params(obj, centres, scale)
        info[kind] = {"target": target, "scale": scale, "mean_selectivity": mean_sel(scale),
                      "half_side_m": scale * 1_000.0, "half_window_s": max(1, int(round(scale * 1_800)))}
    jitter = 0.002  # degrees: the query point is near, not on, a sample
    c = rng.integers(0, n, count)
    qx = obj["x"][c] + rng.normal(0, jitter, count)
    qy = obj["y"][c] + rng.normal(0, jitter, count)
    t0 = obj["t"][c] - rng.integers(0, 3_600, count) * NS_PER_S
    queries["knn_window"] = [(float(a), float(b), int(s), int(s) + HOUR_NS) for a, b, s in zip(qx, qy, t0)]
    c = rng.integers(0, n, count)
    qx = obj["x"][c] + rng.normal(0, jitter, count)
    qy = obj["y"][c] + rng.normal(0, jitter, count)
    at = obj["t"][c] + rng.integers(-300, 301, count) * NS_PER_S
    queries["knn_at"] = [(float(a), float(b), int(s)) for a, b, s in zip(qx, qy, at)]
    c = rng.integers(0, n, count)
    at = obj["t"][c] + rng.integers(-300, 301, count) * NS_PER_S
    queries["snapshot"] = [(int(s),) for s in at]
    c = rng.integers(0, n, count)
    t0 = obj["t"][c] - rng.integers(0, 6 * 3_600, count) * NS_PER_S
    queries["track"] = [(int(o), int(s), int(s) + 6 * HOUR_NS) for o, s in zip(obj["object_id"][c], t0)]
    return queries, info


# ------------------------------------------------------------------------ helpers


class _MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                               "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    f.restype = _MallInfo2
    return f


_MALLINFO2 = _mallinfo2()


def heap_bytes() -> int:
    """Bytes the C heap has in use (glibc ``mallinfo2``: small blocks + mmapped ones; numpy, GEOS, libspatialindex
    and scipy all allocate there); the resident set size where mallinfo2 is missing."""
    if _MALLINFO2 is not None:
        m = _MALLINFO2()
        return int(m.uordblks + m.hblkhd)
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def dir_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def nrows(r) -> int:
    if isinstance(r, dict):
        return len(r["object_id"])
    return len(r)


def as_columns(r) -> Columns:
    """A chronotope Result or a peer's dict as plain numpy columns (t as int64 ns)."""
    d = r.to_dict() if hasattr(r, "to_dict") else r
    out = {}
    for k, v in d.items():
        v = np.asarray(v)
        if v.dtype.kind == "M":
            v = v.astype("datetime64[ns]").view(np.int64)
        out[k] = v
    return out


def time_queries(fn: Callable, qs: list, budget: float) -> dict:
    """Warm-up on 10 % of ``qs`` (>= 5), then each query timed alone; median / p99 in microseconds."""
    for q in qs[:max(5, len(qs) // 10)]:
        fn(q)
    lat = []
    rows = 0
    started = time.perf_counter()
    pc = time.perf_counter
    for q in qs:
        t0 = pc()
        r = fn(q)
        lat.append(pc() - t0)
        rows += nrows(r)
        del r
        if len(lat) >= 20 and pc() - started > budget:
            break
    a = np.array(lat) * 1e6
    return {"median_us": float(np.median(a)), "p99_us": float(np.percentile(a, 99)), "mean_us": float(a.mean()),
            "timed": len(lat), "mean_rows": rows / len(lat)}


def _sorted_by_object_t(c: Columns) -> Columns:
    order = np.lexsort((c["t"], c["object_id"]))
    return {k: v[order] for k, v in c.items()}


def compare(kind: str, got: Columns, want: Columns) -> Optional[str]:
    """None when ``got`` answers the query as ``want`` does; otherwise what differs."""
    if kind.startswith("box") or kind == "track":
        if len(got["object_id"]) != len(want["object_id"]):
            return f"{len(got['object_id'])} rows instead of {len(want['object_id'])}"
        g, w = _sorted_by_object_t(got), _sorted_by_object_t(want)
        for c in COLUMNS:
            if not np.array_equal(g[c], w[c]):
                return f"column {c} differs"
        if kind == "track" and len(got["t"]) and np.any(np.diff(got["t"]) < 0):
            return "rows not sorted by t"
        return None
    if kind == "snapshot":
        if not np.array_equal(got["object_id"], want["object_id"]):
            gs, ws = set(got["object_id"].tolist()), set(want["object_id"].tolist())
            return (f"objects differ: {len(got['object_id'])} vs {len(want['object_id'])}; only in answer "
                    f"{sorted(gs - ws)[:5]}, missing {sorted(ws - gs)[:5]}")
        if not (np.allclose(got["x"], want["x"], rtol=0, atol=1e-9) and np.allclose(got["y"], want["y"], rtol=0, atol=1e-9)):
            i = int(np.argmax(np.abs(got["x"] - want["x"]) + np.abs(got["y"] - want["y"])))
            return f"positions differ, e.g. object {want['object_id'][i]}: {got['x'][i], got['y'][i]} vs {want['x'][i], want['y'][i]}"
        return None
    # nearest: same distances rank by rank; same rows unless the difference is a tie in distance
    if len(got["object_id"]) != len(want["object_id"]):
        return f"{len(got['object_id'])} rows instead of {len(want['object_id'])}"
    gd, wd = np.asarray(got["distance"], dtype=np.float64), want["distance"]
    if not np.allclose(gd, wd, rtol=1e-9, atol=1e-6):
        return f"distances differ: {gd.tolist()} vs {wd.tolist()}"
    keys = ("object_id",) if kind == "knn_at" else ("object_id", "t")
    gk = list(zip(*(got[c].tolist() for c in keys)))
    wk = list(zip(*(want[c].tolist() for c in keys)))
    if gk != wk:
        kth = wd[-1] if len(wd) else 0.0
        diff = [i for i, (a, b) in enumerate(zip(gk, wk)) if a != b]
        if all(abs(wd[i] - gd[i]) <= 1e-6 and (abs(wd[i] - kth) <= 1e-6 or
               (i + 1 < len(wd) and abs(wd[i + 1] - wd[i]) <= 1e-6) or (i and abs(wd[i - 1] - wd[i]) <= 1e-6))
               for i in diff):
            return None  # equal distances: an order between ties that the float rounding decides
        return f"rows differ at ranks {diff[:5]}: {[gk[i] for i in diff[:3]]} vs {[wk[i] for i in diff[:3]]}"
    if kind == "knn_at" and not (np.allclose(got["x"], want["x"], rtol=0, atol=1e-9)
                                 and np.allclose(got["y"], want["y"], rtol=0, atol=1e-9)):
        return "interpolated positions differ"
    return None


# -------------------------------------------------------------------------- peers


class Interpolating:
    """Snapshot and nearest-at-a-time from a peer's ``_positions(at)`` (every object's row at ``at``)."""

    def snapshot(self, q):
        return self._positions(q[0])

    def knn_at(self, q):
        x0, y0, at = q
        return nearest_of(self._positions(at), x0, y0, K)


class NumpyScan(Interpolating):
    """Full scans with boolean masks over the columns in (object, t) order."""

    name = PEER_NAMES["numpy"]

    def __init__(self, obj: Columns, arr: Columns):
        t0 = time.perf_counter()
        self.c = obj
        self.build_s = time.perf_counter() - t0
        self.index_bytes = 0
        self.size_note = "no index (raw columns, 32 B/point)"

    def box(self, q):
        xmin, ymin, xmax, ymax, t0, t1 = q
        c = self.c
        m = (c["t"] >= t0) & (c["t"] <= t1)
        m &= c["x"] >= xmin
        m &= c["x"] <= xmax
        m &= c["y"] >= ymin
        m &= c["y"] <= ymax
        return rows_of(c, np.flatnonzero(m))

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        c = self.c
        idx = np.flatnonzero((c["t"] >= t0) & (c["t"] <= t1))
        d = haversine(x0, y0, c["x"][idx], c["y"][idx])
        sel = top_k(d, c["object_id"][idx], c["t"][idx], K)
        return rows_of(c, idx[sel], d[sel])

    def _positions(self, at):
        c = self.c
        idx = np.flatnonzero((c["t"] >= at - MAX_GAP_NS) & (c["t"] <= at + MAX_GAP_NS))
        return positions_from_rows(c["object_id"][idx], c["t"][idx], c["x"][idx], c["y"][idx], at)

    def track(self, q):
        oid, t0, t1 = q
        c = self.c
        return rows_of(c, np.flatnonzero((c["object_id"] == oid) & (c["t"] >= t0) & (c["t"] <= t1)))


class TimeSorted(Interpolating):
    """The columns in arrival order (sorted by t): the time window by binary search, masks inside it."""

    name = PEER_NAMES["tsorted"]

    def __init__(self, obj: Columns, arr: Columns):
        t0 = time.perf_counter()
        self.c = arr
        assert np.all(arr["t"][1:] >= arr["t"][:-1])
        self.build_s = time.perf_counter() - t0  # arrival order is already sorted by t
        self.index_bytes = 0
        self.size_note = "no index (columns kept in arrival order)"

    def _window(self, t0, t1):
        ts = self.c["t"]
        return int(np.searchsorted(ts, t0, "left")), int(np.searchsorted(ts, t1, "right"))

    def box(self, q):
        xmin, ymin, xmax, ymax, t0, t1 = q
        lo, hi = self._window(t0, t1)
        c = self.c
        x, y = c["x"][lo:hi], c["y"][lo:hi]
        idx = lo + np.flatnonzero((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax))
        o, t = c["object_id"][idx], c["t"][idx]
        idx = idx[np.lexsort((t, o))]  # the (object, t) order every system returns
        return rows_of(c, idx)

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        lo, hi = self._window(t0, t1)
        c = self.c
        d = haversine(x0, y0, c["x"][lo:hi], c["y"][lo:hi])
        sel = top_k(d, c["object_id"][lo:hi], c["t"][lo:hi], K)
        return rows_of(c, lo + sel, d[sel])

    def _positions(self, at):
        lo, hi = self._window(at - MAX_GAP_NS, at + MAX_GAP_NS)
        c = self.c
        o, t = c["object_id"][lo:hi], c["t"][lo:hi]
        order = np.lexsort((t, o))
        return positions_from_rows(o[order], t[order], c["x"][lo:hi][order], c["y"][lo:hi][order], at)

    def track(self, q):
        oid, t0, t1 = q
        lo, hi = self._window(t0, t1)
        return rows_of(self.c, lo + np.flatnonzero(self.c["object_id"][lo:hi] == oid))


class ObjectSorted(Interpolating):
    """Per-object sorted arrays: the columns by (object, t), each object's row range and time span."""

    name = PEER_NAMES["objsorted"]

    def __init__(self, obj: Columns, arr: Columns):
        t0 = time.perf_counter()
        order = np.lexsort((arr["t"], arr["object_id"]))
        c = {k: v[order] for k, v in arr.items()}
        o = c["object_id"]
        starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
        self.ids = o[starts]
        self.starts = starts
        self.ends = np.r_[starts[1:], len(o)]
        self.tmin = c["t"][self.starts]
        self.tmax = c["t"][self.ends - 1]
        self.c = c
        self.build_s = time.perf_counter() - t0
        self.index_bytes = self.ids.nbytes + self.starts.nbytes + self.ends.nbytes + self.tmin.nbytes + self.tmax.nbytes
        self.size_note = "per-object offsets and time spans; build = sort by (object, t)"

    def _positions(self, at):
        c = self.c
        t = c["t"]
        alive = np.flatnonzero((self.tmin <= at) & (self.tmax >= at))
        lo, hi = self.starts[alive], self.ends[alive]
        while True:  # vectorised lower bound: first row with t >= at, for every live object at once
            active = lo < hi
            if not active.any():
                break
            mid = (lo + hi) >> 1
            go = active & (t[np.minimum(mid, len(t) - 1)] < at)
            lo = np.where(go, mid + 1, lo)
            hi = np.where(active & ~go, mid, hi)
        nxt = lo
        tn = t[nxt]
        exact = tn == at
        prv = np.where(exact, nxt, nxt - 1)
        tp = t[prv]
        ok = exact | (tn - tp <= MAX_GAP_NS)
        nxt, prv, tn, tp, exact = nxt[ok], prv[ok], tn[ok], tp[ok], exact[ok]
        span = np.where(exact, 1, tn - tp)
        frac = np.where(exact, 0.0, (at - tp) / span)
        xp, yp = c["x"][prv], c["y"][prv]
        return {"object_id": self.ids[alive][ok], "t": np.full(len(prv), at, dtype=np.int64),
                "x": xp + (c["x"][nxt] - xp) * frac, "y": yp + (c["y"][nxt] - yp) * frac}

    def track(self, q):
        oid, t0, t1 = q
        j = int(np.searchsorted(self.ids, oid))
        if j == len(self.ids) or self.ids[j] != oid:
            return {k: v[:0] for k, v in self.c.items()}
        s, e = int(self.starts[j]), int(self.ends[j])
        ts = self.c["t"][s:e]
        a, b = s + int(np.searchsorted(ts, t0, "left")), s + int(np.searchsorted(ts, t1, "right"))
        return {k: v[a:b] for k, v in self.c.items()}  # views: no copy


class RTree3D:
    """libspatialindex R-tree over (x, y, t seconds): growing 3D boxes for kNN, exact haversine re-ranking."""

    name = PEER_NAMES["rtree"]

    def __init__(self, obj: Columns, arr: Columns, root: Path):
        from rtree import index

        self.c = obj
        self.origin = int(obj["t"].min())
        ts = (obj["t"] - self.origin) / 1e9  # whole seconds: exact in float64
        n = len(ts)
        ids = np.arange(n, dtype=np.int64)
        pts = np.column_stack((obj["x"], obj["y"], ts))

        def props():
            p = index.Property()
            p.dimension = 3
            return p

        # the issue's reference: bulk load (STR) from a Python stream of (id, box, None)
        t0 = time.perf_counter()
        gen = ((i, (a, b, c, a, b, c), None) for i, a, b, c in zip(range(n), obj["x"].tolist(), obj["y"].tolist(), ts.tolist()))
        tmp = index.Index(gen, properties=props(), interleaved=True)
        self.build_stream_s = time.perf_counter() - t0
        del tmp, gen
        gc.collect()
        # on disk, for the size
        base = str(root / "rtree3d")
        t0 = time.perf_counter()
        disk = index.Index(base, (ids, pts, pts), properties=props(), interleaved=True, overwrite=True)
        disk.close()
        self.build_disk_s = time.perf_counter() - t0
        self.index_bytes = dir_bytes(Path(base + ".dat")) + dir_bytes(Path(base + ".idx"))
        for ext in (".dat", ".idx"):
            os.remove(base + ext)
        # in memory, numpy-array bulk load: this one answers the queries
        r0 = heap_bytes()
        t0 = time.perf_counter()
        self.idx = index.Index((ids, pts, pts), properties=props(), interleaved=True)
        self.build_arrays_s = time.perf_counter() - t0
        self.memory_bytes = heap_bytes() - r0
        del pts, ids
        self.build_s = self.build_stream_s
        self.size_note = (f"disk .dat+.idx; build = stream bulk load {self.build_stream_s:.1f} s, numpy-array bulk load "
                          f"{self.build_arrays_s:.1f} s, to disk {self.build_disk_s:.1f} s; in memory "
                          f"{self.memory_bytes / len(ts):.0f} B/point (heap in use)")

    def _ids(self, xmin, ymin, ts0, xmax, ymax, ts1) -> np.ndarray:
        ids, _ = self.idx.intersection_v(np.array([[xmin, ymin, ts0]]), np.array([[xmax, ymax, ts1]]))
        return ids

    def _ts(self, t):
        return (t - self.origin) / 1e9

    def box(self, q):
        xmin, ymin, xmax, ymax, t0, t1 = q
        ids = np.sort(self._ids(xmin, ymin, self._ts(t0), xmax, ymax, self._ts(t1)))  # row order = (object, t)
        return rows_of(self.c, ids)

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        ts0, ts1 = self._ts(t0), self._ts(t1)
        return grow_knn(self.c, x0, y0, lambda rlon, rlat: self._ids(x0 - rlon, y0 - rlat, ts0, x0 + rlon, y0 + rlat, ts1))


class STRtreePeer:
    """shapely 2 STRtree over 2D points; time post-filter; growing boxes for kNN with exact haversine re-ranking."""

    name = PEER_NAMES["strtree"]

    def __init__(self, obj: Columns, arr: Columns):
        import shapely

        self.shapely = shapely
        self.c = obj
        r0 = heap_bytes()
        t0 = time.perf_counter()
        self.geoms = shapely.points(obj["x"], obj["y"])
        self.tree = shapely.STRtree(self.geoms)
        self.tree.query(shapely.box(0, 0, 0, 0))  # the tree is built lazily, on the first query
        self.build_s = time.perf_counter() - t0
        self.index_bytes = heap_bytes() - r0
        self.size_note = "heap growth while building (point geometries + tree)"

    def _ids(self, xmin, ymin, xmax, ymax):
        return self.tree.query(self.shapely.box(xmin, ymin, xmax, ymax))

    def box(self, q):
        xmin, ymin, xmax, ymax, t0, t1 = q
        ids = self._ids(xmin, ymin, xmax, ymax)
        t = self.c["t"][ids]
        ids = np.sort(ids[(t >= t0) & (t <= t1)])
        return rows_of(self.c, ids)

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        c = self.c

        def in_box(rlon, rlat):
            ids = self._ids(x0 - rlon, y0 - rlat, x0 + rlon, y0 + rlat)
            t = c["t"][ids]
            return ids[(t >= t0) & (t <= t1)]

        return grow_knn(c, x0, y0, in_box)


class KDTreePeer:
    """scipy cKDTree over 3D unit vectors; k nearest samples in a time window by growing k'."""

    name = PEER_NAMES["ckdtree"]

    def __init__(self, obj: Columns, arr: Columns):
        from scipy.spatial import cKDTree

        self.c = obj
        r0 = heap_bytes()
        t0 = time.perf_counter()
        self.tree = cKDTree(unit_vectors(obj["x"], obj["y"]))
        self.build_s = time.perf_counter() - t0
        self.index_bytes = heap_bytes() - r0
        self.size_note = "heap growth while building (unit vectors + tree)"
        # start k' at the number of samples a 1 h window holds per sample in it, times k (tuned to the data)
        span_h = max(1.0, (obj["t"].max() - obj["t"].min()) / HOUR_NS)
        self.k0 = int(min(len(obj["t"]), max(4 * K, K * span_h)))

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        c = self.c
        p = unit_vectors(np.array([x0]), np.array([y0]))[0]
        n = len(c["t"])
        kk = self.k0
        while True:
            chord, ids = self.tree.query(p, k=kk)
            t = c["t"][ids]
            keep = (t >= t0) & (t <= t1)
            got = ids[keep]
            # every point with chord < chord[-1] is among the kk returned: done when the k-th in-window one is nearer
            if kk >= n or (len(got) >= K and chord[keep][K - 1] < chord[-1]):
                d = haversine(x0, y0, c["x"][got], c["y"][got])
                sel = top_k(d, c["object_id"][got], c["t"][got], K)
                return rows_of(c, got[sel], d[sel])
            kk = min(n, kk * 4)


_HAV_SQL = ("2 * 6371008.8 * asin(sqrt(least(1.0, pow(sin(radians(y - $qy) / 2), 2) + "
            "cos(radians($qy)) * cos(radians(y)) * pow(sin(radians(x - $qx) / 2), 2))))")
_POS_SQL = """
    WITH w AS (SELECT object_id, t, x, y FROM pts WHERE t BETWEEN $lo AND $hi),
    b AS (SELECT object_id, max(t) AS tb, arg_max(x, t) AS xb, arg_max(y, t) AS yb FROM w WHERE t <= $at GROUP BY object_id),
    a AS (SELECT object_id, min(t) AS ta, arg_min(x, t) AS xa, arg_min(y, t) AS ya FROM w WHERE t >= $at GROUP BY object_id)
    SELECT b.object_id AS object_id, $at::BIGINT AS t,
      CASE WHEN ta = tb THEN xb ELSE xb + (xa - xb) * (($at - tb)::DOUBLE / (ta - tb)::DOUBLE) END AS x,
      CASE WHEN ta = tb THEN yb ELSE yb + (ya - yb) * (($at - tb)::DOUBLE / (ta - tb)::DOUBLE) END AS y
    FROM b JOIN a ON a.object_id = b.object_id WHERE ta - tb <= $gap
"""


class DuckDBPeer:
    """DuckDB table sorted by t, plain SQL, one thread, fetchnumpy()."""

    name = PEER_NAMES["duckdb"]

    def __init__(self, obj: Columns, arr: Columns, root: Path):
        import duckdb
        import pyarrow as pa

        path = root / "queries.duckdb"
        arrow_tbl = pa.table({k: arr[k] for k in COLUMNS})  # noqa: F841 - found by DuckDB's replacement scan
        con = duckdb.connect(str(path))
        con.execute("SET threads=1")
        t0 = time.perf_counter()
        con.execute("CREATE TABLE pts AS SELECT * FROM arrow_tbl ORDER BY t")
        con.execute("CHECKPOINT")
        self.build_s = time.perf_counter() - t0
        con.close()
        self.index_bytes = dir_bytes(path)
        self.size_note = "database file (the table itself; zone maps on t, no spatial index)"
        self.con = duckdb.connect(str(path), read_only=True)
        self.con.execute("SET threads=1")

    def _q(self, sql, params) -> Columns:
        r = self.con.execute(sql, params).fetchnumpy()
        return {k: np.asarray(v) for k, v in r.items()}

    def box(self, q):
        xmin, ymin, xmax, ymax, t0, t1 = q
        return self._q("SELECT object_id, t, x, y FROM pts WHERE t BETWEEN $t0 AND $t1 AND x BETWEEN $x0 AND $x1 "
                       "AND y BETWEEN $y0 AND $y1 ORDER BY object_id, t",
                       {"t0": t0, "t1": t1, "x0": xmin, "x1": xmax, "y0": ymin, "y1": ymax})

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        return self._q(f"SELECT object_id, t, x, y, {_HAV_SQL} AS distance FROM pts WHERE t BETWEEN $t0 AND $t1 "
                       f"ORDER BY distance, object_id, t LIMIT {K}", {"qx": x0, "qy": y0, "t0": t0, "t1": t1})

    def snapshot(self, q):
        at = q[0]
        return self._q(_POS_SQL + " ORDER BY object_id",
                       {"lo": at - MAX_GAP_NS, "hi": at + MAX_GAP_NS, "at": at, "gap": MAX_GAP_NS})

    def knn_at(self, q):
        x0, y0, at = q
        return self._q(f"SELECT object_id, t, x, y, {_HAV_SQL} AS distance FROM ({_POS_SQL}) "
                       f"ORDER BY distance, object_id LIMIT {K}",
                       {"lo": at - MAX_GAP_NS, "hi": at + MAX_GAP_NS, "at": at, "gap": MAX_GAP_NS, "qx": x0, "qy": y0})

    def track(self, q):
        oid, t0, t1 = q
        return self._q("SELECT object_id, t, x, y FROM pts WHERE object_id = $o AND t BETWEEN $t0 AND $t1 ORDER BY t",
                       {"o": oid, "t0": t0, "t1": t1})

    def close(self):
        self.con.close()


# --------------------------------------------------------------------- chronotope


class Chronotope:
    """A chronotope store opened read-only on the built store (``cache_bytes`` as given)."""

    def __init__(self, path: Path, cache_bytes: Optional[int], name: str):
        import chronotope as ct

        kw = {} if cache_bytes is None else {"cache_bytes": cache_bytes}
        self.db = ct.open(path, readonly=True, **kw)
        self.coll = self.db.collection("ais")
        self.name = name

    def box(self, q):
        xmin, ymin, xmax, ymax, t0, t1 = q
        return self.coll.query(bbox=(xmin, ymin, xmax, ymax), time=(t0, t1))

    def knn_window(self, q):
        x0, y0, t0, t1 = q
        return self.coll.nearest(x0, y0, k=K, time=(t0, t1))

    def knn_at(self, q):
        x0, y0, at = q
        return self.coll.nearest(x0, y0, k=K, at=at)

    def snapshot(self, q):
        return self.coll.snapshot(at=q[0])

    def track(self, q):
        oid, t0, t1 = q
        return self.coll.track(oid, time=(t0, t1))

    def close(self):
        self.db.close()


def chronotope_ready() -> Optional[str]:
    """None when the installed chronotope has the query API, else why not."""
    try:
        import chronotope as ct
    except ImportError as exc:
        return f"cannot import chronotope: {exc}"
    missing = [m for m in ("query", "nearest", "snapshot", "track") if not hasattr(ct.Collection, m)]
    return f"chronotope.Collection lacks {', '.join(missing)}" if missing else None


def build_chronotope(arr: Columns, path: Path, cache_bytes: Optional[int]) -> dict:
    """Append (1M-point batches, arrival order), flush, compact; returns the timings and sizes."""
    import chronotope as ct

    kw = {} if cache_bytes is None else {"cache_bytes": cache_bytes}
    n = len(arr["t"])
    db = ct.open(path, fsync="never", **kw)
    try:
        c = db.create_collection("ais")
        o, t, x, y = arr["object_id"], arr["t"], arr["x"], arr["y"]
        t0 = time.perf_counter()
        for i in range(0, n, BATCH):
            c.append(o[i:i + BATCH], t[i:i + BATCH], x[i:i + BATCH], y[i:i + BATCH])
        t_append = time.perf_counter() - t0
        t0 = time.perf_counter()
        db.flush()
        t_flush = time.perf_counter() - t0
        st_flushed = db.stats()["collections"]["ais"]
        t0 = time.perf_counter()
        db.compact()
        t_compact = time.perf_counter() - t0
        st = db.stats()["collections"]["ais"]
        c.scan()  # warm-up; then the median of 3 full scans: the decoding cost per point
        scans = []
        for _ in range(3):
            t0 = time.perf_counter()
            c.scan()
            scans.append(time.perf_counter() - t0)
    finally:
        db.close()
    return {"append_s": t_append, "flush_s": t_flush, "compact_s": t_compact,
            "build_s": t_append + t_flush, "build_compact_s": t_append + t_flush + t_compact,
            "index_bytes": st.get("index_bytes"), "index_bytes_after_flush": st_flushed.get("index_bytes"),
            "scan_ns_per_point": float(np.median(scans)) * 1e9 / n,
            "store_bytes": dir_bytes(path), "segments": st.get("segments"), "partitions": st.get("partitions"),
            "stats": {k: v for k, v in st.items() if isinstance(v, (int, float, str)) or v is None}}


# --------------------------------------------------------------------------- runs


def run_system(sys_obj, queries: Dict[str, list], reference: Dict[str, list], budget: float,
               log: List[str]) -> Dict[str, dict]:
    """Check the first queries of each kind against the numpy reference, then time every kind the system answers."""
    out = {}
    for kind in KINDS:
        method = getattr(sys_obj, "box" if kind.startswith("box") else kind, None)
        if method is None:
            continue
        qs = queries[kind]
        bad, failed = [], False
        for i in range(len(reference[kind])):
            try:
                why = compare(kind, as_columns(method(qs[i])), reference[kind][i])
            except Exception as exc:  # report it and go on with the other kinds
                why, failed = f"raised {type(exc).__name__}: {exc}", True
            if why:
                bad.append(f"MISMATCH {sys_obj.name}, {kind}, query {i} {qs[i]}: {why}")
            if failed:
                break
        for msg in bad[:3]:
            print("  " + msg, flush=True)
            log.append(msg)
        if len(bad) > 3:
            msg = f"MISMATCH {sys_obj.name}, {kind}: {len(bad)} of {len(reference[kind])} checked queries differ"
            print("  " + msg, flush=True)
            log.append(msg)
        out[kind] = {"error": True} if failed else time_queries(method, qs, budget)
        if bad:
            out[kind]["mismatches"] = len(bad)
    return out


def run_size(points: int, base: Columns, args, root: Path, log: List[str]) -> dict:
    arr, copies = replicate_days(base, points)
    obj = object_order(arr)
    n = len(arr["t"])
    n_objects = int(np.unique(arr["object_id"]).size)
    print(f"\n=== {n:,} points: {len(base['t']):,} x {copies} copies (t + k days, id + k*1e9), {n_objects:,} objects "
          f"(load {load_average()})", flush=True)
    t0 = time.perf_counter()
    queries, box_info = make_queries(arr, obj, args.queries, args.seed)
    print(f"  queries generated in {time.perf_counter() - t0:.1f} s: " +
          ", ".join(f"{k} scale {v['scale']:.3g} (+-{v['half_side_m']:.0f} m, +-{v['half_window_s']} s) "
                    f"mean selectivity {100 * v['mean_selectivity']:.4f}%" for k, v in box_info.items()), flush=True)
    reference_sys = NumpyScan(obj, arr)
    reference = {k: [as_columns(getattr(reference_sys, "box" if k.startswith("box") else k)(q))
                     for q in queries[k][:args.check]] for k in KINDS}
    res: Dict[str, dict] = {"points": n, "copies": copies, "objects": n_objects, "box": box_info,
                            "systems": {}, "builds": {}}

    def record(key, name, build: dict, lat: Dict[str, dict]):
        res["builds"][key] = dict(build, name=name)
        res["systems"][key] = lat

    # chronotope
    why = None if args.no_chronotope else chronotope_ready()
    if args.no_chronotope:
        why = "--no-chronotope"
    if why is None:
        path = root / f"chronotope_{n}"
        t0 = time.perf_counter()
        b = build_chronotope(arr, path, args.cache_bytes)
        print(f"  chronotope built: append {b['append_s']:.2f} s, flush {b['flush_s']:.2f} s, compact "
              f"{b['compact_s']:.2f} s; index_bytes {b['index_bytes']}, store {b['store_bytes']:,} B "
              f"(load {load_average()})", flush=True)
        runs = [("chronotope", f"chronotope (cache {'default' if args.cache_bytes is None else args.cache_bytes})",
                 args.cache_bytes)]
        if args.cold:
            runs.append(("chronotope_cold", "chronotope cold (cache_bytes=0)", 0))
        for key, name, cache in runs:
            ch = Chronotope(path, cache, name)
            try:
                t0 = time.perf_counter()
                lat = run_system(ch, queries, reference, args.budget, log)
                print(f"  {name}: queried in {time.perf_counter() - t0:.1f} s (load {load_average()})", flush=True)
            finally:
                ch.close()
            build = dict(b, build_s=b["build_s"])
            record(key, name, build, lat)
        shutil.rmtree(path, ignore_errors=True)
    else:
        print(f"  chronotope skipped: {why}", flush=True)
        res["chronotope_skipped"] = why
    del reference_sys
    gc.collect()

    factories = {
        "numpy": lambda: NumpyScan(obj, arr),
        "tsorted": lambda: TimeSorted(obj, arr),
        "objsorted": lambda: ObjectSorted(obj, arr),
        "rtree": lambda: RTree3D(obj, arr, root),
        "strtree": lambda: STRtreePeer(obj, arr),
        "ckdtree": lambda: KDTreePeer(obj, arr),
        "duckdb": lambda: DuckDBPeer(obj, arr, root),
    }
    for key in args.peers:
        t0 = time.perf_counter()
        try:
            peer = factories[key]()
        except ImportError as exc:
            print(f"  {PEER_NAMES[key]} skipped: {exc}", flush=True)
            continue
        t_build = time.perf_counter() - t0
        build = {"build_s": peer.build_s, "index_bytes": peer.index_bytes, "size_note": peer.size_note}
        for extra in ("build_stream_s", "build_arrays_s", "build_disk_s", "memory_bytes"):
            if hasattr(peer, extra):
                build[extra] = getattr(peer, extra)
        t0 = time.perf_counter()
        lat = run_system(peer, queries, reference, args.budget, log)
        print(f"  {peer.name}: built in {t_build:.1f} s, queried in {time.perf_counter() - t0:.1f} s "
              f"(load {load_average()})", flush=True)
        record(key, peer.name, build, lat)
        if hasattr(peer, "close"):
            peer.close()
        del peer
        gc.collect()
    for f in root.glob("queries.duckdb*"):
        f.unlink()
    return res


# ---------------------------------------------------------------------- reporting


def _us(v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    if v >= 100_000:
        return f"{v / 1000:.0f} ms"
    if v >= 1000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.1f}"


def best_peer(res: dict, kind: str, stat: str = "median_us",
              among: Optional[tuple] = None) -> tuple[Optional[str], Optional[float]]:
    """The fastest peer (key, figure) for ``kind``, optionally only ``among`` the given peer keys."""
    best = (None, None)
    for key, lat in res["systems"].items():
        if key.startswith("chronotope") or kind not in lat or lat[kind].get("error"):
            continue
        if among is not None and key not in among:
            continue
        v = lat[kind][stat]
        if best[1] is None or v < best[1]:
            best = (key, v)
    return best


def format_latency(res: dict, stat: str) -> str:
    """One row per query kind, one column per system; the best peer and its ratio to chronotope (> 1: chronotope faster)."""
    keys = list(res["systems"])
    w = 12
    head = (f"{stat.split('_')[0] + ' latency, µs':<34}{'rows':>8}" + "".join(f"{SHORT_NAMES[k]:>{w}}" for k in keys)
            + f"{'best peer':>{w + 1}}{'peer/chrono':>12}")
    out = [head, "-" * len(head)]
    for kind in KINDS:
        cells, rows = [], None
        for k in keys:
            lat = res["systems"][k].get(kind)
            if lat is None:
                cells.append("n/a")
            elif lat.get("error"):
                cells.append("error")
            else:
                cells.append(_us(lat[stat]))
                if rows is None or k == "numpy":
                    rows = lat["mean_rows"]
        bk, bv = best_peer(res, kind, stat)
        ch = res["systems"].get("chronotope", {}).get(kind)
        ratio = f"{bv / ch[stat]:.1f}x" if (bv and ch and not ch.get("error")) else "-"
        rows_s = "-" if rows is None else f"{rows:,.0f}"
        best_s = SHORT_NAMES[bk] if bk else "-"
        out.append(f"{KIND_TITLES[kind]:<34}{rows_s:>8}" + "".join(f"{c:>{w}}" for c in cells)
                   + f"{best_s:>{w + 1}}{ratio:>12}")
    return "\n".join(out)


def format_builds(res: dict) -> str:
    n = res["points"]
    head = f"{'system':<36}{'build s':>10}{'index bytes':>16}{'B/point':>10}  notes"
    out = [head, "-" * len(head)]
    for key, b in res["builds"].items():
        if key == "chronotope_cold":
            continue
        ib = b.get("index_bytes")
        if key == "chronotope":
            bpp = f"{ib / n:.3f}" if ib is not None else "n/a"
            out.append(f"{'chronotope, append+flush':<36}{b['build_s']:>10.2f}{(f'{ib:,}' if ib is not None else 'n/a'):>16}"
                       f"{bpp:>10}  append {b['append_s']:.2f} s (memtable flushes every flush_rows included) + final "
                       f"flush {b['flush_s']:.2f} s; index_bytes from stats() after compact "
                       f"({_int(b['index_bytes_after_flush'])} after flush)")
            out.append(f"{'chronotope, append+flush+compact':<36}{b['build_compact_s']:>10.2f}{'':>16}{'':>10}  "
                       f"compact {b['compact_s']:.2f} s; store on disk {b['store_bytes']:,} B "
                       f"({b['store_bytes'] / n:.2f} B/point), {b.get('segments')} segments")
            continue
        out.append(f"{PEER_NAMES[key]:<36}{b['build_s']:>10.2f}{ib:>16,}{ib / n:>10.3f}  {b['size_note']}")
    return "\n".join(out)


def _int(v) -> str:
    return "n/a" if v is None else f"{v:,}"


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def _with_unit(v: Optional[float]) -> str:
    """Microseconds with their unit (ms above 1,000 µs)."""
    if v is None:
        return "n/a"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.1f} µs"


def format_targets(res: dict) -> str:
    n = res["points"]
    ch = res["systems"].get("chronotope")
    lines = [f"targets (from the issue, stated at 10M points; this run: {n:,} points)",
             f"  {'what':<50}{'target':<24}{'measured':<14}verdict"]
    if not ch:
        lines.append("  chronotope not measured: no verdicts")
        return "\n".join(lines)

    def med(kind):
        v = ch.get(kind)
        return None if not v or v.get("error") else v["median_us"]

    def line(what, target, measured, ok):
        lines.append(f"  {what:<50}{target:<24}{measured:<14}{verdict(ok)}")

    m = med("box_0.1%")
    for label, among in (("box 0.1 %, median, vs best issue peer", ISSUE_PEERS),
                         ("box 0.1 %, median, vs best peer incl. t-sorted", None)):
        bk, bv = best_peer(res, "box_0.1%", among=among)
        line(label, ">= 10x lower (~0.2 ms)", "n/a" if (m is None or bv is None) else f"{bv / m:.1f}x lower",
             None if (m is None or bv is None) else m * 10 <= bv)
        if m and bv:
            lines.append(f"      (chronotope {_with_unit(m)}; best peer {PEER_NAMES[bk]} {_with_unit(bv)})")
    m = med("knn_window")
    line("10 nearest samples in 1 h, median", "< 50 µs", _with_unit(m), None if m is None else m < 50)
    m = med("knn_at")
    line("10 nearest objects at t, median", "< 100 µs", _with_unit(m), None if m is None else m < 100)
    m = med("track")
    b = res["builds"]["chronotope"]
    allow = None
    if m is not None and b.get("scan_ns_per_point"):
        allow = 10 + ch["track"]["mean_rows"] * b["scan_ns_per_point"] / 1000
    line("track 6 h, median", "< 10 µs + decoding", _with_unit(m), None if (m is None or allow is None) else m < allow)
    if allow is not None:
        lines.append(f"      (decoding allowance: {ch['track']['mean_rows']:.0f} rows x {b['scan_ns_per_point']:.1f} "
                     f"ns/point of a full scan() -> limit {allow:.1f} µs)")
    m = med("snapshot")
    line("snapshot at t, median", "< 2 ms", _with_unit(m), None if m is None else m < 2000)
    rt = res["builds"].get("rtree")
    if rt:
        for label, key, ref in (("build (append+flush) vs rtree stream bulk load", "build_s", "build_stream_s"),
                                ("build (+compact) vs rtree stream bulk load", "build_compact_s", "build_stream_s"),
                                ("build (+compact) vs rtree numpy-array bulk load", "build_compact_s", "build_arrays_s")):
            r = rt[ref] / b[key]
            line(label, ">= 5x faster", f"{r:.1f}x", r >= 5)
        lines.append(f"      (chronotope {b['build_s']:.2f} s / {b['build_compact_s']:.2f} s with compact; rtree stream "
                     f"{rt['build_stream_s']:.2f} s, numpy arrays {rt['build_arrays_s']:.2f} s)")
    else:
        line("build vs rtree bulk load", ">= 5x faster", "rtree not run", None)
    ib = b.get("index_bytes")
    line("index bytes per point", "<= 2 B (rtree ~170)", "n/a" if ib is None else f"{ib / n:.3f} B",
         None if ib is None else ib / n <= 2)
    if rt:
        lines.append(f"      (rtree 3D on disk here: {rt['index_bytes'] / n:.0f} B/point)")
    return "\n".join(lines)


def format_growth(all_res: List[dict]) -> str:
    sizes = [r["points"] for r in all_res]
    w = 22
    head = f"{'median latency, µs':<34}{'system':<16}" + "".join(f"{f'{s:,} points':>{w}}" for s in sizes)
    out = ["latency growth with the number of points (knn, snapshot and track answers keep their size once ~7 copies "
           "overlap, from ~1.2M points; box answers grow with N)", head, "-" * len(head)]
    for kind in KINDS:
        for key in ("chronotope", "chronotope_cold", "best peer"):
            cells = []
            for r in all_res:
                if key == "best peer":
                    bk, bv = best_peer(r, kind)
                    cells.append(f"{_us(bv)} ({SHORT_NAMES[bk]})" if bk else "-")
                else:
                    v = r["systems"].get(key, {}).get(kind)
                    cells.append("-" if not v or v.get("error") else _us(v["median_us"]))
            if key != "best peer" and all(c == "-" for c in cells):
                continue
            label = SHORT_NAMES.get(key, key)
            out.append(f"{KIND_TITLES[kind]:<34}{label:<16}" + "".join(f"{c:>{w}}" for c in cells))
        rows = [r["systems"].get("numpy", {}).get(kind, {}).get("mean_rows") for r in all_res]
        if any(v is not None for v in rows):
            out.append(f"{'':<34}{'(mean rows)':<16}" + "".join(f"{('-' if v is None else f'{v:,.0f}'):>{w}}" for v in rows))
    return "\n".join(out)


def versions() -> Dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("chronotope", "rtree", "shapely", "scipy", "duckdb", "pyarrow"):
        try:
            out[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            out[mod] = "not installed"
    return out


# ---------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, nargs="+", default=[10_000_000],
                   help="points after replication; several values print the latency growth (default 10,000,000)")
    p.add_argument("--queries", type=int, default=200, help="queries per kind (default 200)")
    p.add_argument("--cache-bytes", type=int, default=None, help="chronotope decoded-block cache (default: the store's)")
    p.add_argument("--cold", action="store_true", help="also query chronotope reopened with cache_bytes=0")
    p.add_argument("--peers", nargs="+", choices=ALL_PEERS, default=list(ALL_PEERS), help="peers to run (default all)")
    p.add_argument("--no-chronotope", action="store_true", help="run the peers only")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds per system and kind after which timing stops (>= 20 queries; default 60)")
    p.add_argument("--check", type=int, default=CHECKED_QUERIES,
                   help=f"queries per kind whose answers are compared with the numpy scan's (default {CHECKED_QUERIES})")
    p.add_argument("--seed", type=int, default=20240611, help="query RNG seed")
    p.add_argument("--workdir", help="directory for the stores and index files (default: a temporary one, deleted)")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if min(args.points) < 1 or args.queries < 1 or args.check < 0:
        p.error("--points and --queries must be positive, --check not negative")
    args.check = min(args.check, args.queries)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import pyarrow as pa

        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
    except ImportError:
        pass
    load_start = load_average()
    started = time.perf_counter()
    base = load_base()
    if args.workdir:
        root = Path(args.workdir)
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="compare_queries_"))
    log: List[str] = []
    all_res = []
    try:
        for points in args.points:
            all_res.append(run_size(points, base, args, root, log))
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    load_end = load_average()
    header = {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_average_1min_start": load_start,
              "load_average_1min_end": load_end, "data": "bundled sample 'nyharbor_week'",
              "base_points": len(base["t"]), "replication": "copy k: t + k days, object_id + k*1e9",
              "queries_per_kind": args.queries, "cache_bytes": args.cache_bytes, "seed": args.seed,
              "budget_s": args.budget, "versions": versions(),
              "elapsed_s": round(time.perf_counter() - started, 1)}

    print()
    print(f"cpu:      {header['cpu']} ({header['cpus']} CPUs; 1-min load {load_start} at start, {load_end} at end)")
    print(f"data:     bundled 'nyharbor_week' ({len(base['t']):,} points after dropping repeated (object, t)) "
          f"replicated: copy k has t + k days and ids + k*1e9 (~7 copies overlap at any instant)")
    cache = "store default" if args.cache_bytes is None else f"{args.cache_bytes:,} B"
    try:
        from chronotope.cache import DEFAULT_CACHE_BYTES

        if args.cache_bytes is None:
            cache += f" ({DEFAULT_CACHE_BYTES:,} B)"
    except ImportError:
        pass
    print(f"queries:  {args.queries} per kind (seed {args.seed}), warm-up 10 %, each timed alone; one thread, one process; "
          f"chronotope cache_bytes {cache}{', and 0 (cold)' if args.cold else ''}")
    print("versions: " + " ".join(f"{k} {v}" for k, v in header["versions"].items()))
    print("tables:   µs unless marked ms; n/a = the system has no sensible way to answer; peer/chrono = the best "
          "peer's figure / chronotope's (> 1: chronotope faster)")
    for res in all_res:
        n = res["points"]
        print()
        print(f"##### {n:,} points, {res['objects']:,} objects, {res['copies']} copies")
        print("box selectivity: " + "; ".join(
            f"{k}: target {100 * v['target']:.2f}%, actual mean {100 * v['mean_selectivity']:.4f}% "
            f"(half-side {v['half_side_m']:.0f} m, window +-{v['half_window_s']} s)" for k, v in res["box"].items()))
        if res.get("chronotope_skipped"):
            print(f"chronotope: skipped ({res['chronotope_skipped']})")
        print()
        print(format_builds(res))
        print()
        print(format_latency(res, "median_us"))
        print()
        print(format_latency(res, "p99_us"))
        print()
        print(format_targets(res))
    if len(all_res) > 1:
        print()
        print(format_growth(all_res))
    print()
    if log:
        print(f"{len(log)} correctness discrepancies (vs the numpy full scan):")
        for m in log:
            print("  " + m)
    else:
        print(f"correctness: every system matched the numpy full scan on the first {args.check} queries of each kind")
    print(f"elapsed {header['elapsed_s']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": all_res, "discrepancies": log}, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
