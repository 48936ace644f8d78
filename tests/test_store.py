"""The delta store: open, append, flush, scan, deletes, compaction, retention, verify."""

import numpy as np
import pytest

import chronotope as ct
from chronotope import datasets
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError
from chronotope.store import StoreLockedError

DAY = 86_400 * 10**9


@pytest.fixture
def store(tmp_path):
    with ct.open(tmp_path / "db") as db:
        yield db


@pytest.fixture(scope="module")
def sample():
    cols = datasets.load_sample("nyharbor_week")
    return {k: np.asarray(cols[k]) for k in ("object_id", "t", "x", "y")}


def _rows(result):
    d = result.to_dict()
    return list(zip(d["object_id"].tolist(), d["t"].view(np.int64).tolist(), d["x"].tolist(), d["y"].tolist()))


def test_round_trip_of_the_real_sample(tmp_path, sample):
    with ct.open(tmp_path / "db") as db:
        ais = db.create_collection("ais")
        # in arrival order (sorted by time), as a live feed delivers it
        order = np.argsort(sample["t"], kind="stable")
        for chunk in np.array_split(order, 7):
            ais.append(sample["object_id"][chunk], sample["t"][chunk], sample["x"][chunk], sample["y"][chunk])
        before_flush = ais.scan()
        db.flush()
        after_flush = ais.scan()
    with ct.open(tmp_path / "db") as db:
        reopened = db.collection("ais").scan()
    for r in (before_flush, after_flush, reopened):
        assert len(r) == len(sample["t"])
        d = r.to_dict()
        assert np.array_equal(d["object_id"], sample["object_id"])
        assert np.array_equal(d["t"].view(np.int64), sample["t"])
        assert np.array_equal(d["x"], sample["x"]) and np.array_equal(d["y"], sample["y"])


