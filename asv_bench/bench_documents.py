#!/usr/bin/env python3
"""Benchmark chronotope.documents: ``as_of`` latency on a long version chain, and write throughput.

What is measured
----------------
1. **Chain writes**: one object gets ``--versions`` versions (default 100,000)
   in time order through ``DocumentStore.set`` -- a vessel-like document of
   ~0.6 KB where each version changes one to three fields -- then ``flush()``.
   Reported: versions/s of ``set`` and the flush time, file size and the
   share of keyframes.
2. **Fleet writes**: ``--objects`` objects (default 10,000) get
   ``--per-object`` versions each (default 10), interleaved in time order as a
   live feed delivers them; then ``flush()``.
3. **as_of reads** on the chain after closing and reopening the store:
   ``--queries`` uniformly random times between the first and last version
   (default 2,000), each answered by ``get(oid, as_of=t)``:

   - *warm*: the payload-chunk cache is kept between queries (the normal case);
   - *cold*: ``drop_caches()`` before every query, so each one reads and decodes
     its chunks from the file (the OS page cache stays warm).

   Every answer is checked against the document the generator produced for
   that time. Reported: median, p90, p99 and max latency in microseconds, and
   the mean number of deltas applied per query (``DocumentStore.stats``).

Times come from ``time.perf_counter_ns``; one process, one thread. Run::

    python asv_bench/bench_documents.py                 # 100k-version chain
    python asv_bench/bench_documents.py --versions 20000 --objects 1000 --check

``--check`` exits with status 1 if the warm median ``as_of`` latency is 1 ms
or more.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

try:
    from chronotope.documents import DocumentStore
except ImportError:  # running from a source tree without an installed package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pysrc"))
    from chronotope.documents import DocumentStore

NS_PER_S = 1_000_000_000
T0_NS = 1_606_780_800 * NS_PER_S  # 2020-12-01T00:00:00Z
PORTS = ["NLRTM", "EGSUZ", "SGSIN", "CNSHA", "USLAX", "DEHAM", "BEANR", "KRPUS", "AEJEA", "LKCMB"]


def initial_doc(oid: int) -> dict:
    return {
        "name": f"VESSEL {oid:06d}",
        "mmsi": 200_000_000 + oid,
        "imo": 9_000_000 + oid,
        "callsign": f"C{oid:05d}",
        "type": "container ship",
        "flag": "PA",
        "dims": {"length": 399.94, "beam": 58.8, "to_bow": 200, "to_stern": 199},
        "operator": {"name": "Example Marine Corp.", "country": "TW", "contact": "ops@example.invalid"},
        "remarks": "Ultra large container vessel, scrubber fitted, 20,124 TEU nominal capacity.",
        "dest": "NLRTM",
        "eta": T0_NS,
        "draught": 14.5,
        "status": "under way using engine",
        "route": ["CNSHA", "SGSIN", "EGSUZ", "NLRTM"],
        "crew": 25,
    }


def evolve(doc: dict, rng: random.Random, t: int) -> dict:
    """The next version: one to three fields change (a copy; the input is kept)."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.35:
            doc["draught"] = round(10 + 6 * rng.random(), 1)
        elif r < 0.55:
            doc["dest"] = rng.choice(PORTS)
            doc["eta"] = t + rng.randrange(NS_PER_S * 86_400 * 20)
        elif r < 0.75:
            doc["status"] = rng.choice(["under way using engine", "at anchor", "moored", "restricted manoeuvrability"])
        elif r < 0.9:
            route = doc["route"]
            if len(route) > 2 and rng.random() < 0.5:
                route.pop(0)
            else:
                route.append(rng.choice(PORTS))
        else:
            doc["crew"] = rng.randint(18, 30)
    return doc


def percentiles(samples_ns: list[int]) -> str:
    s = sorted(samples_ns)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))] / 1000  # noqa: E731
    return (
        f"median {statistics.median(s) / 1000:8.1f} us   p90 {pick(0.90):8.1f} us   "
        f"p99 {pick(0.99):8.1f} us   max {s[-1] / 1000:8.1f} us"
    )


def bench_chain(directory: str, args, rng: random.Random) -> tuple[list[int], list[dict]]:
    times, docs = [], []
    t = T0_NS
    doc = initial_doc(1)
    for _ in range(args.versions):
        times.append(t)
        docs.append(doc)
        t += rng.randrange(NS_PER_S, 3600 * NS_PER_S)
        doc = evolve(doc, rng, t)
    ds = DocumentStore(directory, keyframe_every=args.keyframe_every)
    start = time.perf_counter_ns()
    for i, (t, d) in enumerate(zip(times, docs)):
        ds.set(1, d, at=t, lsn=i + 1)
    wrote = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    ds.flush()
    flushed = time.perf_counter_ns() - start
    kinds = ds._kinds(1)
    ds.close()
    size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
    raw = sum(len(json.dumps(d, separators=(",", ":"))) for d in docs)
    print(f"chain writes: {args.versions:,} versions of one object")
    print(f"  set():   {args.versions / (wrote / 1e9):12,.0f} versions/s  ({wrote / 1e6:,.0f} ms)")
    print(f"  flush(): {flushed / 1e6:12,.1f} ms  -> {size / 1e6:.2f} MB on disk "
          f"({raw / 1e6:.1f} MB of JSON versions; {sum(kinds) / len(kinds):.1%} keyframes)")
    return times, docs


