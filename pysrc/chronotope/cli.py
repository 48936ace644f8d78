"""The ``chronotope`` command line.

At this stage the main job is ``chronotope codecs`` (also what a bare
``chronotope`` runs): encode the bundled real AIS sample (or a file of your
own) with both codec modes and print a size and speed table. Later commands
(serve, ingest, query, ...) arrive with the store and the API.
"""

from __future__ import annotations

import argparse
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chronotope", description="chronotope: storage for moving objects and their history")
    p.add_argument("--version", action="version", version=f"chronotope {__version__}")
    sub = p.add_subparsers(dest="command")
    c = sub.add_parser("codecs", help="encode a track sample with both codec modes and print sizes and speeds")
    c.add_argument("file", nargs="?", help=".traj, AIS .csv (optionally .gz) or .npz; default: the bundled sample")
    c.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median; default 5)")
    c.set_defaults(func=_cmd_codecs)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the main job at this stage
        args = parser.parse_args(["codecs", *(argv or [])])
    if getattr(args, "repeat", 1) < 1:
        parser.error("--repeat must be at least 1")
    try:
        return args.func(args)
    except (ChronotopeError, OSError) as exc:
        print(f"chronotope: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