def test_last_write_wins_within_and_across_segments(store):
    c = store.create_collection("c")
    c.append([1, 1, 2], [10, 20, 10], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    c.append([1], [20], [9.0], [9.0])  # same (object, t) in the memtable
    assert _rows(c.scan()) == [(1, 10, 1.0, 0.0), (1, 20, 9.0, 9.0), (2, 10, 3.0, 0.0)]
    store.flush()
    c.append([2], [10], [7.0], [7.0])  # overrides a flushed row
    assert _rows(c.scan()) == [(1, 10, 1.0, 0.0), (1, 20, 9.0, 9.0), (2, 10, 7.0, 7.0)]
    store.flush()
    assert _rows(c.scan()) == [(1, 10, 1.0, 0.0), (1, 20, 9.0, 9.0), (2, 10, 7.0, 7.0)]
    store.compact()
    assert _rows(c.scan()) == [(1, 10, 1.0, 0.0), (1, 20, 9.0, 9.0), (2, 10, 7.0, 7.0)]
    assert store.stats()["collections"]["c"]["segments"] == 1


def test_late_samples_merge_in_time_order(store):
    c = store.create_collection("c", partition="1D")
    c.append(5, [3 * DAY, 4 * DAY], [1.0, 2.0], [1.0, 2.0])
    store.flush()
    c.append(5, [DAY + 1, 3 * DAY + 5], [3.0, 4.0], [3.0, 4.0])  # late and out of order
    expected = [(5, DAY + 1, 3.0, 3.0), (5, 3 * DAY, 1.0, 1.0), (5, 3 * DAY + 5, 4.0, 4.0), (5, 4 * DAY, 2.0, 2.0)]
    assert _rows(c.scan()) == expected
    store.flush()
    assert _rows(c.scan()) == expected
    assert _rows(c.scan(time=(3 * DAY, 3 * DAY + 5))) == expected[1:3]
    assert _rows(c.scan(time=(None, DAY + 1))) == expected[:1]


def test_deletes_of_objects_and_time_ranges(store):
    c = store.create_collection("c")
    c.append([1, 1, 1, 2], [1, 2, 3, 1], [0.0] * 4, [0.0] * 4)
    store.flush()
    c.delete(1, time=(2, 3))
    c.append([1], [3], [5.0], [5.0])  # written after the delete: stays
    assert [r[:2] for r in _rows(c.scan())] == [(1, 1), (1, 3), (2, 1)]
    store.flush()
    assert [r[:2] for r in _rows(c.scan())] == [(1, 1), (1, 3), (2, 1)]
    c.delete(2)
    assert [r[:2] for r in _rows(c.scan())] == [(1, 1), (1, 3)]
    store.compact()
    assert [r[:2] for r in _rows(c.scan())] == [(1, 1), (1, 3)]
    assert store.stats()["collections"]["c"]["tombstones"] == 0


def test_string_ids_and_column_selection(store):
    c = store.create_collection("v", properties={"sog": "float32"})
    c.append(["b", "a", "b"], np.array([3, 1, 2]).astype("datetime64[s]"), [1.0, 2.0, 3.0], [4.0, 5.0, 6.0],
             sog=[1.5, 2.5, 3.5])
    store.flush()
    r = c.scan(ids=["b", "zzz"], columns=["object_id", "t", "sog"])
    assert r.columns == ["object_id", "t", "sog"]
    assert r["object_id"].tolist() == ["b", "b"]
    assert r["t"].dtype == np.dtype("datetime64[ns]")
    assert np.array_equal(r["t"], np.array([2, 3], dtype="datetime64[s]"))
    assert r["sog"].dtype == np.float32 and r["sog"].tolist() == [3.5, 1.5]
    with pytest.raises(InvalidArgumentError, match="integer"):
        c.append(7, [1], [0.0], [0.0])


def test_arrow_and_pandas_ingest_and_output(store):
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    c = store.create_collection("c", properties={"sog": "float32"})
    t = pd.to_datetime(["2020-12-01T00:00:00", "2020-12-01T00:01:10"])
    c.append_pandas(pd.DataFrame({"object_id": [9, 9], "t": t, "x": [1.0, 2.0], "y": [3.0, 4.0], "sog": [0.5, 0.25]}))
    c.append_arrow(pa.table({"object_id": [8], "t": pa.array([0], pa.int64()), "x": [0.0], "y": [0.0]}))
    r = c.scan()
    assert r.to_arrow().num_rows == 3 and r.to_pandas()["object_id"].tolist() == [8, 9, 9]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t": [1, 2], "x": [0.0], "y": [0.0, 0.0]}, "'x' must be 1-D with 2 rows"),
        ({"t": [1, 2], "x": [0.0, np.nan], "y": [0.0, 0.0]}, "'x'.*row 1"),
        ({"t": [1, 2], "x": [0.0, 0.0], "y": [0.0, 91.0]}, "'y'.*outside.*row 1"),
        ({"t": [1, 2], "x": [0.0, 200.0], "y": [0.0, 0.0]}, "'x'.*outside.*row 1"),
        ({"t": np.array(["2020-01-01", "NaT"], dtype="datetime64[s]"), "x": [0.0, 0.0], "y": [0.0, 0.0]}, "NaT at row 1"),
        ({"t": [1.5, 2.5], "x": [0.0, 0.0], "y": [0.0, 0.0]}, "'t' must be datetime64"),
        ({"t": [1, 2], "x": ["a", "b"], "y": [0.0, 0.0]}, "'x' must be numeric"),
        ({"t": [1, 2], "x": [0.0, 0.0], "y": [0.0, 0.0], "speed": [1, 2]}, "unknown column"),
        ({"t": [1, 2], "x": [0.0, 0.0], "y": [0.0, 0.0], "sog": ["a", "b"]}, "'sog' must be"),
    ],
)
def test_bad_appends_are_refused_whole(store, kwargs, match):
    c = store.create_collection("c", properties={"sog": "float32"})
    with pytest.raises(InvalidArgumentError, match=match):
        c.append(1, **kwargs)
    assert len(c.scan()) == 0
    store.flush()
    assert len(c.scan()) == 0


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".", "..", "x" * 65, "1abc", "a b", None])
def test_names_cannot_escape_the_store(store, name):
    with pytest.raises(InvalidArgumentError, match="invalid collection name"):
        store.create_collection(name)
    with pytest.raises(InvalidArgumentError, match="invalid property name"):
        store.create_collection("ok", properties={name: "f4"})


