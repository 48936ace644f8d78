"""Query benchmarks: box x interval, nearest, snapshot, track, aggregate, explain.

Data: the bundled real AIS sample ``nyharbor_week`` (172,679 points, 140
vessels, 6.8 days) replicated in time to exactly ``POINTS`` = 2,000,000
points: copy k is shifted by k whole days and its MMSIs get k * 10**9 added,
so ~7 copies overlap at any instant (12 copies, 1,680 objects, ~19 days), as
in ``compare_queries.py``. Appended in arrival order (sorted by t) in
1,000,000-point batches into a store opened with ``fsync="never"``, then
``flush()`` and ``compact()``: built once per run by ``setup_cache`` in asv's
cache directory, opened read-only by every benchmark (default decoded-block
cache; ``QueriesCold`` opens it with ``cache_bytes=0``). ``setup`` runs the
queries once untimed, so the figures are of a warm store, not of the first
touch after opening it.

Queries (seeded, generated from the data so they hit it): each ``time_*``
runs the same ``QUERIES`` = 20 queries of its kind, one after the other, so
the figure is the time of 20 queries.

- ``time_query``: ``query(bbox, time)`` at ~0.01 %, 0.1 % and 1 % of the
  points (box square in metres and time window around a sample point, one
  scale factor calibrated on the data for each selectivity);
- ``time_nearest_time``: the 10 nearest samples in a one-hour window;
- ``time_nearest_at``: the 10 nearest objects at an instant (interpolated);
- ``time_snapshot``: every object's position at an instant;
- ``time_track``: one object's samples over six hours;
- ``time_aggregate``: counts on a 0.01-degree grid in hourly buckets over one
  day of the harbor;
- ``time_explain``: ``explain`` of the 0.1 % box queries (runs them too).

``track_index_bytes_per_point`` is the space-time index's size from
``stats()`` divided by the points (target <= 2 bytes/point).
"""

from __future__ import annotations

import math

import numpy as np

import chronotope as ct

POINTS = 2_000_000
BATCH = 1_000_000
QUERIES = 20
DAY_NS = 86_400 * 1_000_000_000
HOUR_NS = 3_600 * 1_000_000_000
S_NS = 1_000_000_000
STORE = "query_store"
SELECTIVITIES = {"0.01%": 1e-4, "0.1%": 1e-3, "1%": 1e-2}
M_PER_DEG = 6_371_008.8 * math.pi / 180.0


def _replicated_by_days(points: int = POINTS) -> dict:
    """``nyharbor_week`` copied with t + k days and ids + k * 1e9, cut to ``points``, in arrival (t) order."""
    d = ct.datasets.load_sample("nyharbor_week")
    base = {k: np.asarray(d[k]) for k in ("object_id", "t", "x", "y")}
    by_t = np.argsort(base["t"], kind="stable")
    base = {k: v[by_t] for k, v in base.items()}  # so that cutting the last copy keeps its earliest points
    n = len(base["t"])
    parts = {k: [] for k in base}
    for k in range(math.ceil(points / n)):
        take = min(n, points - k * n)
        parts["object_id"].append(base["object_id"][:take] + k * 10**9)
        parts["t"].append(base["t"][:take] + k * DAY_NS)
        parts["x"].append(base["x"][:take])
        parts["y"].append(base["y"][:take])
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(cols["t"], kind="stable")
    return {k: np.ascontiguousarray(v[order]) for k, v in cols.items()}


def _boxes(cols: dict, centres: np.ndarray, scale: float) -> list:
    """Boxes (half-side scale km, square in metres) x windows (+- scale * 30 min) around sample points."""
    half_lat = scale * 1_000.0 / M_PER_DEG
    half_t = max(1, round(scale * 1_800)) * S_NS
    out = []
    for i in centres.tolist():
        x0, y0, t0 = float(cols["x"][i]), float(cols["y"][i]), int(cols["t"][i])
        half_lon = half_lat / math.cos(math.radians(y0))
        out.append(((x0 - half_lon, y0 - half_lat, x0 + half_lon, y0 + half_lat), (t0 - half_t, t0 + half_t)))
    return out


def _mean_selectivity(cols: dict, boxes: list) -> float:
    t, x, y = cols["t"], cols["x"], cols["y"]
    hits = 0
    for (xmin, ymin, xmax, ymax), (t0, t1) in boxes:
        lo, hi = np.searchsorted(t, t0, "left"), np.searchsorted(t, t1, "right")
        xs, ys = x[lo:hi], y[lo:hi]
        hits += int(np.count_nonzero((xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax)))
    return hits / (len(boxes) * len(t))


