"""Column codecs: numpy arrays in, self-describing checksummed blocks out.

The contract
------------
- :func:`encode` takes any C-contiguous numpy array of a supported dtype (bool,
  signed and unsigned integers, float32/64, datetime64/timedelta64 of any unit,
  fixed-width bytes ``S`` and unicode ``U``) and returns ``bytes``: one block.
  The input is read through the buffer protocol without a copy; non-contiguous
  arrays are rejected (pass ``numpy.ascontiguousarray(a)``). Big-endian input is
  converted to native order first.
- :func:`decode` returns a new array with the same dtype and shape, bit for bit
  equal to the input (NaN payloads, -0.0 and subnormals included).
- Blocks are safe to receive from anyone: a truncated, corrupted or forged
  block raises :class:`~chronotope.errors.CorruptDataError` (or a subclass)
  saying what is wrong. Decoding never reads or writes out of bounds.
- ``mode="compact"`` (default) adds an entropy stage where it pays;
  ``mode="fast"`` uses bit-packing only and decodes fastest. Both decode with
  :func:`decode`; the block records what was used.
- The codec is chosen per block and recorded in its header (see
  ``docs/format.md``): integer stream (frame of reference, delta or
  delta-of-delta, gcd, PFor bit-packing or entropy coding), run-length,
  dictionary, decimal floats with exceptions, blosc2, or raw.
- The C work runs without the GIL, so threads encode and decode in parallel.

>>> import numpy as np
>>> lon = np.array([-74.01234, -74.01229, -74.0122, np.nan])
>>> block = encode(lon)
>>> info(block).codec
'decimal'
>>> np.array_equal(decode(block), lon, equal_nan=True)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chronotope import _codec
from chronotope.errors import InvalidArgumentError, UnsupportedFormatError

__all__ = [
    "encode",
    "decode",
    "info",
    "BlockInfo",
    "encode_timestamps",
    "encode_ints",
    "encode_floats",
    "encode_bytes",
    "decode_bytes",
    "encode_blocks",
    "decode_blocks",
    "decode_blocks_at",
    "check_blocks",
    "simd_level",
    "set_simd",
    "available_simd",
    "MODES",
    "CODECS",
]

MODES = {"compact": 0, "fast": 1}
CODECS = {"auto": -1, "raw": 0, "int": 1, "rle": 2, "dict": 3, "decimal": 4, "blosc": 5}
_CODEC_NAMES = {v: k for k, v in CODECS.items()}
_TRANSFORMS = {"auto": -1, "none": 0, "delta": 1, "delta-of-delta": 2}

# numpy dtype -> ct_dtype code (csrc/ct_block.h)
_FIXED_CODES = {
    np.dtype(np.bool_): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.uint8): 6,
    np.dtype(np.uint16): 7,
    np.dtype(np.uint32): 8,
    np.dtype(np.uint64): 9,
    np.dtype(np.float32): 10,
    np.dtype(np.float64): 11,
}
_FIXED_DTYPES = {v: k for k, v in _FIXED_CODES.items()}
_DATETIME, _TIMEDELTA, _BYTES, _UNICODE = 12, 13, 14, 15
# datetime64/timedelta64 units, stored in the block header's unit byte
_UNITS = ["generic", "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]


@dataclass(frozen=True)
class BlockInfo:
    """What a block holds, read from its validated header."""

    dtype: np.dtype
    shape: tuple[int, ...]
    codec: str
    mode: str
    header_bytes: int
    payload_bytes: int

    @property
    def nbytes(self) -> int:
        """Size of the decoded values in bytes."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def encoded_bytes(self) -> int:
        """Size of the block: header plus payload."""
        return self.header_bytes + self.payload_bytes


def _dtype_code(dtype: np.dtype) -> tuple[int, int]:
    if dtype in _FIXED_CODES:
        return _FIXED_CODES[dtype], 0
    if dtype.kind in "mM":
        unit, count = np.datetime_data(dtype)
        if count != 1 or unit not in _UNITS:
            raise InvalidArgumentError(f"unsupported time unit in dtype {dtype}")
        return (_DATETIME if dtype.kind == "M" else _TIMEDELTA), _UNITS.index(unit)
    if dtype.kind == "S" and dtype.itemsize > 0:
        return _BYTES, 0
    if dtype.kind == "U" and dtype.itemsize > 0:
        return _UNICODE, 0
    raise InvalidArgumentError(
        f"cannot encode dtype {dtype}: supported are bool, integers, float32/64, "
        "datetime64/timedelta64 and fixed-width bytes/unicode"
    )


