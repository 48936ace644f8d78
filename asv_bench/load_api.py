#!/usr/bin/env python3
"""Load test of the REST API: small queries at a fixed request rate, and bulk ingest over HTTP.

What is measured
----------------
Data: the bundled real AIS sample replicated in time to ``--points`` points
exactly as asv_bench/compare_queries.py does it (copy k: t + k days, ids + k *
10**9), stored with ``fsync="never"`` in one collection ``ais``, flushed and
compacted. A real ``chronotope serve`` process (uvicorn, one worker, rate limit
off) serves the store on 127.0.0.1; the load generator runs in this process
(asyncio + httpx, up to 64 connections kept alive), on the same 2-core machine.

- Small queries, open loop: request i is sent at ``start + i / rate``, whatever
  happened to the earlier ones, and its latency runs from that scheduled instant
  to the last byte of the answer (so a server that falls behind is charged for
  the queueing: no coordinated omission). The kinds alternate: one feature's
  most recent hour of track (``/track/{id}``), a box x interval holding ~0.01 %
  of the points (``/query``), the 10 nearest features at an instant
  (``/nearest?at=``). ``--warmup`` seconds at the same rate first, not counted.
  Reported per kind and overall: p50, p90, p99, p99.9, max, errors, and the
  achieved rate.
- Bulk ingest: ``--ingest-points`` new points (one more copy of the sample, later
  in time) posted to ``/collections/ais/samples`` in ``--batch``-point requests,
  one after the other: (a) in the binary batch format (``chronotope.batch``,
  bodies encoded beforehand, then also counting the encoding), (b) as columnar
  JSON (``{"object_id": [...], "t": [...], ...}`` with epoch-ns times). Points/s =
  points / wall time of all requests.

Run: ``python asv_bench/load_api.py --points 5000000`` (a few minutes; ``--store DIR``
keeps the store and the query set for the next run, ``--no-ingest`` leaves it unchanged).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_queries as cq  # noqa: E402 - the shared data recipe

KINDS = ("track", "box", "knn_at")
KIND_TITLES = {"track": "one feature's last hour of track", "box": "box x interval ~0.01 %",
               "knn_at": "10 nearest features at t"}


def iso(ns: int) -> str:
    return np.datetime_as_string(np.datetime64(int(ns), "ns"), unit="ns") + "Z"


# --------------------------------------------------------------------------- the store and the server


def build_store(path: Path, points: int) -> dict:
    """The replicated data, stored at ``path`` unless a store is there already (``--store`` reuse)."""
    import chronotope as ct

    base = cq.load_base()
    arr, copies = cq.replicate_days(base, points)
    if (path / "MANIFEST").exists():
        with ct.open(path, readonly=True) as db:
            if len(db.collection("ais")) < points:
                raise SystemExit(f"{path} holds fewer than {points:,} points: give another --store")
        return {"base": base, "arr": arr, "copies": copies}
    start = time.perf_counter()
    with ct.open(path, fsync="never") as db:
        coll = db.create_collection("ais")
        for i in range(0, points, cq.BATCH):
            coll.append(arr["object_id"][i:i + cq.BATCH], arr["t"][i:i + cq.BATCH], arr["x"][i:i + cq.BATCH],
                        arr["y"][i:i + cq.BATCH])
            print(f"\rbuilding the store: {min(points, i + cq.BATCH):,}/{points:,} points", end="", file=sys.stderr)
        db.flush()
        db.compact()
    print(f" ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return {"base": base, "arr": arr, "copies": copies}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`chronotope serve` on the store, with a user of this run's own (so a kept store can be reused)."""

    def __init__(self, store: Path):
        import secrets

        from chronotope_api.accounts import Accounts, Grant

        accounts = Accounts(store)
        self.user, self.password = f"load_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        accounts.add_user(self.user, self.password, Grant.make("admin"))
        self.accounts = accounts
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CHRONOTOPE_RATE_LIMIT": "off", "CHRONOTOPE_LOGIN_RATE_LIMIT": "off"}
        self.proc = subprocess.Popen([sys.executable, "-m", "chronotope.cli", "serve", "--store", str(store),
                                      "--port", str(self.port)], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     env=env)
        for _ in range(1200):
            if self.proc.poll() is not None:
                raise SystemExit("the server ended")
            try:
                httpx.get(self.url + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)

    def token(self) -> str:
        resp = httpx.post(self.url + "/auth/token", data={"username": self.user, "password": self.password})
        resp.raise_for_status()
        return resp.json()["access_token"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.accounts.remove_user(self.user)


# --------------------------------------------------------------------------- small queries


def make_requests(data: dict, count: int, seed: int) -> dict[str, list[tuple[str, dict]]]:
    """Per kind, (path, params) pairs from the data (the same recipes as compare_queries)."""
    obj = cq.object_order(data["arr"])
    queries, _ = cq.make_queries(data["arr"], obj, count, seed)
    rng = np.random.default_rng(seed + 1)
    out: dict[str, list] = {"box": [], "knn_at": [], "track": []}
    for x0, y0, x1, y1, t0, t1 in queries["box_0.01%"]:
        out["box"].append(("/collections/ais/query", {"bbox": f"{x0},{y0},{x1},{y1}",
                                                       "datetime": f"{iso(t0)}/{iso(t1)}"}))
    for qx, qy, at in queries["knn_at"]:
        out["knn_at"].append(("/collections/ais/nearest", {"x": qx, "y": qy, "k": cq.K, "at": iso(at)}))
    # one feature's most recent hour: the hour before its last sample
    o = obj["object_id"]
    last = np.flatnonzero(np.r_[o[1:] != o[:-1], True])
    for i in rng.choice(last, count):
        end = int(obj["t"][i])
        out["track"].append((f"/collections/ais/track/{int(o[i])}",
                             {"datetime": f"{iso(end - cq.HOUR_NS)}/{iso(end)}"}))
    return out


async def open_loop(url: str, token: str, requests: dict, rate: float, seconds: float) -> dict:
    """Send requests at ``rate``/s for ``seconds``; latencies from each scheduled instant, by kind."""
    n = int(rate * seconds)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    latencies = {k: [] for k in KINDS}
    errors = {k: 0 for k in KINDS}
    rows = {k: [] for k in KINDS}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30.0) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int) -> None:
            kind = KINDS[i % len(KINDS)]
            path, params = requests[kind][(i // len(KINDS)) % len(requests[kind])]
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                resp = await client.get(path, params=params)
                ok = resp.status_code == 200
                if ok:
                    rows[kind].append(resp.json().get("numberReturned", 0))
            except httpx.HTTPError:
                ok = False
            latencies[kind].append(loop.time() - due)
            errors[kind] += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "errors": errors, "rows": rows, "wall": wall, "n": n}


def percentiles(values: list[float]) -> dict:
    a = np.asarray(values) * 1e3
    return {p: float(np.percentile(a, q)) for p, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9))} | {
        "max": float(a.max())}


