"""Every query of docs/queries.md against a brute-force oracle (tests/query_oracle.py).

Stores are generated with several segments and blocks (tiny ``flush_rows``,
``rows_per_block`` and partitions), out-of-order writes, overwrites of
existing (object, t), deletes, compactions and unflushed rows; integer and
string ids; EPSG:4326 and a projected CRS. Coordinates and times lie on
coarse grids, so box and interval borders, identical timestamps across
objects, the poles and the antimeridian are hit often.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import chronotope as ct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import query_oracle as qo  # noqa: E402

# one and a half times the profile's examples (conftest.py: ci 40 -> 60, dev 10 -> 15, thorough 1000 -> 1500);
# with ci the file runs in well under a minute on two cores
SETTINGS = settings(
    max_examples=max(5, settings.default.max_examples * 3 // 2),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MIN = 60 * 10**9
BASE = qo.to_ns("2021-03-04T05:00")
MINUTES = 30


def _no_half_turns(values):
    """Longitudes no two of which are exactly 180 degrees apart (the short way must be unique)."""
    out = []
    for v in values:
        if all(abs(v - w) != 180.0 for w in out):
            out.append(v)
    return out


GEO_X = _no_half_turns(
    [-180.0, 180.0, 179.5, -179.5, 170.0, -170.0, 0.5, -0.5, 45.0, -45.0, 90.0, -90.25, 10.0, 135.75, -10.0]
)
GEO_Y = [-90.0, -89.5, -45.0, -10.0, 0.0, 0.5, 10.0, 30.0, 60.0, 89.5, 90.0]
PROJ = [v * 250.0 for v in range(-8, 9)]
STR_IDS = ["vb", "a", "zz", "m1", "q", "c"]
INT_IDS = [7, -3, 100, 2, 55, 0]
PROPS = {"sog": "float64", "n": "int32", "w": "float32"}
SOG = [0.0, 1.5, -2.25, 3.0, float("nan")]
NVAL = [0, 1, -5, 1000]
WVAL = [0.5, 2.0, -1.25]

assert all(abs(a - b) != 180.0 for a in GEO_X for b in GEO_X)


@dataclass
class StoreSpec:
    geo: bool
    str_ids: bool
    has_z: bool
    props: bool
    max_gap: object  # None: the default (10 minutes)
    partition: object
    flush_rows: int
    rows_per_block: int
    ops: list
    flush_at_end: bool

    @property
    def gap_ns(self) -> int:
        return 10 * MIN if self.max_gap is None else qo.duration_ns(self.max_gap)

    def ids(self):
        return STR_IDS if self.str_ids else INT_IDS

    def xs(self):
        return GEO_X if self.geo else PROJ

    def ys(self):
        return GEO_Y if self.geo else PROJ


def _durations(minutes):
    return st.sampled_from(
        [minutes * MIN, np.timedelta64(minutes, "m"), dt.timedelta(minutes=minutes), f"{minutes}m"]
    )


@st.composite
def store_specs(draw, geo=None, str_ids=None, min_ops=None):
    geo = draw(st.booleans()) if geo is None else geo
    str_ids = draw(st.booleans()) if str_ids is None else str_ids
    nx = len(GEO_X) if geo else len(PROJ)
    ny = len(GEO_Y) if geo else len(PROJ)
    n_obj = draw(st.integers(1, 6))
    row = st.tuples(
        st.integers(0, n_obj - 1),
        st.integers(0, MINUTES),
        st.sampled_from([0, 0, 0, 20 * 10**9]),  # mostly on the minute grid: identical times across objects
        st.integers(0, nx - 1),
        st.integers(0, ny - 1),
        st.integers(0, len(SOG) - 1),
        st.integers(0, len(NVAL) - 1),
        st.integers(0, len(WVAL) - 1),
        st.integers(-3, 3),  # z
    )
    op = st.one_of(
        st.tuples(st.just("append"), st.lists(row, min_size=1, max_size=25)),
        st.tuples(st.just("append"), st.lists(row, min_size=1, max_size=25)),
        st.tuples(st.just("append"), st.lists(row, min_size=1, max_size=25)),
        st.tuples(st.just("append"), st.lists(row, min_size=1, max_size=25)),
        st.tuples(
            st.just("delete"),
            st.integers(0, n_obj),
            st.one_of(st.none(), st.tuples(st.integers(0, MINUTES), st.integers(0, MINUTES))),
        ),
        st.tuples(st.just("flush")),
        st.tuples(st.just("compact")),
    )
    return StoreSpec(
        geo=geo,
        str_ids=str_ids,
        has_z=draw(st.booleans()),
        props=draw(st.booleans()),
        max_gap=draw(st.one_of(st.none(), st.sampled_from([3, 10, 25]).flatmap(_durations))),
        partition=draw(st.sampled_from(["10m", "15m", "1h", "1D"])),
        flush_rows=draw(st.sampled_from([5, 13, 40, 10**6])),
        rows_per_block=draw(st.sampled_from([2, 4, 16])),
        # an empty store now and then, otherwise at least one operation
        ops=draw(st.lists(op, min_size=draw(st.sampled_from([0] + [1] * 9)) if min_ops is None else min_ops, max_size=12)),
        flush_at_end=draw(st.booleans()),
    )


class Built:
    """A store made from a StoreSpec in a temporary directory (a context manager)."""

    def __init__(self, spec: StoreSpec):
        self.spec = spec

    def __enter__(self):
        spec = self.spec
        self.dir = tempfile.mkdtemp(prefix="ct-query-")
        self.db = ct.open(self.dir, fsync="never", flush_rows=spec.flush_rows, rows_per_block=spec.rows_per_block)
        kwargs = {"crs": "EPSG:4326" if spec.geo else "EPSG:3857", "partition": spec.partition, "has_z": spec.has_z}
        if spec.props:
            kwargs["properties"] = PROPS
        if spec.max_gap is not None:
            kwargs["max_gap"] = spec.max_gap
        self.c = self.db.create_collection("c", **kwargs)
        ids, xs, ys = spec.ids(), spec.xs(), spec.ys()
        for op in spec.ops:
            if op[0] == "append":
                rows = op[1]
                cols = {}
                if spec.props:
                    cols = {
                        "sog": np.array([SOG[r[5]] for r in rows]),
                        "n": np.array([NVAL[r[6]] for r in rows], dtype=np.int32),
                        "w": np.array([WVAL[r[7]] for r in rows], dtype=np.float32),
                    }
                z = np.array([float(r[8]) for r in rows]) if spec.has_z else None
                self.c.append(
                    np.array([ids[r[0]] for r in rows]),
                    np.array([BASE + r[1] * MIN + r[2] for r in rows], dtype=np.int64),
                    np.array([xs[r[3]] for r in rows]),
                    np.array([ys[r[4]] for r in rows]),
                    z,
                    **cols,
                )
            elif op[0] == "delete":
                span = None if op[2] is None else (BASE + min(op[2]) * MIN, BASE + max(op[2]) * MIN)
                self.c.delete(ids[op[1]] if op[1] < len(ids) else ids[0], time=span)
            elif op[0] == "flush":
                self.db.flush()
            else:
                self.db.compact()
        if spec.flush_at_end:
            self.db.flush()
        self.oracle = qo.Oracle.of(self.c, max_gap=spec.gap_ns)
        note(f"{len(self.oracle.t)} rows, objects {self.oracle.objects}")
        return self

    def reader(self):
        """A read-only store on the same directory (sees the flushed state) and its collection."""
        self.db.flush()
        r = ct.open(self.dir, readonly=True)
        self._readers = getattr(self, "_readers", []) + [r]
        return r.collection("c")

    def __exit__(self, *exc):
        for r in getattr(self, "_readers", []):
            r.close()
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- query arguments


def _as_time(draw, ns):
    """An instant in one of the accepted forms."""
    form = draw(st.sampled_from(["int", "ns", "s", "iso"]))
    if form == "int":
        return int(ns)
    if form == "iso":
        return str(np.datetime_as_string(np.datetime64(int(ns), "ns")))
    if form == "s" and ns % 10**9 == 0:
        return np.datetime64(ns // 10**9, "s")
    return np.datetime64(int(ns), "ns")


@st.composite
def instants(draw, oracle=None):
    """An instant on the half-minute grid, or near a stored sample's time."""
    if oracle is not None and oracle.n and draw(st.booleans()):
        ns = int(draw(st.sampled_from(oracle.t.tolist())))
        ns += draw(st.sampled_from([0, 0, 1, -1, 30 * 10**9, -30 * 10**9, 2 * MIN, -2 * MIN]))
    else:
        ns = BASE + draw(st.integers(-4, 2 * MINUTES + 4)) * 30 * 10**9
        ns += draw(st.sampled_from([0, 0, 0, 1, -1, 7 * 10**9]))
    return _as_time(draw, ns)