def bench_fleet(directory: str, args, rng: random.Random) -> None:
    n_obj, per = args.objects, args.per_object
    if not n_obj or not per:
        return
    docs = [initial_doc(o) for o in range(n_obj)]
    writes = []
    t = T0_NS
    for _ in range(per):
        for o in range(n_obj):
            t += rng.randrange(NS_PER_S // 10)
            docs[o] = evolve(docs[o], rng, t)
            writes.append((o, docs[o], t))
    ds = DocumentStore(directory, keyframe_every=args.keyframe_every)
    start = time.perf_counter_ns()
    for lsn, (o, d, t) in enumerate(writes, 1):
        ds.set(o, d, at=t, lsn=lsn)
    wrote = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    ds.flush()
    flushed = time.perf_counter_ns() - start
    ds.close()
    start = time.perf_counter_ns()
    ds = DocumentStore(directory, keyframe_every=args.keyframe_every)
    opened = time.perf_counter_ns() - start
    probe = rng.sample(range(n_obj), min(n_obj, 1000))
    lat = []
    for o in probe:
        t0 = time.perf_counter_ns()
        got = ds.get(o)
        lat.append(time.perf_counter_ns() - t0)
        assert got == docs[o], f"object {o}: latest document differs"
    ds.close()
    print(f"fleet writes: {n_obj:,} objects x {per} versions, interleaved in time order")
    print(f"  set():   {len(writes) / (wrote / 1e9):12,.0f} versions/s  ({wrote / 1e6:,.0f} ms)")
    print(f"  flush(): {flushed / 1e6:12,.1f} ms;  reopen: {opened / 1e6:,.1f} ms")
    print(f"  get(latest) on {len(probe)} objects: {percentiles(lat)}")


def bench_as_of(directory: str, args, rng: random.Random, times: list[int], docs: list[dict]) -> float:
    import bisect

    start = time.perf_counter_ns()
    ds = DocumentStore(directory, keyframe_every=args.keyframe_every)
    opened = time.perf_counter_ns() - start
    print(f"as_of reads on the {len(times):,}-version chain (store reopened in {opened / 1e6:.1f} ms)")
    probes = [rng.randrange(times[0], times[-1] + 1) for _ in range(args.queries)]
    warm_median = 0.0
    for label, cold in (("warm", False), ("cold", True)):
        ds.drop_caches()
        before = dict(ds.stats)
        lat = []
        for t in probes:
            if cold:
                ds.drop_caches()
            t0 = time.perf_counter_ns()
            got = ds.get(1, as_of=t)
            lat.append(time.perf_counter_ns() - t0)
            if got != docs[bisect.bisect_right(times, t) - 1]:
                raise SystemExit(f"wrong answer at as_of={t}")
        deltas = (ds.stats["deltas_applied"] - before["deltas_applied"]) / len(probes)
        print(f"  {label}: {percentiles(lat)}   ({deltas:.1f} deltas applied per query)")
        if not cold:
            warm_median = statistics.median(lat) / 1e6
    ds.close()
    return warm_median


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100_000, help="versions in the long chain")
    parser.add_argument("--queries", type=int, default=2_000, help="random as_of queries")
    parser.add_argument("--objects", type=int, default=10_000, help="objects in the fleet write test (0: skip)")
    parser.add_argument("--per-object", type=int, default=10, help="versions per object in the fleet test")
    parser.add_argument("--keyframe-every", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the warm median as_of is under 1 ms")
    args = parser.parse_args(argv)
    if args.versions < 1 or args.queries < 1:
        parser.error("--versions and --queries must be positive")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        chain_dir, fleet_dir = os.path.join(work, "chain"), os.path.join(work, "fleet")
        print(f"chronotope.documents benchmark (keyframe_every={args.keyframe_every}, seed={args.seed})")
        times, docs = bench_chain(chain_dir, args, rng)
        bench_fleet(fleet_dir, args, rng)
        median_ms = bench_as_of(chain_dir, args, rng, times, docs)
    ok = median_ms < 1.0
    print(f"target: as_of median under 1 ms on the chain: {'met' if ok else 'MISSED'} ({median_ms * 1000:.0f} us)")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
