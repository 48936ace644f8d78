#!/usr/bin/env python3
"""Compare chronotope's column codecs with general and numeric peers on real tracks.

What is measured
----------------
For one data set at a time, the same columns are encoded and decoded by every
codec: ``t`` (int64 nanoseconds since the epoch), ``lon`` and ``lat``
(float64 degrees) and, when the data has it, one attribute column (``sog``,
float32, by default).  For each codec the script reports

- bytes per point: the compressed size of all compared columns divided by the
  number of points (per column: bytes per value);
- compression ratio: raw bytes / compressed bytes;
- encode and decode speed in MB/s (1 MB = 1e6 bytes of *raw* column data
  divided by the wall time to encode, resp. decode, all compared columns);
- the same figures as ratios to pcodec at its default level.

How it is measured
------------------
- Everything runs in this one process, one codec after the other, on one
  thread: blosc2 is told ``nthreads=1``, pyarrow's CPU and I/O pools are set to
  one thread, zstandard runs without worker threads and pcodec is
  single-threaded by design.
- Each codec is run once as a warm-up (that run also checks the round trip:
  every decoded column must equal the input bit for bit, floats compared as
  ``uint64``/``uint32`` bit patterns; a failure aborts the script), then
  ``--repeat`` times (default 7); the median time is reported.  Times come
  from :func:`time.perf_counter`.
- Decoding must hand back numpy arrays; the conversion from a codec's native
  output (bytes, Arrow arrays) to numpy is part of the decode time.
- With ``--block-size N`` every codec encodes each column as independent
  chunks of N values (Parquet: row groups of N rows), as the store does; sizes
  are the sum over chunks and times cover all chunks.
- Points are ordered by (object, time), as the store keeps them, or with
  ``--arrival-order`` stably by time only, as a live feed delivers them.
- ``.npz`` inputs (layout of ``/work/shared/data``) store ``t`` in epoch
  seconds; they are converted to nanoseconds so that every source is measured
  in the same units as the bundled samples.

The row "pcodec (int-scaled, delta)" is the size to beat: lon/lat turned into
exact integers ``round(x * 1e5)`` (AIS positions carry 5 decimals; the row is
skipped when that is not exact), compressed by pcodec with automatic delta
detection; scaling and unscaling are inside the timed region.

Usage::

    python asv_bench/compare_codecs.py                       # bundled nyharbor_week
    python asv_bench/compare_codecs.py --sample nyharbor_hour
    python asv_bench/compare_codecs.py /work/shared/data/nyharbor_week.npz --block-size 4096
    python asv_bench/compare_codecs.py --arrival-order --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

NS_PER_S = 1_000_000_000
SCALE = 1e5  # AIS lon/lat carry exactly five decimals

Columns = Dict[str, np.ndarray]


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """The columns to compare, in the order chosen, and how they were obtained."""

    name: str
    columns: Columns
    n_objects: int
    order: str
    notes: List[str] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        """Number of points (rows)."""
        return len(self.columns["t"])

    @property
    def raw_bytes(self) -> int:
        """Uncompressed size of all compared columns."""
        return sum(c.nbytes for c in self.columns.values())


def _pick_columns(t_ns, lon, lat, extra: Dict[str, np.ndarray], attribute: Optional[str]) -> Columns:
    """Build the compared columns: t, lon, lat and the attribute if present."""
    cols = {"t": t_ns.astype(np.int64), "lon": lon.astype(np.float64), "lat": lat.astype(np.float64)}
    if attribute and attribute in extra:
        cols[attribute] = np.asarray(extra[attribute])
    return {k: np.ascontiguousarray(v) for k, v in cols.items()}


def load_bundled(sample: str, attribute: Optional[str]) -> Dataset:
    """Load a sample shipped with chronotope (t already int64 ns; x/y are lon/lat)."""
    from chronotope.datasets import load_sample

    d = load_sample(sample)
    cols = _pick_columns(d["t"], d["x"], d["y"], d, attribute)
    notes = ["t int64 ns as loaded"]
    return Dataset(f"bundled sample {sample!r}", cols, len(np.unique(d["object_id"])), "(object, t)", notes)


def load_npz(path: str, attribute: Optional[str]) -> Dataset:
    """Load a ``.npz`` in the /work/shared/data layout; t seconds -> nanoseconds."""
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    cols = _pick_columns(d["t"].astype(np.int64) * NS_PER_S, d["lon"], d["lat"], d, attribute)
    notes = ["t converted from epoch seconds to int64 ns"]
    return Dataset(os.path.basename(path), cols, len(np.unique(d["object_id"])), "(object, t)", notes)


def to_arrival_order(ds: Dataset) -> Dataset:
    """Reorder all columns stably by time only, as a live feed delivers points."""
    idx = np.argsort(ds.columns["t"], kind="stable")
    cols = {k: np.ascontiguousarray(v[idx]) for k, v in ds.columns.items()}
    return Dataset(ds.name, cols, ds.n_objects, "arrival (t only, stable)", ds.notes)


# ------------------------------------------------------------------------- codecs


def chunks(a: np.ndarray, block_size: Optional[int]) -> List[np.ndarray]:
    """Split a column into contiguous pieces of ``block_size`` values (or keep it whole)."""
    if not block_size or len(a) <= block_size:
        return [a]
    return [a[i:i + block_size] for i in range(0, len(a), block_size)]


@dataclass
class Codec:
    """A named codec: turns a dict of columns into an opaque payload and back.

    ``encode(columns) -> payload``, ``decode(payload, columns) -> columns``
    (the input columns are passed only for dtypes and lengths) and
    ``sizes(payload) -> {column: bytes}``; ``total(payload)`` is the full size
    when it is more than the sum of the columns (Parquet's footer).
    """

    name: str
    encode: Callable[[Columns], object]
    decode: Callable[[object, Columns], Columns]
    sizes: Callable[[object], Dict[str, int]]
    total: Optional[Callable[[object], int]] = None
    note: str = ""


def column_codec(name: str, enc: Callable, dec: Callable, block_size: Optional[int], note: str = "") -> Codec:
    """Wrap a per-array ``enc(a) -> bytes`` / ``dec(buf, like) -> array`` pair as a Codec.

    Each column is split into chunks of ``block_size`` values, each encoded on
    its own; decoding concatenates the decoded chunks.
    """

    def encode(cols: Columns):
        return {k: [enc(c) for c in chunks(a, block_size)] for k, a in cols.items()}

    def decode(payload, like: Columns) -> Columns:
        out = {}
        for k, bufs in payload.items():
            parts = [dec(b, like[k]) for b in bufs]
            out[k] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return out

    def sizes(payload) -> Dict[str, int]:
        return {k: sum(len(b) for b in bufs) for k, bufs in payload.items()}

    return Codec(name, encode, decode, sizes, note=note)


def chronotope_codecs(block_size):
    """chronotope.codec.encode in compact and fast mode (codec chosen per block)."""
    from chronotope import codec as ct

    return [
        column_codec(f"chronotope {mode}", lambda a, m=mode: ct.encode(a, m), lambda b, like: ct.decode(b), block_size)
        for mode in ("compact", "fast")
    ]


def zstd_codecs(block_size):
    """zstandard on the raw column bytes, levels 3 and 19, no worker threads."""
    import zstandard

    out = []
    for level in (3, 19):
        cctx = zstandard.ZstdCompressor(level=level, threads=0)
        dctx = zstandard.ZstdDecompressor()
        out.append(column_codec(
            f"zstd -{level}",
            lambda a, c=cctx: c.compress(a.tobytes()),
            lambda b, like, d=dctx: np.frombuffer(d.decompress(b), dtype=like.dtype),
            block_size))
    return out


def blosc2_codecs(block_size):
    """blosc2 compress2/decompress2, clevel 5, typesize = itemsize, one thread."""
    import blosc2

    blosc2.set_nthreads(1)
    variants = [
        ("blosc2 shuffle+zstd", blosc2.Codec.ZSTD, [blosc2.Filter.SHUFFLE]),
        ("blosc2 shuffle+lz4", blosc2.Codec.LZ4, [blosc2.Filter.SHUFFLE]),
        ("blosc2 bytedelta+zstd", blosc2.Codec.ZSTD, [blosc2.Filter.SHUFFLE, blosc2.Filter.BYTEDELTA]),
    ]
    dparams = blosc2.DParams(nthreads=1)

    def make(codec, filters):
        def enc(a):
            cp = blosc2.CParams(codec=codec, clevel=5, typesize=a.dtype.itemsize, nthreads=1,
                                filters=list(filters), filters_meta=[0] * len(filters))
            return blosc2.compress2(a, cparams=cp)

        def dec(b, like):
            return np.frombuffer(blosc2.decompress2(b, dparams=dparams), dtype=like.dtype)

        return enc, dec

    return [column_codec(name, *make(codec, filters), block_size) for name, codec, filters in variants]


def pcodec_codecs(block_size, ds: Dataset):
    """pcodec at its default level; plus the int-scaled lon/lat variant when exact."""
    import pcodec
    from pcodec import standalone

    default = pcodec.ChunkConfig()
    rows = [column_codec(
        "pcodec",
        lambda a: standalone.simple_compress(a, default),
        lambda b, like: standalone.simple_decompress(b),
        block_size)]
    scaled = [k for k in ("lon", "lat") if exact_scaling(ds.columns[k])]
    if len(scaled) < 2:
        ds.notes.append("pcodec int-scaled row skipped: lon/lat are not exact multiples of 1e-5")
        return rows
    delta = pcodec.ChunkConfig(delta_spec=pcodec.DeltaSpec.auto())

    def enc(a):
        if a.dtype == np.float64:
            a = np.round(a * SCALE).astype(np.int64)
        return standalone.simple_compress(a, delta)

    def dec(b, like):
        v = standalone.simple_decompress(b)
        return v / SCALE if like.dtype == np.float64 else v

    rows.append(column_codec("pcodec (int-scaled, delta)", enc, dec, block_size,
                             note="lon/lat as round(x*1e5) int64; scaling inside the timing"))
    return rows


def exact_scaling(a: np.ndarray) -> bool:
    """True when ``round(a * 1e5) / 1e5`` reproduces every float64 value bit for bit."""
    back = np.round(a * SCALE).astype(np.int64) / SCALE
    return bool(np.array_equal(back.view(np.uint64), a.view(np.uint64)))


def parquet_codec(block_size) -> Codec:
    """pyarrow Parquet, one table: DELTA_BINARY_PACKED ints, BYTE_STREAM_SPLIT floats, zstd.

    Dictionary encoding and statistics are off; with ``block_size`` each row
    group holds that many rows.  Per-column sizes come from the file metadata
    (compressed column chunks); the total adds the footer.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)

    def encode(cols: Columns):
        table = pa.table(cols)
        enc = {k: "DELTA_BINARY_PACKED" if a.dtype.kind in "iu" else "BYTE_STREAM_SPLIT" for k, a in cols.items()}
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd", use_dictionary=False, column_encoding=enc,
                       write_statistics=False, row_group_size=block_size or len(table))
        return sink.getvalue()

    def decode(buf, like: Columns) -> Columns:
        table = pq.read_table(pa.BufferReader(buf), use_threads=False)
        return {k: table.column(k).to_numpy() for k in like}

    def sizes(buf) -> Dict[str, int]:
        md = pq.ParquetFile(pa.BufferReader(buf)).metadata
        out: Dict[str, int] = {}
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for j in range(rg.num_columns):
                c = rg.column(j)
                out[c.path_in_schema] = out.get(c.path_in_schema, 0) + c.total_compressed_size
        return out

    return Codec("parquet delta/bss+zstd", encode, decode, sizes, total=lambda buf: buf.size,
                 note="size includes the footer")


