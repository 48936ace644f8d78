"""The ``chronotope`` command line.

``chronotope demo`` (also what a bare ``chronotope`` runs) loads the bundled
real AIS sample into an embedded store and runs every query kind on it,
printing answers and latencies. ``chronotope codecs`` encodes the sample (or a
file of your own) with both codec modes and prints a size and speed table.
The store commands work on a store directory:
``ingest``, ``stats``, ``verify``, ``compact``, ``prune``, ``migrate``,
``export``, ``query`` and ``inspect``; ``serve`` runs the REST API (the
``server`` extra) on a store.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import time
from pathlib import Path

import numpy as np

from chronotope import __version__, codec, datasets, loaders
from chronotope.errors import ChronotopeError

__all__ = ["main"]

COLUMNS = ("t", "x", "y")


def _median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _load(source: str | None) -> tuple[str, dict[str, np.ndarray]]:
    if source is None:
        return "bundled sample nyharbor_week (real AIS, New York harbor)", datasets.load_sample("nyharbor_week")
    path = Path(source)
    if path.suffix == ".npz":
        with np.load(path) as z:
            cols = {k: z[k] for k in z.files}
        # the ../shared layout: epoch seconds and lon/lat
        cols.setdefault("x", cols.get("lon"))
        cols.setdefault("y", cols.get("lat"))
        if cols["t"].dtype.kind == "i" and cols["t"].max() < 10**12:
            cols["t"] = cols["t"] * 1_000_000_000
        return str(path), cols
    return str(path), loaders.read_tracktable(path)


def _codec_table(label: str, cols: dict[str, np.ndarray], repeat: int) -> str:
    data = {name: np.ascontiguousarray(cols[name]) for name in COLUMNS}
    n = len(data["t"])
    raw_total = sum(a.nbytes for a in data.values())
    lines = [
        f"chronotope {__version__}: column codecs on {label}",
        f"{n:,} points, {len(np.unique(cols['object_id'])):,} objects; columns t (int64 ns), x, y (float64); "
        f"single thread, median of {repeat} runs, kernels: {codec.simd_level()}",
        "",
        f"{'mode':<8} {'column':<7} {'codec':<8} {'bytes/value':>11} {'ratio':>7} {'encode MB/s':>12} {'decode MB/s':>12}",
    ]
    for mode in codec.MODES:
        blocks = {}
        enc_total = dec_total = 0.0
        for name, a in data.items():
            blocks[name] = codec.encode(a, mode)
            if not np.array_equal(codec.decode(blocks[name]).view(np.uint8), a.view(np.uint8)):
                raise ChronotopeError(f"round trip of column {name} failed in {mode} mode")
            te = _median_seconds(lambda a=a: codec.encode(a, mode), repeat)
            td = _median_seconds(lambda b=blocks[name]: codec.decode(b), repeat)
            enc_total += te
            dec_total += td
            size = len(blocks[name])
            lines.append(
                f"{mode:<8} {name:<7} {codec.info(blocks[name]).codec:<8} {size / n:>11.3f} "
                f"{a.nbytes / size:>7.2f} {a.nbytes / te / 1e6:>12,.0f} {a.nbytes / td / 1e6:>12,.0f}"
            )
        size = sum(len(b) for b in blocks.values())
        lines.append(
            f"{mode:<8} {'all':<7} {'':<8} {size / n:>11.3f} {raw_total / size:>7.2f} "
            f"{raw_total / enc_total / 1e6:>12,.0f} {raw_total / dec_total / 1e6:>12,.0f}   <- bytes per point"
        )
        lines.append("")
    return "\n".join(lines)


def _cmd_codecs(args: argparse.Namespace) -> int:
    label, cols = _load(args.file)
    missing = [c for c in ("object_id", *COLUMNS) if c not in cols or cols[c] is None]
    if missing:
        raise ChronotopeError(f"{label}: missing columns {missing}")
    print(_codec_table(label, cols, args.repeat))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    import chronotope as ct

    label, cols = _load(None)
    with tempfile.TemporaryDirectory(prefix="chronotope-demo-") as tmp:
        path = Path(args.store) if args.store else Path(tmp) / "store"
        start = time.perf_counter()
        with ct.open(path) as db:
            name = "ais"
            coll = db.collection(name) if name in db.collections() else db.create_collection(name)
            coll.append(cols["object_id"], cols["t"], cols["x"], cols["y"])
            db.flush()
            took = time.perf_counter() - start
            st = db.stats()["collections"][name]
            print(f"{label}\nstore {path}: {st['points']:,} points of {st['objects']} objects in {took:.2f} s, "
                  f"{st['bytes_on_disk']:,} bytes on disk, index {st['index_bytes']:,} bytes")
            mid = int(np.median(cols["t"]))
            hour = 3_600_000_000_000
            box, window = (-74.05, 40.60, -74.00, 40.70), (mid - 3 * hour, mid + 3 * hour)
            first = int(cols["object_id"][0])
            runs = [
                ("box x 6 h", lambda: coll.query(bbox=box, time=window)),
                ("polygon x 6 h", lambda: coll.query(polygon=[[(-74.05, 40.60), (-74.00, 40.60), (-74.02, 40.70)]],
                                                     time=window)),
                ("10 nearest objects at t", lambda: coll.nearest(-74.02, 40.65, k=10, at=mid)),
                ("10 nearest samples in 1 h", lambda: coll.nearest(-74.02, 40.65, k=10, time=(mid, mid + hour))),
                ("snapshot at t", lambda: coll.snapshot(at=mid)),
                (f"track of {first}, simplified 25 m", lambda: coll.track(first, simplify=25.0, derive=True)),
                ("counts on a 0.01 deg grid x 1 h", lambda: coll.aggregate(cell=0.01, bucket="1h", bbox=box)),
            ]
            print(f"\n{'query':<36} {'rows':>8} {'median':>12}")
            for what, run in runs:
                out = run()
                rows = int(out.count.sum()) if hasattr(out, "count") else len(out)
                print(f"{what:<36} {rows:>8,} {_median_seconds(run, args.repeat) * 1e6:>9.0f} µs")
            print(f"\nplan of the box query:\n{coll.explain(bbox=box, time=window)}")
    return 0


# serve's options beyond store/host/port/demo (the secret only from the environment or the file: not in `ps`)
_SERVE_OPTIONS = {
    "token_ttl": "access token lifetime in seconds (default 900)",
    "rate_limit": "requests per principal and per address, e.g. 1000/minute (default); off to disable",
    "login_rate_limit": "login attempts per address and user name (default 20/minute)",
    "max_body": "largest request body in bytes (default 256 MiB)",
    "request_timeout": "seconds until a response must start (default 60)",
    "cache_bytes": "decoded-block cache of the store in bytes (default 512 MiB)",
    "json_max_rows": "rows a JSON answer may hold (default 100000; more: NDJSON, Arrow, CSV)",
    "json_max_cells": "cells an aggregate grid may hold (default 1000000)",
}


def _cmd_serve(args: argparse.Namespace) -> int:
    try:  # the server's dependencies come with the `server` extra; `import chronotope` never needs them
        import uvicorn
        from chronotope_api import create_app, load_settings
    except ImportError as exc:
        raise ChronotopeError(f"chronotope serve needs the server extra: pip install 'chronotope[server]' ({exc})") from None
    import chronotope as ct

    options = {name: getattr(args, name) for name in _SERVE_OPTIONS}
    settings = load_settings(args.config, store=args.store, host=args.host, port=args.port, demo=args.demo or None,
                             **options)
    with ct.open(settings.store, cache_bytes=settings.cache_bytes) as db:
        if settings.demo and not db.collections():
            label, cols = _load(None)
            db.create_collection("ais").append(cols["object_id"], cols["t"], cols["x"], cols["y"])
            db.flush()
            print(f"loaded {label} into collection 'ais'", file=sys.stderr)
        _first_user(db.path, settings.demo)
        print(f"serving {settings.store} on http://{settings.host}:{settings.port}", file=sys.stderr)
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: end like Ctrl-C does,
        # leaving through the `with` so that the store is closed
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        app = create_app(db, settings)
        # everything made so far (modules, the app, the store's metadata) lives as long as the server: keep the
        # collector from walking it again and again, which paused requests by 50-100 ms under load
        gc.collect()
        gc.freeze()
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def _first_user(store: Path, demo: bool) -> None:
    """A store with no users: --demo makes an admin `demo` (password shown once); else say how to add one."""
    import secrets

    from chronotope_api.accounts import Accounts, Grant

    accounts = Accounts(store)
    if accounts.has_users():
        return
    if demo:
        password = secrets.token_urlsafe(12)
        accounts.add_user("demo", password, Grant.make("admin"))
        print(f"created admin user 'demo' with password '{password}' (shown once; change it with "
              f"`chronotope user passwd demo --store {store}`)", file=sys.stderr)
    else:
        print(f"the store has no users yet, so nobody can log in: add one with\n"
              f"  chronotope user add NAME --role admin --store {store}", file=sys.stderr)


def _open(args, readonly: bool):
    import chronotope as ct

    return ct.open(args.store, readonly=readonly)


def _cmd_ingest(args: argparse.Namespace) -> int:
    label, cols = _load(args.file)
    n = len(cols["t"])
    with _open(args, readonly=False) as db:
        coll = db.collection(args.collection) if args.collection in db.collections() else db.create_collection(
            args.collection, crs=args.crs
        )
        done = 0
        for start in range(0, n, args.batch):
            end = min(n, start + args.batch)
            coll.append(cols["object_id"][start:end], cols["t"][start:end], cols["x"][start:end], cols["y"][start:end])
            done = end
            print(f"\ringesting {label}: {done:,}/{n:,} points ({100 * done // max(n, 1)}%)", end="", file=sys.stderr)
        print(file=sys.stderr)
        db.flush()
    print(f"ingested {done:,} points into {args.store}/{args.collection}")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    import json

    with _open(args, readonly=True) as db:
        print(json.dumps(db.stats(), indent=2, default=str))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as db:
        problems = db.verify()
    for line in problems:
        print(line)
    print(f"{len(problems)} problem(s) found" if problems else "all checksums verified")
    return 1 if problems else 0


def _cmd_compact(args: argparse.Namespace) -> int:
    with _open(args, readonly=False) as db:
        print(db.compact())
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    with _open(args, readonly=False) as db:
        print(db.prune(older_than=args.older_than, keep_every=args.keep_every))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    with _open(args, readonly=False) as db:
        print(db.migrate())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as db:
        table = db.collection(args.collection).scan(time=(args.start, args.end)).to_arrow()
    out = Path(args.out)
    _write_table(table, out)
    print(f"exported {table.num_rows:,} rows to {out}")
    return 0


def _write_table(table, out: Path) -> None:
    if out.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out, compression="zstd")
    elif out.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, out)
    else:
        raise ChronotopeError(f"cannot write {out.name}: use a .parquet or .csv file name")


def _numbers(text: str | None, what: str, count: int) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise ChronotopeError(f"{what} must be {count} comma-separated numbers, got {text!r}")
    return values


def _cmd_query(args: argparse.Namespace) -> int:
    import json

    polygon = None
    if args.polygon:
        polygon = json.loads(Path(args.polygon).read_text())
        polygon = polygon.get("geometry", polygon) if isinstance(polygon, dict) else polygon
    query = {"bbox": _numbers(args.bbox, "--bbox", 4), "time": (args.start, args.end), "polygon": polygon,
             "columns": args.columns.split(",") if args.columns else None}
    with _open(args, readonly=True) as db:
        coll = db.collection(args.collection)
        if args.ids:
            ids = [v.strip() for v in args.ids.split(",")]
            if coll._meta["id_kind"] == "int":
                try:
                    ids = [int(v) for v in ids]
                except ValueError:
                    raise ChronotopeError(f"--ids: collection {args.collection!r} has integer object ids") from None
            query["ids"] = ids
        if args.explain:
            print(coll.explain(**query))
            return 0
        result = coll.query(**query)
    print(f"{len(result):,} rows")
    if args.out:
        _write_table(result.to_arrow(), Path(args.out))
        print(f"written to {args.out}")
    else:
        cols = result.to_dict()
        print("  ".join(f"{name:>20}" for name in cols))
        for i in range(min(len(result), args.limit)):
            print("  ".join(f"{str(col[i]):>20}" for col in cols.values()))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from chronotope.segment import Segment

    with Segment(args.segment) as seg:
        print(f"{seg.path}: {seg.rows:,} rows in {seg.nblocks} blocks of {seg.rows_per_block}")
        print(f"meta: {seg.meta}")
        for name, dtype in seg.columns.items():
            col = seg._columns[name]
            print(f"  column {name:<10} {str(dtype):<8} {col.length:>12,} bytes  {8 * col.length / max(seg.rows, 1):6.2f} bits/row")
        problems = seg.check()
    for line in problems:
        print(line)
    return 1 if problems else 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chronotope", description="chronotope: storage for moving objects and their history")
    p.add_argument("--version", action="version", version=f"chronotope {__version__}")
    sub = p.add_subparsers(dest="command")
    d = sub.add_parser("demo", help="load the bundled AIS sample into a store and run every query kind on it")
    d.add_argument("--store", help="store directory (default: a temporary one, removed afterwards)")
    d.add_argument("--repeat", type=int, default=20, help="timed runs per query (median; default 20)")
    d.set_defaults(func=_cmd_demo)
    c = sub.add_parser("codecs", help="encode a track sample with both codec modes and print sizes and speeds")
    c.add_argument("file", nargs="?", help=".traj, AIS .csv (optionally .gz) or .npz; default: the bundled sample")
    c.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median; default 5)")
    c.set_defaults(func=_cmd_codecs)

    def store_cmd(name: str, func, help_: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_)
        q.add_argument("store", help="store directory")
        q.set_defaults(func=func)
        return q

    q = sub.add_parser("serve", help="serve a store over HTTP (OGC API - Moving Features)")
    q.add_argument("--store", help="store directory (env CHRONOTOPE_STORE; default ./chronotope-store)")
    q.add_argument("--host", help="address to listen on (env CHRONOTOPE_HOST; default 127.0.0.1)")
    q.add_argument("--port", type=int, help="TCP port (env CHRONOTOPE_PORT; default 8000)")
    q.add_argument("--demo", action="store_true", help="load the bundled AIS sample into an empty store first")
    q.add_argument("--config", help="a TOML file of settings (env CHRONOTOPE_CONFIG)")
    for name, help_ in _SERVE_OPTIONS.items():
        q.add_argument("--" + name.replace("_", "-"), help=f"{help_} (env CHRONOTOPE_{name.upper()})")
    q.set_defaults(func=_cmd_serve)
    from chronotope.cli_accounts import add_commands

    add_commands(sub)
    q = store_cmd("ingest", _cmd_ingest, "load a .traj / AIS .csv / .npz file into a store")
    q.add_argument("file", nargs="?", help="default: the bundled sample")
    q.add_argument("--collection", default="ais", help="collection name (created if missing; default ais)")
    q.add_argument("--crs", default="EPSG:4326")
    q.add_argument("--batch", type=int, default=1_000_000, help="points per append (default 1,000,000)")
    store_cmd("stats", _cmd_stats, "points, objects, segments, bytes per column, compression ratio")
    store_cmd("verify", _cmd_verify, "check every checksum; exit status 1 when something is damaged")
    store_cmd("compact", _cmd_compact, "merge segments, apply deletes, rewrite document chains")
    q = store_cmd("prune", _cmd_prune, "retention: drop or thin samples older than a time")
    q.add_argument("--older-than", required=True, help="ISO time or int ns, e.g. 2020-12-03")
    q.add_argument("--keep-every", help="keep one sample per object and interval instead, e.g. 10m, 1h")
    store_cmd("migrate", _cmd_migrate, "upgrade the store format to this version")
    q = store_cmd("export", _cmd_export, "write a collection (or a time slice) to Parquet or CSV")
    q.add_argument("collection")
    q.add_argument("out", help="output file: .parquet or .csv")
    q.add_argument("--start", help="ISO time or int ns (inclusive)")
    q.add_argument("--end", help="ISO time or int ns (inclusive)")
    q = store_cmd("query", _cmd_query, "samples in a box, interval and polygon; --explain for the plan")
    q.add_argument("collection")
    q.add_argument("--bbox", help="--bbox=xmin,ymin,xmax,ymax (with =: values may be negative; xmin > xmax crosses the antimeridian)")
    q.add_argument("--start", help="ISO time or int ns (inclusive)")
    q.add_argument("--end", help="ISO time or int ns (inclusive)")
    q.add_argument("--polygon", help="a GeoJSON file: a Polygon or MultiPolygon geometry, or a Feature")
    q.add_argument("--ids", help="object ids, comma-separated")
    q.add_argument("--columns", help="columns to return, comma-separated (default all)")
    q.add_argument("--out", help="write the rows to a .parquet or .csv file instead of printing them")
    q.add_argument("--limit", type=int, default=10, help="rows to print (default 10)")
    q.add_argument("--explain", action="store_true", help="print the query plan and its costs")
    q = sub.add_parser("inspect", help="describe one segment file and check its blocks")
    q.add_argument("segment", help="a .cts segment file")
    q.set_defaults(func=_cmd_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the main job: the demo on an embedded store
        args = parser.parse_args(["demo", *(argv or [])])
    if getattr(args, "repeat", 1) < 1:
        parser.error("--repeat must be at least 1")
    if getattr(args, "batch", 1) < 1:
        parser.error("--batch must be at least 1")
    try:
        return args.func(args)
    except (ChronotopeError, OSError) as exc:
        print(f"chronotope: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
