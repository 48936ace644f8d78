"""Bad query arguments raise InvalidArgumentError (a ValueError) naming the argument;
queries on a closed store or a dropped collection raise ChronotopeError."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chronotope as ct
from chronotope.errors import ChronotopeError, InvalidArgumentError

T0 = np.datetime64("2021-03-04T05:00", "ns")
MIN = np.timedelta64(1, "m")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with ct.open(tmp_path_factory.mktemp("errors") / "db", fsync="never", rows_per_block=4) as db:
        geo = db.create_collection("geo", properties={"sog": "float64", "n": "int32"})
        t = T0 + np.arange(6) * MIN
        geo.append(np.array([1, 1, 1, 2, 2, 2]), t, np.linspace(-1, 1, 6), np.linspace(50, 51, 6),
                   sog=np.arange(6.0), n=np.arange(6, dtype=np.int32))
        names = db.create_collection("names", crs="EPSG:3857")
        names.append(np.array(["a", "b", "a"]), t[:3], np.array([0.0, 10.0, 20.0]), np.array([0.0, 5.0, 10.0]))
        db.flush()
        geo.append(np.array([3]), t[:1], np.array([0.5]), np.array([50.5]))  # and one unflushed row
        yield db


@pytest.fixture
def geo(db):
    return db.collection("geo")


@pytest.fixture
def names(db):
    return db.collection("names")


SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
INF_VERTEX = {"type": "Polygon", "coordinates": [[[0, 0], [math.inf, 0], [1, 1]]]}
POINTS_NOT_RINGS = {"type": "Polygon", "coordinates": SQUARE}
RINGS_NOT_POLYGONS = {"type": "MultiPolygon", "coordinates": [SQUARE]}
AT_AND_TIME = r"\bat\b.*\btime\b|\btime\b.*\bat\b"

BAD_QUERIES = {
    # name: (call on the "geo" collection, pattern the message must match)
    "inverted interval": (lambda c: c.query(time=(T0 + MIN, T0)), r"\btime\b"),
    "inverted interval, ints": (lambda c: c.query(time=(10, 5)), r"\btime\b"),
    "time not a pair": (lambda c: c.query(time=T0), r"\btime\b"),
    "bbox NaN": (lambda c: c.query(bbox=(math.nan, 0, 1, 1)), r"\bbbox\b"),
    "bbox inf": (lambda c: c.query(bbox=(0, 0, math.inf, 1)), r"\bbbox\b"),
    "bbox -inf": (lambda c: c.query(bbox=(0, -math.inf, 1, 1)), r"\bbbox\b"),
    "bbox ymin > ymax": (lambda c: c.query(bbox=(0, 2, 1, 1)), r"\bbbox\b"),
    "bbox three numbers": (lambda c: c.query(bbox=(0, 0, 1)), r"\bbbox\b"),
    "bbox not numbers": (lambda c: c.query(bbox=("a", 0, 1, 1)), r"\bbbox\b"),
    "unknown column": (lambda c: c.query(columns=["x", "nope"]), r"column"),
    "polygon two vertices": (lambda c: c.query(polygon=[[[0, 0], [1, 1]]]), r"\bpolygon\b"),
    "polygon two distinct vertices": (lambda c: c.query(polygon=[[[0, 0], [1, 1], [0, 0], [1, 1]]]), r"\bpolygon\b"),
    "polygon NaN vertex": (lambda c: c.query(polygon=[[[0, 0], [1, math.nan], [1, 1], [0, 1]]]), r"\bpolygon\b"),
    "polygon inf vertex": (lambda c: c.query(polygon=INF_VERTEX), r"\bpolygon\b"),
    "polygon: points instead of rings": (lambda c: c.query(polygon=POINTS_NOT_RINGS), r"\bpolygon\b"),
    "multipolygon: rings instead of polygons": (lambda c: c.query(polygon=RINGS_NOT_POLYGONS), r"\bpolygon\b"),
    "polygon: vertices of one number": (lambda c: c.query(polygon=[[[0], [1], [2]]]), r"\bpolygon\b"),
    "polygon: a ring of numbers": (lambda c: c.query(polygon=[[0, 1, 2, 3, 4, 5]]), r"\bpolygon\b"),
    "polygon: unknown GeoJSON type": (lambda c: c.query(polygon={"type": "Point", "coordinates": [0, 0]}), r"\bpolygon\b"),
    "polygon: no type": (lambda c: c.query(polygon={"coordinates": [SQUARE]}), r"\bpolygon\b"),
    "polygon: not a geometry": (lambda c: c.query(polygon=42), r"\bpolygon\b"),
    "polygon: no rings": (lambda c: c.query(polygon=[]), r"\bpolygon\b"),
    "nearest NaN x": (lambda c: c.nearest(math.nan, 50.0, at=T0), r"\bx\b"),
    "nearest inf y": (lambda c: c.nearest(0.0, math.inf, at=T0), r"\by\b"),
    "nearest k = 0": (lambda c: c.nearest(0.0, 50.0, k=0, at=T0), r"\bk\b"),
    "nearest k < 0": (lambda c: c.nearest(0.0, 50.0, k=-3, at=T0), r"\bk\b"),
    "nearest k not an integer": (lambda c: c.nearest(0.0, 50.0, k=2.5, at=T0), r"\bk\b"),
    "nearest k a string": (lambda c: c.nearest(0.0, 50.0, k="3", at=T0), r"\bk\b"),
    "nearest both at and time": (lambda c: c.nearest(0.0, 50.0, at=T0, time=(T0, T0 + MIN)), AT_AND_TIME),
    "nearest neither at nor time": (lambda c: c.nearest(0.0, 50.0), AT_AND_TIME),
    "nearest inverted interval": (lambda c: c.nearest(0.0, 50.0, time=(T0 + MIN, T0)), r"\btime\b"),
    "nearest unknown column": (lambda c: c.nearest(0.0, 50.0, at=T0, columns=["nope"]), r"column"),
    "snapshot NaN bbox": (lambda c: c.snapshot(T0, bbox=(0, math.nan, 1, 1)), r"\bbbox\b"),
    "snapshot ymin > ymax": (lambda c: c.snapshot(T0, bbox=(0, 1, 1, 0)), r"\bbbox\b"),
    "snapshot unknown column": (lambda c: c.snapshot(T0, columns=["nope"]), r"column"),
    "track negative simplify": (lambda c: c.track(1, simplify=-1.0), r"\bsimplify\b"),
    "track NaN simplify": (lambda c: c.track(1, simplify=math.nan), r"\bsimplify\b"),
    "track inverted interval": (lambda c: c.track(1, time=(T0 + MIN, T0)), r"\btime\b"),
    "track unknown column": (lambda c: c.track(1, columns=["nope"]), r"column"),
    "aggregate unknown stat": (lambda c: c.aggregate(cell=1.0, stat="median", value="sog"), r"\bstat\b"),
    "aggregate sum without value": (lambda c: c.aggregate(cell=1.0, stat="sum"), r"\bvalue\b"),
    "aggregate mean without value": (lambda c: c.aggregate(bucket="1h", stat="mean"), r"\bvalue\b"),
    "aggregate unknown value column": (lambda c: c.aggregate(cell=1.0, stat="max", value="nope"), r"\bvalue\b"),
    "aggregate cell = 0": (lambda c: c.aggregate(cell=0.0), r"\bcell\b"),
    "aggregate cell < 0": (lambda c: c.aggregate(cell=-1.0), r"\bcell\b"),
    "aggregate cell NaN": (lambda c: c.aggregate(cell=math.nan), r"\bcell\b"),
    "aggregate cell (1, 0)": (lambda c: c.aggregate(cell=(1.0, 0.0)), r"\bcell\b"),
    "aggregate bucket = 0": (lambda c: c.aggregate(bucket=0), r"\bbucket\b"),
    "aggregate bucket < 0": (lambda c: c.aggregate(bucket=np.timedelta64(-5, "m")), r"\bbucket\b"),
    "aggregate bucket '0m'": (lambda c: c.aggregate(bucket="0m"), r"\bbucket\b"),
    "aggregate too many cells": (lambda c: c.aggregate(cell=1e-4, bbox=(-180, -90, 180, 90)), r"\bcells?\b"),
    "aggregate too many cells x buckets": (
        lambda c: c.aggregate(cell=0.01, bucket=1, bbox=(-1, 50, 1, 51), time=(T0, T0 + MIN)), r"\bcells?\b|\bbucket\b"
    ),
    "aggregate NaN bbox": (lambda c: c.aggregate(cell=1.0, bbox=(0, 0, math.nan, 1)), r"\bbbox\b"),
    "aggregate inverted interval": (lambda c: c.aggregate(bucket="1h", time=(T0 + MIN, T0)), r"\btime\b"),
    "explain inverted interval": (lambda c: c.explain(time=(T0 + MIN, T0)), r"\btime\b"),
    "explain NaN bbox": (lambda c: c.explain(bbox=(0, 0, 1, math.nan)), r"\bbbox\b"),
    "explain bad polygon": (lambda c: c.explain(polygon=[[[0, 0], [1, 1]]]), r"\bpolygon\b"),
}


@pytest.mark.parametrize("case", sorted(BAD_QUERIES))
def test_bad_arguments_are_refused_with_the_argument_named(geo, case):
    call, pattern = BAD_QUERIES[case]
    with pytest.raises(ValueError, match=pattern) as info:
        call(geo)
    assert isinstance(info.value, InvalidArgumentError), f"{type(info.value).__name__} is not InvalidArgumentError"


def test_a_value_column_that_is_not_numeric_is_refused(names):
    for value in ("object_id", "t"):
        with pytest.raises(ValueError, match=r"\bvalue\b") as info:
            names.aggregate(cell=1.0, stat="sum", value=value)
        assert isinstance(info.value, InvalidArgumentError)


def test_bad_arguments_do_not_change_the_store(db, geo):
    before = geo.scan().to_dict()
    for call, _ in BAD_QUERIES.values():
        with pytest.raises(Exception):  # noqa: B017 - which exception is the other tests' business
            call(geo)
    after = geo.scan().to_dict()
    for k in before:  # NaN where a row has no value: equal to itself here
        np.testing.assert_array_equal(before[k], after[k])
    assert len(geo.query(bbox=(-1, 50, 1, 51))) == 7  # and queries still work


def _all_queries(c):
    return {
        "query": lambda: c.query(bbox=(0, 0, 1, 1)),
        "explain": lambda: c.explain(time=(T0, None)),
        "nearest": lambda: c.nearest(0.0, 0.0, k=1, at=T0),
        "snapshot": lambda: c.snapshot(T0),
        "track": lambda: c.track(1, derive=True),
        "aggregate": lambda: c.aggregate(cell=1.0),
    }


def test_queries_on_a_closed_store_raise_chronotope_error(tmp_path):
    db = ct.open(tmp_path / "db", fsync="never")
    c = db.create_collection("c")
    c.append(np.array([1, 1]), T0 + np.arange(2) * MIN, np.array([0.0, 0.5]), np.array([0.0, 0.5]))
    db.flush()
    db.close()
    for name, run in _all_queries(c).items():
        with pytest.raises(ChronotopeError, match="closed"):
            run()


def test_scan_on_a_closed_store_raises_chronotope_error(tmp_path):
    # scan() is the read every query is defined by: it must refuse a closed store the same way
    db = ct.open(tmp_path / "db", fsync="never")
    c = db.create_collection("c")
    c.append(1, T0 + np.arange(2) * MIN, np.array([0.0, 0.5]), np.array([0.0, 0.5]))
    db.close()
    for run in (lambda: c.scan(), lambda: len(c)):
        with pytest.raises(ChronotopeError, match="closed"):
            run()


def test_queries_on_a_closed_reader_raise_chronotope_error(tmp_path):
    with ct.open(tmp_path / "db", fsync="never") as db:
        db.create_collection("c").append(1, T0 + np.arange(2) * MIN, np.array([0.0, 0.5]), np.array([0.0, 0.5]))
    reader = ct.open(tmp_path / "db", readonly=True)
    c = reader.collection("c")
    assert len(c.query()) == 2
    reader.close()
    for name, run in _all_queries(c).items():
        with pytest.raises(ChronotopeError):
            run()


def test_queries_on_a_dropped_collection_raise_chronotope_error(tmp_path):
    with ct.open(tmp_path / "db", fsync="never") as db:
        c = db.create_collection("c")
        c.append(1, T0 + np.arange(3) * MIN, np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 1.0]))
        db.flush()
        assert len(c.query(bbox=(0, 0, 1, 1))) == 3
        db.drop_collection("c")
        for name, run in _all_queries(c).items():
            with pytest.raises(ChronotopeError, match="no collection"):
                run()
        # a new collection of the same name is a different, empty one
        again = db.create_collection("c")
        for name, run in _all_queries(c).items():
            if name in ("query", "nearest", "snapshot", "track"):
                assert len(run()) == 0, name
        assert len(again.query()) == 0
