"""The binary batch (chronotope.batch): round trips of every dtype, and hostile input that must fail cleanly."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chronotope import codec
from chronotope._checksum import crc32c
from chronotope.batch import MAGIC, decode_batch, encode_batch, strings_to_utf8, utf8_to_strings
from chronotope.errors import (ChecksumError, CorruptDataError, InvalidArgumentError, TruncatedDataError,
                               UnsupportedFormatError)

NUMERIC = ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8", "M8[s]", "M8[ns]"]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12).map(lambda s: s.rstrip("\x00"))


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal dtype, shape and bits (NaN payloads and -0.0 included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "U":
        return a.tolist() == b.tolist()
    return a.tobytes() == b.tobytes()


def reseal(buf: bytes | bytearray) -> bytes:
    """The message with its trailing checksum recomputed: a forgery the checksum cannot catch."""
    body = bytes(buf[:-4])
    return body + struct.pack("<I", crc32c(body))


def sample(rows: int = 50) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {"object_id": np.array([f"vessel-{i % 5}é" for i in range(rows)]),
            "t": 1_606_780_800 * 10**9 + np.arange(rows, dtype=np.int64) * 10**9,
            "x": np.round(-74 + rng.normal(0, 0.01, rows), 5), "y": np.round(40.6 + rng.normal(0, 0.01, rows), 5),
            "sog": rng.uniform(0, 20, rows).astype(np.float32)}


# ---- round trips ----

@st.composite
def column_sets(draw):
    rows = draw(st.integers(0, 40))
    names = draw(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), max_size=6, unique=True))
    cols = {}
    for name in names:
        kind = draw(st.sampled_from(NUMERIC + ["U"]))
        if kind == "U":
            cols[name] = np.array(draw(st.lists(TEXT, min_size=rows, max_size=rows)), dtype=str).reshape(rows)
        else:
            cols[name] = draw(hnp.arrays(np.dtype(kind), rows))
    return cols


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column_sets(), st.sampled_from(["fast", "compact"]))
def test_any_columns_round_trip_bit_for_bit(cols, mode):
    back = decode_batch(encode_batch(cols, mode))
    assert list(back) == list(cols)
    for name, a in cols.items():
        assert same(back[name], a), name


@given(st.lists(TEXT, max_size=30))
def test_strings_become_utf8_and_back_as_python_encodes_them(words):
    a = np.array(words, dtype=str).reshape(len(words))
    offsets, data = strings_to_utf8(a)
    assert data.tobytes() == "".join(a.tolist()).encode()
    assert [data[o0:o1].tobytes().decode() for o0, o1 in zip(offsets[:-1], offsets[1:])] == a.tolist()
    assert utf8_to_strings(offsets, data).tolist() == a.tolist()


def test_ids_as_integers_or_strings_and_objects_of_str():
    ints = {"object_id": np.array([367000150, -1, 2**62]), "t": np.array([3, 1, 2])}
    assert same(decode_batch(encode_batch(ints))["object_id"], ints["object_id"])
    objects = {"object_id": np.array(["a", "ü", "😀"], dtype=object)}
    assert decode_batch(encode_batch(objects))["object_id"].tolist() == ["a", "ü", "😀"]


def test_an_empty_batch_and_a_batch_without_columns():
    empty = {"object_id": np.empty(0, "U1"), "t": np.empty(0, np.int64), "x": np.empty(0), "y": np.empty(0)}
    back = decode_batch(encode_batch(empty))
    assert {k: (v.dtype, len(v)) for k, v in back.items()} == {"object_id": (np.dtype("U1"), 0),
                                                                "t": (np.dtype(np.int64), 0),
                                                                "x": (np.dtype(np.float64), 0),
                                                                "y": (np.dtype(np.float64), 0)}
    assert decode_batch(encode_batch({})) == {}


def test_regular_samples_take_a_few_bytes_per_point():
    n = 100_000
    cols = {"object_id": np.repeat(np.arange(100, dtype=np.int64), n // 100),
            "t": np.tile(np.arange(n // 100, dtype=np.int64) * 10**10, 100),
            "x": np.round(np.linspace(-74.1, -73.9, n), 5), "y": np.round(np.linspace(40.5, 40.8, n), 5)}
    buf = encode_batch(cols)
    assert len(buf) < 8 * n  # raw: 32 bytes a point
    assert all(same(decode_batch(buf)[k], v) for k, v in cols.items())


@pytest.mark.parametrize("cols, message", [
    ({"x": np.zeros(3), "y": np.zeros(2)}, "differ in length"),
    ({"x": np.zeros((2, 2))}, "must be 1-D"),
    ({"1x": np.zeros(2)}, "invalid column name"),
    ({"é": np.zeros(2)}, "invalid column name"),
    ({"x": np.zeros(2, np.complex128)}, "cannot go in a batch"),
    ({"x": np.zeros(2, np.float16)}, "cannot go in a batch"),
    ({"x": np.array([b"a"])}, "cannot go in a batch"),
    ({"x": np.array(["a", 1], dtype=object)}, "row 1 is neither"),
    ({"x": np.array(["\ud800"])}, "lone surrogate"),
])
def test_the_encoder_refuses_what_it_cannot_carry(cols, message):
    with pytest.raises(InvalidArgumentError, match=message):
        encode_batch(cols)


def test_the_encoder_checks_its_options():
    with pytest.raises(InvalidArgumentError, match="mode"):
        encode_batch({"x": np.zeros(1)}, mode="smallest")
    with pytest.raises(InvalidArgumentError, match="dict"):
        encode_batch([np.zeros(1)])


# ---- hostile input ----

def test_every_truncation_fails_cleanly():
    buf = encode_batch(sample(20))
    for end in range(len(buf)):
        with pytest.raises(CorruptDataError):
            decode_batch(buf[:end])
    with pytest.raises(TruncatedDataError, match="shorter than the smallest"):
        decode_batch(buf[:10])


def test_every_bit_flip_is_caught():
    buf = encode_batch(sample(8))
    for pos in range(len(buf)):
        for bit in (0, 3, 7):
            damaged = bytearray(buf)
            damaged[pos] ^= 1 << bit
            with pytest.raises(CorruptDataError):
                decode_batch(bytes(damaged))


def test_wrong_magic_version_flags_and_checksum_are_named():
    buf = bytearray(encode_batch(sample(4)))
    with pytest.raises(CorruptDataError, match="wrong magic"):
        decode_batch(b"{" + bytes(buf[1:]))
    for offset, value, message in ((8, 2, "version 2"), (10, 1, "flags")):
        forged = bytearray(buf)
        struct.pack_into("<H", forged, offset, value)
        with pytest.raises(UnsupportedFormatError, match=message):
            decode_batch(reseal(forged))
    buf[-1] ^= 0xFF
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        decode_batch(bytes(buf))


def _table_offsets(buf: bytes) -> list[dict]:
    """Where each column entry's fields sit in an (unforged) batch."""
    pos, out = 24, []
    for _ in range(struct.unpack_from("<I", buf, 12)[0]):
        entry = {"name_len": pos}
        pos += 1 + buf[pos]
        entry["dtype_len"] = pos
        entry["dtype"] = pos + 1
        pos += 1 + buf[pos]
        entry["size"] = pos
        pos += 8
        out.append(entry)
    return out


