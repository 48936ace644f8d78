"""Columns as many blocks in one call: the segment's storage primitive."""

import numpy as np
import pytest

from chronotope import codec
from chronotope.errors import CorruptDataError, InvalidArgumentError


@pytest.fixture(scope="module")
def column():
    rng = np.random.default_rng(7)
    return np.cumsum(rng.integers(60, 180, 10_000)).astype(np.int64) * 1_000_000_000


@pytest.mark.parametrize("rows", [1, 255, 256, 4096, 10_000, 20_000])
@pytest.mark.parametrize("mode", ["compact", "fast"])
def test_every_block_round_trips(column, rows, mode):
    data, offsets = codec.encode_blocks(column, rows, mode)
    nblocks = -(-len(column) // rows)
    assert len(offsets) == nblocks + 1 and offsets[0] == 0 and offsets[-1] == len(data)
    out = np.empty_like(column)
    codec.decode_blocks(data, offsets, np.arange(nblocks), out)
    assert np.array_equal(out, column)
    # each block is also a block of its own
    k = nblocks // 2
    assert np.array_equal(codec.decode(data[offsets[k]:offsets[k + 1]]), column[k * rows:(k + 1) * rows])


def test_selected_blocks_in_the_order_given(column):
    data, offsets = codec.encode_blocks(column, 1000)
    out = np.empty(2000, dtype=np.int64)
    codec.decode_blocks(data, offsets, [7, 2], out)
    assert np.array_equal(out[:1000], column[7000:8000])
    assert np.array_equal(out[1000:], column[2000:3000])


def test_float_and_datetime_columns():
    lon = np.round(-74 + np.cumsum(np.random.default_rng(1).integers(-300, 300, 5000)) * 1e-5, 5)
    t = np.arange(5000).astype("datetime64[s]")
    for col in (lon, t):
        data, offsets = codec.encode_blocks(col, 1024)
        out = np.empty_like(col)
        codec.decode_blocks(data, offsets, np.arange(len(offsets) - 1), out)
        assert np.array_equal(out.view(np.uint8), col.view(np.uint8))


def test_a_damaged_block_is_named(column):
    data, offsets = codec.encode_blocks(column, 1000)
    bad = bytearray(data)
    bad[int(offsets[3]) + 40] ^= 0x10
    out = np.empty(3000, dtype=np.int64)
    codec.decode_blocks(bad, offsets, [0, 1, 2], out)  # blocks before the damage still decode
    assert np.array_equal(out, column[:3000])
    with pytest.raises(CorruptDataError, match="block 3"):
        codec.decode_blocks(bad, offsets, [0, 3], np.empty(2000, dtype=np.int64), context="segment 9")


def test_wrong_sizes_and_indices_are_refused(column):
    data, offsets = codec.encode_blocks(column, 1000)
    with pytest.raises(CorruptDataError):
        codec.decode_blocks(data, offsets, [0], np.empty(999, dtype=np.int64))
    with pytest.raises(CorruptDataError):
        codec.decode_blocks(data, offsets, [0], np.empty(1001, dtype=np.int64))
    with pytest.raises(CorruptDataError):
        codec.decode_blocks(data, offsets, [10], np.empty(1000, dtype=np.int64))
    with pytest.raises(CorruptDataError):  # dtype of out differs from the blocks'
        codec.decode_blocks(data, offsets, [0], np.empty(1000, dtype=np.float64))
    forged = offsets.copy()
    forged[1] = len(data) + 10
    with pytest.raises(CorruptDataError):
        codec.decode_blocks(data, forged, [0], np.empty(1000, dtype=np.int64))


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError):
        codec.encode_blocks(np.zeros((2, 2)), 10)
    with pytest.raises(InvalidArgumentError):
        codec.encode_blocks(np.zeros(4), 0)
    with pytest.raises(InvalidArgumentError):
        codec.decode_blocks(b"", np.zeros(1, np.uint64), [], np.zeros((1, 1)))


def test_empty_column():
    data, offsets = codec.encode_blocks(np.empty(0, dtype=np.int64), 100)
    assert data == b"" and offsets.tolist() == [0]
    out = np.empty(0, dtype=np.int64)
    assert codec.decode_blocks(data, offsets, [], out) is out


def test_check_blocks_names_each_bad_block(column):
    data, offsets = codec.encode_blocks(column, 1000)
    assert codec.check_blocks(data, offsets) == {}
    bad = bytearray(data)
    bad[int(offsets[2]) + 60] ^= 0x01
    bad[int(offsets[9]) + 70] ^= 0x80
    problems = codec.check_blocks(bad, offsets)
    assert sorted(problems) == [2, 9]
    assert all("checksum" in msg for msg in problems.values())
    truncated = bytes(data[: int(offsets[5]) + 10])
    assert min(codec.check_blocks(truncated, offsets)) == 5
