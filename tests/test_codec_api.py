"""The public API of chronotope.codec: argument checking, buffers, info, sizes, threads."""

from __future__ import annotations

import array as pyarray
import json
import threading

import numpy as np
import pytest

from chronotope import codec
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError

MODES = ["compact", "fast"]
NS = 1_000_000_000


def _timestamps(n=5000, seed=1):
    rng = np.random.default_rng(seed)
    return 1_606_780_800 * NS + np.cumsum(rng.integers(1, 30, n)) * NS


def _lon(n=5000, seed=2):
    rng = np.random.default_rng(seed)
    return np.round(-74.0 + np.cumsum(rng.integers(-20, 21, n)) * 1e-5, 5)


# ---------------------------------------------------------------------------
# encode: what it refuses
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "make",
    [
        lambda: np.arange(100, dtype=np.int64)[::2],
        lambda: np.arange(100, dtype=np.float64)[::-1],
        lambda: np.arange(60, dtype=np.int32).reshape(6, 10).T,
        lambda: np.asfortranarray(np.arange(60, dtype=np.int16).reshape(6, 10)),
        lambda: np.arange(60, dtype=np.uint8).reshape(6, 10)[:, :5],
        lambda: np.zeros((4, 4), dtype="S3")[::2],
    ],
    ids=["strided", "reversed", "transposed", "fortran", "column-slice", "strings-strided"],
)
def test_encode_rejects_non_contiguous(make):
    a = make()
    assert not a.flags.c_contiguous
    with pytest.raises(InvalidArgumentError, match="contiguous"):
        codec.encode(a)
    assert codec.decode(codec.encode(np.ascontiguousarray(a))).tobytes() == np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize(
    "a",
    [
        np.array([1, "a", None], dtype=object),
        np.zeros(3, dtype=np.complex128),
        np.zeros(3, dtype=np.float16),
        np.zeros(3, dtype=np.longdouble) if np.dtype(np.longdouble).itemsize > 8 else np.zeros(3, dtype="V4"),
        np.zeros(3, dtype=[("x", "i4"), ("y", "f8")]),
        np.zeros(3, dtype="V8"),
        np.zeros(3, dtype="datetime64[10s]"),
    ],
    ids=lambda a: str(a.dtype),
)
def test_encode_rejects_unsupported_dtypes(a):
    with pytest.raises(InvalidArgumentError):
        codec.encode(a)


def test_encode_rejects_more_than_8_dimensions():
    assert codec.decode(codec.encode(np.zeros((1,) * 8, np.int8))).shape == (1,) * 8
    with pytest.raises(InvalidArgumentError, match="8"):
        codec.encode(np.zeros((1,) * 9, np.int8))


@pytest.mark.parametrize(
    "kwargs, what",
    [
        ({"mode": "small"}, "mode"),
        ({"mode": "COMPACT"}, "mode"),
        ({"mode": None}, "mode"),
        ({"codec": "zstd"}, "codec"),
        ({"codec": "Int"}, "codec"),
        ({"codec": ["int"]}, "codec"),
        ({"transform": "xor"}, "transform"),
        ({"transform": "delta_of_delta"}, "transform"),
    ],
    ids=repr,
)
def test_encode_rejects_unknown_names(kwargs, what):
    with pytest.raises(InvalidArgumentError, match=what) as exc_info:
        codec.encode(np.arange(10), **kwargs)
    # the message lists what is valid
    assert "expected one of" in str(exc_info.value)


@pytest.mark.parametrize(
    "dtype, codec_name",
    [
        ("int64", "decimal"), ("uint8", "decimal"), ("bool", "decimal"), ("datetime64[ns]", "decimal"),
        ("float64", "int"), ("float32", "rle"), ("float64", "dict"),
        ("S5", "int"), ("S5", "decimal"), ("U3", "rle"), ("U3", "dict"),
    ],
)
def test_encode_rejects_a_forced_codec_that_does_not_fit(dtype, codec_name):
    with pytest.raises(InvalidArgumentError):
        codec.encode(np.zeros(300, dtype=dtype), codec=codec_name)