def all_codecs(block_size, ds: Dataset) -> List[Codec]:
    """Every codec compared, in table order."""
    return (chronotope_codecs(block_size) + pcodec_codecs(block_size, ds) + zstd_codecs(block_size)
            + blosc2_codecs(block_size) + [parquet_codec(block_size)])


# ---------------------------------------------------------------------- measuring


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (floats compared through their integer bit patterns)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        u = np.dtype(f"u{a.dtype.itemsize}")
        return bool(np.array_equal(a.view(u), np.ascontiguousarray(b).view(u)))
    return bool(np.array_equal(a, b))


def check_round_trip(codec: Codec, cols: Columns) -> object:
    """Encode and decode once; abort the script if any column is not bit-exact."""
    payload = codec.encode(cols)
    back = codec.decode(payload, cols)
    for k, a in cols.items():
        if k not in back or not same_bits(a, back[k]):
            got = back.get(k)
            sys.exit(f"ROUND TRIP FAILED: codec {codec.name!r}, column {k!r} "
                     f"(in {a.dtype}{a.shape}, out {getattr(got, 'dtype', None)}{getattr(got, 'shape', None)})")
    return payload


def run_times(fn: Callable[[], object], repeat: int) -> List[float]:
    """Wall times in seconds of ``repeat`` successive calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def measure(codec: Codec, ds: Dataset, repeat: int) -> dict:
    """Round-trip check (also the warm-up), then median encode/decode times and sizes."""
    cols = ds.columns
    payload = check_round_trip(codec, cols)
    enc_times = run_times(lambda: codec.encode(cols), repeat)
    dec_times = run_times(lambda: codec.decode(payload, cols), repeat)
    enc_s, dec_s = statistics.median(enc_times), statistics.median(dec_times)
    per_col = codec.sizes(payload)
    total = codec.total(payload) if codec.total else sum(per_col.values())
    raw = ds.raw_bytes
    return {
        "codec": codec.name,
        "bytes": int(total),
        "bytes_per_point": total / ds.n_points,
        "ratio": raw / total,
        "encode_MBps": raw / enc_s / 1e6,
        "decode_MBps": raw / dec_s / 1e6,
        "bytes_per_value": {k: per_col.get(k, 0) / len(cols[k]) for k in cols},
        "encode_seconds": enc_times,
        "decode_seconds": dec_times,
        "note": codec.note,
    }


def add_relative(rows: List[dict], ref_name: str = "pcodec") -> None:
    """Add size and speed ratios to the reference row (pcodec at its default level)."""
    ref = next(r for r in rows if r["codec"] == ref_name)
    for r in rows:
        r["size_vs_pcodec"] = r["bytes"] / ref["bytes"]
        r["encode_vs_pcodec"] = r["encode_MBps"] / ref["encode_MBps"]
        r["decode_vs_pcodec"] = r["decode_MBps"] / ref["decode_MBps"]


# ---------------------------------------------------------------------- reporting


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> Optional[float]:
    """1-minute load average (other processes competing for the CPUs skew timings)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def versions() -> Dict[str, str]:
    """Versions of Python and every library measured."""
    import blosc2
    import pcodec
    import pyarrow
    import zstandard

    import chronotope

    return {
        "python": platform.python_version(),
        "chronotope": getattr(chronotope, "__version__", "?"),
        "numpy": np.__version__,
        "pcodec": getattr(pcodec, "__version__", "?"),
        "zstandard": zstandard.__version__,
        "blosc2": blosc2.__version__,
        "pyarrow": pyarrow.__version__,
    }