# --------------------------------------------------------------------------- ingest


def ingest_columns(data: dict, points: int) -> dict:
    """``points`` new points: one more copy of the sample, later than everything stored."""
    base = data["base"]
    k = data["copies"] + 30
    reps = math.ceil(points / len(base["t"]))
    parts = {c: [] for c in cq.COLUMNS}
    for r in range(reps):
        parts["object_id"].append(base["object_id"] + (k + r) * cq.ID_STRIDE)
        parts["t"].append(base["t"] + (k + 10 * r) * cq.DAY_NS)
        parts["x"].append(base["x"])
        parts["y"].append(base["y"])
    cols = {c: np.concatenate(v)[:points] for c, v in parts.items()}
    order = np.argsort(cols["t"], kind="stable")
    return {c: np.ascontiguousarray(v[order]) for c, v in cols.items()}


def post_all(url: str, token: str, bodies: list[bytes], content_type: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    with httpx.Client(base_url=url, headers=headers, timeout=300.0) as client:
        start = time.perf_counter()
        for body in bodies:
            resp = client.post("/collections/ais/samples", content=body)
            if resp.status_code not in (200, 201):
                raise SystemExit(f"ingest failed: {resp.status_code} {resp.text[:300]}")
        return time.perf_counter() - start


def json_body(cols: dict) -> bytes:
    return json.dumps({k: v.tolist() for k, v in cols.items()}).encode()


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=5_000_000)
    ap.add_argument("--rate", type=float, default=200.0, help="small-query requests per second")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of measured load")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--ingest-points", type=int, default=4_000_000)
    ap.add_argument("--batch", type=int, default=500_000, help="points per ingest request")
    ap.add_argument("--json-points", type=int, default=500_000, help="points posted as JSON")
    ap.add_argument("--store", help="store directory, built if missing and kept, reused if present "
                                     "(default: a temporary one)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-ingest", action="store_true", help="only the small queries (the store stays as it is)")
    args = ap.parse_args()

    from chronotope.batch import encode_batch

    tmp = None
    store = Path(args.store) if args.store else Path(tmp := tempfile.mkdtemp(prefix="ct-load-")) / "store"
    try:
        data = build_store(store, args.points)
        server = Server(store)
        try:
            token = server.token()
            cache = store.parent / f"requests-{args.points}-{args.seed}.json"
            if cache.exists():
                reqs = json.loads(cache.read_text())
            else:
                reqs = make_requests(data, 500, args.seed)
                if args.store:
                    cache.write_text(json.dumps(reqs))
            print(f"\n{args.points:,} points, {len(np.unique(data['arr']['object_id'])):,} objects; "
                  f"open loop at {args.rate:g} requests/s for {args.duration:g} s (after {args.warmup:g} s warm-up)")
            gc.collect()
            gc.freeze()  # the load generator's own collector pauses would count as server latency
            asyncio.run(open_loop(server.url, token, reqs, args.rate, args.warmup))
            res = asyncio.run(open_loop(server.url, token, reqs, args.rate, args.duration))
            print(f"achieved {res['n'] / res['wall']:.1f} requests/s; latency from the scheduled send, ms")
            print(f"{'kind':<36}{'n':>6}{'rows':>7}{'p50':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'max':>8}{'errors':>8}")
            everything = []
            for kind in KINDS:
                lat = res["latencies"][kind]
                everything += lat
                p = percentiles(lat)
                rows = np.median(res["rows"][kind]) if res["rows"][kind] else 0
                print(f"{KIND_TITLES[kind]:<36}{len(lat):>6}{rows:>7.0f}" + "".join(f"{p[k]:>8.2f}" for k in p)
                      + f"{res['errors'][kind]:>8}")
            p = percentiles(everything)
            print(f"{'all':<36}{len(everything):>6}{'':>7}" + "".join(f"{p[k]:>8.2f}" for k in p)
                  + f"{sum(res['errors'].values()):>8}")

            if args.no_ingest:
                return
            cols = ingest_columns(data, args.ingest_points + args.json_points)
            binary_cols = {k: v[:args.ingest_points] for k, v in cols.items()}
            slices = [slice(i, i + args.batch) for i in range(0, args.ingest_points, args.batch)]
            t = time.perf_counter()
            bodies = [encode_batch({k: v[s] for k, v in binary_cols.items()}) for s in slices]
            encode = time.perf_counter() - t
            wall = post_all(server.url, server.token(), bodies, "application/vnd.chronotope.batch")
            size = sum(map(len, bodies))
            print(f"\ningest, binary batches of {args.batch:,}: {args.ingest_points:,} points in {wall:.2f} s = "
                  f"{args.ingest_points / wall / 1e6:.2f} M points/s ({size / args.ingest_points:.2f} B/point on the "
                  f"wire); with the client's encoding {args.ingest_points / (wall + encode) / 1e6:.2f} M points/s")
            json_cols = {k: v[args.ingest_points:] for k, v in cols.items()}
            jslices = [slice(i, i + args.batch) for i in range(0, args.json_points, args.batch)]
            jbodies = [json_body({k: v[s] for k, v in json_cols.items()}) for s in jslices]
            wall_j = post_all(server.url, server.token(), jbodies, "application/json")
            jsize = sum(map(len, jbodies))
            print(f"ingest, columnar JSON: {args.json_points:,} points in {wall_j:.2f} s = "
                  f"{args.json_points / wall_j / 1e6:.3f} M points/s ({jsize / args.json_points:.1f} B/point); "
                  f"binary / JSON = {(args.ingest_points / wall) / (args.json_points / wall_j):.1f}x")
        finally:
            server.stop()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