@st.composite
def intervals(draw):
    a = BASE + draw(st.integers(-2, MINUTES + 2)) * MIN + draw(st.sampled_from([0, 0, 20 * 10**9, 1]))
    b = BASE + draw(st.integers(-2, MINUTES + 2)) * MIN + draw(st.sampled_from([0, 0, 20 * 10**9, -1]))
    a, b = min(a, b), max(a, b)
    lo = None if draw(st.integers(0, 5)) == 0 else _as_time(draw, a)
    hi = None if draw(st.integers(0, 5)) == 0 else _as_time(draw, b)
    return (lo, hi)


@st.composite
def boxes(draw, spec: StoreSpec, allow_cross=True):
    xs, ys = spec.xs(), spec.ys()
    x0, x1 = draw(st.sampled_from(xs)), draw(st.sampled_from(xs))
    y0, y1 = sorted([draw(st.sampled_from(ys)), draw(st.sampled_from(ys))])
    if not allow_cross or not draw(st.integers(0, 2)) == 0:
        x0, x1 = min(x0, x1), max(x0, x1)  # else: xmin > xmax crosses the antimeridian, whatever the draw
    return (x0, y0, x1, y1)


class GeoThing:
    """Something with ``__geo_interface__``, as a shapely geometry has."""

    def __init__(self, mapping):
        self.__geo_interface__ = mapping