def header(ds: Dataset, block_size, repeat: int) -> dict:
    """Everything needed to reproduce the table."""
    from chronotope import codec as ct

    return {
        "data": ds.name,
        "points": ds.n_points,
        "objects": ds.n_objects,
        "columns": {k: str(v.dtype) for k, v in ds.columns.items()},
        "raw_bytes": ds.raw_bytes,
        "order": ds.order,
        "block_size": block_size,
        "repeat": repeat,
        "cpu": cpu_model(),
        "simd": ct.simd_level(),
        "cpus": os.cpu_count(),
        "load_average_1min": load_average(),
        "threads": 1,
        "versions": versions(),
        "notes": list(ds.notes),
    }


def format_header(h: dict) -> str:
    """The plain-text header printed above the table."""
    cols = ", ".join(f"{k} {v}" for k, v in h["columns"].items())
    vers = " ".join(f"{k} {v}" for k, v in h["versions"].items())
    lines = [
        f"data:    {h['data']}: {h['points']:,} points, {h['objects']:,} objects; columns {cols} "
        f"({h['raw_bytes'] / h['points']:.0f} raw bytes/point)",
        f"order:   {h['order']}    block size: {h['block_size'] or 'whole column'}    "
        f"timing: median of {h['repeat']} after 1 warm-up, 1 thread, one process",
        f"cpu:     {h['cpu']} ({h['cpus']} CPUs, 1-min load {h['load_average_1min']} at start)"
        f"    chronotope SIMD: {h['simd']}",
        f"versions: {vers}",
    ]
    lines += [f"note:    {n}" for n in h["notes"]]
    return "\n".join(lines)


