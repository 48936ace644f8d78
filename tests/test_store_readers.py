"""Readers in another process see consistent snapshots while a writer ingests, flushes and compacts."""

import subprocess
import sys
import textwrap
import time

import numpy as np

import chronotope as ct

ROWS = 100

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, chronotope as ct
    db = ct.open(sys.argv[1], fsync="never", flush_rows=10**9, rows_per_block=128)
    c = db.collection("c")
    ROWS = %d
    for k in range(10**6):
        c.append(k %% 5, k * ROWS + np.arange(ROWS), np.full(ROWS, float(k)), np.zeros(ROWS))
        if k %% 3 == 2:
            db.flush()
        if k %% 10 == 9:
            db.compact()
        if k == 2:
            print("ready", flush=True)
    """
    % ROWS
)


def test_readers_see_growing_consistent_snapshots(tmp_path):
    path = tmp_path / "db"
    with ct.open(path) as db:
        db.create_collection("c", crs="EPSG:3857", partition=500)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writer = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        reader = ct.open(path, readonly=True)
        counts = []
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            r = reader.refresh().collection("c").scan().to_dict()
            t = r["t"].view(np.int64)
            k = t // ROWS
            # a snapshot holds whole appends only, each row once, with its own values
            ks, per = np.unique(k, return_counts=True)
            assert np.all(per == ROWS)
            assert np.array_equal(r["x"], k.astype(float)) and len(np.unique(t)) == len(t)
            # flushes happen in append order: a snapshot is a prefix of the appends
            assert ks.size == 0 or ks[-1] == ks.size - 1
            counts.append(len(t))
        reader.close()
    finally:
        writer.kill()
        writer.communicate(timeout=30)
    assert len(counts) > 5
    assert all(b >= a for a, b in zip(counts, counts[1:])), "a reader saw the store shrink"
    assert counts[-1] > counts[0], "the reader never saw new data"