@st.composite
def rings(draw, spec):
    xs, ys = spec.xs(), spec.ys()
    pts = draw(st.lists(st.tuples(st.sampled_from(xs), st.sampled_from(ys)), min_size=3, max_size=6, unique=True))
    ring = [list(p) for p in pts]
    if draw(st.booleans()):
        ring.append(list(ring[0]))  # explicitly closed
    return ring


@st.composite
def polygons(draw, spec):
    form = draw(st.sampled_from(["dict", "list", "geo", "multi"]))
    part = [draw(rings(spec)) for _ in range(draw(st.integers(1, 2)))]
    if form == "list":
        return part
    if form == "multi":
        parts = [part] + [[draw(rings(spec))]]
        return {"type": "MultiPolygon", "coordinates": parts}
    mapping = {"type": "Polygon", "coordinates": part}
    return GeoThing(mapping) if form == "geo" else mapping


@st.composite
def id_args(draw, spec):
    ids = spec.ids()
    unknown = "nope" if spec.str_ids else 999
    pool = ids + [unknown]
    form = draw(st.sampled_from(["one", "list", "array"]))
    if form == "one":
        one = draw(st.sampled_from(pool))
        return np.int64(one) if isinstance(one, int) and draw(st.booleans()) else one
    chosen = draw(st.lists(st.sampled_from(pool), max_size=4))
    return np.array(chosen) if form == "array" and chosen else chosen


def _columns(draw, oracle, required=(), maybe=True):
    """None (the default columns) or some columns in some order, ``required`` first."""
    if maybe and draw(st.integers(0, 2)):
        return None
    cols = draw(st.permutations(oracle.default_columns()))
    cols = cols[: draw(st.integers(1, len(cols)))]
    return list(dict.fromkeys(list(required) + cols))


# ---------------------------------------------------------------- the oracle on hand-made cases


def test_oracle_geometry_by_hand():
    assert qo.in_box([179.5, -179.5, 0.0, 170.0], [0, 0, 0, 0], (170.0, -1, -170.0, 1)).tolist() == [True, True, False, True]
    assert qo.in_box([1.0, 2.0], [5.0, 5.0], (1.0, 5.0, 2.0, 5.0)).tolist() == [True, True]
    square = [[0, 0], [4, 0], [4, 4], [0, 4]]
    hole = [[1, 1], [3, 1], [3, 3], [1, 3]]
    inside, on = qo.points_in_polygon([0.5, 2.0, 5.0, 4.0], [0.5, 2.0, 5.0, 2.0], [square, hole])
    assert inside[:3].tolist() == [True, False, False] and on.tolist() == [False, False, False, True]
    multi = {"type": "MultiPolygon", "coordinates": [[square], [[[10, 10], [12, 10], [11, 12]]]]}
    assert qo.points_in_polygon([2.0, 11.0, 8.0], [2.0, 10.5, 8.0], multi)[0].tolist() == [True, True, False]
    np.testing.assert_allclose(qo.haversine(0.0, 0.0, 0.0, 1.0), qo.R_EARTH * math.pi / 180, rtol=1e-14)
    np.testing.assert_allclose(qo.haversine(-179.5, 0.0, 179.5, 0.0), qo.R_EARTH * math.pi / 180, rtol=1e-12)
    assert qo.haversine(10.0, 90.0, -100.0, 90.0) < 1e-6
    headings = qo.bearing(0.0, 0.0, [0.0, 1.0, 0.0, -1.0], [1.0, 0.0, -1.0, 0.0])
    np.testing.assert_allclose(headings, [0, 90, 180, 270], atol=1e-12)
    assert qo.duration_ns("10m") == qo.duration_ns(np.timedelta64(600, "s")) == qo.duration_ns(dt.timedelta(minutes=10))


