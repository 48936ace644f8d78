"""Crash safety: a real writer process is killed with SIGKILL at random moments.

After every kill the store must open, hold every acknowledged append exactly
once (an append is acknowledged when the call returned, i.e. it was synced),
hold each unacknowledged append entirely or not at all, and verify clean.
Kills land during plain ingest, during flushes and during compactions.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import chronotope as ct

ROWS = 200  # rows per append; append k writes object k % 7 at t = k * ROWS + i
# partitions of 100 ns: every append spans two, so a flush writes dozens of segment
# files (each fsynced and renamed) and a kill after "F" or "C" lands inside it

CHILD = textwrap.dedent(
    """
    import sys, numpy as np, chronotope as ct
    path, fsync, start, phase = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ROWS = %d
    db = ct.open(path, fsync=fsync, flush_rows=3000, rows_per_block=256)
    c = db.collection("c") if "c" in db.collections() else db.create_collection("c", crs="EPSG:3857", partition=100)
    k = start
    while True:
        t = k * ROWS + np.arange(ROWS)
        c.append(k %% 7, t, np.full(ROWS, float(k)), np.full(ROWS, -float(k)))
        print("A", k, flush=True)          # acknowledged: append returned
        k += 1
        if phase == "flush" and k %% 5 == 0:
            print("F", flush=True)
            db.flush()
        if phase == "compact" and k %% 5 == 0:
            db.flush()
            print("C", flush=True)
            db.compact()
    """
    % ROWS
)


def _check(path, acked: set[int], attempted_max: int) -> set[int]:
    """Open after a crash; return the appends present. Fails on loss, duplication or damage."""
    with ct.open(path) as db:
        assert db.verify() == []
        r = db.collection("c").scan().to_dict()
    t = r["t"].view(np.int64)
    k = t // ROWS
    # no (object, t) twice, and every row carries its append's values
    assert len(np.unique(t)) == len(t), "an (object, t) is stored twice"
    assert np.array_equal(r["object_id"], k % 7)
    assert np.array_equal(r["x"], k.astype(float)) and np.array_equal(r["y"], -k.astype(float))
    present, counts = np.unique(k, return_counts=True)
    assert np.all(counts == ROWS), "an append was applied partially"
    present = set(present.tolist())
    assert acked <= present, f"acknowledged appends lost: {sorted(acked - present)[:10]}"
    assert max(present, default=-1) <= attempted_max + 1, (
        f"appends {sorted(p for p in present if p > attempted_max)} present, acknowledged up to {attempted_max}")
    return present


def _run_cycles(tmp_path, fsync: str, phase: str, cycles: int, seed: int):
    rng = random.Random(seed)
    path = str(tmp_path / f"db-{fsync}-{phase}")
    acked: set[int] = set()
    start = 0
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    for _ in range(cycles):
        proc = subprocess.Popen(
            [sys.executable, str(script), path, fsync, str(start), phase],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        killed_in = None
        new = set()
        try:
            # read acknowledgements until the random moment, or until the phase of interest starts
            while True:
                line = proc.stdout.readline()
                if not line:
                    break
                if line.startswith("A"):
                    new.add(int(line.split()[1]))
                elif line.strip() in ("F", "C") and len(new) > 5:
                    time.sleep(rng.uniform(0, 0.02))  # kill somewhere inside the flush / compaction
                    killed_in = line.strip()
                    break
                if time.monotonic() > deadline and len(new) > 0:
                    break
        finally:
            proc.send_signal(signal.SIGKILL)
            # read the rest through the same buffered stream: communicate() would read the
            # pipe directly and miss lines that readline() already buffered
            out = proc.stdout.read()
            err = proc.stderr.read()
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, f"writer died on its own: {err[-2000:]}"
        # acknowledgements printed before the kill but not yet read still count
        complete = out.split("\n")[:-1]  # the last line may be cut by the kill
        new.update(int(line.split()[1]) for line in complete if line.startswith("A "))
        acked |= new
        present = _check(path, acked, max(acked | {start}))
        start = max(present | acked) + 1
        del killed_in
    return acked


@pytest.mark.parametrize("fsync", ["always", "batch"])
def test_kill_during_ingest(tmp_path, fsync):
    acked = _run_cycles(tmp_path, fsync, "ingest", cycles=10, seed=1 if fsync == "always" else 2)
    assert len(acked) > 10


def test_kill_during_flush(tmp_path):
    _run_cycles(tmp_path, "batch", "flush", cycles=8, seed=3)


def test_kill_during_compaction(tmp_path):
    _run_cycles(tmp_path, "batch", "compact", cycles=8, seed=4)


def test_torn_log_tail_is_dropped(tmp_path):
    path = tmp_path / "db"
    with ct.open(path, fsync="always") as db:
        c = db.create_collection("c")
        db.flush()
        c.append(1, [1, 2], [0.0, 0.0], [0.0, 0.0])
        c.append(1, [3], [0.0], [0.0])
        db._release()  # crash: nothing flushed
    log = sorted((path / "wal").glob("*.log"))[-1]
    size = os.path.getsize(log)
    with open(log, "r+b") as f:
        f.truncate(size - 3)  # tear the last record
    with ct.open(path) as db:
        t = db.collection("c").scan()["t"].view(np.int64)
        assert t.tolist() == [1, 2]  # the torn append is gone, the one before it kept
        db.collection("c").append(1, [4], [0.0], [0.0])
    with ct.open(path) as db:
        assert db.collection("c").scan()["t"].view(np.int64).tolist() == [1, 2, 4]