def test_collections_lifecycle(store):
    store.create_collection("a")
    store.create_collection("b")
    with pytest.raises(InvalidArgumentError, match="exists"):
        store.create_collection("a")
    assert store.collections() == ["a", "b"]
    store.collection("a").append(1, [1], [0.0], [0.0])
    store.drop_collection("a")
    assert store.collections() == ["b"]
    with pytest.raises(InvalidArgumentError, match="no collection"):
        store.collection("a")
    assert not (store.path / "a").exists()


def test_one_writer_many_readers(tmp_path):
    with ct.open(tmp_path / "db") as db:
        with pytest.raises(StoreLockedError, match="readonly=True"):
            ct.open(tmp_path / "db")
        c = db.create_collection("c")
        c.append(1, [1, 2], [0.0, 1.0], [0.0, 1.0])
        db.flush()
        reader = ct.open(tmp_path / "db", readonly=True)
        assert len(reader.collection("c").scan()) == 2
        c.append(1, [3], [2.0], [2.0])
        db.flush()
        assert len(reader.collection("c").scan()) == 2  # pinned snapshot
        db.compact()
        assert len(reader.collection("c").scan()) == 2  # still readable after compaction
        assert len(reader.refresh().collection("c").scan()) == 3
        with pytest.raises(ChronotopeError, match="read-only"):
            reader.collection("c").append(1, [4], [0.0], [0.0])
        reader.close()
    with ct.open(tmp_path / "db") as again:  # the lock is released on close
        assert len(again.collection("c").scan()) == 3


def test_unflushed_writes_survive_a_reopen(tmp_path):
    db = ct.open(tmp_path / "db", fsync="always")
    c = db.create_collection("c")
    c.append(1, [1, 2], [0.0, 1.0], [0.0, 1.0])
    c.delete(1, time=(2, 2))
    db._release()  # drop the handle without flushing, as a crash would
    with ct.open(tmp_path / "db") as db2:
        assert _rows(db2.collection("c").scan()) == [(1, 1, 0.0, 0.0)]