def test_oracle_interpolation_by_hand():
    t = np.array([0, 10, 20, 0, 100, 0], dtype=np.int64) * 10**9 + BASE
    rows = {
        "object_id": np.array([1, 1, 1, 2, 2, 3]),
        "t": t.view("datetime64[ns]"),
        "x": np.array([170.0, -170.0, -160.0, 0.0, 10.0, 5.0]),
        "y": np.array([0.0, 10.0, 10.0, 0.0, 0.0, 5.0]),
        "k": np.array([1, 2, 3, 4, 5, 6], dtype=np.int32),
        "f": np.array([0.0, 1.0, 2.0, 0.0, 0.0, 0.0]),
    }
    o = qo.Oracle(rows, max_gap=60 * 10**9)
    p = o.positions_at(BASE + 5 * 10**9)
    assert p["object_id"].tolist() == [1]  # object 2's samples are 100 s apart, object 3 has one sample
    assert abs(abs(p["x"][0]) - 180.0) < 1e-12 and p["y"][0] == 5.0 and p["k"][0] == 1 and p["f"][0] == 0.5
    p = o.positions_at(BASE + 10**10)
    assert p["exact"].tolist() == [True] and p["x"][0] == -170.0 and p["k"][0] == 2
    p = o.positions_at(BASE + 50 * 10**9, max_gap=100 * 10**9)
    assert p["object_id"].tolist() == [2] and p["x"][0] == 5.0
    near = o.nearest(0.0, 0.0, at=BASE, k=10)
    assert near["tie"].tolist() == [0, 1, 2]
    assert near["object_id"].tolist() == [2, 3, 1] and near["distance"][0] == 0.0
    near = o.nearest(5.0, 5.0, time=(None, None))
    assert near["object_id"].tolist()[:1] == [3]
    tr = o.track(1, derive=True)
    assert np.isnan(tr["speed"][0]) and tr["heading"][1] < 90


def test_oracle_aggregate_by_hand():
    rows = {
        "object_id": np.array([1, 1, 2]),
        "t": (np.array([0, 61, 130], dtype=np.int64) * 10**9).view("datetime64[ns]"),
        "x": np.array([0.5, 1.5, -0.5]),
        "y": np.array([0.5, 0.5, 0.5]),
        "v": np.array([1.0, np.nan, 4.0]),
    }
    o = qo.Oracle(rows)
    a = o.aggregate(cell=1.0, bucket=60 * 10**9)
    assert a["count"].shape == (3, 1, 3) and a["count"].sum() == 3
    assert a["count"][0, 0].tolist() == [0, 1, 0] and a["count"][2, 0].tolist() == [1, 0, 0]
    np.testing.assert_array_equal(a["x"], [-1.0, 0.0, 1.0, 2.0])
    a = o.aggregate(cell=1.0, value="v", stat="sum")
    assert np.isnan(a["values"][0, 2]) and a["values"][0].tolist()[:2] == [4.0, 1.0]
    a = o.aggregate(cell=1.0, bbox=(170.0, 0.0, -170.0, 1.0))
    assert a["count"].shape == (2, 21)
    assert o.aggregate()["count"].shape == () and int(o.aggregate()["count"]) == 3


def test_oracle_douglas_peucker_check_by_hand():
    t = (BASE + np.arange(5, dtype=np.int64) * 10**9).view("datetime64[ns]")
    rows = {"object_id": np.zeros(5, dtype=np.int64), "t": t, "x": np.array([0.0, 1.0, 2.0, 3.0, 4.0]),
            "y": np.array([0.0, 0.1, -0.1, 0.0, 5.0])}
    o = qo.Oracle(rows, crs="EPSG:3857")
    keep = [0, 3, 4]
    qo.check_simplified({k: v[keep] for k, v in rows.items()}, o, 0, tolerance=0.2)
    with pytest.raises(AssertionError, match="farther"):
        qo.check_simplified({k: v[[0, 4]] for k, v in rows.items()}, o, 0, tolerance=0.2)
    with pytest.raises(AssertionError, match="first and last"):
        qo.check_simplified({k: v[[0, 3]] for k, v in rows.items()}, o, 0, tolerance=100.0)


# ---------------------------------------------------------------- the engine against the oracle


@SETTINGS
@given(spec=store_specs(), data=st.data())
def test_query_matches_oracle(spec, data):
    with Built(spec) as b:
        for _ in range(4):
            args = {}
            if data.draw(st.booleans(), "use bbox"):
                args["bbox"] = data.draw(boxes(spec), "bbox")
            if data.draw(st.booleans(), "use time"):
                args["time"] = data.draw(intervals(), "time")
            if data.draw(st.integers(0, 2), "use polygon") == 0:
                args["polygon"] = data.draw(polygons(spec), "polygon")
            if data.draw(st.integers(0, 2), "use ids") == 0:
                args["ids"] = data.draw(id_args(spec), "ids")
            args["columns"] = _columns(data.draw, b.oracle, required=("object_id", "t") if "polygon" in args else ())
            note(f"query({args})")
            got = b.c.query(**args)
            qo.check_query(got, b.oracle, **args)
            plan = b.c.explain(**args).to_dict()
            assert plan["rows_returned"] == len(got), f"explain: {plan}"
            assert plan["segments_considered"] <= plan["segments"] and plan["blocks_considered"] <= plan["blocks"]


