"""The remote store against a real ``chronotope serve``: logins, ingest formats, idempotent batches, context
managers, MF-JSON helpers, and concurrency (threads on one RemoteStore, tasks on one AsyncRemoteStore)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import cli, serving  # noqa: E402

import chronotope as ct  # noqa: E402
from chronotope.client import wire  # noqa: E402
from chronotope.client import AsyncClient, Client  # noqa: E402
from chronotope.client.aio import AsyncRemoteStore, connect_async  # noqa: E402
from chronotope.client.problems import AuthenticationError, PermissionDeniedError  # noqa: E402
from chronotope.client.remote import RemoteCollection, RemoteStore, connect  # noqa: E402
from chronotope.errors import InvalidArgumentError  # noqa: E402

T0 = np.datetime64("2020-12-03T00:00:00", "ns")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("remote") / "store"
    with serving(store, "--demo") as srv:
        added = cli("user", "add", "robot", "--role", "writer", "--store", str(store), stdin="robot-password\n")
        assert added.returncode == 0, added.stderr
        made = cli("apikey", "create", "--user", "robot", "--store", str(store))
        assert made.returncode == 0, made.stderr
        srv.api_key = made.stdout.strip().splitlines()[-1].split()[-1]
        yield srv


@pytest.fixture
def db(server):
    with connect(server.url, username="demo", password=server.admin_password) as store:
        yield store


def _samples(n: int, oid: int = 1, start: np.datetime64 = T0) -> dict:
    t = start + np.arange(n) * np.timedelta64(10, "s")
    return {"object_id": oid, "t": t, "x": -74.0 + np.arange(n) * 1e-4, "y": 40.6 + np.arange(n) * 1e-4,
            "sog": np.linspace(0, 10, n).astype(np.float32)}


def _fresh(db, name: str):
    if name in db.collections():
        db.drop_collection(name)
    return db.create_collection(name, properties={"sog": "float32"})


def test_connect_with_password_and_api_key(server):
    with ct.connect(server.url, username="demo", password=server.admin_password) as admin:
        assert isinstance(admin, Client) and isinstance(admin, RemoteStore)
        assert "ais" in admin.collections()
        ais = admin.collection("ais")
        assert isinstance(ais, RemoteCollection) and ais.crs == "EPSG:4326" and len(ais) > 100_000
    with Client(server.url, api_key=server.api_key) as robot:
        assert isinstance(robot, RemoteStore) and repr(robot) == f"Client({server.url!r})"
        assert robot.collection("ais").snapshot(at="2020-12-03T12:00:00").columns[:4] == ["object_id", "t", "x", "y"]
        with pytest.raises(PermissionDeniedError):
            robot.create_collection("not_allowed")  # a writer is no admin
    with connect(server.url, username="demo", password="wrong") as bad, pytest.raises(AuthenticationError):
        bad.collections()
    with connect(server.url, api_key="ct_not_a_key") as bad, pytest.raises(AuthenticationError):
        bad.collections()


@pytest.mark.parametrize("fmt", ["batch", "arrow", "json"])
def test_ingest_formats_store_the_same_rows(db, fmt):
    coll = _fresh(db, f"ingest_{fmt}")
    cols = _samples(500)
    assert coll.append(cols["object_id"], cols["t"], cols["x"], cols["y"], sog=cols["sog"], format=fmt) == 500
    got = coll.scan()
    assert got.columns == ["object_id", "t", "x", "y", "sog"]
    assert got["t"].dtype == np.dtype("datetime64[ns]") and got["sog"].dtype == np.float32
    assert np.array_equal(got["t"], cols["t"]) and np.array_equal(got["x"], cols["x"])
    assert np.array_equal(got["sog"], cols["sog"]) and (got["object_id"] == 1).all()
    db.drop_collection(f"ingest_{fmt}")


def test_ingest_arrow_and_pandas_tables(db):
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    coll = _fresh(db, "tables")
    cols = _samples(200, oid=7)
    table = pa.table({"object_id": np.full(200, 7), "t": pa.array(cols["t"].view(np.int64), pa.timestamp("ns", "UTC")),
                      "x": cols["x"], "y": cols["y"], "sog": cols["sog"]})
    assert coll.append_arrow(table) == 200
    frame = table.to_pandas()
    frame["object_id"] = 8
    frame["t"] = frame["t"].dt.tz_localize(None)  # datetime64[ns] columns, as the embedded append_pandas takes
    assert coll.append_pandas(frame, format="arrow") == 200
    assert len(coll) == 400 and coll.ids().tolist() == [7, 8]
    with pytest.raises(InvalidArgumentError):
        coll.append_pandas(pd.DataFrame({"t": [1], "x": [0.0], "y": [0.0]}))  # no object_id, as embedded
    db.drop_collection("tables")


def test_a_retried_batch_is_stored_once(db):
    coll = _fresh(db, "idem")
    cols = _samples(50)
    args = (cols["object_id"], cols["t"], cols["x"], cols["y"])
    assert coll.append(*args, sog=cols["sog"], idempotency_key="batch-1") == 50
    assert coll.append(*args, sog=cols["sog"], idempotency_key="batch-1") == 50  # replayed, not stored again
    assert len(coll) == 50
    with pytest.raises(InvalidArgumentError):  # the key names other rows
        coll.append(*args, sog=cols["sog"] + 1, idempotency_key="batch-1")
    assert tuple(coll.append_once("batch-2", *args, sog=cols["sog"])) == (50, False)
    assert tuple(coll.append_once("batch-2", *args, sog=cols["sog"])) == (50, True)  # as the embedded receipt
    assert coll.append(*args, sog=cols["sog"]) == 50  # a fresh key per call: the same rows again overwrite
    assert len(coll) == 50
    db.drop_collection("idem")


def test_long_appends_go_as_several_requests_checked_before_the_first(server):
    posts = []
    with Client(server.url, username="demo", password=server.admin_password, batch_rows=1000,
                on_request=lambda r: posts.append(r) if r.method == "POST" else None) as store:
        coll = _fresh(store, "parts")
        cols = _samples(3500)
        bad = cols["x"].copy()
        bad[-1] = np.nan  # only the last part is bad: still nothing may be sent
        before = len(posts)
        with pytest.raises(InvalidArgumentError, match="row 3499"):  # the embedded message, before any request
            coll.append(cols["object_id"], cols["t"], bad, cols["y"], sog=cols["sog"])
        assert len(posts) == before and len(coll) == 0
        posts.clear()
        receipt = coll.append_once("big", cols["object_id"], cols["t"], cols["x"], cols["y"], sog=cols["sog"])
        assert tuple(receipt) == (3500, False) and len(posts) == 4
        assert [p.headers["idempotency-key"] for p in posts] == ["big.0", "big.1", "big.2", "big.3"]
        again = coll.append_once("big", cols["object_id"], cols["t"], cols["x"], cols["y"], sog=cols["sog"])
        assert tuple(again) == (3500, True) and len(coll) == 3500  # every part replayed, none stored twice
        # a later part overwrites an (object, t) of an earlier one, as one embedded append does
        t = np.concatenate([cols["t"][:1500], cols["t"][:1]])
        y = np.arange(1501.0) / 100
        assert coll.append(1, t, np.full(1501, 5.0), y, sog=np.zeros(1501, np.float32)) == 1501
        first = coll.query(ids=[1], time=(cols["t"][0], cols["t"][0]))
        assert first["y"].tolist() == [15.0]
        with pytest.raises(InvalidArgumentError):
            Client(server.url, api_key=server.api_key, batch_rows=0)
        store.drop_collection("parts")

    async def run():
        async with AsyncClient(server.url, username="demo", password=server.admin_password, batch_rows=600) as adb:
            coll = await adb.create_collection("parts_async", properties={"sog": "float32"})
            cols = _samples(1300)
            assert await coll.append(cols["object_id"], cols["t"], cols["x"], cols["y"], sog=cols["sog"]) == 1300
            assert await coll.count() == 1300
            await adb.drop_collection("parts_async")
    asyncio.run(run())


def test_context_managers_close_the_connections(server):
    with connect(server.url, username="demo", password=server.admin_password) as store:
        assert store.collection("ais").extent()["bbox"] is not None
    # a closed store refuses further requests
    with pytest.raises(Exception):
        store.collections()

    async def run():
        async with connect_async(server.url, username="demo", password=server.admin_password) as adb:
            assert isinstance(adb, AsyncClient) and isinstance(adb, AsyncRemoteStore)
            assert "ais" in await adb.collections()
        async with AsyncClient(server.url, api_key=server.api_key) as robot:
            assert len(await (await robot.collection("ais")).snapshot(at="2020-12-03T12:00:00")) > 0
        with pytest.raises(Exception):  # closed
            await robot.collections()
    asyncio.run(run())


def test_mfjson_round_trip(db):
    rows = db.collection("ais").query(bbox=(-74.05, 40.60, -74.00, 40.70), time=(T0, T0 + np.timedelta64(1, "h")))
    doc = wire.to_mfjson(rows)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(np.unique(rows["object_id"]))
    back = wire.from_mfjson(doc)
    for name in ("object_id", "t", "x", "y"):
        assert np.array_equal(back[name], rows[name]), name
    target = _fresh(db, "mf")
    assert db.transport.request("POST", "/collections/mf/items", json=doc).status_code == 201  # the server takes it
    stored = target.scan(columns=["object_id", "t", "x", "y"])
    for name in ("object_id", "t", "x", "y"):
        assert np.array_equal(stored[name], rows[name]), name
    page = db.transport.request("GET", "/collections/ais/items", params={
        "limit": 3, "subTrajectory": "true", "datetime": "2020-12-03T00:00:00Z/2020-12-03T01:00:00Z"}).json()
    served = wire.from_mfjson(page)  # the server's MF-JSON read back: the query's samples (+ interpolated ends)
    ids = np.unique(served["object_id"])
    assert len(ids) == 3
    again = db.collection("ais").query(ids=ids, time=(T0, T0 + np.timedelta64(1, "h")))

    def keys(r):
        return set(zip(r["object_id"].tolist(), r["t"].view(np.int64).tolist(), r["x"].tolist()))
    assert keys(again) <= keys(served) and len(served) <= len(again) + 2 * len(ids)
    db.drop_collection("mf")
    points = wire.to_geojson(rows)
    assert len(points["features"]) == len(rows)
    assert points["features"][0]["geometry"]["coordinates"] == [rows["x"][0], rows["y"][0]]


def test_many_threads_on_one_store(db):
    coll = _fresh(db, "threads")
    ais = db.collection("ais")
    expected = len(ais.snapshot(at=T0 + np.timedelta64(12, "h")))
    errors, counts = [], []

    def work(i: int):
        try:
            cols = _samples(100, oid=i)
            coll.append(cols["object_id"], cols["t"], cols["x"], cols["y"], sog=cols["sog"])
            counts.append(len(ais.snapshot(at=T0 + np.timedelta64(12, "h"))))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert counts == [expected] * 16
    assert len(coll) == 1600 and coll.ids().tolist() == list(range(16))
    db.drop_collection("threads")


def test_many_tasks_on_one_async_store(server, db):
    _fresh(db, "tasks")
    expected = db.collection("ais").track(db.collection("ais").ids()[0])

    async def run():
        async with connect_async(server.url, username="demo", password=server.admin_password) as adb:
            coll = await adb.collection("tasks")
            ais = await adb.collection("ais")
            first = int(expected["object_id"][0])

            async def work(i: int):
                cols = _samples(100, oid=i)
                await coll.append(cols["object_id"], cols["t"], cols["x"], cols["y"], sog=cols["sog"])
                return await ais.track(first)

            tracks = await asyncio.gather(*(work(i) for i in range(16)))
            assert await coll.count() == 1600
            with pytest.raises(InvalidArgumentError):
                await ais.query(time=(T0, T0 - 1))
            return tracks

    for got in asyncio.run(run()):
        assert np.array_equal(got["t"], expected["t"]) and np.array_equal(got["x"], expected["x"])
    db.drop_collection("tasks")


def test_features_follow_the_next_links(server, db):
    ais = db.collection("ais")
    every = [f["id"] for f in ais.features(limit=1000)]
    paged = [f["id"] for f in ais.features(limit=7)]
    assert paged == every and len(every) == len(ais.ids())
    box = (-74.05, 40.60, -74.00, 40.70)
    assert [f["id"] for f in ais.features(bbox=box, limit=3)] == ais.ids(bbox=box).tolist()

    async def run():
        async with connect_async(server.url, username="demo", password=server.admin_password) as adb:
            coll = await adb.collection("ais")
            return [f["id"] async for f in coll.features(limit=50)]
    assert asyncio.run(run()) == every


def test_queries_reuse_the_pooled_connection(server):
    """Row answers are chunked streams: reading each to its end keeps the connection for the next call."""
    from faultproxy import FaultProxy

    with FaultProxy(server.port) as proxy, connect(proxy.url, username="demo",
                                                   password=server.admin_password) as store:
        ais = store.collection("ais")
        for _ in range(20):
            assert len(ais.query(bbox=(-74.02, 40.68, -74.0, 40.70), time=("2020-12-03", "2020-12-03T01:00"))) > 0
        assert len(ais.nearest(-74.01, 40.69, k=3, at="2020-12-03T12:00")) == 3
        for _ in range(2):  # answers longer than one chunk come chunked: read to their end as well
            assert len(ais.query(columns=["t"])) == len(ais) > 65_536
        assert proxy.counters["accepted"] == 1  # one connection: login, description and 23 queries


def test_queries_without_a_polygon_are_gets_and_odd_ids_still_post(server, db):
    seen = []
    with connect(server.url, username="demo", password=server.admin_password,
                 on_request=lambda request: seen.append(request.method)) as store:
        ais = store.collection("ais")
        some = ais.query(bbox=(-74.02, 40.68, -74.0, 40.70), time=("2020-12-03", "2020-12-03T01:00"))
        assert len(some) > 0 and seen[-1] == "GET"
        assert len(ais.query(ids=[])) == 0 and seen[-1] == "POST"
        assert len(ais.query(ids=some["object_id"][:1], columns=["t"])) > 0 and seen[-1] == "GET"