def test_forged_counts_and_lengths_with_a_valid_checksum_are_caught():
    buf = encode_batch(sample(10))
    entries = _table_offsets(buf)

    def forged(offset: int, fmt: str, value) -> bytes:
        b = bytearray(buf)
        struct.pack_into(fmt, b, offset, value)
        return reseal(b)

    x_size = struct.unpack_from("<Q", buf, entries[2]["size"])[0]
    y_size = struct.unpack_from("<Q", buf, entries[3]["size"])[0]
    moved = bytearray(buf)
    struct.pack_into("<Q", moved, entries[2]["size"], x_size - 7)
    struct.pack_into("<Q", moved, entries[3]["size"], y_size + 7)
    moved = reseal(moved)
    cases = [
        (forged(16, "<Q", 11), CorruptDataError, "shape \\(11,\\), the batch declares 12"),  # a row more
        (forged(16, "<Q", 9), CorruptDataError, "shape \\(11,\\), the batch declares 10"),
        (forged(12, "<I", 6), CorruptDataError, "column 5"),  # a column more than the table holds
        (forged(12, "<I", 4), CorruptDataError, "add up to"),  # the last column left over
        (forged(12, "<I", 10**6), CorruptDataError, "more than 256"),
        (forged(entries[2]["size"], "<Q", 2**63), CorruptDataError, "add up to"),
        (moved, CorruptDataError, "column 'x'"),  # bytes of x given to y: the lengths still add up
        (forged(entries[0]["name_len"], "<B", 200), CorruptDataError, "invalid name"),
        (forged(entries[0]["name_len"], "<B", 0), CorruptDataError, "invalid name"),
        (forged(entries[1]["dtype"], "<2s", b"f8"), CorruptDataError, "declares 10 x float64"),
        (forged(entries[1]["dtype"], "<2s", b"zz"), UnsupportedFormatError, "unknown dtype"),
        (forged(entries[1]["name_len"] + 1, "<1s", b"x"), CorruptDataError, "appears twice"),
    ]
    for message_bytes, error, text in cases:
        with pytest.raises(error, match=text):
            decode_batch(message_bytes)


