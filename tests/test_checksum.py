"""CRC-32C (chronotope._checksum.crc32c): known values, fast = portable, chaining."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronotope import codec
from chronotope._checksum import crc32c


def _reference(data: bytes, crc: int = 0) -> int:
    """Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78): slow and obviously right."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# the check value of the CRC catalogue and the iSCSI test vectors of RFC 3720 (B.4)
KNOWN = [
    (b"123456789", 0xE3069283),
    (b"", 0x00000000),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
]


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
@pytest.mark.parametrize("data, expected", KNOWN, ids=[f"vector{i}" for i in range(len(KNOWN))])
def test_known_values(data, expected, portable):
    assert crc32c(data, portable=portable) == expected
    assert _reference(data) == expected


def test_check_value():
    assert crc32c(b"123456789") == 0xE3069283


def test_accepts_buffers():
    data = b"123456789"
    for buf in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8), np.frombuffer(data, np.uint8).copy()):
        assert crc32c(buf) == 0xE3069283
        assert crc32c(buf, portable=True) == 0xE3069283


def test_rejects_non_contiguous_and_non_buffers():
    with pytest.raises((ValueError, BufferError, TypeError)):
        crc32c(np.arange(20, dtype=np.uint8)[::2])
    with pytest.raises(TypeError):
        crc32c("123456789")


def test_empty_input_continues_the_running_value():
    for value in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert crc32c(b"", value) == value
        assert crc32c(b"", value, portable=True) == value


@given(data=st.binary(max_size=300))
def test_matches_the_bitwise_reference(data):
    expected = _reference(data)
    assert crc32c(data) == expected
    assert crc32c(data, portable=True) == expected


@given(data=st.binary(min_size=0, max_size=5000), start=st.integers(0, 64), stop_back=st.integers(0, 64))
def test_fast_and_portable_agree_at_every_length_and_offset(data, start, stop_back):
    # slices start and end at any alignment: exercises the 8-byte loops and their tails
    view = memoryview(data)[min(start, len(data)):max(min(start, len(data)), len(data) - stop_back)]
    assert crc32c(view) == crc32c(view, portable=True)
    arr = np.frombuffer(data, dtype=np.uint8)[min(start, len(data)):]
    assert crc32c(arr) == crc32c(arr, portable=True)


def test_fast_and_portable_agree_exhaustively_on_short_lengths_and_offsets():
    rng = np.random.default_rng(11)
    buf = rng.integers(0, 256, 1200, dtype=np.uint8)
    for offset in range(16):
        for length in range(0, 140):
            piece = buf[offset:offset + length]
            assert crc32c(piece) == crc32c(piece, portable=True), (offset, length)
    for length in (1023, 1024, 1025, 4095, 4096, 4097, 65536 + 3):
        piece = rng.integers(0, 256, length, dtype=np.uint8)
        assert crc32c(piece) == crc32c(piece, portable=True), length


@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=6), portable=st.booleans())
def test_chained_equals_one_shot(data, cuts, portable):
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    running = 0
    for lo, hi in zip(bounds, bounds[1:]):
        running = crc32c(data[lo:hi], running, portable=portable)
    assert running == crc32c(data, portable=portable)
    # fast and portable paths can even be mixed within one chain
    if len(bounds) > 2:
        mid = bounds[1]
        assert crc32c(data[mid:], crc32c(data[:mid], portable=True)) == crc32c(data)


def test_single_bit_changes_always_change_the_crc():
    data = bytearray(np.random.default_rng(12).integers(0, 256, 300, dtype=np.uint8).tobytes())
    base = crc32c(data)
    for i in range(len(data)):
        for bit in range(8):
            data[i] ^= 1 << bit
            assert crc32c(data) != base, (i, bit)
            data[i] ^= 1 << bit


def test_block_checksum_layout():
    """The last 4 header bytes are the CRC-32C of the header bytes before them, then the payload."""
    for a in (np.arange(1000, dtype=np.int64), np.zeros((3, 4), np.float32), np.array([b"x"] * 7)):
        block = codec.encode(a)
        hlen = codec.info(block).header_bytes
        assert hlen == 36 + 8 * a.ndim
        (stored,) = struct.unpack("<I", block[hlen - 4:hlen])
        assert stored == crc32c(block[hlen:], crc32c(block[:hlen - 4]))
        assert stored == crc32c(block[:hlen - 4] + block[hlen:])
