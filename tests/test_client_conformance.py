"""One suite, two backends: the embedded store (``ct.open``) and the remote store (``ct.connect`` to a real
``chronotope serve``) answer the same calls with identical results and raise the same exceptions.

Both start from the same data: a collection with the bundled ``nyharbor_week`` AIS sample and two
properties, a small collection with string ids, and a few property documents. Every query kind runs
with the same arguments on both; the answers must have the same columns, dtypes, values and order.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import serving  # noqa: E402

import chronotope as ct  # noqa: E402
from chronotope.client.aio import connect_async  # noqa: E402
from chronotope.client.remote import connect  # noqa: E402
from chronotope.errors import InvalidArgumentError  # noqa: E402
from chronotope.queries import Aggregate  # noqa: E402

T0 = np.datetime64("2020-12-03T00:00:00", "ns")
DAY = np.timedelta64(1, "D")
HOUR = np.timedelta64(1, "h")
BOX = (-74.05, 40.60, -74.00, 40.70)
POLYGON = {"type": "Polygon", "coordinates": [[[-74.05, 40.60], [-74.00, 40.60], [-74.02, 40.70], [-74.05, 40.60]]]}
DOCS = [("2020-12-01T00:00:00", {"name": "EVENING TIDE", "type": "tug"}),
        (np.datetime64("2020-12-03T00:00:00", "s"), {"name": "EVENING TIDE", "type": "tug", "destination": "NEWARK"}),
        (1607171400 * 10**9, {"name": "EVENING TIDE", "destination": None})]  # ISO text, datetime64, int ns


def _sample() -> dict:
    cols = ct.datasets.load_sample("nyharbor_week", copy=True)
    cols["sog"] = (np.abs(cols["x"] * 1000.0) % 17.0).astype(np.float32)  # a float32 property
    return cols


def busiest() -> int:
    """The vessel with the most samples: its track, documents and deletes exercise the most."""
    ids, counts = np.unique(ct.datasets.load_sample("nyharbor_week")["object_id"], return_counts=True)
    return int(ids[np.argmax(counts)])


def _populate(db) -> None:
    """The same data, in the same calls, on either backend."""
    cols = _sample()
    ais = db.create_collection("conf", properties={"traj_id": "int32", "sog": "float32"}, max_gap="10m")
    n = len(cols["t"])
    for lo in range(0, n, 60_000):  # three appends: the last write of each (object, t) wins on both
        part = {k: v[lo:lo + 60_000] for k, v in cols.items()}
        ais.append(part["object_id"], part["t"], part["x"], part["y"], traj_id=part["traj_id"], sog=part["sog"])
    first = busiest()
    for at, doc in DOCS:
        ais.set_properties(first, doc, at=at)
    ais.delete(first, time=(T0, T0 + 2 * HOUR))  # a window of one vessel's samples
    hour = ct.datasets.load_sample("nyharbor_hour")
    named = db.create_collection("named")
    ids = np.char.add("v #", hour["object_id"].astype(str))  # string ids that need quoting in a URL
    ids = np.where(ids == ids[0], "v #/" + ids[0][3:], ids)  # and one holding '/', for the URL paths
    named.append(ids, hour["t"], hour["x"], hour["y"])


class Blocking:
    """The async store (or collection) driven from plain code, so the same scenarios run on it: each
    coroutine method runs to completion on one event loop; ``len()`` awaits ``count()``."""

    def __init__(self, target, loop: asyncio.AbstractEventLoop):
        self._target, self._loop = target, loop

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        def run(*args, **kwargs):
            out = self._loop.run_until_complete(attr(*args, **kwargs))
            return Blocking(out, self._loop) if hasattr(out, "_calls") else out
        return run

    def __len__(self) -> int:
        return self._loop.run_until_complete(self._target.count())


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    with ct.open(str(tmp_path_factory.mktemp("embedded") / "store")) as embedded:
        _populate(embedded)
        with serving(tmp_path_factory.mktemp("served") / "store", "--demo") as server:
            with connect(server.url, username="demo", password=server.admin_password) as remote:
                _populate(remote)
                loop = asyncio.new_event_loop()
                aremote = connect_async(server.url, username="demo", password=server.admin_password)
                try:
                    yield {"embedded": embedded, "remote": remote, "remote_async": Blocking(aremote, loop)}
                finally:
                    loop.run_until_complete(aremote.close())
                    loop.close()


@pytest.fixture(scope="module")
def first_id():
    return busiest()


# ---- comparing answers ----

def _same_array(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), what
    assert a.dtype == b.dtype, (what, a.dtype, b.dtype)  # string ids too: the width of the store's id table
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), what


def assert_same(a, b, what: str = "answer") -> None:
    """Identical answers: Results column by column (names, order, dtypes, values), Aggregates, plain data."""
    assert type(a) is type(b), (what, type(a), type(b))
    if isinstance(a, ct.Result):
        assert a.columns == b.columns, (what, a.columns, b.columns)
        assert len(a) == len(b), (what, len(a), len(b))
        for name in a.columns:
            _same_array(a[name], b[name], f"{what}: column {name}")
    elif isinstance(a, Aggregate):
        assert a.stat == b.stat
        for name in ("count", "values", "x", "y", "t"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None), (what, name)
            if x is not None:
                _same_array(x, y, f"{what}: {name}")
    elif isinstance(a, np.ndarray):
        _same_array(a, b, what)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{what}[{i}]")
    else:
        assert a == b, (what, a, b)


# ---- the scenarios: name -> call on a collection handle ----

def _scenarios(first: int) -> dict:
    return {
        "scan": lambda c: c.scan(),
        "scan_time_ids_columns": lambda c: c.scan(time=(T0, T0 + DAY), ids=[first, 367000150], columns=["t", "sog"]),
        "query_box_time": lambda c: c.query(bbox=BOX, time=(T0, T0 + 6 * HOUR)),
        "query_open_interval": lambda c: c.query(bbox=BOX, time=("2020-12-06T00:00:00", None)),
        "query_iso_and_int_times": lambda c: c.query(time=("2020-12-03T01:00:00",
                                                           int((T0 + 3 * HOUR).astype(np.int64)))),
        "query_polygon": lambda c: c.query(polygon=POLYGON, time=(T0, T0 + DAY)),
        "query_ring_list": lambda c: c.query(polygon=POLYGON["coordinates"]),
        "query_antimeridian_empty": lambda c: c.query(bbox=(170, -10, -170, 10)),
        "query_ids_columns_order": lambda c: c.query(ids=[first], columns=["y", "x", "object_id"]),
        "query_unknown_ids": lambda c: c.query(ids=[1, 2, 3]),
        "query_column_string": lambda c: c.query(bbox=BOX, columns="traj_id"),
        "nearest_at": lambda c: c.nearest(-74.02, 40.65, k=5, at=T0 + 12 * HOUR),
        "nearest_at_gap_columns": lambda c: c.nearest(-74.02, 40.65, k=3, at="2020-12-03T12:00:00", max_gap="2m",
                                                      columns=["object_id", "sog"]),
        "nearest_time": lambda c: c.nearest(-74.02, 40.65, k=7, time=(T0, T0 + HOUR)),
        "snapshot": lambda c: c.snapshot(at=T0 + 12 * HOUR),
        "snapshot_before_data_empty": lambda c: c.snapshot(at="2019-01-01T00:00:00"),
        "nearest_open_time": lambda c: c.nearest(-74.0, 40.7, k=2, time=(None, None), columns=["t"]),
        "aggregate_time_no_rows": lambda c: c.aggregate(bucket="1h", time=("2019-01-01", "2019-01-01T05:00:00")),
        "snapshot_box_gap": lambda c: c.snapshot(at=T0 + 12 * HOUR, bbox=BOX, max_gap=np.timedelta64(30, "m")),
        "snapshot_zero_gap": lambda c: c.snapshot(at=T0 + 12 * HOUR, max_gap="0s", columns=["object_id", "x"]),
        "track": lambda c: c.track(first),
        "track_window_simplify_derive": lambda c: c.track(first, time=(T0, T0 + DAY), simplify=25.0, derive=True),
        "track_unknown": lambda c: c.track(123),
        "aggregate_count_time": lambda c: c.aggregate(bucket="1D"),
        "aggregate_grid": lambda c: c.aggregate(cell=0.05, bbox=BOX, time=(T0, T0 + DAY)),
        "aggregate_mean_both": lambda c: c.aggregate(cell=(0.1, 0.05), bucket=np.timedelta64(6, "h"), value="sog",
                                                     stat="mean"),
        "aggregate_max_empty_bins": lambda c: c.aggregate(cell=0.01, bbox=BOX, value="x", stat="max"),
        "aggregate_total": lambda c: c.aggregate(),
        "ids": lambda c: c.ids(bbox=BOX, time=(T0, T0 + HOUR)),
        "len": lambda c: len(c),
        "extent": lambda c: c.extent(),
        "schema_crs": lambda c: (c.schema, c.crs, c.has_z, c.max_gap, c.partition, c.id_kind),
        "properties_latest": lambda c: c.properties(first),
        "properties_as_of": lambda c: c.properties(first, as_of="2020-12-04T00:00:00"),
        "properties_before_any": lambda c: c.properties(first, as_of=np.datetime64("2020-11-01", "ns")),
        "properties_none": lambda c: c.properties(367000150),
        "history": lambda c: c.history(first),
        "history_none": lambda c: c.history(367000150),
        "append_nothing": lambda c: c.append(np.empty(0, np.int64), np.empty(0, "datetime64[ns]"), np.empty(0),
                                             np.empty(0)),
        "explain_rows": lambda c: c.explain(bbox=BOX, time=(T0, T0 + DAY)).rows_returned,
        "explain_text": lambda c: str(c.explain(bbox=BOX)).splitlines()[-1],
    }


SCENARIOS = sorted(_scenarios(0))


REMOTES = ["remote", "remote_async"]


@pytest.mark.parametrize("remote", REMOTES)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_answers(backends, first_id, scenario, remote):
    run = _scenarios(first_id)[scenario]
    embedded = run(backends["embedded"].collection("conf"))
    other = run(backends[remote].collection("conf"))
    assert_same(embedded, other, scenario)


NAMED = {
    "scan": lambda c: c.scan(),
    "query_empty": lambda c: c.query(bbox=(0, 0, 1, 1)),
    "query_ids": lambda c: c.query(ids=["v #367000150", "v #nope"], columns=["object_id", "t"]),
    "track_quoted_id": lambda c: c.track(str(c.scan(columns="object_id")["object_id"][-1])),
    "track_slash_id": lambda c: c.track(_slash_id(c)),
    "documents_slash_id": lambda c: (c.set_properties(_slash_id(c), {"flag": "US"}, at="2020-12-01T00:00:00"),
                                     c.properties(_slash_id(c)), c.history(_slash_id(c))),
    "id_kind": lambda c: c.id_kind,
    "snapshot": lambda c: c.snapshot(at=np.datetime64("2020-12-01T00:30:00", "ns"), max_gap="1h"),
    "nearest": lambda c: c.nearest(-74.02, 40.65, k=4, at=np.datetime64("2020-12-01T00:30:00", "ns"),
                                   max_gap="1h"),
}


def _slash_id(c) -> str:
    ids = c.ids()
    return str(ids[np.char.find(ids, "/") >= 0][0])


@pytest.mark.parametrize("remote", REMOTES)
@pytest.mark.parametrize("scenario", sorted(NAMED))
def test_same_answers_string_ids(backends, scenario, remote):
    embedded = NAMED[scenario](backends["embedded"].collection("named"))
    other = NAMED[scenario](backends[remote].collection("named"))
    assert_same(embedded, other, scenario)


def test_same_collections(backends):
    assert backends["embedded"].collections() == [c for c in backends["remote"].collections() if c != "ais"]


BAD = {
    "inverted_time": lambda c: c.query(time=(T0 + DAY, T0)),
    "bad_bbox": lambda c: c.query(bbox=(1, 2, 3)),
    "bbox_lat_inverted": lambda c: c.query(bbox=(0, 10, 1, 5)),
    "bad_polygon": lambda c: c.query(polygon={"type": "Point", "coordinates": [0, 0]}),
    "unknown_column": lambda c: c.query(columns=["nope"]),
    "bad_time": lambda c: c.query(time=("yesterday", None)),
    "k_zero": lambda c: c.nearest(0, 0, k=0, at=T0),
    "nearest_both": lambda c: c.nearest(0, 0, at=T0, time=(T0, T0)),
    "nearest_neither": lambda c: c.nearest(0, 0),
    "nearest_nan": lambda c: c.nearest(float("nan"), 0, at=T0),
    "snapshot_bad_gap": lambda c: c.snapshot(at=T0, max_gap="soon"),
    "track_negative_simplify": lambda c: c.track(1, simplify=-1.0),
    "track_many_ids": lambda c: c.track([1, 2]),
    "aggregate_bad_stat": lambda c: c.aggregate(stat="median"),
    "aggregate_stat_without_value": lambda c: c.aggregate(stat="mean"),
    "aggregate_bad_value": lambda c: c.aggregate(stat="mean", value="nope"),
    "aggregate_bad_cell": lambda c: c.aggregate(cell=-1),
    "aggregate_bad_bucket": lambda c: c.aggregate(bucket="sometimes"),
    "append_bad_x": lambda c: c.append(1, np.array([0, 1]), np.array([0.0, np.nan]), np.array([0.0, 0.0])),
    "append_unknown_column": lambda c: c.append(1, np.array([0]), np.array([0.0]), np.array([0.0]),
                                                nope=np.array([1.0])),
    "append_text_times": lambda c: c.append(1, np.array(["2020-12-03T00:00:00"]), np.array([0.0]), np.array([0.0])),
    "append_short_column": lambda c: c.append(1, np.array([0, 1]), np.array([0.0]), np.array([0.0, 0.0])),
    "append_string_id_to_int": lambda c: c.append("a", np.array([0]), np.array([0.0]), np.array([0.0])),
    "document_not_dict": lambda c: c.set_properties(1, ["a"]),
    "properties_bad_time": lambda c: c.properties(1, as_of="later"),
    "metadata_not_json": lambda c: c.set_metadata({"limit": float("nan")}),
    "metadata_not_object": lambda c: c.set_metadata(["title"]),
}


@pytest.mark.parametrize("scenario", sorted(BAD))
def test_same_exceptions(backends, scenario):
    raised = {}
    for kind, db in backends.items():
        with pytest.raises(ValueError) as info:
            BAD[scenario](db.collection("conf"))
        raised[kind] = type(info.value)
    assert raised["embedded"] is raised["remote"] is raised["remote_async"], raised
    assert issubclass(raised["remote"], InvalidArgumentError)


def test_the_async_store_writes_as_well(backends):
    adb = backends["remote_async"]
    c = adb.create_collection("scratch_async", properties={"v": "float32"})
    assert c.append(5, T0 + np.arange(3) * np.timedelta64(1, "s"), np.zeros(3), np.zeros(3),
                    v=np.ones(3, np.float32)) == 3
    c.set_properties(5, {"name": "five"}, at=T0)
    assert c.properties(5) == {"name": "five"} and len(c) == 3
    assert_same(c.scan(), backends["remote"].collection("scratch_async").scan(), "async writes")
    adb.drop_collection("scratch_async")


def test_unknown_collection(backends):
    for db in backends.values():
        with pytest.raises(InvalidArgumentError):
            db.collection("nowhere")


def test_metadata_and_id_kind_follow_the_writes(backends):
    seen = {}
    for kind, db in backends.items():
        c = db.create_collection("described", properties={"sog": "float32"})
        metadata = (lambda: c.metadata()) if kind == "remote_async" else (lambda: c.metadata)  # async: await it
        before = (c.id_kind, metadata())
        c.append(7, T0 + np.arange(2) * np.timedelta64(1, "s"), np.zeros(2), np.zeros(2), sog=np.ones(2, np.float32))
        c.set_metadata({"title": "Described", "units": {"sog": "knot"}, "rate": 0.5})
        seen[kind] = (before, c.id_kind, metadata(), db.collection("described").id_kind)
        db.drop_collection("described")
    assert seen["embedded"] == ((None, {}), "int", {"title": "Described", "units": {"sog": "knot"}, "rate": 0.5},
                                "int")
    assert seen["remote"] == seen["embedded"] == seen["remote_async"], seen


def test_writes_then_reads_agree(backends):
    """A later write (append, delete, drop) leaves the backends in the same state."""
    backends = {k: backends[k] for k in ("embedded", "remote")}
    for db in backends.values():
        c = db.create_collection("scratch", properties={"v": "float64"}, has_z=True, max_gap=np.timedelta64(5, "m"))
        t = T0 + np.arange(6) * np.timedelta64(1, "m")
        c.append(np.array([1, 1, 1, 2, 2, 2]), t, np.linspace(0, 1, 6), np.linspace(0, 1, 6), z=np.arange(6.0),
                 v=np.arange(6.0))
        c.append(1, t[:2], np.array([9.0, 9.0]), np.array([9.0, 9.0]), z=np.zeros(2), v=np.ones(2))  # overwrite
        c.delete(2, time=(t[4], None))
        c.delete(77)  # never written: nothing to do
    answers = []
    for db in backends.values():
        scratch = db.collection("scratch")
        answers.append((scratch.scan(), scratch.snapshot(at=t[2]), len(scratch)))
    assert_same(answers[0], answers[1], "scratch")
    for db in backends.values():
        db.drop_collection("scratch")
        assert "scratch" not in db.collections()
        with pytest.raises(InvalidArgumentError):
            db.create_collection("conf")  # exists already