def test_a_forged_row_count_allocates_nothing_before_it_is_refused():
    buf = encode_batch(sample(10))
    b = bytearray(buf)
    struct.pack_into("<Q", b, 16, 2**40)
    forged = reseal(b)
    tracemalloc.start()
    try:
        with pytest.raises(InvalidArgumentError, match="more than the limit"):
            decode_batch(forged)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    with pytest.raises(InvalidArgumentError, match="more than the limit"):
        decode_batch(buf, max_bytes=100)  # an honest batch beyond the caller's limit


def _string_batch(offsets: np.ndarray, data: bytes, rows: int) -> bytes:
    """A one-column utf8 batch built by hand (the encoder never writes bad offsets or bytes)."""
    off_block = codec.encode_ints(np.asarray(offsets, dtype=np.int64))
    body = struct.pack("<Q", len(off_block)) + off_block + codec.encode_bytes(data)
    head = struct.pack("<8sHHIQ", MAGIC, 1, 0, 1, rows) + b"\x01s\x04utf8" + struct.pack("<Q", len(body))
    return reseal(head + body + b"\0\0\0\0")


@pytest.mark.parametrize("offsets, data, message", [
    ([0, 2, 1, 3], b"abc", "out of order"),
    ([0, 1, 2, 5], b"abc", "out of order"),
    ([1, 2, 3, 3], b"abc", "out of order"),
    ([0, 1, 2, 4], "aé".encode() + b"b", "inside a UTF-8 character"),
    ([0, 1, 2, 3], b"a\xffb", "invalid UTF-8"),
    ([0, 1, 4, 4], b"a\xed\xa0\x80", "invalid UTF-8"),  # an encoded surrogate
])
def test_string_columns_with_forged_offsets_or_bytes_are_caught(offsets, data, message):
    assert decode_batch(_string_batch([0, 1, 2, 3], b"abc", 3))["s"].tolist() == ["a", "b", "c"]
    with pytest.raises(CorruptDataError, match=message):
        decode_batch(_string_batch(offsets, data, 3))


def test_a_string_block_that_would_expand_beyond_the_limit_is_refused():
    buf = _string_batch([0, 3, 3, 3], b"abc", 3)
    with pytest.raises(InvalidArgumentError, match="more than"):
        decode_batch(buf, max_bytes=30)


def test_decode_takes_only_bytes():
    with pytest.raises(InvalidArgumentError, match="takes bytes"):
        decode_batch("a batch")


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_random_damage_with_a_valid_checksum_decodes_consistently_or_fails_cleanly(data):
    buf = bytearray(encode_batch(sample(6), data.draw(st.sampled_from(["fast", "compact"]))))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(buf) - 5))
        buf[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, 3))
    message = reseal(buf[: len(buf) - cut] if cut else buf)
    try:
        cols = decode_batch(message)
    except (CorruptDataError, InvalidArgumentError):
        return
    assert len({len(v) for v in cols.values()}) <= 1


def test_the_module_examples_run():
    import doctest

    import chronotope.batch

    result = doctest.testmod(chronotope.batch, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_ingest_page_examples_run():
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "api-ingest.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
