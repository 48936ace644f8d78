"""The memtable flush that an append past ``flush_rows`` starts runs in a thread of its own.

The append returns before the segments are written; reads see the rows all along (first in the
set-aside memtable, then in the installed segments, never twice, never missing); a failed flush
loses nothing and is reported once; a crash right after an installed flush recovers the string ids
created while it ran.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import chronotope as ct
import chronotope.store as store_module
from chronotope.errors import ChronotopeError

T0 = np.datetime64("2020-12-03T00:00:00", "ns")


def _batch(k: int, n: int = 1000) -> tuple:
    """Append number k: object k % 5, n samples one second apart after k * n seconds."""
    t = T0 + (k * n + np.arange(n)) * np.timedelta64(1, "s")
    return k % 5, t, np.full(n, float(k)), np.linspace(0, 1, n)


class Gate:
    """Holds ``write_segment`` (the background flush's file writing) until opened; fails on request."""

    def __init__(self, monkeypatch, fail: bool = False):
        self.entered, self.opened, self.fail = threading.Event(), threading.Event(), fail
        real = store_module.write_segment

        def gated(*args, **kwargs):
            self.entered.set()
            assert self.opened.wait(30), "the test never opened the gate"
            if self.fail:
                raise OSError(28, "No space left on device (injected)")
            return real(*args, **kwargs)
        monkeypatch.setattr(store_module, "write_segment", gated)


def _same(a, b) -> bool:
    return a.columns == b.columns and all(np.array_equal(a[k], b[k]) for k in a.columns)


def _wait_flushed(db) -> None:
    thread = db._flusher
    if thread is not None:
        thread.join(30)
    assert db._flusher is None


def test_an_append_past_flush_rows_returns_while_its_segments_are_written(tmp_path, monkeypatch):
    gate = Gate(monkeypatch)
    db = ct.open(tmp_path / "db", fsync="never", flush_rows=2500)
    c = db.create_collection("c")
    for k in range(3):  # the third passes flush_rows: the flush starts and blocks in write_segment
        c.append(*_batch(k))
    assert gate.entered.wait(30) and db._flusher is not None
    assert len(c) == 3000 and db.stats()["collections"]["c"]["unflushed_points"] == 3000
    c.append(*_batch(3))  # lands in the new memtable while the flush is held
    c.delete(3, time=(None, None))  # a delete logged now applies to the set-aside rows as well
    seen = c.query(time=(None, None))
    assert len(seen) == 4000 - 1000 and not np.any(seen["object_id"] == 3)
    assert db.stats()["collections"]["c"]["segments"] == 0
    gate.opened.set()
    _wait_flushed(db)
    after = db.stats()["collections"]["c"]
    assert after["segments"] > 0 and after["unflushed_points"] == 1000  # batch 3 waits for the next flush
    assert _same(c.query(time=(None, None)), seen)
    db.close()
    with ct.open(tmp_path / "db") as again:
        assert _same(again.collection("c").query(time=(None, None)), seen)


def test_a_failed_background_flush_loses_nothing_and_is_reported_once(tmp_path, monkeypatch):
    gate = Gate(monkeypatch, fail=True)
    gate.opened.set()
    db = ct.open(tmp_path / "db", fsync="never", flush_rows=2500)
    c = db.create_collection("c")
    for k in range(3):
        c.append(*_batch(k))
    _wait_flushed(db)
    assert len(c) == 3000  # the rows went back to the memtable
    with pytest.raises(ChronotopeError, match="background") as info:
        c.append(*_batch(3))  # refused before it is logged: not stored
    assert isinstance(info.value.__cause__, OSError)
    gate.fail = False
    c.append(*_batch(4))  # reported once: writes go on, and this one flushes again
    _wait_flushed(db)
    db.flush()
    assert db.stats()["collections"]["c"]["unflushed_points"] == 0
    expected = np.concatenate([np.full(1000, float(k)) for k in (0, 1, 2, 4)])
    db.close()
    with ct.open(tmp_path / "db") as again:
        assert again.verify() == []
        got = again.collection("c").scan()
        assert len(got) == 4000 and np.array_equal(np.sort(got["x"]), np.sort(expected))


def test_readers_never_see_rows_twice_or_lose_them_while_flushes_run(tmp_path):
    db = ct.open(tmp_path / "db", fsync="never", flush_rows=3000, rows_per_block=256)
    c = db.create_collection("c")
    batches, stop, problems, seen = 60, threading.Event(), [], []

    def read():
        try:
            while not stop.is_set():
                r = c.scan(columns=["object_id", "t"])
                keys = r["t"].view(np.int64) * 8 + r["object_id"]
                if len(np.unique(keys)) != len(keys):
                    problems.append("a row twice")
                if seen and len(r) < seen[-1]:
                    problems.append(f"rows went missing: {len(r)} after {seen[-1]}")
                seen.append(len(r))
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            problems.append(repr(exc))
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for k in range(batches):
            c.append(*_batch(k))
    finally:
        stop.set()
        reader.join(60)
    _wait_flushed(db)
    assert not problems, problems[:3]
    assert len(seen) > 1 and len(c) == batches * 1000
    assert db.stats()["collections"]["c"]["segments"] > 1
    db.close()


CHILD = textwrap.dedent("""
    import sys, threading, numpy as np, chronotope as ct, chronotope.store as sm
    opened = threading.Event()
    real = sm.write_segment
    def held(*a, **k):
        assert opened.wait(30)
        return real(*a, **k)
    sm.write_segment = held
    db = ct.open(sys.argv[1], fsync="always", flush_rows=300)
    c = db.create_collection("named")
    t = np.datetime64("2020-12-03", "ns") + np.arange(300) * np.timedelta64(1, "s")
    c.append(np.array([f"early {i % 30}" for i in range(300)]), t, np.zeros(300), np.zeros(300))
    # the flush of the early ids is held; these ids are new, logged after it began
    c.append(np.array([f"late {i % 7}" for i in range(100)]), t[:100], np.ones(100), np.ones(100))
    opened.set()
    db._flusher.join(30)
    assert db._flusher is None and db.stats()["collections"]["named"]["segments"] > 0
    print("installed", flush=True)
    import os; os._exit(0)  # a crash: no close, the late rows only in the log
""")


def test_ids_created_during_a_background_flush_survive_a_crash_after_it(tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "db")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "installed" in done.stdout, done.stderr
    with ct.open(tmp_path / "db") as db:  # replays the late appends, whose new ids the id file must not hold
        assert db.verify() == []
        c = db.collection("named")
        ids = set(c.ids().tolist())
        assert ids == {f"early {i}" for i in range(30)} | {f"late {i}" for i in range(7)}
        assert len(c) == 400
