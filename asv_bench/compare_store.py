#!/usr/bin/env python3
"""Compare the chronotope store with Parquet, DuckDB and raw numpy on real AIS tracks at scale.

What is measured
----------------
Data: real AIS tracks (the bundled ``nyharbor_week`` sample, or a
``/work/shared/data/*.npz`` given with ``--source``) with columns object_id
(int64 MMSI), t (int64 ns), x/y (float64 lon/lat), replicated in time until
``--points`` is reached: copy k shifts ``t`` by k times the sample's span
rounded up to whole days and adds k * 10**9 to the object ids, so every copy
has the deltas of the real data. The last copy is cut to its earliest points
(in time) so that exactly ``--points`` points remain.

chronotope (``ct.open(dir, fsync="batch", mode=--mode)``, WAL on):

- ingest: ``append`` in batches of ``--batch`` points, in arrival order
  (sorted by t, as a live feed delivers it) and, in a second fresh store,
  sorted by (object, t). "appends" covers the append calls only (they
  include the automatic memtable flushes every ``flush_rows`` rows, the
  store's default unless ``--flush-rows`` is given); "flush" is the final
  ``flush()``; "total" both.
- ``compact()`` time; bytes on disk (every file under the store directory,
  WAL included) after the flush and after the compaction;
- full ``scan()`` and a ``scan(columns=["t", "x", "y"])``: median of 3 after
  one warm-up; the full scan is checked once to return exactly the input rows;
- ``stats()`` compression ratio.

Peers, same points in (object, t) order, one thread:

- Parquet (pyarrow, ``compression="zstd"``, default level), and Parquet with
  ``use_dictionary=False`` + DELTA_BINARY_PACKED (ints) / BYTE_STREAM_SPLIT
  (floats) + zstd; "ingest" is ``pq.write_table``, "scan" ``pq.read_table``
  plus conversion of every column to numpy;
- DuckDB: a table created from an Arrow table, file size after CHECKPOINT,
  scan = ``SELECT * FROM t`` fetched with ``fetchnumpy()`` (``SET threads=1``);
- raw numpy: one ``.npy`` per column, ``np.save`` / ``np.load``.

Peers' "ingest" is a bulk write of the whole data set, with no log and no
per-batch durability: it is shown for scale, not as a like-for-like figure.

``properties(as_of)``: one object gets a 100,000-version chain (one field of
{"name", "destination", "draught"} changes per version) in a separate store
opened with ``fsync="never"`` (building the chain is not what is measured, and
under ``fsync="batch"`` a lone writer gets ~100 versions/s), then ``flush()``;
then 1,000 ``properties(oid, as_of=random t)`` calls (after 100 warm-up calls)
are timed one by one: median and p99. The same is repeated on the store
reopened read-only (cold document caches).

Timing: everything runs in this process, one system after the other, with
:func:`time.perf_counter`; pyarrow and DuckDB are limited to one thread.
The 1-minute load average is printed at start and end: another process on
the machine skews the numbers (medians dampen but do not remove that).

Usage::

    python asv_bench/compare_store.py                                  # 20,000,000 points
    python asv_bench/compare_store.py --points 5000000 --json out.json
    python asv_bench/compare_store.py --source /work/shared/data/nyharbor_week.npz --mode fast
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from benchmarks.common import vessel_documents  # shared with the asv store suite
from compare_codecs import cpu_model, load_average  # same directory: shared report helpers

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
ID_STRIDE = 10**9
COLUMNS = ("object_id", "t", "x", "y")

TARGETS = {
    "ingest_pps": 5e6,  # points/s per core, WAL on, fsync batch
    "size_vs_parquet": 0.60,  # bytes on disk / Parquet+zstd bytes
    "scan_pps": 50e6,  # full scan decode points/s per core
    "props_us": 1000.0,  # properties(as_of) on a 100k chain, microseconds
}

Columns = Dict[str, np.ndarray]


# --------------------------------------------------------------------------- data


def load_base(source: Optional[str]) -> tuple[Columns, str, List[str]]:
    """The real tracks, sorted by (object, t), duplicates of (object, t) dropped (last kept)."""
    notes = []
    if source:
        with np.load(source) as z:
            cols = {"object_id": z["object_id"].astype(np.int64), "t": z["t"].astype(np.int64) * NS_PER_S,
                    "x": z["lon"].astype(np.float64), "y": z["lat"].astype(np.float64)}
        name = os.path.basename(source)
        notes.append("t converted from epoch seconds to int64 ns; lon/lat -> x/y")
    else:
        from chronotope.datasets import load_sample

        d = load_sample("nyharbor_week")
        cols = {k: np.asarray(d[k]) for k in COLUMNS}
        name = "bundled sample 'nyharbor_week'"
    order = np.lexsort((cols["t"], cols["object_id"]))
    cols = {k: v[order] for k, v in cols.items()}
    o, t = cols["object_id"], cols["t"]
    keep = np.ones(len(t), dtype=bool)
    keep[:-1] = (o[1:] != o[:-1]) | (t[1:] != t[:-1])
    if not keep.all():
        notes.append(f"{int((~keep).sum())} repeated (object, t) rows dropped (last kept): the store keeps the last write")
        cols = {k: v[keep] for k, v in cols.items()}
    if cols["object_id"].max() >= ID_STRIDE or cols["object_id"].min() < 0:
        raise SystemExit("object ids must lie in [0, 1e9) for the id shift of the copies")
    return {k: np.ascontiguousarray(v) for k, v in cols.items()}, name, notes


def replicate(base: Columns, points: int) -> tuple[Columns, int, int]:
    """Copies of ``base`` shifted in time (whole days) with new ids, cut to exactly ``points``; (object, t) order."""
    n = len(base["t"])
    span = int(base["t"].max() - base["t"].min())
    shift = max(1, math.ceil((span + 1) / DAY_NS)) * DAY_NS
    copies = math.ceil(points / n)
    out = {k: np.empty(points, dtype=v.dtype) for k, v in base.items()}
    pos = 0
    for k in range(copies):
        take = min(n, points - pos)
        sel = slice(None)
        if take < n:  # the last copy: its earliest `take` points, kept in (object, t) order
            first = np.argsort(base["t"], kind="stable")[:take]
            sel = np.zeros(n, dtype=bool)
            sel[first] = True
        out["object_id"][pos:pos + take] = base["object_id"][sel] + k * ID_STRIDE
        out["t"][pos:pos + take] = base["t"][sel] + k * shift
        out["x"][pos:pos + take] = base["x"][sel]
        out["y"][pos:pos + take] = base["y"][sel]
        pos += take
    return out, copies, shift // DAY_NS


def arrival_order(cols: Columns) -> Columns:
    """Stably sorted by t only, as a live feed delivers the points."""
    idx = np.argsort(cols["t"], kind="stable")
    return {k: v[idx] for k, v in cols.items()}


# ------------------------------------------------------------------------ helpers


def timed(fn: Callable, repeat: int = 3, warmup: int = 1) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls after ``warmup`` calls; and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
        del result
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if _ < repeat - 1:
            del result
    return statistics.median(times), result


def dir_bytes(path: Path) -> int:
    """Sum of the sizes of every file under ``path`` (or the file itself)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def same_rows(got: Columns, want: Columns) -> bool:
    """Bit-exact equality of the four columns (floats compared as bit patterns)."""
    for k in COLUMNS:
        a, b = np.asarray(got[k]), np.asarray(want[k])
        if a.dtype.kind == "M":
            a = a.view(np.int64)
        if len(a) != len(b) or not np.array_equal(a.view(np.uint64), b.view(np.uint64)):
            return False
    return True