def _numpy_dtype(code: int, unit: int, itemsize: int) -> np.dtype:
    if code in _FIXED_DTYPES:
        return _FIXED_DTYPES[code]
    if code in (_DATETIME, _TIMEDELTA):
        if unit >= len(_UNITS):
            raise UnsupportedFormatError(f"unknown time unit code {unit}")
        kind = "M8" if code == _DATETIME else "m8"
        name = _UNITS[unit]
        return np.dtype(kind if name == "generic" else f"{kind}[{name}]")
    try:
        return np.dtype(f"S{itemsize}" if code == _BYTES else f"U{itemsize // 4}")
    except (TypeError, ValueError):  # wider than numpy allows
        raise UnsupportedFormatError(f"string items of {itemsize} bytes are not supported") from None


def _as_array(array) -> np.ndarray:
    a = np.asarray(array)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    elif not a.flags.aligned:
        a = a.copy()  # the C kernels load whole items: give them aligned memory
    if not a.flags.c_contiguous:
        raise InvalidArgumentError(
            "array must be C-contiguous (pass numpy.ascontiguousarray(a)); "
            "the codec reads the caller's buffer without copying"
        )
    return a


def _option(table: dict, name: str, what: str) -> int:
    try:
        return table[name]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"unknown {what} {name!r}; expected one of {sorted(table)}") from None


def encode(array, mode: str = "compact", *, codec: str = "auto", transform: str = "auto") -> bytes:
    """Encode an array into one self-describing block.

    Parameters
    ----------
    array : numpy.ndarray
        C-contiguous, any shape, a supported dtype (see the module docstring).
    mode : {"compact", "fast"}
        ``compact`` is smallest; ``fast`` decodes fastest.
    codec : str
        ``"auto"`` (choose per block) or force one of ``CODECS``; forcing a
        codec that does not fit the dtype raises InvalidArgumentError. A
        forced codec that would be larger than the raw values gives a raw
        block: no block is ever larger than its values plus a header.
    transform : {"auto", "none", "delta", "delta-of-delta"}
        For integer codecs: the transform before bit-packing.

    Returns
    -------
    bytes

    >>> import numpy as np
    >>> t = np.arange(0, 10_000, 10, dtype=np.int64)  # regular: delta-of-delta is all zeros
    >>> len(encode(t)) < 100
    True
    >>> decode(encode(np.array([], dtype=np.int32))).dtype
    dtype('int32')
    """
    a = _as_array(array)
    code, unit = _dtype_code(a.dtype)
    data = a.reshape(-1).view(np.uint8) if a.size else np.empty(0, np.uint8)
    return _codec.encode_block(
        data,
        code,
        unit,
        a.dtype.itemsize,
        tuple(int(s) for s in a.shape),
        _option(MODES, mode, "mode"),
        _option(CODECS, codec, "codec"),
        _option(_TRANSFORMS, transform, "transform"),
    )


def _to_info(d: dict) -> BlockInfo:
    return BlockInfo(
        dtype=_numpy_dtype(d["dtype"], d["unit"], d["itemsize"]),
        shape=tuple(int(s) for s in d["shape"]),
        codec=_CODEC_NAMES[d["codec"]],
        mode="fast" if d["fast"] else "compact",
        header_bytes=int(d["header_bytes"]),
        payload_bytes=int(d["payload_bytes"]),
    )


def _buffer(buf) -> memoryview:
    try:
        m = memoryview(buf)
    except TypeError:
        raise InvalidArgumentError(f"expected a bytes-like object, got {type(buf).__name__}") from None
    if not m.c_contiguous:
        raise InvalidArgumentError("block buffer must be contiguous")
    return m.cast("B") if m.format != "B" or m.ndim != 1 else m


def info(buf, *, context: str | None = None) -> BlockInfo:
    """Validate a block (header and checksum) and describe it without decoding.

    >>> import numpy as np
    >>> info(encode(np.zeros((2, 3), dtype=np.float32))).shape
    (2, 3)
    """
    return _to_info(_codec.block_info(_buffer(buf), context))