@SETTINGS
@given(spec=store_specs(), data=st.data())
def test_nearest_at_matches_oracle(spec, data):
    with Built(spec) as b:
        for _ in range(4):
            x, y = data.draw(st.sampled_from(spec.xs()), "x"), data.draw(st.sampled_from(spec.ys()), "y")
            k = data.draw(st.sampled_from([1, 2, 3, 10, 50]), "k")
            at = data.draw(instants(b.oracle), "at")
            args = {"k": k, "at": at}
            if data.draw(st.booleans(), "use max_gap"):
                args["max_gap"] = data.draw(st.sampled_from([1, 2, 5, 10, 30]).flatmap(_durations), "max_gap")
            if data.draw(st.integers(0, 4), "use columns") == 0:
                args["columns"] = _columns(data.draw, b.oracle, required=("object_id",), maybe=False)
            note(f"nearest({x}, {y}, {args})")
            qo.check_nearest(b.c.nearest(x, y, **args), b.oracle, x, y, **args)


@SETTINGS
@given(spec=store_specs(), data=st.data())
def test_nearest_in_interval_matches_oracle(spec, data):
    with Built(spec) as b:
        for _ in range(4):
            x, y = data.draw(st.sampled_from(spec.xs()), "x"), data.draw(st.sampled_from(spec.ys()), "y")
            k = data.draw(st.sampled_from([1, 2, 5, 20, 1000]), "k")
            args = {"k": k, "time": data.draw(intervals(), "time")}
            if data.draw(st.integers(0, 4), "use columns") == 0:
                args["columns"] = _columns(data.draw, b.oracle, required=("object_id", "t"), maybe=False)
            note(f"nearest({x}, {y}, {args})")
            qo.check_nearest(b.c.nearest(x, y, **args), b.oracle, x, y, **args)


@SETTINGS
@given(spec=store_specs(), data=st.data())
def test_snapshot_matches_oracle(spec, data):
    with Built(spec) as b:
        for _ in range(4):
            args = {"at": data.draw(instants(b.oracle), "at")}
            if data.draw(st.booleans(), "use bbox"):
                args["bbox"] = data.draw(boxes(spec), "bbox")
            if data.draw(st.booleans(), "use max_gap"):
                args["max_gap"] = data.draw(st.sampled_from([1, 5, 10, 30]).flatmap(_durations), "max_gap")
            if data.draw(st.integers(0, 4), "use columns") == 0:
                args["columns"] = _columns(data.draw, b.oracle, required=("object_id",), maybe=False)
            note(f"snapshot({args})")
            qo.check_snapshot(b.c.snapshot(**args), b.oracle, **args)


@SETTINGS
@given(spec=store_specs(), data=st.data())
def test_track_matches_oracle(spec, data):
    with Built(spec) as b:
        pool = spec.ids() + (["nope"] if spec.str_ids else [999])
        for _ in range(4):
            oid = data.draw(st.sampled_from(pool), "object_id")
            args = {}
            if data.draw(st.booleans(), "use time"):
                args["time"] = data.draw(intervals(), "time")
            if data.draw(st.booleans(), "simplify"):
                tol = data.draw(st.sampled_from([0.0, 1.0, 250.0, 10_000.0, 500_000.0, 1e9]), "tolerance")
                note(f"track({oid!r}, simplify={tol}, {args})")
                got = b.c.track(oid, simplify=tol, **args)
                qo.check_simplified(got, b.oracle, oid, tol, **args)
                if tol >= 1e9 or (not spec.geo and tol >= 500_000.0):
                    assert len(got) <= 2, "a tolerance larger than the whole track keeps the ends only"
                continue
            args["derive"] = data.draw(st.booleans(), "derive")
            if data.draw(st.integers(0, 4), "use columns") == 0:
                args["columns"] = _columns(data.draw, b.oracle, required=("t", "x", "y"), maybe=False)
            note(f"track({oid!r}, {args})")
            qo.check_track(b.c.track(oid, **args), b.oracle, oid, **args)


@st.composite
def aggregate_args(draw, spec):
    args = {}
    if draw(st.integers(0, 3)):
        cells = [2.5, 10.0, 45.0, (5.0, 2.5), 30] if spec.geo else [250.0, 500, 1000.0, (250.0, 1000.0)]
        args["cell"] = draw(st.sampled_from(cells))
    if draw(st.booleans()):
        args["bucket"] = draw(st.sampled_from(["5m", np.timedelta64(7, "m"), 90 * 10**9, dt.timedelta(minutes=15), "1h"]))
    if draw(st.booleans()):
        args["bbox"] = draw(boxes(spec, allow_cross=spec.geo))
    if draw(st.booleans()):
        args["time"] = draw(intervals())
    stat = draw(st.sampled_from(["count", "sum", "mean", "min", "max"]))
    args["stat"] = stat
    if stat != "count":
        choices = ["x", "y"] + (["sog", "n", "w"] if spec.props else []) + (["z"] if spec.has_z else [])
        args["value"] = draw(st.sampled_from(choices))
    return args