def test_a_flipped_byte_is_found_and_contained(tmp_path, sample):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("ais")
        c.append(sample["object_id"], sample["t"], sample["x"], sample["y"])
    seg = sorted((tmp_path / "db" / "ais" / "seg").rglob("*.cts"))[0]
    raw = bytearray(seg.read_bytes())
    raw[len(raw) // 3] ^= 0x40
    seg.write_bytes(bytes(raw))
    with ct.open(tmp_path / "db") as db:
        problems = db.verify()
        assert len(problems) == 1 and seg.name in problems[0] and "block" in problems[0]
        with pytest.raises(CorruptDataError, match=seg.name):
            db.collection("ais").scan()
        # reads that do not touch the damaged block still work
        entries = db._state["collections"]["ais"]["segments"]
        damaged = next(e for e in entries if e["file"].endswith(seg.name))
        other = next(e for e in entries if e["partition"] != damaged["partition"])
        lo = other["partition"] * DAY
        assert len(db.collection("ais").scan(time=(lo, lo + DAY - 1))) > 0


def test_prune_drops_or_thins_old_samples(store):
    c = store.create_collection("c")
    t = np.arange(0, 4 * DAY, 60 * 10**9)
    c.append(1, t, np.zeros(len(t)), np.zeros(len(t)))
    out = store.prune(older_than=2 * DAY, keep_every=np.timedelta64(1, "h"))
    kept = c.scan()["t"].view(np.int64)
    old = kept[kept < 2 * DAY]
    assert len(old) == 48 and np.all(np.diff(old) == 3600 * 10**9)
    assert np.array_equal(kept[kept >= 2 * DAY], t[t >= 2 * DAY])
    assert out["rows_removed"] == len(t) - len(kept)
    store.prune(older_than=3 * DAY)
    assert c.scan()["t"].view(np.int64).min() == 3 * DAY


def test_stats_and_migrate(tmp_path, sample):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("ais")
        c.append(sample["object_id"], sample["t"], sample["x"], sample["y"])
        db.flush()
        s = db.stats()["collections"]["ais"]
        assert s["points"] == len(sample["t"]) and s["objects"] == 140
        assert s["segments"] == len(list((tmp_path / "db" / "ais" / "seg").rglob("*.cts")))
        assert set(s["bytes_per_column"]) == {"oid", "t", "x", "y"}
        assert s["compression_ratio"] > 5
        assert db.migrate() == {"from": 1, "to": 1}


def test_property_documents_as_of_and_history(tmp_path):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("ais")
        c.set_properties("367073680", {"name": "EVER GIVEN", "draught": 14.5}, at="2020-12-01T00:00")
        c.set_properties("367073680", {"name": "EVER GIVEN", "draught": 15.0, "dest": "NYC"}, at="2020-12-02T00:00")
        assert c.properties("367073680", as_of="2020-12-01T12:00") == {"name": "EVER GIVEN", "draught": 14.5}
        assert c.properties("367073680")["dest"] == "NYC"
        assert c.properties("367073680", as_of="2020-11-30") is None
        assert c.properties("nobody") is None
        with pytest.raises(InvalidArgumentError):
            c.set_properties("367073680", {"bad": float("nan")})
        with pytest.raises(InvalidArgumentError):
            c.set_properties("367073680", ["not", "a", "dict"])
        db._release()  # crash before any flush: the log brings the versions back
    with ct.open(tmp_path / "db") as db:
        c = db.collection("ais")
        hist = c.history("367073680")
        assert [t for t, _ in hist] == [np.datetime64("2020-12-01T00:00", "ns"), np.datetime64("2020-12-02T00:00", "ns")]
        assert hist[1][1] == {"name": "EVER GIVEN", "draught": 15.0, "dest": "NYC"}
        db.flush()
    with ct.open(tmp_path / "db", readonly=True) as ro:
        assert ro.collection("ais").properties("367073680", as_of="2020-12-01T00:00")["draught"] == 14.5


def test_compaction_rewrites_document_chains(tmp_path):
    with ct.open(tmp_path / "db") as db:
        c = db.create_collection("c")
        for day in range(1, 40):
            c.set_properties(7, {"v": day}, at=f"2020-12-{min(day, 28):02d}T{day % 24:02d}:00")
            if day % 10 == 0:
                db.flush()  # several document files
        before = sorted((tmp_path / "db" / "c" / "docs").glob("*.ctd"))
        expected = [c.properties(7, as_of=t) for t, _ in c.history(7)]
        db.compact()
        after = sorted((tmp_path / "db" / "c" / "docs").glob("*.ctd"))
        assert len(before) > 1 and len(after) == 1
        assert [c.properties(7, as_of=t) for t, _ in c.history(7)] == expected


def test_extent_covers_flushed_and_unflushed_rows(tmp_path):
    db = ct.open(tmp_path / "db", fsync="never")
    c = db.create_collection("c")
    assert c.extent() == {"bbox": None, "time": None}
    t0 = np.datetime64("2021-01-01T00:00", "ns")
    c.append(1, np.array([t0, t0 + np.timedelta64(1, "h")]), np.array([1.0, 2.0]), np.array([10.0, 11.0]))
    db.flush()
    c.append(2, np.array([t0 - np.timedelta64(1, "D")]), np.array([-5.0]), np.array([12.0]))  # unflushed
    e = c.extent()
    assert e["bbox"] == [-5.0, 10.0, 2.0, 12.0]
    assert e["time"] == [t0 - np.timedelta64(1, "D"), t0 + np.timedelta64(1, "h")]
    db.close()


def test_durations_beyond_a_century_are_refused(tmp_path):
    """Partitions, gaps and buckets stay far from int64 nanosecond overflow."""
    with ct.open(tmp_path / "s") as db:
        with pytest.raises(InvalidArgumentError, match="longer than 100 years"):
            db.create_collection("a", partition="4431096470D")
        with pytest.raises(InvalidArgumentError, match="max_gap '40000D' is longer than 100 years"):
            db.create_collection("b", max_gap="40000D")
        with pytest.raises(InvalidArgumentError, match="longer than 100 years"):
            db.create_collection("c", max_gap=10**19)
        assert db.collections() == []
