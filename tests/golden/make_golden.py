"""Regenerate the golden blocks of tests/test_codec_golden.py.

    python tests/golden/make_golden.py

Writes ``<name>.<mode>.ctb`` (one block per input and mode) and ``inputs.npz``
(the input arrays) next to this file. Run it ONLY for a deliberate format
change, after bumping CT_BLOCK_VERSION in csrc/ct_block.h (and keeping a
decoder for the old version): the golden files are what proves that blocks
written by earlier builds still decode. Commit the regenerated files together
with the change that needed them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODES = ("compact", "fast")


def make_inputs() -> dict[str, np.ndarray]:
    """The fixed inputs. Deterministic, but the stored inputs.npz is what the test reads."""
    rng = np.random.default_rng(20201201)
    n = 1000
    t0 = np.datetime64("2020-12-01T00:00:00", "ns").astype(np.int64)
    # AIS report times: irregular, mostly whole seconds, a few sub-second, nanoseconds since the epoch
    gaps = rng.choice(np.array([2, 3, 10, 10, 10, 11, 30, 180]), n) * 1_000_000_000
    odd = rng.random(n) < 0.02
    gaps[odd] += rng.integers(1, 1_000_000, int(odd.sum())) * 1000  # microsecond fractions
    ais_time = t0 + np.cumsum(gaps)
    # longitudes: 5 decimals, random walk, some missing
    lon = np.round(-74.05 + np.cumsum(rng.integers(-25, 26, n)) * 1e-5, 5)
    lon[[10, 11, 500]] = np.nan
    # non-decimal floats: smooth but full precision (speeds from a model)
    speed = 12.0 + np.cumsum(rng.standard_normal(n // 2)) * 0.01
    # incompressible: random float32 bit patterns (NaN payloads included) stay raw
    noise = rng.integers(0, 2**32, 200, dtype=np.uint32).view(np.float32)
    # runs: navigation status codes
    status = np.repeat(np.array([0, 1, 5, 0, 8, 0, 15, 1], dtype=np.int8), [120, 80, 300, 50, 150, 100, 120, 80])
    # dictionary-friendly ids: a dozen wide MMSIs in arrival order
    mmsi = rng.choice(rng.integers(200_000_000, 800_000_000, 12), 2048)
    # bool: a sparse flag
    moored = rng.random(n) < 0.1
    # fixed-width strings: call signs
    callsign = np.array([b"WDC%04d" % (i % 37) for i in range(400)], dtype="S7")
    # bytes: a JSON document (encode_bytes)
    doc = (b'{"mmsi": 366998410, "name": "EVER GIVEN", "tracks": [' + b", ".join(b"%d" % i for i in range(300)) + b"]}")
    payload = np.frombuffer(doc, dtype=np.uint8).copy()
    return {
        "ais_time": ais_time.astype(np.int64),
        "lon": lon,
        "speed": speed,
        "noise": noise,
        "status": status,
        "mmsi": mmsi.astype(np.int64),
        "moored": moored,
        "callsign": callsign,
        "payload": payload,
    }


def encode_golden(name: str, array: np.ndarray, mode: str) -> bytes:
    """How each golden input is encoded (the test re-encodes with this same function)."""
    from chronotope import codec

    if name == "ais_time":
        return codec.encode_timestamps(array, mode)
    if name == "payload":
        return codec.encode_bytes(array.tobytes(), mode)
    return codec.encode(array, mode)


def main() -> None:
    from chronotope import codec

    inputs = make_inputs()
    np.savez_compressed(HERE / "inputs.npz", **inputs)
    for name, array in inputs.items():
        for mode in MODES:
            block = encode_golden(name, array, mode)
            (HERE / f"{name}.{mode}.ctb").write_bytes(block)
            print(f"{name}.{mode}.ctb: {len(block)} bytes, codec {codec.info(block).codec}")


if __name__ == "__main__":
    main()