def test_encode_rejects_non_arrays_it_cannot_convert():
    with pytest.raises(InvalidArgumentError):
        codec.encode([object(), object()])


def test_encode_accepts_array_likes():
    assert np.array_equal(codec.decode(codec.encode([1, 2, 3])), np.array([1, 2, 3]))
    assert codec.decode(codec.encode(np.float64(2.5))).shape == ()


@pytest.mark.parametrize(
    "dtype", [">i2", ">i4", ">i8", ">u2", ">u4", ">u8", ">f4", ">f8", ">M8[ns]", ">m8[s]", ">U5"]
)
@pytest.mark.parametrize("mode", MODES)
def test_big_endian_input_round_trips_to_the_same_values(dtype, mode):
    native = np.dtype(dtype).newbyteorder("=")
    rng = np.random.default_rng(3)
    if native.kind == "U":
        values = np.array(["alpha", "bravo", "ünïcø", "日本", ""] * 60, dtype=native)
    elif native.kind == "f":
        values = np.round(rng.uniform(-180, 180, 300), 4).astype(native)
        values[5] = np.nan
        values[6] = -0.0
    else:
        values = rng.integers(0, 10_000, 300).astype(np.int64 if native.kind in "mM" else native)
        values = values.view(native)
    big = values.astype(dtype)
    assert not big.dtype.isnative
    block = codec.encode(big, mode)
    out = codec.decode(block)
    assert out.dtype == native  # decoded in native order
    assert out.tobytes() == values.tobytes()  # the same values, bit for bit
    assert block == codec.encode(values, mode)  # and the same block as native input


# ---------------------------------------------------------------------------
# the typed helpers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint64", "int16", "bool", "S8"])
def test_encode_timestamps_rejects_non_timestamps(dtype):
    with pytest.raises(InvalidArgumentError, match="encode_timestamps"):
        codec.encode_timestamps(np.zeros(10, dtype=dtype))


@pytest.mark.parametrize("dtype", ["int64", "datetime64[ns]", "datetime64[s]", "timedelta64[ms]"])
@pytest.mark.parametrize("transform", ["auto", "none", "delta", "delta-of-delta"])
def test_encode_timestamps_accepts_int64_and_times(dtype, transform):
    t = _timestamps(1000).view(dtype) if dtype != "int64" else _timestamps(1000)
    block = codec.encode_timestamps(t, transform=transform)
    assert codec.info(block).codec == "int"
    out = codec.decode(block)
    assert out.dtype == t.dtype and out.tobytes() == t.tobytes()


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "datetime64[ns]", "S4", "float16"])
def test_encode_floats_rejects_non_floats(dtype):
    with pytest.raises(InvalidArgumentError, match="encode_floats"):
        codec.encode_floats(np.zeros(10, dtype=dtype))


@pytest.mark.parametrize("codec_name", ["int", "rle", "dict", "zstd"])
def test_encode_floats_rejects_integer_codecs(codec_name):
    with pytest.raises(InvalidArgumentError):
        codec.encode_floats(_lon(), codec=codec_name)


@pytest.mark.parametrize("codec_name", ["auto", "decimal", "blosc", "raw"])
def test_encode_floats(codec_name):
    lon = _lon()
    block = codec.encode_floats(lon, codec=codec_name)
    assert codec.info(block).codec == ("decimal" if codec_name == "auto" else codec_name)
    assert codec.decode(block).tobytes() == lon.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "S4", "datetime64[ns]"])
def test_encode_ints_rejects_non_integers(dtype):
    with pytest.raises(InvalidArgumentError, match="encode_ints"):
        codec.encode_ints(np.zeros(10, dtype=dtype))


@pytest.mark.parametrize("codec_name", ["decimal", "zstd"])
def test_encode_ints_rejects_float_codecs(codec_name):
    with pytest.raises(InvalidArgumentError):
        codec.encode_ints(np.arange(10), codec=codec_name)