def build_store() -> dict:
    """``setup_cache``: the 2M-point store on disk and the query sets."""
    cols = _replicated_by_days()
    with ct.open(STORE, fsync="never") as db:
        c = db.create_collection("ais")
        o, t, x, y = cols["object_id"], cols["t"], cols["x"], cols["y"]
        for i in range(0, POINTS, BATCH):
            c.append(o[i:i + BATCH], t[i:i + BATCH], x[i:i + BATCH], y[i:i + BATCH])
        db.flush()
        db.compact()
    rng = np.random.default_rng(11)
    n = len(cols["t"])
    q = {}
    for name, target in SELECTIVITIES.items():
        centres = rng.integers(0, n, QUERIES)
        lo, hi = 1e-3, 1e3
        while hi / lo > 1.02:  # geometric bisection of the scale factor on the mean selectivity
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if _mean_selectivity(cols, _boxes(cols, centres, mid)) < target else (lo, mid)
        q[f"box {name}"] = _boxes(cols, centres, math.sqrt(lo * hi))

    def near(count):
        c = rng.integers(0, n, count)
        return cols["x"][c] + rng.normal(0, 0.002, count), cols["y"][c] + rng.normal(0, 0.002, count), c

    qx, qy, c = near(QUERIES)
    t0 = cols["t"][c] - rng.integers(0, 3_600, QUERIES) * S_NS
    q["nearest time"] = [(float(a), float(b), (int(s), int(s) + HOUR_NS)) for a, b, s in zip(qx, qy, t0)]
    qx, qy, c = near(QUERIES)
    at = cols["t"][c] + rng.integers(-300, 301, QUERIES) * S_NS
    q["nearest at"] = [(float(a), float(b), int(s)) for a, b, s in zip(qx, qy, at)]
    c = rng.integers(0, n, QUERIES)
    q["snapshot"] = [int(s) for s in cols["t"][c] + rng.integers(-300, 301, QUERIES) * S_NS]
    c = rng.integers(0, n, QUERIES)
    t0 = cols["t"][c] - rng.integers(0, 6 * 3_600, QUERIES) * S_NS
    q["track"] = [(int(o), (int(s), int(s) + 6 * HOUR_NS)) for o, s in zip(cols["object_id"][c], t0)]
    c = rng.integers(0, n, QUERIES)
    day0 = cols["t"][c] - rng.integers(0, 86_400, QUERIES) * S_NS
    q["aggregate"] = [(int(s), int(s) + DAY_NS) for s in day0]
    q["harbor"] = (float(cols["x"].min()), float(cols["y"].min()), float(cols["x"].max()), float(cols["y"].max()))
    return q


class Queries:
    """The query kinds on the 2M-point store (read-only, default block cache); each ``time_*`` runs 20 queries."""

    setup_cache = staticmethod(build_store)
    params = ["0.01%", "0.1%", "1%"]
    param_names = ["selectivity"]
    timeout = 120
    cache_bytes = None

    def setup(self, q, selectivity):
        kw = {} if self.cache_bytes is None else {"cache_bytes": self.cache_bytes}
        self.db = ct.open(STORE, readonly=True, **kw)
        self.coll = self.db.collection("ais")
        self.q = q
        self.time_query(q, selectivity)  # warm-up: the timings are of a warm store (QueriesCold: no cache to warm)

    def teardown(self, q, selectivity):
        self.db.close()

    def time_query(self, q, selectivity):
        query = self.coll.query
        for bbox, tw in self.q[f"box {selectivity}"]:
            query(bbox=bbox, time=tw)


class QueriesFixed:
    """Fixed-size answers: nearest (in a window, at an instant), snapshot, track; plus aggregate and explain."""

    setup_cache = staticmethod(build_store)
    timeout = 120

    def setup(self, q):
        self.db = ct.open(STORE, readonly=True)
        self.coll = self.db.collection("ais")
        self.q = q
        for kind in ("nearest_time", "nearest_at", "snapshot", "track"):  # warm-up: timings are of a warm store
            getattr(self, f"time_{kind}")(q)

    def teardown(self, q):
        self.db.close()

    def time_nearest_time(self, q):
        nearest = self.coll.nearest
        for x, y, tw in self.q["nearest time"]:
            nearest(x, y, k=10, time=tw)

    def time_nearest_at(self, q):
        nearest = self.coll.nearest
        for x, y, at in self.q["nearest at"]:
            nearest(x, y, k=10, at=at)

    def time_snapshot(self, q):
        snapshot = self.coll.snapshot
        for at in self.q["snapshot"]:
            snapshot(at=at)

    def time_track(self, q):
        track = self.coll.track
        for oid, tw in self.q["track"]:
            track(oid, time=tw)

    def time_aggregate(self, q):
        aggregate = self.coll.aggregate
        bbox = self.q["harbor"]
        for tw in self.q["aggregate"]:
            aggregate(cell=0.01, bucket=HOUR_NS, bbox=bbox, time=tw)

    def time_explain(self, q):
        explain = self.coll.explain
        for bbox, tw in self.q["box 0.1%"]:
            explain(bbox=bbox, time=tw)

    def track_index_bytes_per_point(self, q):
        st = self.db.stats()["collections"]["ais"]
        return st["index_bytes"] / st["points"]

    track_index_bytes_per_point.unit = "bytes/point"


class QueriesCold(Queries):
    """``time_query`` again on the store opened with ``cache_bytes=0``: every block decoded per query."""

    cache_bytes = 0