def versions() -> Dict[str, str]:
    import chronotope
    import pyarrow

    out = {"python": platform.python_version(), "chronotope": chronotope.__version__, "numpy": np.__version__,
           "pyarrow": pyarrow.__version__}
    try:
        import duckdb

        out["duckdb"] = duckdb.__version__
    except ImportError:
        out["duckdb"] = "not installed"
    return out


# --------------------------------------------------------------------- chronotope


def measure_chronotope(cols: Columns, want: Columns, order: str, root: Path, args) -> dict:
    """Ingest ``cols`` (in their order) into a fresh store, then flush, compact and scan it."""
    import chronotope as ct

    path = root / f"chronotope_{order.split()[0]}"
    opts = {"mode": args.mode}
    if args.flush_rows:
        opts["flush_rows"] = args.flush_rows
    n = len(cols["t"])
    db = ct.open(path, fsync="batch", **opts)
    try:
        c = db.create_collection("ais", crs="EPSG:4326", partition="1D")
        oid, t, x, y = cols["object_id"], cols["t"], cols["x"], cols["y"]
        t0 = time.perf_counter()
        for i in range(0, n, args.batch):
            j = i + args.batch
            c.append(oid[i:j], t[i:j], x[i:j], y[i:j])
        t_append = time.perf_counter() - t0
        t0 = time.perf_counter()
        db.flush()
        t_flush = time.perf_counter() - t0
        bytes_flushed = dir_bytes(path)
        wal_bytes = dir_bytes(path / "wal") if (path / "wal").exists() else 0
        segs_flushed = sum(1 for _ in path.glob("ais/seg/*.cts"))
        t0 = time.perf_counter()
        done = db.compact()
        t_compact = time.perf_counter() - t0
        bytes_compacted = dir_bytes(path)
        wal_compacted = dir_bytes(path / "wal") if (path / "wal").exists() else 0
        seg_bytes = sum(f.stat().st_size for f in path.glob("ais/seg/*.cts"))
        segs_compacted = sum(1 for _ in path.glob("ais/seg/*.cts"))
        partitions = db.stats()["collections"]["ais"]["partitions"]

        got = c.scan().to_dict()
        assert len(got["t"]) == n and same_rows(got, want), "chronotope scan does not return exactly the input rows"
        del got
        t_scan, r = timed(lambda: c.scan())
        assert len(r) == n
        del r
        t_scan_txy, r = timed(lambda: c.scan(columns=["t", "x", "y"]))
        assert len(r) == n
        del r
        st = db.stats()["collections"]["ais"]
    finally:
        db.close()
    return {
        "system": f"chronotope {args.mode}, {order.split()[0]}", "order_ingested": order, "points": n,
        "append_s": t_append, "flush_s": t_flush, "ingest_s": t_append + t_flush, "compact_s": t_compact,
        "append_pps": n / t_append, "flush_pps": n / t_flush if t_flush else None,
        "ingest_pps": n / (t_append + t_flush),
        "bytes_after_flush": bytes_flushed, "wal_bytes_after_flush": wal_bytes, "segments_after_flush": segs_flushed,
        "bytes": bytes_compacted, "wal_bytes": wal_compacted, "segment_bytes": seg_bytes, "segments": segs_compacted, "partitions": partitions,
        "segments_merged": done.get("segments_merged"),
        "scan_s": t_scan, "scan_pps": n / t_scan, "scan_txy_s": t_scan_txy, "scan_txy_pps": n / t_scan_txy,
        "stats_compression_ratio": st["compression_ratio"], "stats_bytes_per_column": st["bytes_per_column"],
    }