def decode(buf, *, out: np.ndarray | None = None, context: str | None = None) -> np.ndarray:
    """Decode a block produced by :func:`encode`.

    Parameters
    ----------
    buf : bytes-like
        One block.
    out : numpy.ndarray, optional
        Decode into this array instead of a new one: it must be C-contiguous,
        writable, of the block's dtype and number of elements (its shape may
        differ, e.g. a slice of a larger result). Returned on success.
    context : str, optional
        Prefixes error messages, e.g. ``"segment 12, block 3"``.

    Raises CorruptDataError (or a subclass) for anything but a valid block.

    >>> import numpy as np
    >>> result = np.empty(6, dtype=np.int64)
    >>> _ = decode(encode(np.arange(3)), out=result[:3])
    >>> _ = decode(encode(np.arange(3) * 2), out=result[3:])
    >>> result.tolist()
    [0, 1, 2, 0, 2, 4]
    """

    def allocate(d: dict) -> np.ndarray:
        bi = _to_info(d)
        if out is None:
            return np.empty(bi.shape, dtype=bi.dtype)
        if not isinstance(out, np.ndarray) or not out.flags.c_contiguous or not out.flags.writeable:
            raise InvalidArgumentError("out must be a writable C-contiguous numpy array")
        count = int(np.prod(bi.shape, dtype=np.int64))
        if out.dtype != bi.dtype or out.size != count:
            raise InvalidArgumentError(
                f"out holds {out.size} x {out.dtype}, the block holds {count} x {bi.dtype}"
            )
        return out

    return _codec.decode_block(_buffer(buf), allocate, context)


def _check_kind(a: np.ndarray, kinds: str, what: str) -> None:
    if a.dtype.kind not in kinds:
        raise InvalidArgumentError(f"{what} expects {what.split('_')[-1]}, got dtype {a.dtype}")


def encode_timestamps(t, mode: str = "compact", *, transform: str = "auto") -> bytes:
    """Encode int64 or datetime64 timestamps (any unit; unsorted input is fine).

    Chooses delta or delta-of-delta per block; whole seconds stored in
    nanoseconds cost no more than seconds (the common divisor is factored out).

    >>> import numpy as np
    >>> t = np.array(["2020-12-01T00:00:00", "2020-12-01T00:01:10"], dtype="datetime64[ns]")
    >>> decode(encode_timestamps(t))[1]
    np.datetime64('2020-12-01T00:01:10.000000000')
    """
    a = _as_array(t)
    if not (a.dtype.kind in "mM" or a.dtype == np.int64):
        raise InvalidArgumentError(f"encode_timestamps expects int64 or datetime64/timedelta64, got dtype {a.dtype}")
    return encode(a, mode, codec="int", transform=transform)


def encode_ints(x, mode: str = "compact", *, codec: str = "auto") -> bytes:
    """Encode an integer (or bool) column: delta, run-length or dictionary, whichever is smaller."""
    a = _as_array(x)
    _check_kind(a, "biu", "encode_ints")
    if codec not in ("auto", "int", "rle", "dict", "raw", "blosc"):
        raise InvalidArgumentError(f"codec {codec!r} does not apply to integers")
    return encode(a, mode, codec=codec)


def encode_floats(x, mode: str = "compact", *, codec: str = "auto") -> bytes:
    """Encode float32/float64 losslessly: decimal integers where the values allow, else blosc2."""
    a = _as_array(x)
    _check_kind(a, "f", "encode_floats")
    if a.dtype.itemsize not in (4, 8):
        raise InvalidArgumentError(f"encode_floats supports float32 and float64, got {a.dtype}")
    if codec not in ("auto", "decimal", "blosc", "raw"):
        raise InvalidArgumentError(f"codec {codec!r} does not apply to floats")
    return encode(a, mode, codec=codec)


def encode_bytes(data, mode: str = "compact") -> bytes:
    """Encode a bytes-like object (JSON documents, deltas, strings) with blosc2.

    >>> decode_bytes(encode_bytes(b'{"name": "EVER GIVEN"}'))
    b'{"name": "EVER GIVEN"}'
    """
    raw = np.frombuffer(_buffer(data), dtype=np.uint8)
    return encode(raw, mode, codec="blosc")


def decode_bytes(buf, *, context: str | None = None) -> bytes:
    """Decode a block made by :func:`encode_bytes` back into ``bytes``."""
    out = decode(buf, context=context)
    if out.dtype != np.uint8 or out.ndim != 1:
        raise InvalidArgumentError(f"block holds {out.dtype} of shape {out.shape}, not bytes")
    return out.tobytes()