@pytest.mark.parametrize("codec_name", ["auto", "int", "rle", "dict", "raw", "blosc"])
def test_encode_ints(codec_name):
    ids = np.repeat(np.array([366_998_410, 367_776_660, 538_005_405], dtype=np.int64), 400)
    block = codec.encode_ints(ids, codec=codec_name)
    if codec_name != "auto":
        assert codec.info(block).codec == codec_name
    assert codec.decode(block).tobytes() == ids.tobytes()


@pytest.mark.parametrize(
    "data",
    [
        b'{"name": "EVER GIVEN"}',
        bytearray(b"\x00\x01\x02" * 1000),
        memoryview(b"abcdefgh" * 100),
        memoryview(b"0123456789abcdef" * 10)[3:77],
        np.arange(256, dtype=np.uint8),
        pyarray.array("i", range(100)),
        b"",
        bytearray(),
        memoryview(b""),
        np.empty(0, np.uint8),
    ],
    ids=["bytes", "bytearray", "memoryview", "memoryview-slice", "numpy", "array-i", "empty-bytes",
         "empty-bytearray", "empty-memoryview", "empty-numpy"],
)
@pytest.mark.parametrize("mode", MODES)
def test_encode_bytes_round_trip(data, mode):
    expected = bytes(memoryview(data).cast("B"))
    block = codec.encode_bytes(data, mode)
    out = codec.decode_bytes(block)
    assert type(out) is bytes and out == expected
    bi = codec.info(block)
    assert bi.dtype == np.uint8 and bi.shape == (len(expected),)
    assert codec.decode_bytes(bytearray(block)) == expected
    assert codec.decode_bytes(memoryview(block)) == expected


def test_encode_bytes_rejects_non_buffers():
    for bad in ("a string", 12, None, [1, 2, 3]):
        with pytest.raises(InvalidArgumentError, match="bytes-like"):
            codec.encode_bytes(bad)
    with pytest.raises(InvalidArgumentError, match="contiguous"):
        codec.encode_bytes(memoryview(np.arange(20, dtype=np.uint8))[::2])


def test_decode_bytes_refuses_a_block_that_is_not_bytes():
    for a in (np.arange(10, dtype=np.int64), np.zeros((2, 3), np.uint8)):
        with pytest.raises(InvalidArgumentError, match="not bytes"):
            codec.decode_bytes(codec.encode(a))


def test_json_document_round_trip():
    doc = {
        "mmsi": 366998410,
        "name": "EVER GIVEN",
        "flag": "🇵🇦",
        "dims": {"length": 399.94, "beam": 58.8},
        "ports": ["Tanjung Pelepas", "Rotterdam"] * 50,
        "eta": None,
    }
    text = json.dumps(doc, ensure_ascii=False).encode()
    for mode in MODES:
        block = codec.encode_bytes(text, mode)
        assert json.loads(codec.decode_bytes(block)) == doc
    assert len(codec.encode_bytes(text)) < len(text)  # the repeated ports compress


# ---------------------------------------------------------------------------
# decode: buffers, context
# ---------------------------------------------------------------------------

def test_decode_accepts_any_contiguous_buffer():
    t = _timestamps(3000)
    block = codec.encode(t)
    framed = b"junk" + block + b"more"
    for buf in (
        block,
        bytearray(block),
        memoryview(block),
        np.frombuffer(block, dtype=np.uint8),
        np.frombuffer(block, dtype=np.uint8).copy(),
        memoryview(framed)[4:4 + len(block)],          # a block inside a larger buffer
        np.frombuffer(framed, dtype=np.uint8)[4:4 + len(block)],
    ):
        assert np.array_equal(codec.decode(buf), t)
        assert codec.info(buf).shape == t.shape


def test_decode_result_is_a_new_writable_array():
    a = np.arange(1000, dtype=np.int64)
    block = bytearray(codec.encode(a, codec="raw"))
    out = codec.decode(block)
    out[0] = 99  # writable
    block[-1] ^= 0  # the block is not shared with the result
    assert out.flags.writeable and out.flags.c_contiguous and out.flags.owndata
    assert codec.decode(block)[0] == 0