def measure_properties(root: Path, versions_n: int, queries: int, seed: int = 7) -> dict:
    """properties(as_of) latency on one object with a ``versions_n``-version chain."""
    import chronotope as ct

    path = root / "chronotope_props"
    oid, t0, step = 366_999_001, 1_606_780_800 * NS_PER_S, 60 * NS_PER_S
    docs = []
    db = ct.open(path, fsync="never")
    c = db.create_collection("ais")
    tb = time.perf_counter()
    for i, doc in enumerate(vessel_documents(versions_n)):
        c.set_properties(oid, doc, at=t0 + i * step)
        if i % 997 == 0 or i == versions_n - 1:
            docs.append((i, doc))
    t_build = time.perf_counter() - tb
    tf = time.perf_counter()
    db.flush()
    t_flush = time.perf_counter() - tf
    for i, d in docs:  # versions come back as written
        assert c.properties(oid, as_of=t0 + i * step) == d, f"version {i} differs"
        assert c.properties(oid, as_of=t0 + i * step + step // 2) == d
    assert c.properties(oid, as_of=t0 - 1) is None

    rng = np.random.default_rng(seed)
    span = versions_n * step

    def latencies(coll) -> np.ndarray:
        for a in rng.integers(t0, t0 + span, 100).tolist():  # warm-up
            coll.properties(oid, as_of=a)
        out = np.empty(queries)
        for q, a in enumerate(rng.integers(t0, t0 + span, queries).tolist()):
            s = time.perf_counter_ns()
            coll.properties(oid, as_of=a)
            out[q] = time.perf_counter_ns() - s
        return out / 1e3

    warm = latencies(c)
    db.close()
    with ct.open(path, readonly=True) as rdb:
        rc = rdb.collection("ais")
        s = time.perf_counter_ns()
        rc.properties(oid, as_of=t0 + span // 2)
        first_us = (time.perf_counter_ns() - s) / 1e3
        cold = latencies(rc)
    return {
        "versions": versions_n, "queries": queries, "build_s": t_build, "build_versions_per_s": versions_n / t_build,
        "flush_s": t_flush, "bytes": dir_bytes(path / "ais" / "docs"),
        "median_us": float(np.median(warm)), "p99_us": float(np.percentile(warm, 99)),
        "reopened_first_us": first_us,
        "reopened_median_us": float(np.median(cold)), "reopened_p99_us": float(np.percentile(cold, 99)),
    }


# -------------------------------------------------------------------------- peers


def measure_parquet(cols: Columns, root: Path, encodings: bool) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(cols["t"])
    table = pa.table({k: cols[k] for k in COLUMNS})
    path = root / ("encodings.parquet" if encodings else "zstd.parquet")
    kw = {"compression": "zstd"}
    name = "Parquet zstd"
    if encodings:
        kw.update(use_dictionary=False, column_encoding={
            "object_id": "DELTA_BINARY_PACKED", "t": "DELTA_BINARY_PACKED",
            "x": "BYTE_STREAM_SPLIT", "y": "BYTE_STREAM_SPLIT"})
        name = "Parquet delta/BSS zstd"
    t0 = time.perf_counter()
    try:
        pq.write_table(table, path, **kw)
    except (TypeError, ValueError, NotImplementedError, pa.ArrowException) as exc:
        return {"system": name, "skipped": f"pyarrow refused the options: {exc}"}
    t_write = time.perf_counter() - t0

    def read():
        tb = pq.read_table(path)
        return {k: tb.column(k).to_numpy() for k in COLUMNS}

    got = read()
    assert same_rows(got, cols), f"{name}: round trip differs"
    del got
    t_read, r = timed(read)
    del r
    return {"system": name, "points": n, "bytes": dir_bytes(path), "ingest_s": t_write, "ingest_pps": n / t_write,
            "scan_s": t_read, "scan_pps": n / t_read,
            "row_groups": pq.ParquetFile(path).metadata.num_row_groups}


def measure_duckdb(cols: Columns, root: Path) -> dict:
    try:
        import duckdb
    except ImportError:
        return {"system": "DuckDB", "skipped": "duckdb is not installed (pip install duckdb)"}
    import pyarrow as pa

    n = len(cols["t"])
    path = root / "duck.db"
    arrow_tbl = pa.table({k: cols[k] for k in COLUMNS})  # noqa: F841 - found by DuckDB's replacement scan
    con = duckdb.connect(str(path))
    con.execute("SET threads=1")
    t0 = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM arrow_tbl")
    con.execute("CHECKPOINT")
    t_write = time.perf_counter() - t0
    con.close()
    size = dir_bytes(path) + (dir_bytes(Path(str(path) + ".wal")) if Path(str(path) + ".wal").exists() else 0)
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET threads=1")

    def read():
        return con.execute("SELECT * FROM t").fetchnumpy()

    try:
        got = read()
        assert same_rows(got, cols), "DuckDB: round trip differs (row order?)"
        del got
        t_read, r = timed(read)
        del r
    finally:
        con.close()
    return {"system": "DuckDB", "points": n, "bytes": size, "ingest_s": t_write, "ingest_pps": n / t_write,
            "scan_s": t_read, "scan_pps": n / t_read}


def measure_numpy(cols: Columns, root: Path) -> dict:
    n = len(cols["t"])
    d = root / "npy"
    d.mkdir()
    t0 = time.perf_counter()
    for k in COLUMNS:
        np.save(d / f"{k}.npy", cols[k])
    t_write = time.perf_counter() - t0

    def read():
        return {k: np.load(d / f"{k}.npy") for k in COLUMNS}

    t_read, r = timed(read)
    assert same_rows(r, cols)
    del r
    return {"system": "raw numpy .npy", "points": n, "bytes": dir_bytes(d), "ingest_s": t_write,
            "ingest_pps": n / t_write, "scan_s": t_read, "scan_pps": n / t_read}


# ---------------------------------------------------------------------- reporting


def _fmt_rate(v) -> str:
    return "-" if v is None else f"{v / 1e6:.2f} M"


def format_table(rows: List[dict], raw: int, parquet_bytes: Optional[int], n: int) -> str:
    head = (f"{'system':<40} {'bytes on disk':>14} {'B/point':>8} {'raw/size':>8} {'% Pq+zstd':>9} "
            f"{'ingest pts/s':>13} {'scan pts/s':>11}")
    out = [head, "-" * len(head)]
    for r in rows:
        if r.get("skipped"):
            out.append(f"{r['system']:<40} skipped: {r['skipped']}")
            continue
        pct = f"{100 * r['bytes'] / parquet_bytes:.1f}%" if parquet_bytes else "-"
        out.append(f"{r['system']:<40} {r['bytes']:>14,} {r['bytes'] / n:>8.3f} {raw / r['bytes']:>8.2f} {pct:>9} "
                   f"{_fmt_rate(r.get('ingest_pps')):>13} {_fmt_rate(r.get('scan_pps')):>11}")
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def format_targets(res: dict) -> str:
    arr, obj, pq_row, props = res["chronotope_arrival"], res["chronotope_object"], res["parquet_zstd"], res["properties"]
    lines = ["targets (from the issue)                                  target        measured          verdict"]
    ing = arr["ingest_pps"]
    lines.append(f"  ingest, arrival order, WAL on, fsync batch (append+flush) >= 5 M pts/s  "
                 f"{ing / 1e6:>8.2f} M pts/s   {verdict(ing >= TARGETS['ingest_pps'])}")
    lines.append(f"    (appends alone {arr['append_pps'] / 1e6:.2f} M pts/s; (object, t) order "
                 f"{obj['ingest_pps'] / 1e6:.2f} M pts/s total)")
    if pq_row.get("bytes"):
        frac = obj["bytes"] / pq_row["bytes"]
        lines.append(f"  bytes on disk vs Parquet+zstd, (object, t) order       <= 60%         "
                     f"{100 * frac:>8.1f} %         {verdict(frac <= TARGETS['size_vs_parquet'])}")
        seg = obj["segment_bytes"] / pq_row["bytes"]
        lines.append(f"    (WAL included: after flush() the log holds {obj['wal_bytes']:,} bytes; "
                     f"segment files alone: {100 * seg:.1f} % -> {verdict(seg <= TARGETS['size_vs_parquet'])})")
    sc = min(arr["scan_pps"], obj["scan_pps"])
    lines.append(f"  full scan decode, all columns                            >= 50 M pts/s  "
                 f"{sc / 1e6:>8.2f} M pts/s   {verdict(sc >= TARGETS['scan_pps'])}")
    lines.append(f"    ((t, x, y) columns only: {arr['scan_txy_pps'] / 1e6:.2f} M pts/s)")
    lines.append(f"  properties(as_of), 100k-version chain, median            < 1 ms         "
                 f"{props['median_us']:>8.1f} us        {verdict(props['median_us'] < TARGETS['props_us'])}")
    lines.append(f"  properties(as_of), 100k-version chain, p99               < 1 ms         "
                 f"{props['p99_us']:>8.1f} us        {verdict(props['p99_us'] < TARGETS['props_us'])}")
    return "\n".join(lines)


def format_details(res: dict) -> str:
    out = []
    for key in ("chronotope_arrival", "chronotope_object"):
        r = res[key]
        out.append(
            f"{r['system']}: appends {r['append_s']:.2f} s ({r['append_pps'] / 1e6:.2f} M pts/s), "
            f"flush {r['flush_s']:.2f} s, total {r['ingest_s']:.2f} s ({r['ingest_pps'] / 1e6:.2f} M pts/s); "
            f"compact {r['compact_s']:.2f} s ({r['segments_after_flush']} -> {r['segments']} segments in "
            f"{r['partitions']} partitions); bytes after flush {r['bytes_after_flush']:,} "
            f"(WAL {r['wal_bytes_after_flush']:,}), after compact {r['bytes']:,} (WAL {r['wal_bytes']:,}, "
            f"segments {r['segment_bytes']:,}); "
            f"scan all {r['scan_s']:.3f} s ({r['scan_pps'] / 1e6:.1f} M pts/s), "
            f"scan (t,x,y) {r['scan_txy_s']:.3f} s ({r['scan_txy_pps'] / 1e6:.1f} M pts/s); "
            f"stats() ratio {r['stats_compression_ratio']:.2f}")
        per = r["stats_bytes_per_column"]
        out.append("    bytes/point per column: " + ", ".join(f"{k} {v / r['points']:.3f}" for k, v in per.items()))
    p = res["properties"]
    out.append(f"properties: {p['versions']:,} versions built in {p['build_s']:.1f} s "
               f"({p['build_versions_per_s']:,.0f}/s, fsync never), flush {p['flush_s']:.2f} s, {p['bytes']:,} bytes; "
               f"as_of over {p['queries']} random times: median {p['median_us']:.1f} us, p99 {p['p99_us']:.1f} us; "
               f"reopened read-only: first {p['reopened_first_us']:.0f} us, median {p['reopened_median_us']:.1f} us, "
               f"p99 {p['reopened_p99_us']:.1f} us")
    for key in ("parquet_zstd", "parquet_enc", "duckdb", "numpy"):
        r = res[key]
        if not r.get("skipped"):
            extra = f", {r['row_groups']} row groups" if "row_groups" in r else ""
            out.append(f"{r['system']}: write {r['ingest_s']:.2f} s, read {r['scan_s']:.3f} s{extra}")
    return "\n".join(out)


# ---------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=20_000_000, help="points after replication (default 20,000,000)")
    p.add_argument("--source", help=".npz in the /work/shared/data layout (default: bundled nyharbor_week)")
    p.add_argument("--workdir", help="keep the stores and files here (default: a temporary directory, deleted)")
    p.add_argument("--mode", choices=("compact", "fast"), default="fast", help="chronotope codec mode of segments (default: the store's default, fast)")
    p.add_argument("--batch", type=int, default=1_000_000, help="points per append call (default 1,000,000)")
    p.add_argument("--flush-rows", type=int, default=None, help="store flush_rows (default: the store's default)")
    p.add_argument("--versions", type=int, default=100_000, help="versions of the properties chain")
    p.add_argument("--queries", type=int, default=1000, help="timed properties(as_of) calls")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if args.points < 1 or args.batch < 1 or args.versions < 1 or args.queries < 1:
        p.error("--points, --batch, --versions and --queries must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import pyarrow as pa

    from chronotope import codec

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    load_start = load_average()
    started = time.perf_counter()

    base, name, notes = load_base(args.source)
    obj, copies, shift_days = replicate(base, args.points)
    arr = arrival_order(obj)
    n = len(obj["t"])
    raw = sum(obj[k].nbytes for k in COLUMNS)
    n_objects = int(np.unique(obj["object_id"]).size)
    print(f"data: {n:,} points from {name} ({len(base['t']):,} points) x {copies} copies "
          f"shifted by {shift_days} days", flush=True)

    if args.workdir:
        root = Path(args.workdir)
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("chronotope_arrival", "chronotope_object", "chronotope_props", "npy", "duck.db", "duck.db.wal",
                    "zstd.parquet", "encodings.parquet"):
            p = root / sub
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    else:
        root = Path(tempfile.mkdtemp(prefix="compare_store_"))
    res = {}
    try:
        steps = [
            ("chronotope_arrival", lambda: measure_chronotope(arr, obj, "arrival (t)", root, args)),
            ("chronotope_object", lambda: measure_chronotope(obj, obj, "object (object, t)", root, args)),
            ("parquet_zstd", lambda: measure_parquet(obj, root, encodings=False)),
            ("parquet_enc", lambda: measure_parquet(obj, root, encodings=True)),
            ("duckdb", lambda: measure_duckdb(obj, root)),
            ("numpy", lambda: measure_numpy(obj, root)),
            ("properties", lambda: measure_properties(root, args.versions, args.queries)),
        ]
        for key, fn in steps:
            t0 = time.perf_counter()
            res[key] = fn()
            print(f"  {key}: {time.perf_counter() - t0:.1f} s (load {load_average()})", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)

    for key in ("chronotope_arrival", "chronotope_object"):
        res[key]["system"] = f"chronotope {args.mode} ({'arrival' if 'arrival' in key else '(object, t)'} ingest)"
    header = {
        "cpu": cpu_model(), "cpus": os.cpu_count(), "simd": codec.simd_level(),
        "load_average_1min_start": load_start, "load_average_1min_end": load_average(),
        "data": name, "base_points": len(base["t"]), "copies": copies, "shift_days": shift_days,
        "points": n, "objects": n_objects, "raw_bytes": raw,
        "order": "chronotope ingested in arrival order (t) and in (object, t) order; peers written in (object, t)",
        "mode": args.mode, "batch": args.batch, "flush_rows": args.flush_rows or "store default",
        "versions": versions(), "notes": notes, "elapsed_s": None,
    }
    seg_row = {"system": "  same, segment files only (no WAL)", "bytes": res["chronotope_object"]["segment_bytes"]}
    rows = [res["chronotope_arrival"], res["chronotope_object"], seg_row] + \
        [res[k] for k in ("parquet_zstd", "parquet_enc", "duckdb", "numpy")]
    pq_bytes = res["parquet_zstd"].get("bytes")
    header["elapsed_s"] = round(time.perf_counter() - started, 1)

    print()
    print(f"cpu:      {header['cpu']} ({header['cpus']} CPUs; 1-min load {load_start} at start, "
          f"{header['load_average_1min_end']} at end)   chronotope SIMD: {header['simd']}")
    print(f"data:     {name}: {len(base['t']):,} points x {copies} copies (t + k*{shift_days} d, id + k*1e9) "
          f"-> {n:,} points, {n_objects:,} objects; columns object_id int64, t int64 ns, x/y float64 "
          f"({raw / n:.0f} raw bytes/point)")
    print(f"order:    chronotope ingested in arrival order (by t) and in (object, t) order; peers in (object, t); "
          f"chronotope mode {args.mode}, batches of {args.batch:,}, fsync batch, flush_rows "
          f"{header['flush_rows']}; sizes after compact()")
    print("timing:   scans median of 3 after 1 warm-up; ingest/writes one run; 1 thread (pyarrow cpu=1, "
          "DuckDB threads=1), one process")
    print("versions: " + " ".join(f"{k} {v}" for k, v in header["versions"].items()))
    for note in notes:
        print(f"note:     {note}")
    print()
    print(format_table(rows, raw, pq_bytes, n))
    print("raw/size: raw column bytes (32 B/point) / bytes on disk. Peers' ingest = one bulk write (no log).")
    print()
    print(format_targets(res))
    print()
    print(format_details(res))
    print(f"elapsed {header['elapsed_s']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": res}, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
