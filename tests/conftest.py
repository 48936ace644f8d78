"""Shared fixtures and hypothesis profiles of the test suite.

Hypothesis profiles (select with the environment variable HYPOTHESIS_PROFILE):

- ``ci`` (default): no deadline (shared CI machines are slow and noisy) and a
  moderate number of examples, so the whole suite stays quick;
- ``dev``: fewer examples, for a fast edit-test loop;
- ``thorough``: many more examples, for a nightly or pre-release run.
"""

from __future__ import annotations

import contextlib
import os
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from chronotope import codec
from chronotope._checksum import crc32c

# SIMD fixtures are function-scoped on purpose (the kernel table is restored
# after every test), which hypothesis would otherwise flag; they hold no
# per-example state, so sharing them between examples is correct.
_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("ci", deadline=None, max_examples=40, suppress_health_check=_SUPPRESSED, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=10, suppress_health_check=_SUPPRESSED)
settings.register_profile("thorough", deadline=None, max_examples=1000, suppress_health_check=_SUPPRESSED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# When a property fails, hypothesis's pytest plugin imports its patch writer,
# which imports libcst, which (with some mypy_extensions versions) emits a
# DeprecationWarning at import time. pytest turns warnings into errors here, so
# the report of a genuine failure would become an INTERNALERROR that ends the
# session. Import it once now, with that warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:
        pass

SIMD_PATHS = codec.available_simd()


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    """Run the test on one kernel table (every one this CPU has); restore "auto" afterwards."""
    assert codec.set_simd(request.param) == request.param
    try:
        yield request.param
    finally:
        codec.set_simd("auto")


@contextlib.contextmanager
def _use_simd(name):
    codec.set_simd(name)
    try:
        yield name
    finally:
        codec.set_simd("auto")


@pytest.fixture(scope="session")
def use_simd():
    """Context manager factory: ``with use_simd("avx2"): ...`` selects kernels, then restores "auto"."""
    return _use_simd


def _identical(expected: np.ndarray, got: np.ndarray) -> None:
    assert isinstance(got, np.ndarray)
    assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    if expected.dtype.kind == "f":
        # NaN payloads, -0.0 and subnormals: compare the bit patterns
        ubits = np.dtype(f"u{expected.dtype.itemsize}")
        a, b = expected.view(ubits), got.view(ubits)
        if not np.array_equal(a, b):
            bad = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
            raise AssertionError(
                f"{bad.size} values differ, first at flat index {bad[0]}: "
                f"{a.reshape(-1)[bad[0]]:#x} != {b.reshape(-1)[bad[0]]:#x}"
            )
    elif expected.size and expected.dtype.kind in "biumM":
        a, b = expected.reshape(-1), got.reshape(-1)
        same = a.view(np.uint8).reshape(a.size, -1) == b.view(np.uint8).reshape(b.size, -1)
        bad = np.flatnonzero(~same.all(axis=1))
        assert bad.size == 0, f"{bad.size} values differ, first at flat index {bad[0]}: {a[bad[0]]!r} != {b[bad[0]]!r}"
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(expected).tobytes()


@pytest.fixture(scope="session")
def assert_identical():
    """``assert_identical(expected, got)``: same dtype, same shape, same bits."""
    return _identical


def _roundtrip(array, mode="compact", codec_name="auto", transform="auto") -> bytes:
    block = codec.encode(array, mode, codec=codec_name, transform=transform)
    assert isinstance(block, bytes)
    bi = codec.info(block)
    if codec_name != "auto":
        # raw is the floor: a forced codec that would be larger than the values falls back to raw
        assert bi.codec in (codec_name, "raw"), f"forced codec {codec_name!r} but the block says {bi.codec!r}"
        if bi.codec == "raw" and codec_name != "raw":
            assert bi.payload_bytes == array.nbytes
    assert bi.mode == mode
    assert bi.shape == array.shape and bi.dtype == array.dtype
    assert bi.encoded_bytes == len(block)
    _identical(array, codec.decode(block))
    return block


@pytest.fixture(scope="session")
def roundtrip():
    """``roundtrip(array, mode, codec_name, transform) -> block``: encode, check the header, decode, compare bits."""
    return _roundtrip


# ---- forging blocks: change header fields or the payload, then fix the CRC ----

_BYTE_FIELDS = {"version": 4, "codec": 5, "dtype": 6, "unit": 7, "flags": 8, "ndim": 9, "reserved0": 10, "reserved1": 11}


def _split(block: bytes) -> tuple[bytearray, bytes]:
    hlen = 36 + 8 * block[9]
    return bytearray(block[:hlen]), bytes(block[hlen:])


def _forge(block: bytes, *, payload=None, shape=None, count=None, itemsize=None, payload_len=None,
           fix_crc=True, **byte_fields) -> bytes:
    """A copy of ``block`` with header fields or payload replaced and a valid CRC.

    ``shape`` rewrites ndim and the shape array (and count, unless given);
    ``payload_len`` defaults to the length of the (new) payload; the other
    keywords set single header bytes (``codec=``, ``dtype=``, ``version=`` ...).
    """
    head, body = _split(block)
    if payload is not None:
        body = bytes(payload)
    if shape is not None:
        head = head[:32] + b"".join(struct.pack("<Q", int(s)) for s in shape) + b"\0\0\0\0"
        head[9] = len(shape)
        if count is None:
            count = int(np.prod([int(s) for s in shape], dtype=object)) if shape else 1
    if count is not None:
        head[16:24] = struct.pack("<Q", count)
    if itemsize is not None:
        head[12:16] = struct.pack("<I", itemsize)
    head[24:32] = struct.pack("<Q", len(body) if payload_len is None else payload_len)
    for name, value in byte_fields.items():
        head[_BYTE_FIELDS[name]] = value
    if fix_crc:
        head[-4:] = struct.pack("<I", crc32c(body, crc32c(bytes(head[:-4]))))
    return bytes(head) + body


@pytest.fixture(scope="session")
def forge():
    """``forge(block, payload=..., shape=..., count=..., itemsize=..., codec=..., ...)`` -> bytes with a valid CRC."""
    return _forge


@pytest.fixture(scope="session")
def split_block():
    """``split_block(block) -> (header bytearray, payload bytes)``."""
    return _split
