"""Putting rows from several sources together: last write wins, deletes, (object, t) order.

Shared by reads (scan, the query planner) and by flush and compaction.
"""

from __future__ import annotations

import numpy as np

from chronotope._sort import sort_pairs

__all__ = ["last_of_each", "dedup_last", "merge_destinations", "tombstone_mask"]


def last_of_each(oid: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Mask of the last row of every run of equal (oid, t) in rows sorted by them."""
    keep = np.ones(len(oid), dtype=bool)
    keep[:-1] = (oid[1:] != oid[:-1]) | (t[1:] != t[:-1])
    return keep


def dedup_last(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sort by (oid, t) and keep the last row of every (oid, t): last write wins.

    The rows must come oldest write first (segments in LSN order, then the
    memtable's batches): the C sort is stable, so among equal keys the last
    row is the newest.
    """
    order = sort_pairs(cols["oid"], cols["t"])
    order = order[last_of_each(cols["oid"][order], cols["t"][order])]
    return {k: v[order] for k, v in cols.items()}


def merge_destinations(oids: list[np.ndarray]) -> list[np.ndarray]:
    """Where each partition's rows go in the (oid, t) order of all partitions together.

    Each partition is sorted by (oid, t) and the partitions are disjoint time
    slices in order, so the result is, object by object, that object's run in
    each partition in turn: sort the runs (few: objects x partitions), not the
    rows, then every row moves once (a scatter with sequential reads).
    """
    run_oid, run_part, run_start, run_len = [], [], [], []
    for p, oid in enumerate(oids):
        starts = np.concatenate([[0], np.flatnonzero(np.diff(oid)) + 1]) if len(oid) else np.empty(0, np.int64)
        run_oid.append(oid[starts])
        run_part.append(np.full(len(starts), p))
        run_start.append(starts)
        run_len.append(np.diff(np.append(starts, len(oid))))
    counts = [len(r) for r in run_start]
    run_oid, run_part = np.concatenate(run_oid), np.concatenate(run_part)
    run_len = np.concatenate(run_len)
    by = np.lexsort((run_part, run_oid))
    dest_start = np.empty(len(by), dtype=np.int64)
    dest_start[by] = np.concatenate([[0], np.cumsum(run_len[by])[:-1]])  # in each run's own (partition) order
    out, k = [], 0
    for oid, starts, c in zip(oids, run_start, counts):
        lens = run_len[k : k + c]
        out.append(np.repeat(dest_start[k : k + c] - starts, lens) + np.arange(len(oid)))
        k += c
    return out


def tombstone_mask(oid, t, row_lsn, tombstones) -> np.ndarray | None:
    """Rows deleted by tombstones written after them (None when nothing is deleted)."""
    dead = None
    for tomb in tombstones:  # few: one per delete call, cleared by compaction
        m = (oid == tomb["oid"]) & (t >= tomb["t0"]) & (t <= tomb["t1"]) & (row_lsn < tomb["lsn"])
        if m.any():
            dead = m if dead is None else dead | m
    return dead