@SETTINGS
@given(spec=store_specs(), data=st.data())
def test_aggregate_matches_oracle(spec, data):
    with Built(spec) as b:
        for _ in range(4):
            args = data.draw(aggregate_args(spec), "aggregate")
            note(f"aggregate({args})")
            qo.check_aggregate(b.c.aggregate(**args), b.oracle, **args)


@settings(SETTINGS, max_examples=max(3, SETTINGS.max_examples // 2))
@given(spec=store_specs(min_ops=1), data=st.data())
def test_a_read_only_reader_answers_like_the_oracle(spec, data):
    with Built(spec) as b:
        c = b.reader()
        o = qo.Oracle.of(c, max_gap=spec.gap_ns)
        assert o.objects == b.oracle.objects and np.array_equal(o.t, b.oracle.t)
        bbox = data.draw(boxes(spec), "bbox")
        qo.check_query(c.query(bbox=bbox), o, bbox=bbox)
        at = data.draw(instants(b.oracle), "at")
        qo.check_snapshot(c.snapshot(at), o, at)
        qo.check_nearest(c.nearest(spec.xs()[0], spec.ys()[0], k=3, at=at), o, spec.xs()[0], spec.ys()[0], k=3, at=at)
        oid = data.draw(st.sampled_from(spec.ids()), "object_id")
        qo.check_track(c.track(oid, derive=True), o, oid, derive=True)
        cell = 45.0 if spec.geo else 500.0
        qo.check_aggregate(c.aggregate(cell=cell, bucket="5m"), o, cell=cell, bucket="5m")


# ---------------------------------------------------------------- fixed edge cases


@pytest.fixture
def tmp_store(tmp_path):
    with ct.open(tmp_path / "db", fsync="never", rows_per_block=4, flush_rows=7) as db:
        yield db


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_an_empty_collection_answers_every_query_with_nothing(tmp_store, crs):
    c = tmp_store.create_collection("c", crs=crs, properties=PROPS)
    o = qo.Oracle.of(c)
    assert len(c.query()) == 0
    qo.check_query(c.query(bbox=(0, 0, 1, 1), time=(BASE, None)), o, bbox=(0, 0, 1, 1), time=(BASE, None))
    qo.check_nearest(c.nearest(0.0, 0.0, k=3, at=BASE), o, 0.0, 0.0, k=3, at=BASE)
    qo.check_nearest(c.nearest(0.0, 0.0, k=3, time=(None, None)), o, 0.0, 0.0, k=3, time=(None, None))
    qo.check_snapshot(c.snapshot(BASE), o, BASE)
    qo.check_track(c.track(5, derive=True), o, 5, derive=True)
    qo.check_aggregate(c.aggregate(cell=1.0, bbox=(0, 0, 2, 2)), o, cell=1.0, bbox=(0, 0, 2, 2))
    assert int(np.asarray(c.aggregate().count).sum()) == 0


def test_poles_antimeridian_and_borders_by_hand(tmp_store):
    c = tmp_store.create_collection("c", properties=PROPS)
    t = np.array([0, 60, 0, 60, 0, 0], dtype=np.int64) * 10**9 + BASE
    c.append(np.array([1, 1, 2, 2, 3, 4]), t, np.array([170.0, -170.0, 0.0, 90.0, -180.0, 180.0]),
             np.array([0.0, 0.0, 90.0, 90.0, -90.0, 10.0]), sog=np.array([0.0, 2.0, 1.0, 1.0, 0.0, 0.0]),
             n=np.array([1, 2, 3, 4, 5, 6], dtype=np.int32))
    tmp_store.flush()
    c.append(np.array([3]), np.array([BASE + 30 * 10**9]), np.array([-179.5]), np.array([-89.5]))  # unflushed
    o = qo.Oracle.of(c)
    for bbox in [(170.0, -90.0, -170.0, 90.0), (180.0, 10.0, 180.0, 10.0), (-180.0, -90.0, -180.0, -90.0),
                 (0.0, 90.0, 90.0, 90.0)]:
        qo.check_query(c.query(bbox=bbox), o, bbox=bbox)
    at = BASE + 30 * 10**9
    qo.check_snapshot(c.snapshot(at), o, at)
    qo.check_snapshot(c.snapshot(at, bbox=(179.0, -1.0, -179.0, 1.0)), o, at, bbox=(179.0, -1.0, -179.0, 1.0))
    qo.check_nearest(c.nearest(180.0, 0.0, k=10, at=at), o, 180.0, 0.0, k=10, at=at)
    qo.check_nearest(c.nearest(0.0, 90.0, k=2, time=(None, None)), o, 0.0, 90.0, k=2, time=(None, None))
    qo.check_track(c.track(2, derive=True), o, 2, derive=True)


def test_equal_distances_are_broken_by_object_order(tmp_store):
    c = tmp_store.create_collection("c")
    for oid in ["zz", "b", "a"]:  # first written in this order: the objects' order
        c.append(oid, np.array([BASE, BASE + MIN]), np.array([10.0, 10.0]), np.array([20.0, 20.0]))
    c.append("m", np.array([BASE]), np.array([10.0]), np.array([20.0 + 1e-6]))
    o = qo.Oracle.of(c)
    assert o.objects == ["zz", "b", "a", "m"]
    r = c.nearest(10.0, 20.0, k=2, at=BASE)
    assert r["object_id"].tolist() == ["zz", "b"]
    qo.check_nearest(r, o, 10.0, 20.0, k=2, at=BASE)
    r = c.nearest(10.0, 20.0, k=5, time=(BASE, BASE + MIN))
    assert list(zip(r["object_id"].tolist(), r["t"].view(np.int64).tolist())) == [
        ("zz", BASE), ("zz", BASE + MIN), ("b", BASE), ("b", BASE + MIN), ("a", BASE)]


def test_objects_at_one_pole_are_at_equal_distances(tmp_store):
    # (45, -90) and (-180, -90) are one point: their distances to anything are equal, ties go by object
    c = tmp_store.create_collection("c")
    c.append(np.array([1, 2]), np.array([BASE, BASE]), np.array([45.0, -180.0]), np.array([-90.0, -90.0]))
    r = c.nearest(-180.0, -89.5, k=1, at=BASE)
    assert r["object_id"].tolist() == [1]
    r = c.nearest(-180.0, -89.5, k=1, time=(None, None))
    assert r["object_id"].tolist() == [1]


def _walk(rng, n, start, step, geographic):
    """A random walk of n points (x wraps into [-180, 180] and y stays in [-90, 90] for EPSG:4326)."""
    xy = np.cumsum(rng.normal(0, step, (n, 2)), axis=0) + start
    if geographic:
        xy[:, 0] = np.mod(xy[:, 0] + 180.0, 360.0) - 180.0
        xy[:, 1] = np.clip(xy[:, 1], -90.0, 90.0)
    return xy


@pytest.mark.parametrize("geographic, str_ids", [(True, False), (True, True), (False, False)])
def test_a_dense_random_store(tmp_path, geographic, str_ids):
    """Hundreds of samples per object (across the antimeridian for EPSG:4326), every query kind."""
    rng = np.random.default_rng([int(geographic), int(str_ids)])
    db = ct.open(tmp_path / "db", fsync="never", flush_rows=700, rows_per_block=16)
    c = db.create_collection("c", crs="EPSG:4326" if geographic else "EPSG:3857", partition="1h", properties=PROPS)
    ids = ["k9", "b", "x", "a1", "q", "c7"] if str_ids else [5, 1, 99, 3, 42, 7]
    start = (179.0, 60.0) if geographic else (0.0, 0.0)
    step = 0.05 if geographic else 40.0
    for j, oid in enumerate(ids):
        n = int(rng.integers(150, 400))
        t = BASE + np.cumsum(rng.integers(20, 400, n)) * 10**9
        xy = _walk(rng, n, start, step, geographic)
        order = rng.permutation(n)  # out of order, in pieces
        for part in np.array_split(order, 3):
            c.append(oid, t[part], xy[part, 0], xy[part, 1], sog=rng.normal(0, 5, len(part)),
                     n=rng.integers(0, 50, len(part)).astype(np.int32), w=rng.random(len(part)).astype(np.float32))
        if j == 2:
            db.compact()
    again = rng.choice(ids, 3)
    for oid in again:  # overwrites of a few existing samples, and a delete
        r = c.scan(ids=[oid])
        pick = rng.choice(len(r), 20, replace=False)
        c.append(oid, r["t"][pick], r["x"][pick], r["y"][pick] * 0.5)
    c.delete(ids[0], time=(BASE + 30 * MIN, BASE + 50 * MIN))
    o = qo.Oracle.of(c)
    t_lo, t_hi = int(o.t.min()), int(o.t.max())
    aggregates = []
    for i in range(15):
        j = rng.integers(o.n)
        cx, cy = float(o.x[j]), float(o.y[j])
        half = 0.3 if geographic else 300.0
        bbox = (cx - half, cy - half, cx + half, cy + half)
        if geographic:
            bbox = (bbox[0], max(bbox[1], -90.0), bbox[2], min(bbox[3], 90.0))
            bbox = (float(np.mod(bbox[0] + 180, 360) - 180), bbox[1], float(np.mod(bbox[2] + 180, 360) - 180), bbox[3])
        a = int(rng.integers(t_lo, t_hi))
        time = (a, a + int(rng.integers(MIN, 90 * MIN)))
        poly = [[cx + half * np.cos(u), cy + 0.5 * half * np.sin(u)] for u in np.sort(rng.uniform(0, 2 * np.pi, 7))]
        if geographic:
            poly = [[min(max(px, -180.0), 180.0), py] for px, py in poly]
        qo.check_query(c.query(bbox=bbox, time=time), o, bbox=bbox, time=time)
        qo.check_query(c.query(polygon=[poly], ids=list(again)), o, polygon=[poly], ids=list(again))
        at = int(o.t[rng.integers(o.n)]) + int(rng.integers(-100, 100)) * 10**9
        k = int(rng.choice([1, 3, 10]))
        qo.check_nearest(c.nearest(cx, cy, k=k, at=at), o, cx, cy, k=k, at=at)
        qo.check_nearest(c.nearest(cx, cy, k=k * 5, time=time), o, cx, cy, k=k * 5, time=time)
        qo.check_snapshot(c.snapshot(at, bbox=bbox, max_gap="5m"), o, at, bbox=bbox, max_gap="5m")
        qo.check_snapshot(c.snapshot(at), o, at)
        oid = ids[i % len(ids)]
        window = time if i % 2 else None
        qo.check_track(c.track(oid, time=window, derive=True), o, oid, time=window, derive=True)
        tol = float(rng.choice([0.0, 10.0, 1000.0, 20000.0]))
        qo.check_simplified(c.track(oid, simplify=tol), o, oid, tol)
        cell = (0.1 if geographic else 100.0) * int(rng.integers(1, 4))
        for stat, value in [("count", None), ("mean", "sog"), ("max", "n"), ("sum", "w")]:
            aggregates.append({"cell": cell, "bucket": "15m", "bbox": bbox, "time": time, "stat": stat, "value": value})
    for args in aggregates:
        qo.check_aggregate(c.aggregate(**args), o, **args)
    db.close()


@pytest.mark.parametrize("geographic", [True, False])
def test_paths_that_cross_a_box_between_samples(tmp_path, geographic):
    """Snapshots and nearest-at in a box whose interpolated positions lie between samples outside it.

    Objects jump back and forth across a small box (and, for EPSG:4326, across
    the antimeridian) with samples on both sides and far away, in tiny blocks:
    the positions inside come from pairs of samples that are not, and a sample
    in between must break a pair.
    """
    rng = np.random.default_rng(7 + geographic)
    db = ct.open(tmp_path / "db", fsync="never", flush_rows=500, rows_per_block=4)
    c = db.create_collection("c", crs="EPSG:4326" if geographic else "EPSG:3857", partition="30m",
                             properties={"sog": "float64", "n": "int32"})
    centre = (180.0, 0.0) if geographic else (0.0, 0.0)
    span = 3.0 if geographic else 3000.0
    for oid in range(40):
        n = 60
        t = BASE + np.arange(n, dtype=np.int64) * MIN + int(rng.integers(0, 50)) * 10**9
        side = rng.choice([-1.0, 1.0], n)
        far = rng.random(n) < 0.2
        x = centre[0] + side * rng.uniform(0.1, 1.0, n) * span * np.where(far, 20.0, 1.0)
        y = centre[1] + rng.uniform(-1.0, 1.0, n) * span * 0.3
        if geographic:
            x = np.mod(x + 180.0, 360.0) - 180.0
            y = np.clip(y, -90.0, 90.0)
            x = np.where(np.abs(np.diff(np.append(x, x[-1]))) == 180.0, x + 0.125, x)  # no half turns
        keep = rng.random(n) < 0.85
        c.append(oid, t[keep], x[keep], y[keep], sog=rng.normal(0, 1, keep.sum()), n=np.arange(keep.sum(), dtype=np.int32))
        if oid % 13 == 12:
            db.flush()
    o = qo.Oracle.of(c)
    half = 0.2 * span
    box = (centre[0] - half, -half, centre[0] + half, half)
    if geographic:
        box = (180.0 - half, -half, -180.0 + half, half)  # across the antimeridian
    for i in range(40):
        at = BASE + int(rng.integers(0, 62 * 60)) * 10**9
        gap = rng.choice([None, "2m", "5m"])
        qo.check_snapshot(c.snapshot(at, bbox=box, max_gap=gap), o, at, bbox=box, max_gap=gap)
        k = int(rng.choice([1, 5, 20, 100]))
        qo.check_nearest(c.nearest(centre[0], centre[1], k=k, at=at, max_gap=gap), o, centre[0], centre[1], k=k, at=at,
                         max_gap=gap)
    db.close()


def test_interpolation_skips_deleted_samples(tmp_store):
    # the samples around the time are deleted after the flush: the pair is then the next ones out
    c = tmp_store.create_collection("c", max_gap="10m")
    t = BASE + np.arange(5) * MIN
    c.append(np.full(5, 7), t, np.arange(5.0), np.zeros(5))
    tmp_store.flush()
    c.delete(7, time=(t[1], t[3]))  # a tombstone newer than the segment
    at = t[2] + MIN // 2
    snap = c.snapshot(at=at)
    assert snap["object_id"].tolist() == [7] and snap["x"].tolist() == [2.5]
    near = c.nearest(2.0, 0.0, k=1, at=at)
    assert near["x"].tolist() == [2.5]
    qo.check_snapshot(c.snapshot(at=at), qo.Oracle.of(c), at)
