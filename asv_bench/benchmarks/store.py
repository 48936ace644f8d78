"""Store benchmarks: ingest, flush, compaction, full scan, ``properties(as_of)``.

Data: the bundled real AIS sample ``nyharbor_week`` (172,679 points, 140
vessels, 6.8 days) replicated in time to exactly ``POINTS`` = 1,000,000
points: copy k is shifted by k * 7 days and its MMSIs get k * 10**9 added, so
the deltas stay those of real tracks (~6 copies, 832 objects, ~42 daily
partitions). One million points is large enough that per-call overheads
(manifest, fsync, Python per segment) do not hide the per-point cost, and
small enough that ``asv run --quick`` of this file stays well under a minute.

Stores are written with ``fsync="batch"`` (the default: WAL on, group commit)
in temporary directories that ``teardown`` removes. Expensive, read-only
inputs (the columns, a compacted store to scan, a store with ~10 segments per
partition, a property chain) are built once per run by ``setup_cache``
functions in asv's cache directory (the benchmarks run with it as their
working directory); benchmarks that modify a store work on a private copy
made in ``setup``, so every timed call sees the same starting state.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import chronotope as ct

from .common import vessel_documents

POINTS = 1_000_000
BATCH = 100_000  # points per append call: ten calls, as a feed delivering 100k-point batches
DAY_NS = 86_400 * 1_000_000_000
SEGMENTS_PER_PARTITION = 10
CHAIN_VERSIONS = 10_000
QUERIES = 1000
SCAN_STORE = "scan_store"
COMPACT_STORE = "compact_store"
PROPS_STORE = "props_store"
PROPS_OID = 366_999_001
PROPS_T0 = 1_606_780_800 * 1_000_000_000  # 2020-12-01
PROPS_STEP = 60 * 1_000_000_000


def _replicated(points: int = POINTS) -> dict:
    """``nyharbor_week`` replicated in time (whole weeks, new ids) to ``points`` points, (object, t) order."""
    d = ct.datasets.load_sample("nyharbor_week")
    base = {k: np.asarray(d[k]) for k in ("object_id", "t", "x", "y")}
    n = len(base["t"])
    shift = math.ceil((int(base["t"].max() - base["t"].min()) + 1) / DAY_NS) * DAY_NS
    parts = []
    for k in range(math.ceil(points / n)):
        parts.append({"object_id": base["object_id"] + k * 10**9, "t": base["t"] + k * shift,
                      "x": base["x"], "y": base["y"]})
    cols = {c: np.concatenate([p[c] for p in parts])[:points] for c in base}
    return {c: np.ascontiguousarray(v) for c, v in cols.items()}


def _arrival(cols: dict) -> dict:
    """Stably sorted by time only: the order a live feed delivers."""
    idx = np.argsort(cols["t"], kind="stable")
    return {c: np.ascontiguousarray(v[idx]) for c, v in cols.items()}


def _append_all(coll, cols: dict, batch: int = BATCH) -> None:
    oid, t, x, y = cols["object_id"], cols["t"], cols["x"], cols["y"]
    for i in range(0, len(t), batch):
        coll.append(oid[i:i + batch], t[i:i + batch], x[i:i + batch], y[i:i + batch])


def build_inputs() -> dict:
    """``setup_cache``: the 1M columns in arrival order, plus the scan and compaction stores on disk."""
    cols = _arrival(_replicated())
    # a compacted store to scan: one segment per daily partition
    with ct.open(SCAN_STORE, fsync="never") as db:
        _append_all(db.create_collection("ais"), cols)
        db.flush()
        db.compact()
    # ~10 segments per partition: the objects split in 10 groups, one flush per group
    groups = np.unique(cols["object_id"], return_inverse=True)[1] % SEGMENTS_PER_PARTITION
    with ct.open(COMPACT_STORE, fsync="never") as db:
        c = db.create_collection("ais")
        for g in range(SEGMENTS_PER_PARTITION):
            m = groups == g
            _append_all(c, {k: v[m] for k, v in cols.items()})
            db.flush()
    return cols


def build_chain() -> dict:
    """``setup_cache``: one object with a ``CHAIN_VERSIONS``-version property document chain.

    Written with ``fsync="never"`` (building is not measured; a lone writer under
    ``fsync="batch"`` waits for one group commit per version). One field of
    name / destination / draught changes per version, a version per minute.
    """
    with ct.open(PROPS_STORE, fsync="never") as db:
        c = db.create_collection("ais")
        for i, doc in enumerate(vessel_documents(CHAIN_VERSIONS)):
            c.set_properties(PROPS_OID, doc, at=PROPS_T0 + i * PROPS_STEP)
        db.flush()
    rng = np.random.default_rng(7)
    return {"as_of": rng.integers(PROPS_T0, PROPS_T0 + CHAIN_VERSIONS * PROPS_STEP, QUERIES)}


class _TempDir:
    """A private temporary directory per sample (removed in ``teardown``)."""

    def _make_tmp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ct_bench_"))

    def teardown(self, *args):
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
            self.db = None
        shutil.rmtree(self.tmp, ignore_errors=True)


class Ingest(_TempDir):
    """Append 1,000,000 points (10 calls of 100,000, arrival order) into a fresh store, then ``flush()``.

    WAL on, ``fsync="batch"``: every append is logged and acknowledged after
    its group commit; the flush sorts the memtable by (object, t), cuts it
    into ~42 daily partitions and writes one segment each. The time covers
    appends and flush (the store and collection are created in ``setup``);
    the target is >= 5 M points/s per core (<= 0.2 s here).
    """

    setup_cache = staticmethod(build_inputs)
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 180

    def setup(self, cols):
        self._make_tmp()
        self.db = ct.open(self.tmp / "s", fsync="batch")
        self.coll = self.db.create_collection("ais")

    def time_append_flush(self, cols):
        _append_all(self.coll, cols)
        self.db.flush()

    def time_append_only(self, cols):
        _append_all(self.coll, cols)

    def track_points_per_s(self, cols):
        t0 = time.perf_counter()
        self.time_append_flush(cols)
        return POINTS / (time.perf_counter() - t0)

    track_points_per_s.unit = "points/s"


class Flush(_TempDir):
    """``flush()`` alone of a 1,000,000-point memtable (appended in ``setup``, arrival order).

    The part of ingest that sorts, deduplicates, partitions, encodes and
    fsyncs segments: ~42 segments of ~24k points each.
    """

    setup_cache = staticmethod(build_inputs)
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 180

    def setup(self, cols):
        self._make_tmp()
        self.db = ct.open(self.tmp / "s", fsync="batch")
        _append_all(self.db.create_collection("ais"), cols)

    def time_flush(self, cols):
        self.db.flush()


class Compact(_TempDir):
    """``compact()`` of a 1,000,000-point store with 10 segments in each of its ~42 daily partitions.

    The store (built once by ``setup_cache``: the vessels split in 10 groups,
    one flush per group) is copied to a private directory in ``setup``;
    compaction reads all ~420 segments, merges each partition's 10 into one
    and rewrites it, then removes the old files.
    """

    setup_cache = staticmethod(build_inputs)
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 180

    def setup(self, cols):
        self._make_tmp()
        shutil.copytree(COMPACT_STORE, self.tmp / "s")
        self.db = ct.open(self.tmp / "s", fsync="batch")

    def time_compact(self, cols):
        self.db.compact()


class Scan:
    """Full ``scan()`` decode of a compacted 1,000,000-point store (~42 daily partitions, one segment each).

    Opened read-only, so nothing is written; ``time_scan_txy`` decodes only
    t, x, y (plus the object keys the scan always needs).
    ``track_scan_points_per_s`` is 1e6 / the median of 5 full scans after
    one warm-up (target >= 50 M points/s per core).
    """

    setup_cache = staticmethod(build_inputs)
    timeout = 120

    def setup(self, cols):
        self.db = ct.open(SCAN_STORE, readonly=True)
        self.coll = self.db.collection("ais")

    def teardown(self, cols):
        self.db.close()

    def time_scan(self, cols):
        self.coll.scan()

    def time_scan_txy(self, cols):
        self.coll.scan(columns=["t", "x", "y"])

    def track_scan_points_per_s(self, cols):
        self.coll.scan()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            n = len(self.coll.scan())
            times.append(time.perf_counter() - t0)
        assert n == POINTS
        return POINTS / float(np.median(times))

    track_scan_points_per_s.unit = "points/s"


class PropertiesAsOf:
    """``properties(oid, as_of=t)`` on one object with a 10,000-version chain.

    A chain long enough that a linear walk would show; the document store
    answers with one keyframe plus at most 32 deltas. ``time_1000_as_of``
    runs 1,000 queries at seeded random times across the chain on a store
    reopened read-only in ``setup`` (cold document caches each sample);
    ``track_median_us`` is the median latency of those 1,000 calls timed
    one by one (target < 1 ms on a 100k chain).
    """

    setup_cache = staticmethod(build_chain)
    timeout = 120

    def setup(self, chain):
        self.db = ct.open(PROPS_STORE, readonly=True)
        self.coll = self.db.collection("ais")
        self.as_of = chain["as_of"].tolist()

    def teardown(self, chain):
        self.db.close()

    def time_1000_as_of(self, chain):
        props = self.coll.properties
        for t in self.as_of:
            props(PROPS_OID, as_of=t)

    def track_median_us(self, chain):
        props = self.coll.properties
        lat = np.empty(len(self.as_of))
        for i, t in enumerate(self.as_of):
            t0 = time.perf_counter_ns()
            props(PROPS_OID, as_of=t)
            lat[i] = time.perf_counter_ns() - t0
        return float(np.median(lat)) / 1e3

    track_median_us.unit = "us"