def encode_blocks(column, rows_per_block: int, mode: str = "compact") -> tuple[bytes, np.ndarray]:
    """Encode a 1-D column as independent blocks of ``rows_per_block`` values, in one C call.

    Returns the blocks back to back and their ``uint64`` offsets (one more than
    the number of blocks): block k is ``data[offsets[k]:offsets[k + 1]]`` and
    decodes on its own with :func:`decode`.

    >>> import numpy as np
    >>> data, offsets = encode_blocks(np.arange(10_000), 4096)
    >>> len(offsets) - 1
    3
    >>> decode(data[offsets[2]:offsets[3]])[:3].tolist()
    [8192, 8193, 8194]
    """
    a = _as_array(column)
    if a.ndim != 1:
        raise InvalidArgumentError(f"encode_blocks takes a 1-D column, got shape {a.shape}")
    if not isinstance(rows_per_block, (int, np.integer)) or rows_per_block < 1:
        raise InvalidArgumentError(f"rows_per_block must be a positive integer, got {rows_per_block!r}")
    code, unit = _dtype_code(a.dtype)
    data = a.view(np.uint8) if a.size else np.empty(0, np.uint8)
    return _codec.encode_blocks(data, code, unit, a.dtype.itemsize, a.size, int(rows_per_block), _option(MODES, mode, "mode"))


def decode_blocks(buf, offsets: np.ndarray, which, out: np.ndarray, *, context: str | None = None) -> np.ndarray:
    """Decode the blocks ``which`` (indices into ``offsets``) of a concatenation into ``out``, in order.

    ``out`` must be a C-contiguous 1-D array of the blocks' dtype holding exactly
    their values; one C call decodes them all, without the GIL. A damaged block
    raises CorruptDataError naming its index.

    >>> import numpy as np
    >>> data, offsets = encode_blocks(np.arange(10_000), 4096)
    >>> out = np.empty(4096 + 1808, dtype=np.int64)
    >>> decode_blocks(data, offsets, [0, 2], out)[-1]
    np.int64(9999)
    """
    if not isinstance(out, np.ndarray) or out.ndim != 1 or not out.flags.c_contiguous or not out.flags.writeable:
        raise InvalidArgumentError("out must be a writable C-contiguous 1-D numpy array")
    code, _ = _dtype_code(out.dtype)
    which = np.ascontiguousarray(which, dtype=np.uint32)
    offsets = np.ascontiguousarray(offsets, dtype=np.uint64)
    raw = out.view(np.uint8) if out.size else np.empty(0, np.uint8)
    _codec.decode_blocks(_buffer(buf), offsets, which, code, out.dtype.itemsize, raw, context)
    return out


def decode_blocks_at(buf, offsets: np.ndarray, which, row0, rows, out: np.ndarray, *, context: str | None = None) -> np.ndarray:
    """Decode block ``which[j]`` (``rows[j]`` values) into ``out[row0[j]:]``, for every j, in one C call.

    The decoded-block cache keeps a segment column in one array and fills it
    block by block with this; a block whose value count differs from ``rows[j]``
    is damaged and raises CorruptDataError.

    >>> import numpy as np
    >>> data, offsets = encode_blocks(np.arange(10_000), 4096)
    >>> out = np.zeros(10_000, dtype=np.int64)
    >>> decode_blocks_at(data, offsets, [2], [8192], [1808], out)[8192:].sum() == np.arange(8192, 10_000).sum()
    np.True_
    """
    if not isinstance(out, np.ndarray) or out.ndim != 1 or not out.flags.c_contiguous or not out.flags.writeable:
        raise InvalidArgumentError("out must be a writable C-contiguous 1-D numpy array")
    code, _ = _dtype_code(out.dtype)
    which = np.ascontiguousarray(which, dtype=np.uint32)
    row0 = np.ascontiguousarray(row0, dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if not len(which) == len(row0) == len(rows):
        raise InvalidArgumentError("which, row0 and rows differ in length")
    offsets = np.ascontiguousarray(offsets, dtype=np.uint64)
    raw = out.view(np.uint8) if out.size else np.empty(0, np.uint8)
    _codec.decode_blocks_at(_buffer(buf), offsets, which, code, out.dtype.itemsize, row0, rows, raw, context)
    return out


def check_blocks(buf, offsets: np.ndarray) -> dict[int, str]:
    """Check header, checksum and structure of every block of a concatenation without decoding.

    Returns ``{block index: what is wrong}`` for the bad blocks (empty when all are sound).

    >>> import numpy as np
    >>> data, offsets = encode_blocks(np.random.default_rng(0).integers(0, 10**6, 10_000), 4096)
    >>> check_blocks(data, offsets)
    {}
    >>> damaged = bytearray(data); damaged[int(offsets[1]) + 50] ^= 1
    >>> check_blocks(damaged, offsets)
    {1: 'checksum mismatch'}
    """
    return _codec.check_blocks(_buffer(buf), np.ascontiguousarray(offsets, dtype=np.uint64))


simd_level = _codec.simd_level
set_simd = _codec.set_simd
available_simd = _codec.available_simd
