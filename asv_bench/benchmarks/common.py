"""Shared inputs for the benchmark suites.

Two families of 1-D columns, all C-contiguous:

- ``REAL_COLUMNS``: the bundled AIS sample ``nyharbor_week`` (172,679 points,
  140 vessels, sorted by object then time): ``t`` (int64 ns), ``lon``/``lat``
  (float64 with exactly five decimals), ``object_id`` (int64 MMSI, long runs).
- ``SYNTHETIC_COLUMNS``: ``SYNTHETIC_SIZE`` values each, generated from
  ``numpy.random.default_rng(42)`` so every run sees the same bits; each one
  isolates one codec path (see :func:`synthetic_columns`).

Parsing the sample text takes ~0.7 s and asv starts a fresh process for every
parameter combination, so the columns are built once per run by
:func:`build_columns`, used as the classes' ``setup_cache`` (one shared cache:
asv keys it by this function), and handed to ``setup`` and the benchmarks as
their first argument.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

SYNTHETIC_SIZE = 1 << 17  # 131,072 values: 1 MiB per 8-byte column
NS_PER_S = 1_000_000_000
T0_NS = 1_606_780_800 * NS_PER_S  # 2020-12-01T00:00:00Z

REAL_COLUMNS = ("t", "lon", "lat", "object_id")
SYNTHETIC_COLUMNS = (
    "random_int64",
    "regular_ts",
    "ais_ts",
    "walk_5dec",
    "nondecimal_f64",
    "constant_f64",
    "run_ids",
)
ALL_COLUMNS = REAL_COLUMNS + SYNTHETIC_COLUMNS
MODES = ("compact", "fast")


def real_columns() -> Dict[str, np.ndarray]:
    """The bundled ``nyharbor_week`` sample as writable contiguous columns."""
    from chronotope.datasets import load_sample

    d = load_sample("nyharbor_week", copy=True)
    cols = {"t": d["t"], "lon": d["x"], "lat": d["y"], "object_id": d["object_id"]}
    return {k: np.ascontiguousarray(v) for k, v in cols.items()}


def five_decimals(x: np.ndarray) -> np.ndarray:
    """Round to five decimals the way AIS positions are: round(x * 1e5) / 1e5."""
    return np.round(x * 1e5) / 1e5


def synthetic_columns(n: int = SYNTHETIC_SIZE) -> Dict[str, np.ndarray]:
    """Seeded synthetic series, one per codec path.

    random_int64    uniform 62-bit integers: incompressible, the worst case
    regular_ts      a fix every 10 s in ns: delta-of-delta is all zeros
    ais_ts          irregular whole-second steps (mostly 2-30 s, some gaps of
                    minutes) in ns, like one AIS vessel's reports
    walk_5dec       a random-walk longitude with exactly five decimals: the
                    decimal float codec
    nondecimal_f64  standard normal floats: no decimal form, falls back
    constant_f64    one value repeated: run-length / trivial blocks
    run_ids         int64 MMSI-like ids in runs of 1-500: run-length
    """
    rng = np.random.default_rng(42)
    steps = np.where(rng.random(n) < 0.02, rng.integers(60, 900, n), rng.integers(2, 31, n))
    walk = -74.0 + np.cumsum(rng.normal(0.0, 2e-4, n))
    run_lengths = rng.integers(1, 501, n // 2 + 1)
    ids = np.repeat(rng.integers(200_000_000, 800_000_000, len(run_lengths)), run_lengths)[:n]
    cols = {
        "random_int64": rng.integers(-(1 << 62), 1 << 62, n, dtype=np.int64),
        "regular_ts": T0_NS + np.arange(n, dtype=np.int64) * 10 * NS_PER_S,
        "ais_ts": T0_NS + np.cumsum(steps).astype(np.int64) * NS_PER_S,
        "walk_5dec": five_decimals(walk),
        "nondecimal_f64": rng.standard_normal(n),
        "constant_f64": np.full(n, -74.00215),
        "run_ids": ids.astype(np.int64),
    }
    return {k: np.ascontiguousarray(v) for k, v in cols.items()}


def build_columns() -> Dict[str, np.ndarray]:
    """Every named column (real and synthetic); the suites' shared ``setup_cache``."""
    cols = real_columns()
    cols.update(synthetic_columns())
    return cols


def raw_bytes(a: np.ndarray) -> int:
    """Uncompressed size of a column in bytes."""
    return int(a.nbytes)


def vessel_documents(n: int):
    """``n`` successive versions of a vessel's property document, one field changing per version.

    Shared by the store benchmarks and ``compare_store.py`` (properties(as_of) on long chains).
    """
    ports = ["NEW YORK", "NEWARK", "BAYONNE", "ROTTERDAM", "HAMBURG", "SAVANNAH", "HALIFAX", "NORFOLK"]
    doc = {"name": "ATLANTIC STAR", "destination": ports[0], "draught": 7.5}
    for i in range(n):
        doc = dict(doc)
        f = i % 3
        if i and f == 0:
            doc["name"] = f"ATLANTIC STAR {i}"
        elif f == 1:
            doc["destination"] = ports[(i // 3) % len(ports)]
        elif f == 2:
            doc["draught"] = round(5.0 + (i % 97) * 0.1, 1)
        yield doc