def format_table(rows: List[dict]) -> str:
    """Main table: absolute figures with ratios to pcodec beside them."""
    head = (f"{'codec':<27} {'B/point':>8} {'ratio':>6} {'x pco':>6}  "
            f"{'enc MB/s':>9} {'x pco':>6}  {'dec MB/s':>9} {'x pco':>6}")
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['codec']:<27} {r['bytes_per_point']:>8.3f} {r['ratio']:>6.2f} {r['size_vs_pcodec']:>6.2f}  "
                   f"{r['encode_MBps']:>9.1f} {r['encode_vs_pcodec']:>6.2f}  "
                   f"{r['decode_MBps']:>9.1f} {r['decode_vs_pcodec']:>6.2f}")
    return "\n".join(out)


def format_columns(rows: List[dict], columns: List[str]) -> str:
    """Per-column bytes per value for every codec."""
    head = f"{'bytes/value':<27} " + " ".join(f"{c:>8}" for c in columns)
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['codec']:<27} " + " ".join(f"{r['bytes_per_value'][c]:>8.3f}" for c in columns))
    return "\n".join(out)


def chronotope_choices(ds: Dataset, block_size) -> str:
    """Which chronotope codec each column got (first chunk), per mode."""
    from chronotope import codec as ct

    parts = []
    for mode in ("compact", "fast"):
        got = {k: ct.info(ct.encode(chunks(a, block_size)[0], mode)).codec for k, a in ds.columns.items()}
        parts.append(f"{mode}: " + ", ".join(f"{k}={v}" for k, v in got.items()))
    return "chronotope codec per column (first block) - " + "; ".join(parts)


