"""Idempotent appends in the store: a key is logged with its rows, kept across flushes, restarts and crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chronotope as ct
import chronotope.store as store_module
from chronotope.errors import InvalidArgumentError
from chronotope.store import IdempotencyConflictError

T0 = 1_606_780_800 * 10**9


def rows(x: float = 1.0, n: int = 4) -> dict:
    return {"object_id": np.arange(n) % 2, "t": T0 + np.arange(n) * 10**9, "x": np.full(n, x), "y": np.full(n, 2.0)}


def append_once(coll, key: str, batch: dict):
    return coll.append_once(key, batch["object_id"], batch["t"], batch["x"], batch["y"])


def xs(coll) -> list[float]:
    return coll.scan().to_dict()["x"].tolist()


@pytest.fixture
def coll(tmp_path):
    with ct.open(tmp_path / "s") as db:
        yield db.create_collection("c")


def test_a_retry_with_the_same_key_and_rows_writes_nothing_and_answers_as_the_first(coll):
    assert tuple(append_once(coll, "k1", rows())) == (4, False)
    coll.append(**rows(x=9.0))  # the same (object, t) rewritten: a second write of k1 would undo it
    receipt = append_once(coll, "k1", rows())
    assert receipt.rows == 4 and receipt.replayed
    assert xs(coll) == [9.0] * 4


def test_the_same_rows_in_other_dtypes_are_the_same_batch(coll):
    append_once(coll, "k", rows())
    b = rows()
    again = coll.append_once("k", b["object_id"].astype(np.int32), b["t"].astype("datetime64[ns]"),
                             b["x"].astype(np.float32), [2, 2, 2, 2])
    assert again.replayed


def test_the_same_key_for_other_rows_is_refused_and_stores_nothing(coll):
    append_once(coll, "k", rows())
    with pytest.raises(IdempotencyConflictError, match="'k' was used for an append of other rows"):
        append_once(coll, "k", rows(x=5.0))
    assert xs(coll) == [1.0] * 4
    assert isinstance(IdempotencyConflictError("x"), InvalidArgumentError)


def test_append_takes_the_key_too_and_returns_the_first_count(coll):
    assert coll.append(**rows(), idempotency_key="k") == 4
    coll.append(**rows(x=3.0))
    assert coll.append(**rows(), idempotency_key="k") == 4
    assert xs(coll) == [3.0] * 4


def test_keys_belong_to_their_collection(coll):
    other = coll._store.create_collection("d")
    append_once(coll, "k", rows())
    assert not append_once(other, "k", rows(x=7.0)).replayed
    assert xs(other) == [7.0] * 4


def test_a_failed_append_records_no_key(coll):
    bad = rows()
    bad["x"][2] = np.nan
    with pytest.raises(InvalidArgumentError, match="row 2"):
        append_once(coll, "k", bad)
    assert not append_once(coll, "k", rows(x=4.0)).replayed
    assert xs(coll) == [4.0] * 4


@pytest.mark.parametrize("key", ["", "k" * 256, 12, None])
def test_keys_are_strings_of_1_to_255_characters(coll, key):
    with pytest.raises(InvalidArgumentError, match="1 to 255 characters"):
        append_once(coll, key, rows())


def test_the_key_survives_a_flush_and_a_reopen(tmp_path):
    path = tmp_path / "s"
    with ct.open(path) as db:
        append_once(db.create_collection("c"), "flushed", rows())
        db.flush()
        append_once(db.collection("c"), "logged", rows(x=2.0, n=2))  # only in the log when the store closes...
    with ct.open(path) as db:
        c = db.collection("c")
        c.append(**rows(x=8.0))
        assert append_once(c, "flushed", rows()).replayed
        assert append_once(c, "logged", rows(x=2.0, n=2)) == (2, True)
        assert xs(c) == [8.0] * 4
    with ct.open(path, readonly=True) as ro:  # a reader opens a store with keys as before
        assert len(ro.collection("c").scan()) == 4


def test_the_store_remembers_the_most_recent_keys_only(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "IDEMPOTENCY_KEYS", 3)
    path = tmp_path / "s"
    with ct.open(path) as db:
        c = db.create_collection("c")
        for k in range(5):
            append_once(c, f"k{k}", rows(x=float(k)))
        db.flush()
        assert [e[0] for e in db._state["collections"]["c"]["idempotency"]] == ["k2", "k3", "k4"]
    with ct.open(path) as db:
        c = db.collection("c")
        assert append_once(c, "k4", rows(x=4.0)).replayed
        assert not append_once(c, "k0", rows(x=0.0)).replayed  # forgotten: stored again


def test_keys_expire(coll, monkeypatch):
    append_once(coll, "k", rows())
    monkeypatch.setattr(store_module, "_TTL_NS", -1)  # every key older than the TTL
    assert not append_once(coll, "k", rows(x=6.0)).replayed
    assert xs(coll) == [6.0] * 4
    assert store_module.IDEMPOTENCY_TTL == np.timedelta64(24, "h")


def test_dropping_a_collection_forgets_its_keys(tmp_path):
    with ct.open(tmp_path / "s") as db:
        append_once(db.create_collection("c"), "k", rows())
        db.drop_collection("c")
        assert not append_once(db.create_collection("c"), "k", rows()).replayed


def test_idempotency_key_is_not_a_property_name(tmp_path):
    with ct.open(tmp_path / "s") as db:
        with pytest.raises(InvalidArgumentError, match="reserved"):
            db.create_collection("c", properties={"idempotency_key": "float32"})


CHILD = textwrap.dedent("""
    import sys, time, numpy as np, chronotope as ct
    db = ct.open(sys.argv[1], fsync=sys.argv[2])
    c = db.collection("c")
    n = 1000
    receipt = c.append_once("batch-1", np.arange(n) % 7, 10**18 + np.arange(n) * 10**9, np.full(n, 1.5), np.zeros(n))
    print("appended", receipt.rows, flush=True)  # the reply the client never got
    time.sleep(600)
""")


@pytest.mark.parametrize("fsync", ["always", "batch"])
def test_a_crash_between_the_append_and_the_reply_keeps_the_key(tmp_path, fsync):
    path = tmp_path / "s"
    with ct.open(path) as db:
        db.create_collection("c")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), fsync], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().split() == ["appended", "1000"]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    n = 1000
    with ct.open(path) as db:
        c = db.collection("c")
        assert len(c.scan()) == n
        c.append(np.arange(n) % 7, 10**18 + np.arange(n) * 10**9, np.full(n, 2.5), np.zeros(n))  # newer values
        retry = c.append_once("batch-1", np.arange(n) % 7, 10**18 + np.arange(n) * 10**9, np.full(n, 1.5), np.zeros(n))
        assert retry == (n, True)
        assert set(xs(c)) == {2.5} and len(c.scan()) == n
        assert db.verify() == []