def test_decode_rejects_non_buffers_and_non_contiguous_buffers():
    for bad in ("CTBK", 1, None):
        with pytest.raises(InvalidArgumentError, match="bytes-like"):
            codec.decode(bad)
    strided = np.frombuffer(codec.encode(np.arange(10)) * 2, dtype=np.uint8)[::2]
    with pytest.raises(InvalidArgumentError, match="contiguous"):
        codec.decode(strided)


@pytest.mark.parametrize(
    "buf",
    [b"", b"CTB", b"not a block at all", b"CTBK" + bytes(40)],
    ids=["empty", "short", "garbage", "zero-header"],
)
def test_decode_context_prefixes_the_message(buf):
    ctx = "segment 7, block 3"
    with pytest.raises(CorruptDataError) as exc_info:
        codec.decode(buf, context=ctx)
    assert str(exc_info.value).startswith(ctx + ": ")
    with pytest.raises(CorruptDataError) as exc_info:
        codec.info(buf, context=ctx)
    assert str(exc_info.value).startswith(ctx + ": ")
    with pytest.raises(CorruptDataError) as exc_info:
        codec.decode_bytes(buf, context=ctx)
    assert str(exc_info.value).startswith(ctx + ": ")


def test_decode_context_on_checksum_error():
    block = bytearray(codec.encode(np.arange(300)))
    block[-1] ^= 0x10
    with pytest.raises(CorruptDataError, match=r"^segment 7, block 3: checksum mismatch"):
        codec.decode(block, context="segment 7, block 3")


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        codec.decode(b"nonsense")
    with pytest.raises(ValueError):
        codec.encode(np.arange(10), mode="nonsense")
    assert issubclass(CorruptDataError, ChronotopeError) and issubclass(InvalidArgumentError, ChronotopeError)


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "a, expected_codec",
    [
        (_timestamps(2000).astype("datetime64[ns]"), "int"),
        (_lon(2000), "decimal"),
        (np.repeat(np.arange(5, dtype=np.int16), 400), "rle"),
        (np.random.default_rng(4).integers(0, 2**32, 300, dtype=np.uint32).view(np.float32), "raw"),
        (np.array([b"WDC1234", b"WDC1235"] * 500, dtype="S7").reshape(10, 100), "blosc"),
        (np.zeros((3, 4, 5), dtype="U2"), None),
    ],
    ids=["datetime", "lon", "runs", "noise", "strings-2d", "unicode-3d"],
)
def test_info_describes_the_block(a, expected_codec, mode):
    block = codec.encode(a, mode)
    bi = codec.info(block)
    assert isinstance(bi, codec.BlockInfo)
    assert bi.dtype == a.dtype and bi.shape == a.shape and bi.mode == mode
    assert bi.codec in codec.CODECS and bi.codec != "auto"
    if expected_codec:
        assert bi.codec == expected_codec
    assert bi.header_bytes == 36 + 8 * a.ndim
    assert bi.encoded_bytes == len(block) == bi.header_bytes + bi.payload_bytes
    assert bi.nbytes == a.nbytes
    with pytest.raises(AttributeError):
        bi.codec = "raw"  # frozen


def test_info_reads_forced_codecs():
    a = np.repeat(np.arange(8, dtype=np.int64), 500)
    for name in ("int", "rle", "dict", "raw", "blosc"):
        assert codec.info(codec.encode(a, codec=name)).codec == name


def test_info_on_an_empty_array():
    for dtype in ("int64", "float32", "S3", "U1", "bool", "datetime64[s]"):
        a = np.zeros((0, 3), dtype=dtype)
        block = codec.encode(a)
        bi = codec.info(block)
        assert bi.shape == (0, 3) and bi.dtype == a.dtype and bi.nbytes == 0
        assert codec.decode(block).shape == (0, 3)


# ---------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------