# ---------------------------------------------------------------------------- main


def run(ds: Dataset, block_size, repeat: int) -> dict:
    """Measure every codec on one data set and print the report."""
    h = header(ds, block_size, repeat)  # before measuring: the load average is others' load
    rows = [measure(c, ds, repeat) for c in all_codecs(block_size, ds)]
    add_relative(rows)
    h["notes"] = list(ds.notes)  # measuring may add notes (skipped rows)
    print(format_header(h))
    print()
    print(format_table(rows))
    print()
    print(format_columns(rows, list(ds.columns)))
    print(chronotope_choices(ds, block_size))
    print("x pco: size / pcodec size (lower is smaller); speed / pcodec speed (higher is faster). "
          "MB = 1e6 raw bytes.")
    print()
    return {"header": h, "rows": rows}


def parse_args(argv=None) -> argparse.Namespace:
    """Command line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", help=".npz files in the /work/shared/data layout (default: bundled sample)")
    p.add_argument("--sample", default="nyharbor_week", help="bundled sample used when no file is given")
    p.add_argument("--attribute", default="sog", help="attribute column compared when present (default sog)")
    p.add_argument("--block-size", type=int, default=None, help="encode columns in independent chunks of N values")
    p.add_argument("--arrival-order", action="store_true", help="order points by time only (stable)")
    p.add_argument("--repeat", type=int, default=7, help="timed runs per codec after one warm-up (median)")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if args.block_size is not None and args.block_size < 1:
        p.error("--block-size must be positive")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv=None) -> int:
    """Load each input, measure, print, and optionally save JSON."""
    args = parse_args(argv)
    sources = [lambda f=f: load_npz(f, args.attribute) for f in args.files] or \
              [lambda: load_bundled(args.sample, args.attribute)]
    results = []
    for load in sources:
        ds = load()
        if args.arrival_order:
            ds = to_arrival_order(ds)
        results.append(run(ds, args.block_size, args.repeat))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
