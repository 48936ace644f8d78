#!/usr/bin/env python3
"""The SDK against raw HTTP calls on the same server and data: ingest throughput and small-query latency.

What is measured
----------------
A real ``chronotope serve`` on a fresh store in a temporary directory, loaded
with the bundled sample replicated to ``--points`` points (as
asv_bench/compare_queries.py does it); the clients run in this process, one
request at a time, after a warm-up; medians of ``--repeat`` runs.

- Ingest: ``--ingest-points`` new points (later copies of the sample) in
  ``--batch``-point batches, (a) through the SDK, ``collection.append(...)``
  (the binary batch, an idempotency key per batch, retries on), (b) as raw
  ``httpx`` POSTs of columnar JSON (``{"object_id": [...], "t": [ns...], ...}``),
  the body encoded inside the timed loop as a client would, and (c) as an
  array of JSON records with RFC 3339 times (``[{"object_id", "t", "x", "y"},
  ...]``, the form most clients post), built from the arrays in the loop.
  Points/s and the ratios SDK / JSON (the issue's target: at least 10x).
- Query overhead: box x interval queries holding ~0.01 % and ~0.1 % of the
  points, each through ``collection.query(...)`` (the Arrow IPC answer assembled
  into a ``Result`` of numpy columns) and as raw ``httpx`` GETs of the same query,
  called in turns: (a) with ``f=json``, the body parsed with ``resp.json()`` (the
  issue's baseline: raw calls with JSON; the columns stay Python lists), and (b)
  with ``f=arrow``, the body only read, not decoded (a floor no client that
  uses the rows can reach). Median latency of each and the SDK's overhead over
  both (target: under 10 % over the raw JSON call).

Run: ``python asv_bench/compare_sdk.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_queries as cq  # noqa: E402
import load_api  # noqa: E402 - the store recipe and the server wrapper


def median_seconds(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def medians_in_turns(fns, repeat: int) -> list[float]:
    """Median seconds of each function, called in turns (so that drift of a noisy machine hits all alike)."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [float(np.median(spent)) for spent in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--ingest-points", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=200, help="timed queries per client (median)")
    ap.add_argument("--runs", type=int, default=3, help="ingest runs per client (median)")
    args = ap.parse_args()

    import chronotope as ct

    tmp = Path(tempfile.mkdtemp(prefix="ct-sdk-"))
    try:
        data = load_api.build_store(tmp / "store", args.points)
        server = load_api.Server(tmp / "store")
        try:
            token = server.token()
            raw = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=300)
            remote = ct.connect(server.url, username=server.user, password=server.password)
            coll = remote.collection("ais")

            # ---- ingest: one fresh slice of later copies per run and client
            cols = load_api.ingest_columns(data, 3 * args.runs * args.ingest_points)
            slices = iter(range(0, 3 * args.runs * args.ingest_points, args.ingest_points))

            def sdk_ingest():
                lo = next(slices)
                for i in range(lo, lo + args.ingest_points, args.batch):
                    s = slice(i, i + args.batch)
                    coll.append(cols["object_id"][s], cols["t"][s], cols["x"][s], cols["y"][s])

            def post_json(body: bytes) -> None:
                resp = raw.post("/collections/ais/samples", content=body, headers={"Content-Type": "application/json"})
                resp.raise_for_status()

            def json_ingest():  # the fastest JSON: columns, epoch-ns times
                lo = next(slices)
                for i in range(lo, lo + args.ingest_points, args.batch):
                    s = slice(i, i + args.batch)
                    post_json(json.dumps({k: v[s].tolist() for k, v in cols.items()}).encode())

            def records_ingest():  # the usual JSON: an array of records, RFC 3339 times
                lo = next(slices)
                for i in range(lo, lo + args.ingest_points, args.batch):
                    s = slice(i, i + args.batch)
                    times = np.datetime_as_string(cols["t"][s].astype("datetime64[ns]"), unit="ns")
                    records = [{"object_id": o, "t": t + "Z", "x": x, "y": y} for o, t, x, y in
                               zip(cols["object_id"][s].tolist(), times.tolist(), cols["x"][s].tolist(),
                                   cols["y"][s].tolist())]
                    post_json(json.dumps(records).encode())

            runs = max(1, args.runs - 1)  # the first call of median_seconds is its warm-up
            sdk_s = median_seconds(sdk_ingest, runs)
            json_s = median_seconds(json_ingest, runs)
            records_s = median_seconds(records_ingest, runs)
            sdk_rate, json_rate = args.ingest_points / sdk_s, args.ingest_points / json_s
            records_rate = args.ingest_points / records_s
            print(f"{args.points:,} points stored; ingest of {args.ingest_points:,} points in {args.batch:,}-point "
                  f"batches, median of {runs}:")
            print(f"  SDK (binary batch)                      {sdk_rate / 1e6:6.2f} M points/s")
            print(f"  raw httpx, JSON columns, ns times       {json_rate / 1e6:6.2f} M points/s  "
                  f"SDK / this {sdk_rate / json_rate:5.1f}x")
            print(f"  raw httpx, JSON records, RFC 3339 times {records_rate / 1e6:6.2f} M points/s  "
                  f"SDK / this {sdk_rate / records_rate:5.1f}x   (target >= 10x)")

            # ---- query overhead
            obj = cq.object_order(data["arr"])
            queries, _ = cq.make_queries(data["arr"], obj, 20, seed=3)
            print(f"box x interval queries, median of {args.repeat} (SDK and raw calls in turns):")
            print(f"  {'query':18s} {'rows':>6s} {'SDK':>9s} {'raw JSON':>9s} {'raw Arrow':>10s} "
                  f"{'SDK/JSON':>9s} {'SDK/Arrow':>10s}")
            for kind in ("box_0.01%", "box_0.1%"):
                x0, y0, x1, y1, t0, t1 = queries[kind][0]
                params = {"bbox": f"{x0},{y0},{x1},{y1}", "datetime": f"{load_api.iso(t0)}/{load_api.iso(t1)}"}
                rows = len(coll.query(bbox=(x0, y0, x1, y1), time=(t0, t1)))
                sdk_q, json_q, arrow_q = medians_in_turns(
                    [lambda: coll.query(bbox=(x0, y0, x1, y1), time=(t0, t1)),
                     lambda: raw.get("/collections/ais/query", params={**params, "f": "json"}).json(),
                     lambda: raw.get("/collections/ais/query", params={**params, "f": "arrow"}).content],
                    args.repeat)
                print(f"  {kind:18s} {rows:6,d} {sdk_q * 1e3:6.2f} ms {json_q * 1e3:6.2f} ms {arrow_q * 1e3:7.2f} ms "
                      f"{100 * (sdk_q / json_q - 1):+8.1f}% {100 * (sdk_q / arrow_q - 1):+9.1f}%")
            print("  (target: SDK overhead over the raw JSON call under 10 %; raw Arrow reads the body, decodes nothing)")
            remote.close()
            raw.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