def _size_inputs():
    rng = np.random.default_rng(5)
    yield "timestamps", _timestamps(20_000)
    yield "lon", _lon(20_000)
    yield "runs", np.repeat(rng.integers(0, 16, 400), rng.integers(1, 100, 400)).astype(np.int8)
    yield "ids", rng.choice(rng.integers(0, 2**40, 30), 20_000)
    yield "noise-f64", rng.standard_normal(20_000)
    yield "noise-bits", rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True)
    yield "small-ints", rng.integers(-3, 4, 20_000).astype(np.int32)
    yield "bool", rng.random(20_000) < 0.02
    yield "strings", np.array([b"WDC%04d" % (i % 97) for i in range(5000)], dtype="S7")
    yield "one", np.array([42], dtype=np.int64)
    yield "empty", np.zeros(0, dtype=np.float64)


@pytest.mark.parametrize("name, a", list(_size_inputs()), ids=[n for n, _ in _size_inputs()])
def test_compact_is_never_much_larger_than_fast_nor_than_raw(name, a):
    compact, fast = codec.encode(a, "compact"), codec.encode(a, "fast")
    header = 36 + 8 * a.ndim
    assert len(compact) <= len(fast) + 16, f"compact {len(compact)} bytes, fast {len(fast)}"
    for block in (compact, fast):
        assert len(block) <= a.nbytes + header  # raw is the floor


def test_compressible_columns_shrink():
    assert len(codec.encode(_timestamps(20_000))) < 20_000 * 8 / 4
    assert len(codec.encode(_lon(20_000))) < 20_000 * 8 / 3
    assert len(codec.encode(np.zeros(1_000_000, np.int64))) < 200


# ---------------------------------------------------------------------------
# threads: the C work runs without the GIL
# ---------------------------------------------------------------------------

def test_concurrent_decoding_in_two_threads_is_correct():
    columns = {
        "t": _timestamps(300_000),
        "lon": _lon(300_000),
        "ids": np.random.default_rng(6).choice(np.arange(50, dtype=np.int64) * 1_000_003, 300_000),
    }
    blocks = {(k, m): codec.encode(a, m) for k, a in columns.items() for m in MODES}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(order):
        try:
            barrier.wait()
            for _ in range(3):
                for key in order:
                    out = codec.decode(blocks[key])
                    if out.tobytes() != columns[key[0]].tobytes():
                        raise AssertionError(f"thread decoded {key} wrongly")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    keys = list(blocks)
    threads = [threading.Thread(target=work, args=(keys,)), threading.Thread(target=work, args=(keys[::-1],))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


def test_concurrent_encoding_in_two_threads_is_deterministic():
    a = _timestamps(200_000)
    expected = {m: codec.encode(a, m) for m in MODES}
    results: list[tuple[str, bytes]] = []
    barrier = threading.Barrier(2)

    def work():
        barrier.wait()
        for _ in range(3):
            for m in MODES:
                results.append((m, codec.encode(a, m)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 12
    assert all(block == expected[m] for m, block in results)


# ---------------------------------------------------------------------------
# SIMD selection
# ---------------------------------------------------------------------------

def test_available_simd_and_selection():
    names = codec.available_simd()
    assert names[0] == "generic" and len(set(names)) == len(names)
    assert set(names) <= {"generic", "avx2", "avx512"}
    try:
        for name in names:
            assert codec.set_simd(name) == name == codec.simd_level()
        assert codec.set_simd("auto") == names[-1]  # the best one
    finally:
        codec.set_simd("auto")


def test_set_simd_rejects_unknown_names():
    """An unknown name is an argument error, not corrupt data (code that catches
    CorruptDataError to skip damaged files must not swallow a configuration mistake)."""
    before = codec.simd_level()
    with pytest.raises(InvalidArgumentError, match="available") as exc_info:
        codec.set_simd("bogus")
    assert not isinstance(exc_info.value, CorruptDataError)
    assert codec.simd_level() == before


def test_set_simd_unknown_name_is_a_value_error_naming_the_choices():
    before = codec.simd_level()
    with pytest.raises(ValueError, match=r"bogus.*generic"):
        codec.set_simd("bogus")
    assert codec.simd_level() == before


def test_public_names():
    assert set(codec.MODES) == {"compact", "fast"}
    assert set(codec.CODECS) == {"auto", "raw", "int", "rle", "dict", "decimal", "blosc"}
    for name in codec.__all__:
        assert hasattr(codec, name)
