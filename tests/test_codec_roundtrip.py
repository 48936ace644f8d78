"""Round trips of chronotope.codec: every dtype, size, mode, forced codec and SIMD path.

Every decode must give back the same dtype, the same shape and the same bits
(floats are compared as unsigned integers, so NaN payloads, -0.0 and
subnormals count). Deterministic matrices make sure each combination is
covered on every run; hypothesis explores around them on every SIMD path.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chronotope import codec

MODES = ["compact", "fast"]
INT_CODECS = ["auto", "int", "rle", "dict", "raw", "blosc"]
FLOAT_CODECS = ["auto", "decimal", "blosc", "raw"]
STR_CODECS = ["auto", "raw", "blosc"]
SIZES = [0, 1, 2, 255, 256, 257, 511, 512, 4096]
INT_DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "datetime64[ns]", "datetime64[s]", "datetime64[ms]", "timedelta64[ns]", "timedelta64[s]",
]
FLOAT_DTYPES = ["float32", "float64"]
STR_DTYPES = ["S1", "S3", "S8", "S17", "U1", "U3", "U8"]
NS = 1_000_000_000
T0 = 1_591_000_000  # 2020-06-01 in seconds


# ---------------------------------------------------------------------------
# Deterministic inputs
# ---------------------------------------------------------------------------

def _storage(dtype: np.dtype) -> np.dtype:
    """The integer type whose bits the values of an integer-like dtype are."""
    if dtype.kind in "mM":
        return np.dtype(np.int64)
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    return dtype


def _limits(dtype: np.dtype) -> tuple[int, int]:
    if dtype.kind == "b":
        return 0, 1
    ii = np.iinfo(_storage(dtype))
    return int(ii.min), int(ii.max)


INT_PATTERNS = [
    "random", "constant", "sorted", "jitter", "huge_deltas", "extremes", "runs", "few_distinct",
    "small", "ts_regular_s", "ts_irregular_s", "ts_regular_ns", "ts_irregular_ns", "ts_unsorted_ns",
]


def make_ints(pattern: str, n: int, dtype, seed: int = 0) -> np.ndarray:
    """n values of an integer-like dtype (bool, ints, datetime64, timedelta64) following a pattern."""
    dt = np.dtype(dtype)
    base = _storage(dt)
    lo, hi = _limits(dt)
    rng = np.random.default_rng([seed, n, INT_PATTERNS.index(pattern)])

    def rand(size):
        return rng.integers(lo, hi, size, dtype=base, endpoint=True)

    if pattern == "random":
        x = rand(n)
    elif pattern == "constant":
        x = np.full(n, rand(1)[0], dtype=base)
    elif pattern == "sorted":
        x = np.sort(rand(n))
    elif pattern == "jitter":  # monotone trend plus small noise (wraps around in narrow types)
        step = int(rng.integers(1, 1000))
        x = (np.arange(n, dtype=np.int64) * step + rng.integers(-step // 2, step // 2 + 1, n)).astype(base)
    elif pattern == "huge_deltas":
        x = rng.choice(np.array([lo, hi, lo // 2, hi // 2, 0], dtype=object), n).astype(base)
    elif pattern == "extremes":
        x = rng.choice(np.array(sorted(v for v in {lo, lo + 1, 0, 1, hi - 1, hi} if lo <= v <= hi), dtype=object), n)
        x = x.astype(base)
    elif pattern == "runs":
        vals = rand(max(1, n // 20 + 1))
        x = np.repeat(vals, rng.integers(1, 60, vals.size))[:n]
        x = np.concatenate([x, np.full(n - x.size, vals[-1], base)])
    elif pattern == "few_distinct":
        x = rng.choice(rand(int(rng.integers(1, 9))), n)
    elif pattern == "small":
        x = rng.integers(max(lo, -3), min(hi, 3), n, endpoint=True).astype(base)
    else:  # timestamps, in the dtype's own width (wrapping for narrow types)
        if pattern == "ts_regular_s":
            t = T0 + 10 * np.arange(n, dtype=np.int64)
        elif pattern == "ts_irregular_s":
            t = T0 + np.cumsum(rng.integers(0, 40, n))
        elif pattern == "ts_regular_ns":
            t = T0 * NS + 2 * NS * np.arange(n, dtype=np.int64)
        elif pattern == "ts_irregular_ns":
            t = T0 * NS + np.cumsum(rng.integers(0, 30 * NS, n))
        else:  # AIS messages arrive out of order
            t = T0 * NS + rng.permutation(np.cumsum(rng.integers(0, 10 * NS, n)))
        x = t.astype(base)
    x = np.ascontiguousarray(x, dtype=base)
    if dt.kind == "b":
        return (x & 1).astype(bool)
    return x.view(dt) if dt.kind in "mM" else x


FLOAT_PATTERNS = [
    "random_bits", "specials", "nan_payloads", "subnormals", "mixed_decimals", "ais_lon", "ais_lat",
    "constant", "integral", "noise", "huge", "decimals_with_specials", "sorted_decimals", "neg_zero",
]


def _specials(dtype: np.dtype) -> np.ndarray:
    if dtype.itemsize == 8:
        bits = [
            0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000001, 0x7FF0000000000001,  # NaNs
            0x7FF4DEADBEEF0001, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF,                      # NaN payloads
            0x7FF0000000000000, 0xFFF0000000000000,                                          # +-inf
            0x0000000000000000, 0x8000000000000000,                                          # +-0.0
            0x0000000000000001, 0x000FFFFFFFFFFFFF, 0x800FFFFFFFFFFFFF, 0x8000000000000001,  # subnormals
            0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x3FF0000000000000,  # normal edges
        ]
        return np.array(bits, dtype=np.uint64).view(np.float64)
    bits = [
        0x7FC00000, 0xFFC00000, 0x7FC00001, 0x7F800001, 0x7FA5A5A5, 0xFFFFFFFF, 0x7FFFFFFF,
        0x7F800000, 0xFF800000, 0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x807FFFFF,
        0x80000001, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000,
    ]
    return np.array(bits, dtype=np.uint32).view(np.float32)


def make_floats(pattern: str, n: int, dtype, seed: int = 0) -> np.ndarray:
    """n float32/float64 values following a pattern (bit patterns included)."""
    dt = np.dtype(dtype)
    ubits = np.dtype(f"u{dt.itemsize}")
    rng = np.random.default_rng([seed, n, FLOAT_PATTERNS.index(pattern), dt.itemsize])
    if pattern == "random_bits":
        return rng.integers(0, np.iinfo(ubits).max, n, dtype=ubits, endpoint=True).view(dt)
    if pattern == "specials":
        return rng.choice(_specials(dt), n)
    if pattern == "nan_payloads":
        exp = np.array(0x7FF0000000000000 if dt.itemsize == 8 else 0x7F800000, dtype=ubits)
        frac = rng.integers(1, (1 << (52 if dt.itemsize == 8 else 23)), n, dtype=ubits)
        sign = rng.integers(0, 2, n, dtype=ubits) << ubits.type(8 * dt.itemsize - 1)
        return (exp | frac | sign).view(dt)
    if pattern == "subnormals":
        frac = rng.integers(1, (1 << (52 if dt.itemsize == 8 else 23)), n, dtype=ubits)
        sign = rng.integers(0, 2, n, dtype=ubits) << ubits.type(8 * dt.itemsize - 1)
        return (frac | sign).view(dt)
    if pattern == "mixed_decimals":  # 0..6 decimals, mixed in one column
        digits = rng.integers(0, 7, n)
        x = rng.uniform(-1000, 1000, n)
        for d in range(7):
            x[digits == d] = np.round(x[digits == d], d)
    elif pattern == "ais_lon":
        x = np.round(-74.0 + np.cumsum(rng.integers(-40, 41, n)) * 1e-5, 5)
    elif pattern == "ais_lat":
        x = np.round(40.6 + np.cumsum(rng.integers(-40, 41, n)) * 1e-5, 5)
    elif pattern == "constant":
        x = np.full(n, rng.uniform(-180, 180))
    elif pattern == "integral":
        x = rng.integers(-(10**6), 10**6, n).astype(np.float64)
    elif pattern == "noise":
        x = rng.standard_normal(n)
    elif pattern == "huge":
        x = rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-300 if dt.itemsize == 8 else -37, 300 if dt.itemsize == 8 else 37, n)
    elif pattern == "decimals_with_specials":
        x = np.round(rng.uniform(-90, 90, n), 3).astype(dt)
        where = rng.random(n) < 0.05
        x[where] = rng.choice(_specials(dt), int(where.sum()))
        return x
    elif pattern == "sorted_decimals":
        x = np.sort(np.round(rng.uniform(0, 500, n), 2))
    else:  # neg_zero: zeros of both signs between ordinary decimals
        x = rng.choice(np.array([0.0, -0.0, 0.5, -0.25]), n)
    return np.ascontiguousarray(x.astype(dt))


STR_PATTERNS = ["random_bytes", "names", "constant", "trailing_nuls"]


def make_strings(pattern: str, n: int, dtype, seed: int = 0) -> np.ndarray:
    dt = np.dtype(dtype)
    rng = np.random.default_rng([seed, n, STR_PATTERNS.index(pattern), dt.itemsize])
    if dt.kind == "S":
        w = dt.itemsize
        if pattern == "random_bytes":
            raw = rng.integers(0, 256, (n, w), dtype=np.uint8)
        elif pattern == "names":
            pool = rng.integers(ord("A"), ord("Z") + 1, (7, w), dtype=np.uint8)
            raw = pool[rng.integers(0, 7, n)]
        elif pattern == "constant":
            raw = np.tile(rng.integers(0, 256, (1, w), dtype=np.uint8), (n, 1))
        else:
            raw = rng.integers(1, 256, (n, w), dtype=np.uint8)
            raw[:, w // 2:] = 0
        return np.ascontiguousarray(raw).view(dt).reshape(n)
    w = dt.itemsize // 4
    if pattern == "random_bytes":
        cp = rng.integers(0, 0xD800, (n, w), dtype=np.uint32)
        cp[cp % 7 == 0] += np.uint32(0xE000)  # some code points above the surrogates
        cp[cp % 11 == 0] = rng.integers(0x10000, 0x110000, int((cp % 11 == 0).sum()), dtype=np.uint32)
    elif pattern == "names":
        pool = rng.integers(0x41, 0x5B, (7, w), dtype=np.uint32)
        cp = pool[rng.integers(0, 7, n)]
    elif pattern == "constant":
        cp = np.tile(rng.integers(0x20, 0x3000, (1, w), dtype=np.uint32), (n, 1))
    else:
        cp = rng.integers(0x20, 0x7F, (n, w), dtype=np.uint32)
        cp[:, w // 2:] = 0
    return np.ascontiguousarray(cp).view(dt).reshape(n)


# ---------------------------------------------------------------------------
# Deterministic matrices: every dtype x codec x mode, every pattern and size
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", INT_CODECS)
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_matrix(dtype, codec_name, mode, roundtrip):
    for pattern in INT_PATTERNS:
        for n in SIZES:
            roundtrip(make_ints(pattern, n, dtype), mode, codec_name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", FLOAT_CODECS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_float_matrix(dtype, codec_name, mode, roundtrip):
    for pattern in FLOAT_PATTERNS:
        for n in SIZES:
            roundtrip(make_floats(pattern, n, dtype), mode, codec_name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", STR_CODECS)
@pytest.mark.parametrize("dtype", STR_DTYPES)
def test_string_matrix(dtype, codec_name, mode, roundtrip):
    for pattern in STR_PATTERNS:
        for n in SIZES:
            roundtrip(make_strings(pattern, n, dtype), mode, codec_name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transform", ["auto", "none", "delta", "delta-of-delta"])
@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "int64", "uint64", "datetime64[ns]"])
def test_forced_transforms(dtype, transform, mode, roundtrip):
    for pattern in INT_PATTERNS:
        for n in [0, 1, 2, 3, 257, 1000]:
            roundtrip(make_ints(pattern, n, dtype), mode, "int", transform)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("pattern", [p for p in INT_PATTERNS if p.startswith("ts_")] + ["jitter", "huge_deltas"])
def test_encode_timestamps(pattern, unit, mode, assert_identical):
    for n in SIZES:
        t = make_ints(pattern, n, "int64")
        for a in (t, t.view(f"datetime64[{unit}]"), t.view(f"timedelta64[{unit}]")):
            block = codec.encode_timestamps(a, mode)
            # tiny or incompressible streams are smaller raw (raw is the floor)
            used = codec.info(block).codec
            assert used == "int" if n >= 256 and pattern != "huge_deltas" else used in ("int", "raw")
            assert_identical(a, codec.decode(block))


def test_whole_seconds_in_nanoseconds_cost_no_more_than_seconds():
    rng = np.random.default_rng(7)
    seconds = T0 + np.cumsum(rng.integers(1, 60, 5000))
    s_block = codec.encode_timestamps(seconds.astype("datetime64[s]"), "fast")
    ns_block = codec.encode_timestamps((seconds * NS).astype("datetime64[ns]"), "fast")
    assert np.array_equal(codec.decode(ns_block).astype(np.int64), seconds * NS)
    # the common divisor is factored out: a varint for 10**9 is all that may differ
    assert len(ns_block) <= len(s_block) + 8


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "shape", [(), (0,), (3, 0), (0, 4, 2), (7, 11), (2, 3, 4), (16, 16, 17), (1,) * 8, (2, 1, 3, 1, 2, 1, 1, 2)],
    ids=str,
)
def test_multidimensional(shape, mode, roundtrip):
    n = int(np.prod(shape))
    cases = [(make_ints("ts_irregular_ns", n, d), INT_CODECS) for d in ["int64", "bool", "uint16", "datetime64[s]"]]
    cases += [(make_floats(p, n, d), FLOAT_CODECS) for p, d in [("ais_lon", "float64"), ("specials", "float32")]]
    cases += [(make_strings("names", n, d), STR_CODECS) for d in ["S4", "U2"]]
    for flat, codecs in cases:
        a = flat.reshape(shape)
        for c in codecs:
            roundtrip(a, mode, c)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "make, pattern, dtype, codecs",
    [
        (make_ints, "ts_irregular_ns", "int64", INT_CODECS),
        (make_ints, "ts_unsorted_ns", "datetime64[ns]", ["auto", "int"]),
        (make_ints, "ts_regular_s", "datetime64[s]", ["auto"]),
        (make_ints, "random", "int32", ["auto", "int"]),
        (make_ints, "extremes", "uint64", ["auto", "dict"]),
        (make_ints, "huge_deltas", "int64", ["auto", "int"]),
        (make_ints, "runs", "bool", ["auto", "rle"]),
        (make_ints, "few_distinct", "int64", ["auto", "dict"]),
        (make_floats, "ais_lon", "float64", FLOAT_CODECS),
        (make_floats, "mixed_decimals", "float64", ["auto"]),
        (make_floats, "random_bits", "float32", ["auto", "decimal"]),
        (make_floats, "decimals_with_specials", "float64", ["auto"]),
        (make_strings, "names", "S8", STR_CODECS),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
@pytest.mark.parametrize("n", [100_003, 10**6])
def test_large(make, pattern, dtype, codecs, mode, n, roundtrip):
    a = make(pattern, n, dtype)
    for c in codecs:
        roundtrip(a, mode, c)


def test_ais_like_columns_pick_the_expected_codecs():
    lon = make_floats("ais_lon", 4096, "float64")
    t = make_ints("ts_irregular_ns", 4096, "int64")
    ids = make_ints("few_distinct", 4096, "int64")
    assert codec.info(codec.encode(lon)).codec == "decimal"
    assert codec.info(codec.encode(t)).codec == "int"
    assert codec.info(codec.encode(ids)).codec in ("dict", "int", "rle")
    assert codec.info(codec.encode(make_ints("constant", 4096, "int64"))).codec in ("int", "rle")


# ---------------------------------------------------------------------------
# Hypothesis, on every SIMD path
# ---------------------------------------------------------------------------

SIZE = st.one_of(st.sampled_from(SIZES), st.integers(0, 600))


@st.composite
def int_arrays(draw, dtype=None):
    dt = np.dtype(draw(st.sampled_from(INT_DTYPES)) if dtype is None else dtype)
    if draw(st.booleans()):
        base = _storage(dt)
        lo, hi = _limits(dt)
        x = draw(hnp.arrays(base, draw(st.integers(0, 300)), elements=st.integers(lo, hi)))
        if dt.kind == "b":
            return x.astype(bool)
        return x.view(dt) if dt.kind in "mM" else x
    return make_ints(draw(st.sampled_from(INT_PATTERNS)), draw(SIZE), dt, draw(st.integers(0, 2**32)))


@st.composite
def float_arrays(draw):
    dt = np.dtype(draw(st.sampled_from(FLOAT_DTYPES)))
    how = draw(st.sampled_from(["bits", "floats", "pattern"]))
    n = draw(st.integers(0, 300))
    if how == "bits":
        return draw(hnp.arrays(f"u{dt.itemsize}", n)).view(dt)
    if how == "floats":
        return draw(hnp.arrays(dt, n, elements=st.floats(width=8 * dt.itemsize)))
    return make_floats(draw(st.sampled_from(FLOAT_PATTERNS)), draw(SIZE), dt, draw(st.integers(0, 2**32)))


@st.composite
def string_arrays(draw):
    dt = np.dtype(draw(st.sampled_from(STR_DTYPES)))
    if draw(st.booleans()) and dt.kind == "S":
        n = draw(st.integers(0, 200))
        raw = draw(st.binary(min_size=n * dt.itemsize, max_size=n * dt.itemsize))
        return np.frombuffer(raw, dtype=dt).copy()
    return make_strings(draw(st.sampled_from(STR_PATTERNS)), draw(SIZE), dt, draw(st.integers(0, 2**32)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", INT_CODECS)
@given(a=int_arrays())
def test_hypothesis_integers(simd, codec_name, mode, a, roundtrip):
    roundtrip(a, mode, codec_name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", FLOAT_CODECS)
@given(a=float_arrays())
def test_hypothesis_floats(simd, codec_name, mode, a, roundtrip):
    roundtrip(a, mode, codec_name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", STR_CODECS)
@given(a=string_arrays())
def test_hypothesis_strings(simd, codec_name, mode, a, roundtrip):
    roundtrip(a, mode, codec_name)


@pytest.mark.parametrize("mode", MODES)
@given(
    data=st.data(),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=7),
    kind=st.sampled_from(["int64", "uint8", "bool", "float64", "float32", "S3", "datetime64[ms]"]),
)
def test_hypothesis_shapes(simd, mode, data, shape, kind, roundtrip):
    a = data.draw(hnp.arrays(kind, shape))
    roundtrip(a, mode, "auto")


@pytest.mark.parametrize("mode", MODES)
@given(
    pattern=st.sampled_from(INT_PATTERNS),
    n=SIZE,
    seed=st.integers(0, 2**32),
    transform=st.sampled_from(["none", "delta", "delta-of-delta"]),
)
def test_hypothesis_transforms(simd, mode, pattern, n, seed, transform, roundtrip):
    roundtrip(make_ints(pattern, n, "int64", seed), mode, "int", transform)


# ---------------------------------------------------------------------------
# The format does not depend on the CPU: every SIMD path writes the same bytes
# ---------------------------------------------------------------------------

def _encode_everywhere(a, mode, codec_name, use_simd, transform="auto"):
    blocks = {}
    for name in codec.available_simd():
        with use_simd(name):
            blocks[name] = codec.encode(a, mode, codec=codec_name, transform=transform)
    return blocks


def _check_same_everywhere(a, mode, codec_name, use_simd, assert_identical, transform="auto"):
    blocks = _encode_everywhere(a, mode, codec_name, use_simd, transform)
    ref_name, ref = next(iter(blocks.items()))
    for name, block in blocks.items():
        assert block == ref, (
            f"{name} and {ref_name} encode {a.dtype}[{a.size}] differently "
            f"(mode={mode}, codec={codec_name}): the format must not depend on the CPU"
        )
    for name in blocks:  # and every path decodes it
        with use_simd(name):
            assert_identical(a, codec.decode(ref))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint32", "int64", "uint64", "datetime64[ns]", "bool"])
def test_simd_paths_write_identical_bytes_integers(dtype, mode, use_simd, assert_identical):
    for pattern in INT_PATTERNS:
        for n in [1, 255, 256, 257, 512, 4096, 5000]:
            a = make_ints(pattern, n, dtype)
            for c in ["auto", "int", "rle", "dict"]:
                _check_same_everywhere(a, mode, c, use_simd, assert_identical)
            for t in ["none", "delta", "delta-of-delta"]:
                _check_same_everywhere(a, mode, "int", use_simd, assert_identical, t)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_simd_paths_write_identical_bytes_floats(dtype, mode, use_simd, assert_identical):
    for pattern in FLOAT_PATTERNS:
        for n in [1, 255, 256, 257, 4096, 5000]:
            a = make_floats(pattern, n, dtype)
            for c in ["auto", "decimal"]:
                _check_same_everywhere(a, mode, c, use_simd, assert_identical)


@pytest.mark.parametrize("mode", MODES)
@given(a=st.one_of(int_arrays(), float_arrays()))
def test_hypothesis_simd_paths_write_identical_bytes(mode, a, use_simd, assert_identical):
    codecs = ["auto", "decimal"] if a.dtype.kind == "f" else ["auto", "int", "dict"]
    for c in codecs:
        _check_same_everywhere(a, mode, c, use_simd, assert_identical)


def test_simd_fixture_selected_the_kernels(simd):
    assert codec.simd_level() == simd


@pytest.mark.parametrize("n", [8191, 8192, 20_000, 40_000])
def test_multi_lane_entropy_streams_agree_on_every_simd_path(n, simd):
    """Compact blocks of 8192+ residuals use 8-32 rANS lanes: every kernel must decode them alike."""
    rng = np.random.default_rng(n)
    lon = np.round(-74 + np.cumsum(rng.integers(-400, 400, n)) * 1e-5, 5)
    block = codec.encode(lon, "compact")
    assert np.array_equal(codec.decode(block), lon)
