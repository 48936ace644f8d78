"""Hostile input: truncated, corrupted, random and forged blocks.

The contract (chronotope.codec): a block received from anyone either decodes
to an array of exactly the dtype and shape its validated header announces, or
raises CorruptDataError (or a subclass) saying what is wrong. Never a crash,
never a hang, never another exception type, never an array of another size.

Two layers are attacked separately:

- the checksum: every truncation and every single-byte change of a valid
  block, exhaustively, must be refused;
- the decoders behind it: "forged" blocks carry a valid CRC (recomputed with
  chronotope._checksum.crc32c) over a header or payload that was tampered with,
  so only the decoders' own validation stands between them and memory.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chronotope import codec
from chronotope._checksum import crc32c
from chronotope.errors import (
    ChecksumError,
    CorruptDataError,
    TruncatedDataError,
    UnsupportedFormatError,
)

MODES = ["compact", "fast"]
KINDS = ["int", "rle", "dict", "decimal", "blosc", "raw"]
# words that say what is wrong, one of which every error message must contain
KEYWORDS = ("checksum", "truncated", "magic", "version", "corrupt", "unsupported", "too large", "trailing")


def _sample_array(kind: str) -> np.ndarray:
    """About 300 values that the codec ``kind`` handles well."""
    rng = np.random.default_rng(2024)
    if kind == "int":  # irregular timestamps in seconds
        return 1_591_000_000 + np.cumsum(rng.integers(0, 40, 300))
    if kind == "rle":  # navigation status: long runs
        return np.repeat(np.array([0, 5, 1, 0, 8, 15], dtype=np.int32), [40, 70, 10, 90, 60, 30])
    if kind == "dict":  # a handful of wide ids
        return rng.choice(np.array([366_998_410, 367_776_660, 538_005_405, 255_805_926, 211_331_640]), 300)
    if kind == "decimal":  # AIS longitudes with a few missing values
        x = np.round(-74.0 + np.cumsum(rng.integers(-30, 31, 300)) * 1e-5, 5)
        x[[17, 18, 150]] = np.nan
        return x
    if kind == "blosc":  # a smooth 16-bit signal
        return (1000 + np.cumsum(rng.integers(-2, 3, 300))).astype(np.int16)
    return rng.integers(0, 256, 300, dtype=np.uint8)  # raw


def _sample_block(kind: str, mode: str) -> bytes:
    block = codec.encode(_sample_array(kind), mode, codec=kind)
    assert codec.info(block).codec == kind, f"the {kind} sample did not produce a {kind} block"
    return block


SAMPLES = {(k, m): _sample_block(k, m) for k in KINDS for m in MODES}


@pytest.fixture(params=list(SAMPLES), ids=lambda p: f"{p[0]}-{p[1]}")
def sample(request):
    kind, mode = request.param
    return kind, mode, SAMPLES[kind, mode]


def _decode_outcome(buf):
    """Decode; return the array, or the CorruptDataError. Anything else propagates."""
    try:
        return codec.decode(buf)
    except CorruptDataError as exc:
        return exc


def _check_forged(buf):
    """A forged block must raise CorruptDataError or decode to exactly what its header says."""
    out = _decode_outcome(buf)
    if isinstance(out, CorruptDataError):
        assert any(k in str(out).lower() for k in KEYWORDS), f"message does not say what is wrong: {out}"
        return out
    bi = codec.info(buf)
    assert out.dtype == bi.dtype and out.shape == bi.shape, (
        f"decoded {out.dtype}{out.shape} but the header says {bi.dtype}{bi.shape}"
    )
    assert out.nbytes == bi.nbytes
    return out


def test_samples_are_small_and_cover_every_codec():
    assert {k for k, _ in SAMPLES} == set(codec.CODECS) - {"auto"}
    for (kind, mode), block in SAMPLES.items():
        assert len(block) < 1200, (kind, mode, len(block))
        assert codec.info(block).mode == mode
        np.testing.assert_array_equal(codec.decode(block), _sample_array(kind))


# ---------------------------------------------------------------------------
# The checksum layer: exhaustive truncation and single-byte changes
# ---------------------------------------------------------------------------

def test_every_truncation_raises(sample):
    kind, mode, block = sample
    for n in range(len(block)):
        for call in (codec.decode, codec.info):
            with pytest.raises(CorruptDataError) as exc_info:
                call(block[:n])
            msg = str(exc_info.value)
            # a cut inside the magic is not even a block; everything else is truncated
            if n >= 4:
                assert isinstance(exc_info.value, TruncatedDataError), (n, msg)
                assert "truncated" in msg, (n, msg)


def test_every_single_byte_change_raises(sample):
    kind, mode, block = sample
    hlen = codec.info(block).header_bytes
    missed, unclear = [], []
    for pos in range(len(block)):
        original = block[pos]
        buf = bytearray(block)
        for value in range(256):
            if value == original:
                continue
            buf[pos] = value
            try:
                codec.decode(buf)
            except CorruptDataError as exc:
                msg = str(exc)
                if pos < 4:
                    ok = "magic" in msg
                elif pos == 4:
                    ok = "version" in msg
                elif pos >= hlen or hlen - 4 <= pos < hlen:  # payload or the stored CRC
                    ok = isinstance(exc, ChecksumError) and "checksum" in msg
                else:
                    ok = any(k in msg for k in KEYWORDS)
                if not ok:
                    unclear.append((pos, value, msg))
            else:
                missed.append((pos, value))
    assert not missed, f"{len(missed)} single-byte changes decoded without error, e.g. (pos, value) {missed[:5]}"
    assert not unclear, f"{len(unclear)} errors do not say what is wrong, e.g. {unclear[:5]}"


def test_every_single_byte_change_fails_info(sample):
    """info() validates header and checksum too: spot check every position with one value."""
    kind, mode, block = sample
    for pos in range(len(block)):
        buf = bytearray(block)
        buf[pos] ^= 0x5A
        with pytest.raises(CorruptDataError):
            codec.info(buf)


def test_trailing_garbage(sample):
    kind, mode, block = sample
    for extra in (b"\0", b"\xff", block[:1], block, bytes(1000)):
        with pytest.raises(CorruptDataError, match="corrupt|trailing") as exc_info:
            codec.decode(block + extra)
        assert not isinstance(exc_info.value, ChecksumError)


def test_empty_input():
    for buf in (b"", bytearray(), memoryview(b""), np.empty(0, np.uint8)):
        with pytest.raises(TruncatedDataError, match="truncated"):
            codec.decode(buf)
        with pytest.raises(TruncatedDataError, match="truncated"):
            codec.info(buf)


@pytest.mark.parametrize("magic", [b"CTBL", b"ctbk", b"\0\0\0\0", b"KBTC", b"PK\x03\x04"])
def test_wrong_magic(magic, forge):
    block = SAMPLES["int", "fast"]
    for buf in (magic + block[4:], forge(magic + block[4:])):
        with pytest.raises(CorruptDataError, match="magic"):
            codec.decode(buf)


@pytest.mark.parametrize("version", [0, 2, 3, 0x7F, 0xFF])
def test_unknown_version(version, forge):
    block = SAMPLES["decimal", "compact"]
    for buf in (block[:4] + bytes([version]) + block[5:], forge(block, version=version)):
        with pytest.raises(UnsupportedFormatError, match="version"):
            codec.decode(buf)
        with pytest.raises(UnsupportedFormatError, match="version"):
            codec.info(buf)


@given(st.binary(max_size=400))
def test_random_bytes(data):
    for buf in (data, b"CTBK" + data, b"CTBK\x01" + data):
        with pytest.raises(CorruptDataError) as exc_info:
            codec.decode(buf)
        assert any(k in str(exc_info.value) for k in KEYWORDS), str(exc_info.value)


# ---------------------------------------------------------------------------
# The decoder layer: forged blocks with a valid CRC
# ---------------------------------------------------------------------------

def test_forge_helper_reproduces_valid_blocks(sample, forge):
    kind, mode, block = sample
    assert forge(block) == block
    hlen = codec.info(block).header_bytes
    stored = struct.unpack("<I", block[hlen - 4:hlen])[0]
    assert stored == crc32c(block[hlen:], crc32c(block[:hlen - 4]))


def test_every_payload_change_with_valid_crc(sample, forge, split_block):
    """Every bit flip (and a few byte values) at every payload position, CRC recomputed."""
    kind, mode, block = sample
    _, payload = split_block(block)
    refused = 0
    for pos in range(len(payload)):
        values = {payload[pos] ^ (1 << bit) for bit in range(8)} | {0x00, 0xFF, 0x7F, 0x80}
        for value in values - {payload[pos]}:
            mutated = bytearray(payload)
            mutated[pos] = value
            refused += isinstance(_check_forged(forge(block, payload=mutated)), CorruptDataError)
    if kind != "raw":  # raw payloads are just values: any change is another valid array
        assert refused > 0


def test_every_header_change_with_valid_crc(sample, forge, split_block):
    """All 255 other values of every header byte (but the CRC), CRC recomputed."""
    kind, mode, block = sample
    head, _ = split_block(block)
    for pos in range(len(head) - 4):
        for value in range(256):
            if value == head[pos]:
                continue
            buf = bytearray(block)
            buf[pos] = value
            _check_forged(forge(bytes(buf)) if pos != 9 else bytes(buf))  # ndim changes the header size


def test_payload_truncated_or_extended_with_valid_crc(sample, forge, split_block):
    kind, mode, block = sample
    _, payload = split_block(block)
    for n in range(len(payload)):
        out = _check_forged(forge(block, payload=payload[:n]))
        assert isinstance(out, CorruptDataError), f"a payload cut to {n} bytes decoded"
    for extra in (b"\0", b"\x01", b"\0" * 8, payload):
        out = _check_forged(forge(block, payload=payload + extra))
        assert isinstance(out, CorruptDataError), f"{len(extra)} extra payload bytes decoded"


@st.composite
def payload_edits(draw, payload: bytes):
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["set", "set", "xor", "insert", "delete", "cut", "splice"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "xor" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
        elif op == "cut":
            del data[pos:]
        elif op == "splice":  # a chunk of another block's payload
            other = draw(st.sampled_from(list(SAMPLES.values())))
            start = draw(st.integers(0, len(other) - 1))
            data[pos:pos + draw(st.integers(0, 16))] = other[start:start + draw(st.integers(1, 64))]
    return bytes(data)


@pytest.mark.parametrize("key", list(SAMPLES), ids=lambda p: f"{p[0]}-{p[1]}")
@given(data=st.data())
def test_hypothesis_mutated_payloads(key, data, forge, split_block):
    block = SAMPLES[key]
    _, payload = split_block(block)
    _check_forged(forge(block, payload=data.draw(payload_edits(payload))))


@pytest.mark.parametrize("key", list(SAMPLES), ids=lambda p: f"{p[0]}-{p[1]}")
@given(
    codec_id=st.integers(0, 6),
    dtype_id=st.integers(0, 16),
    itemsize=st.sampled_from([0, 1, 2, 3, 4, 5, 8, 12, 16]),
    shape=st.lists(st.sampled_from([0, 1, 2, 3, 150, 299, 300, 301, 600]), max_size=3),
    flags=st.sampled_from([0, 1, 2]),
)
def test_hypothesis_relabelled_headers(key, codec_id, dtype_id, itemsize, shape, flags, forge):
    """Real payloads under other headers: wrong codec, dtype, itemsize, shape (CRC valid)."""
    block = SAMPLES[key]
    _check_forged(forge(block, codec=codec_id, dtype=dtype_id, itemsize=itemsize, shape=tuple(shape), flags=flags))


def test_forged_codec_ids(sample, forge):
    kind, mode, block = sample
    for codec_id in (6, 7, 0x7F, 0x80, 0xFF):
        with pytest.raises(UnsupportedFormatError, match="unsupported"):
            codec.decode(forge(block, codec=codec_id))
    for codec_id in range(6):  # the other codecs: refused, or a correctly shaped array
        _check_forged(forge(block, codec=codec_id))


def test_forged_codec_not_applicable_to_dtype(forge):
    with pytest.raises(UnsupportedFormatError):
        codec.decode(forge(SAMPLES["int", "fast"], codec=codec.CODECS["decimal"]))
    for name in ("int", "rle", "dict"):
        with pytest.raises(UnsupportedFormatError):
            codec.decode(forge(SAMPLES["decimal", "fast"], codec=codec.CODECS[name]))


@pytest.mark.parametrize("dtype_id", [0, 16, 17, 0x7F, 0xFF])
def test_forged_dtype_ids(dtype_id, sample, forge):
    kind, mode, block = sample
    with pytest.raises(UnsupportedFormatError, match="unsupported"):
        codec.decode(forge(block, dtype=dtype_id))
    with pytest.raises(UnsupportedFormatError):
        codec.info(forge(block, dtype=dtype_id))


@pytest.mark.parametrize("ndim", [9, 10, 16, 0x80, 0xFF])
def test_forged_ndim_above_8(ndim, forge):
    block = SAMPLES["raw", "fast"]
    # as a lone byte (header size unchanged), then with a header that really has the extra dimensions
    candidates = [forge(block, ndim=ndim), block[:9] + bytes([ndim]) + block[10:]]
    if ndim <= 16:
        candidates.append(forge(block, shape=(300,) + (1,) * (ndim - 1)))
    for buf in candidates:
        with pytest.raises(CorruptDataError) as exc_info:
            codec.decode(buf)
        assert any(k in str(exc_info.value) for k in KEYWORDS)


def test_eight_dimensions_is_the_limit(forge):
    block = codec.encode(np.arange(256, dtype=np.uint8).reshape((2,) * 8), "fast", codec="raw")
    assert codec.info(block).shape == (2,) * 8
    assert codec.decode(forge(block, shape=(4, 2, 2, 2, 1, 2, 2, 2))).shape == (4, 2, 2, 2, 1, 2, 2, 2)
    with pytest.raises(CorruptDataError, match="corrupt"):  # the same 256 values in 9 dimensions
        codec.decode(forge(block, shape=(2, 2, 2, 2, 1, 2, 2, 2, 2)))


@pytest.mark.parametrize("shape", [(299,), (301,), (1,), (), (150, 2), (150, 3), (2, 150), (600,), (100, 3, 1)], ids=str)
def test_forged_shapes(shape, sample, forge):
    """Another shape over the same payload: refused, or exactly that shape (never another size)."""
    kind, mode, block = sample
    out = _check_forged(forge(block, shape=shape))
    if kind == "raw" and int(np.prod(shape)) != 300:
        assert isinstance(out, CorruptDataError)


@pytest.mark.parametrize(
    "fields",
    [
        {"count": 299},                          # count disagrees with the shape
        {"count": 301},
        {"count": 0},
        {"count": 2**64 - 1},
        {"shape": (2**32, 2**32, 2), "count": 0},  # the product overflows 64 bits
        {"shape": (2**63, 2), "count": 0},
        {"shape": (2**64 - 1,)},                 # more bytes than memory could hold
        {"shape": (2**62,)},
        {"shape": (2**31, 2**31)},
        {"flags": 2},
        {"flags": 0xFF},
        {"reserved0": 1},
        {"reserved1": 0x80},
    ],
    ids=repr,
)
def test_forged_header_fields(fields, sample, forge):
    kind, mode, block = sample
    with pytest.raises(CorruptDataError) as exc_info:
        codec.decode(forge(block, **fields))
    assert any(k in str(exc_info.value) for k in KEYWORDS)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 2**40)], ids=str)
def test_forged_empty_shape_over_a_payload(shape, sample, forge):
    """An empty array announced over a non-empty payload is corrupt (the payload is not consumed).

    Regression: 8-byte integer codecs decoded in place into a NULL dst and
    reported MemoryError instead of CorruptDataError.
    """
    kind, mode, block = sample
    with pytest.raises(CorruptDataError, match="corrupt|trailing"):
        codec.decode(forge(block, shape=shape))


@pytest.mark.parametrize("itemsize", [0, 1, 3, 4, 7, 9, 16, 2**31, 2**32 - 1])
def test_forged_itemsize_of_fixed_dtype(itemsize, sample, forge):
    kind, mode, block = sample
    if itemsize == codec.info(block).dtype.itemsize:
        return
    with pytest.raises(CorruptDataError):
        codec.decode(forge(block, itemsize=itemsize))


@pytest.mark.parametrize("dtype", ["S5", "U5"])
@pytest.mark.parametrize("codec_name", ["raw", "blosc"])
def test_forged_itemsize_of_strings(dtype, codec_name, forge):
    a = np.array(["alpha", "bravo", "charl", "delta"] * 75, dtype=dtype)
    block = codec.encode(a, "fast", codec=codec_name)
    assert codec.info(block).codec == codec_name
    bad = [0, 1, 2, 4, 6, 19, 21, 2**20] if dtype[0] == "U" else [0, 1, 4, 6, 2**20]
    for itemsize in bad:
        with pytest.raises(CorruptDataError):
            codec.decode(forge(block, itemsize=itemsize))


@pytest.mark.parametrize("dtype", ["S5", "U5"])
@pytest.mark.parametrize("itemsize", [2**31, 2**32 - 4])
def test_forged_huge_string_itemsize(dtype, itemsize, forge):
    """Regression: numpy cannot describe such a dtype, and decode raised TypeError."""
    block = codec.encode(np.array(["alpha"] * 300, dtype=dtype), "fast", codec="raw")
    with pytest.raises(CorruptDataError):
        codec.decode(forge(block, itemsize=itemsize))
    with pytest.raises(CorruptDataError):
        codec.info(forge(block, itemsize=itemsize))


@pytest.mark.parametrize("unit", [14, 15, 0x7F, 0xFF])
def test_forged_time_unit(unit, forge):
    block = codec.encode(np.arange(300).astype("datetime64[s]"), "fast")
    with pytest.raises(UnsupportedFormatError, match="unit"):
        codec.decode(forge(block, unit=unit))
    with pytest.raises(UnsupportedFormatError, match="unit"):
        codec.info(forge(block, unit=unit))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("codec_name", ["int", "rle", "dict"])
def test_forged_wider_values_than_the_dtype_holds(codec_name, mode, forge):
    """An int64 stream relabelled as a narrower integer dtype must be refused, not truncated."""
    values = np.repeat(np.array([5, -3, 2**40, 7, 2**33 + 1, 0, -(2**35)]), 50)
    block = codec.encode(values, mode, codec=codec_name)
    assert codec.info(block).codec == codec_name
    for dtype_id, itemsize in [(1, 1), (2, 1), (3, 2), (4, 4), (6, 1), (7, 2), (8, 4)]:
        with pytest.raises(CorruptDataError, match="corrupt"):
            codec.decode(forge(block, dtype=dtype_id, itemsize=itemsize))
    # the same stream as uint64 or datetime64 is just another reading of the same bits
    assert np.array_equal(codec.decode(forge(block, dtype=9)).view(np.int64), values)
    assert np.array_equal(codec.decode(forge(block, dtype=12, unit=7)).view(np.int64), values)


@pytest.mark.parametrize("codec_name", ["raw", "blosc"])
def test_forged_bool_values_other_than_0_and_1(codec_name, forge):
    """Regression: raw and blosc blocks handed out numpy bools holding 2..255.

    The integer codecs refuse such values (narrow() in ct_block.c); a forged raw
    or blosc bool block is refused the same way.
    """
    values = np.tile(np.array([0, 1, 2, 0xFF], dtype=np.uint8), 75)
    block = codec.encode(values, "fast", codec=codec_name)
    assert codec.info(block).codec == codec_name
    forged = forge(block, dtype=1)  # relabel the uint8 block as bool
    with pytest.raises(CorruptDataError):
        codec.decode(forged)


def test_forged_bool_values_refused_by_integer_codecs(forge):
    values = np.repeat(np.array([0, 1, 2, 0xFF, 1, 0], dtype=np.uint8), 50)
    for name in ("int", "rle", "dict"):
        block = codec.encode(values, "fast", codec=name)
        assert codec.info(block).codec == name
        with pytest.raises(CorruptDataError, match="corrupt"):
            codec.decode(forge(block, dtype=1))


@pytest.mark.parametrize(
    "key",
    [("raw", "compact"), ("raw", "fast"), ("blosc", "compact"), ("blosc", "fast"),
     ("int", "fast"), ("dict", "fast"), ("decimal", "fast")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
@pytest.mark.parametrize("count", [2**40])
def test_forged_huge_count_is_refused_before_allocating(key, count, forge):
    """Regression: the output was allocated from the header's count before the
    payload was checked against it, so a ~500-byte forged block claiming 2**40
    values ended in numpy's MemoryError. ct_block_open now walks the payload's
    structure first: raw holds exactly count*itemsize bytes, blosc records the
    decoded size in its own header, and a PFor stream needs at least 3 bytes
    per 256 values.
    """
    block = SAMPLES[key]
    with pytest.raises(CorruptDataError):
        codec.decode(forge(block, shape=(count,)))
    with pytest.raises(CorruptDataError):
        codec.decode(forge(block, shape=(count // 1024, 1024)))


@pytest.mark.parametrize("count", [2**36, 2**40, 2**52])
def test_forged_huge_run_length_count(count, forge):
    """A run-length block can legitimately describe a huge array in a few bytes:
    here only a clean refusal or a MemoryError is acceptable (no crash)."""
    try:
        codec.decode(forge(SAMPLES["rle", "fast"], shape=(count,)))
    except (CorruptDataError, MemoryError):
        pass
    else:
        raise AssertionError("a forged run-length block claiming more values decoded")


@st.composite
def forged_blocks(draw):
    """Headers drawn field by field, a valid CRC, and a payload that is random or borrowed."""
    ndim = draw(st.integers(0, 3))
    shape = draw(st.lists(st.integers(0, 40), min_size=ndim, max_size=ndim))
    dtype_id = draw(st.integers(1, 15))
    fixed = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 2, 8: 4, 9: 8, 10: 4, 11: 8, 12: 8, 13: 8}
    itemsize = fixed.get(dtype_id) or draw(st.sampled_from([1, 2, 4, 8, 12]))
    codec_id = draw(st.integers(0, 5))
    if draw(st.booleans()):
        payload = draw(st.binary(max_size=300))
    else:
        other = draw(st.sampled_from(list(SAMPLES.values())))
        payload = other[36 + 8 * other[9]:]
    head = bytearray(b"CTBK" + bytes([1, codec_id, dtype_id, draw(st.integers(0, 13)), draw(st.integers(0, 1)), ndim, 0, 0]))
    head += struct.pack("<IQQ", itemsize, int(np.prod(shape, dtype=np.uint64)), len(payload))
    head += b"".join(struct.pack("<Q", s) for s in shape)
    head += struct.pack("<I", crc32c(payload, crc32c(bytes(head))))
    return bytes(head) + payload


@given(forged_blocks())
def test_hypothesis_forged_blocks(buf):
    _check_forged(buf)


@given(data=st.data())
def test_hypothesis_forged_from_fresh_arrays(data, forge):
    """Encode a fresh random array, then tamper with its payload under a valid CRC."""
    dtype = data.draw(st.sampled_from(["int8", "uint16", "int32", "int64", "uint64", "float32", "float64", "bool"]))
    n = data.draw(st.integers(1, 600))
    seed = data.draw(st.integers(0, 2**32))
    rng = np.random.default_rng(seed)
    if dtype.startswith("float"):
        a = np.round(rng.uniform(-180, 180, n), data.draw(st.integers(0, 6))).astype(dtype)
    elif dtype == "bool":
        a = rng.random(n) < 0.1
    else:
        ii = np.iinfo(dtype)
        a = np.cumsum(rng.integers(0, 5, n)).astype(dtype) + rng.integers(ii.min, ii.max, dtype=dtype, endpoint=True)
    mode = data.draw(st.sampled_from(MODES))
    block = codec.encode(a, mode)
    payload = block[codec.info(block).header_bytes:]
    assume(len(payload) > 0)
    _check_forged(forge(block, payload=data.draw(payload_edits(payload))))


def test_context_in_hostile_errors():
    block = SAMPLES["dict", "compact"]
    for buf in (block[:10], block[:-1], b"XXXX" + block[4:], block[:-1] + bytes([block[-1] ^ 1])):
        with pytest.raises(CorruptDataError, match=r"^segment 000042\.cts, block 7: "):
            codec.decode(buf, context="segment 000042.cts, block 7")
