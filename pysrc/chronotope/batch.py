"""The binary batch: columns of samples in one compressed, checksummed message.

The SDK sends it to ``POST /collections/{id}/samples`` as
``application/vnd.chronotope.batch``; anything can write and read it with
:func:`encode_batch` and :func:`decode_batch`. Each column is one block of the
package's codec (:mod:`chronotope.codec`), so a batch of regular AIS samples
takes a few bytes per point and decodes at memory speed.

Layout (all integers little-endian)::

    offset  size  field
    0       8     magic  93 43 54 42 0D 0A 1A 0A  (b"\\x93CTB\\r\\n\\x1a\\n")
    8       2     u16 format version (1)
    10      2     u16 flags (0; anything else is refused)
    12      4     u32 column count C (at most 256)
    16      8     u64 row count N
    24            C column entries:
                    u8 name length, the name (ASCII: [A-Za-z_][A-Za-z0-9_]*, at most 64),
                    u8 dtype length, the dtype (ASCII, see below),
                    u64 byte length of the column's data
    ...           the columns' data, back to back in entry order
    end - 4 4     u32 CRC-32C of every byte before it

dtypes: ``b1``, ``i1`` ``i2`` ``i4`` ``i8``, ``u1`` ``u2`` ``u4`` ``u8``, ``f4``
``f8``, ``M8[<unit>]`` (datetime64; unit D, h, m, s, ms, us or ns) — the data is
one codec block holding N values of that dtype — and ``utf8`` for strings: a u64
length K, a codec block of N + 1 int64 offsets (starting at 0, never
decreasing), K bytes in all, then a codec block of the UTF-8 bytes (uint8); row
i is ``bytes[offsets[i]:offsets[i + 1]]``.

A batch is read as hostile input: the magic, version, flags, checksum, every
length, each block's header, dtype and value count, and the string offsets are
checked before anything is decoded, and the values a batch declares must fit
in ``max_bytes`` (default 1 GiB) before any memory is allocated for them.
Damage raises :class:`~chronotope.errors.CorruptDataError` (or a subclass)
saying what is wrong; a batch too large for ``max_bytes`` raises
:class:`~chronotope.errors.InvalidArgumentError`.

>>> import numpy as np
>>> cols = {"object_id": np.array(["ship-1", "ship-2"]), "t": np.array([0, 10**9]),
...         "x": np.array([-74.01, -74.02]), "y": np.array([40.6, 40.7])}
>>> back = decode_batch(encode_batch(cols))
>>> back["object_id"].tolist(), back["t"].dtype
(['ship-1', 'ship-2'], dtype('int64'))
"""

from __future__ import annotations

import re
import struct

import numpy as np

from chronotope import codec
from chronotope._checksum import crc32c
from chronotope.errors import (ChecksumError, CorruptDataError, InvalidArgumentError, TruncatedDataError,
                               UnsupportedFormatError)

__all__ = ["encode_batch", "decode_batch", "strings_to_utf8", "utf8_to_strings", "MAGIC", "VERSION",
           "MAX_COLUMNS", "DEFAULT_MAX_BYTES", "MEDIA_TYPE"]

MAGIC = b"\x93CTB\r\n\x1a\n"  # a high byte and CR LF ^Z LF catch text-mode damage
VERSION = 1
MAX_COLUMNS = 256
DEFAULT_MAX_BYTES = 1 << 30
MEDIA_TYPE = "application/vnd.chronotope.batch"

_FIXED = struct.Struct("<8sHHIQ")
_U64 = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_UTF8 = "utf8"
_NUMERIC = {np.dtype(code): code for code in ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8")}
_NUMERIC.update({np.dtype(f"M8[{u}]"): f"M8[{u}]" for u in ("D", "h", "m", "s", "ms", "us", "ns")})
_DTYPES = {code: dtype for dtype, code in _NUMERIC.items()}
_LEAD = np.array([0, 0x00, 0xC0, 0xE0, 0xF0], dtype=np.uint32)  # first byte of a UTF-8 sequence by its length


# ---- strings: numpy unicode arrays <-> offsets + UTF-8, vectorised ----

def strings_to_utf8(strings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A unicode array as (int64 offsets of N + 1, uint8 UTF-8 bytes); no Python loop per string.

    >>> off, data = strings_to_utf8(np.array(["a", "é", ""]))
    >>> off.tolist(), data.tobytes()
    ([0, 1, 3, 3], b'a\\xc3\\xa9')
    """
    a = np.ascontiguousarray(strings)
    if a.dtype.kind != "U" or a.ndim != 1:
        raise InvalidArgumentError(f"strings_to_utf8 takes a 1-D unicode array, got {a.dtype} of shape {a.shape}")
    n, width = len(a), a.dtype.itemsize // 4
    chars = np.char.str_len(a)
    cps = a.view(np.uint32).reshape(n, width)[np.arange(width) < chars[:, None]] if n and width else \
        np.empty(0, np.uint32)
    surrogate = (cps >= 0xD800) & (cps <= 0xDFFF)
    if surrogate.any():
        row = int(np.searchsorted(np.cumsum(chars), np.argmax(surrogate), side="right"))
        raise InvalidArgumentError(f"string at row {row} holds a lone surrogate, which UTF-8 cannot encode")
    nbytes = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        char_ends = np.cumsum(chars)
        byte_ends = np.concatenate([[0], np.cumsum(nbytes)])
        offsets[1:] = byte_ends[char_ends]
    if (nbytes == 1).all():  # ASCII
        return offsets, cps.astype(np.uint8)
    # each character as up to 4 bytes in a row of a (chars, 4) table; the bytes in use, in order, are the UTF-8
    shift = 6 * (nbytes - 1)
    table = np.empty((len(cps), 4), dtype=np.uint8)
    table[:, 0] = _LEAD[nbytes] | (cps >> shift)
    for k in range(1, 4):
        table[:, k] = 0x80 | ((cps >> np.maximum(shift - 6 * k, 0)) & 0x3F)
    out = table[np.arange(4) < nbytes[:, None]]
    return offsets, out


def utf8_to_strings(offsets: np.ndarray, data: np.ndarray, *, max_bytes: int = DEFAULT_MAX_BYTES,
                    what: str = "strings") -> np.ndarray:
    """(offsets of N + 1, UTF-8 bytes) as a unicode array, checked: offsets in bounds and never
    decreasing, valid UTF-8 cut at character boundaries, the result within ``max_bytes``.

    >>> utf8_to_strings(np.array([0, 1, 3]), np.frombuffer("aé".encode(), np.uint8)).tolist()
    ['a', 'é']
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    data = np.asarray(data, dtype=np.uint8)
    n = len(offsets) - 1
    if n < 0:
        raise CorruptDataError(f"{what}: no offsets")
    if offsets[0] != 0 or offsets[-1] != len(data) or (np.diff(offsets) < 0).any():
        raise CorruptDataError(f"{what}: offsets out of order or not covering the {len(data)} bytes")
    cont = (data & 0xC0) == 0x80
    nonempty = offsets[:-1] < offsets[1:]
    if cont[offsets[:-1][nonempty]].any():
        raise CorruptDataError(f"{what}: a string starts inside a UTF-8 character")
    if (data < 0x80).all():
        cps, char_off = data.astype(np.uint32), offsets
    else:
        try:
            text = data.tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorruptDataError(f"{what}: invalid UTF-8 at byte {exc.start}") from None
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        char_off = np.concatenate([[0], np.cumsum(~cont)])[offsets]
    lengths = np.diff(char_off)
    width = max(int(lengths.max()) if n else 0, 1)
    if n * width * 4 > max_bytes:
        raise InvalidArgumentError(f"{what}: {n} strings of up to {width} characters would take more than "
                                   f"{max_bytes} bytes")
    out = np.zeros((n, width), dtype=np.uint32)
    rows = np.repeat(np.arange(n), lengths)
    out[rows, np.arange(len(cps)) - np.repeat(char_off[:-1], lengths)] = cps
    return out.view(f"U{width}").reshape(n)


# ---- encoding ----

def _as_column(name, values) -> np.ndarray:
    if not isinstance(name, str) or not _NAME.match(name.encode("ascii", "replace")):
        raise InvalidArgumentError(f"invalid column name {name!r}: use letters, digits and _ (at most 64)")
    a = np.asarray(values)
    if a.ndim != 1:
        raise InvalidArgumentError(f"column {name!r} must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "O":
        is_str = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(a).astype(bool)
        if not is_str.all():
            row = int(np.argmax(~is_str))
            raise InvalidArgumentError(f"column {name!r}: row {row} is neither a number nor a string")
        a = a.astype("U") if len(a) else np.empty(0, "U1")
    if a.dtype.kind == "M" and a.dtype.newbyteorder("=") not in _NUMERIC:
        a = a.astype("M8[ns]")
    if a.dtype.kind != "U" and a.dtype.newbyteorder("=") not in _NUMERIC:
        raise InvalidArgumentError(f"column {name!r}: dtype {a.dtype} cannot go in a batch (numbers, datetime64 "
                                   "or strings)")
    return np.ascontiguousarray(a)


def _encode_column(name: str, a: np.ndarray, mode: str) -> tuple[str, bytes]:
    if a.dtype.kind == "U":
        offsets, data = strings_to_utf8(a)
        block = codec.encode_ints(offsets, mode)
        return _UTF8, _U64.pack(len(block)) + block + codec.encode_bytes(data, mode)
    code = _NUMERIC[a.dtype.newbyteorder("=")]
    if a.dtype.kind == "M" or name == "t" and a.dtype == np.int64:
        return code, codec.encode_timestamps(a, mode)
    if a.dtype.kind == "f":
        return code, codec.encode_floats(a, mode)
    return code, codec.encode_ints(a, mode)


def encode_batch(columns: dict[str, np.ndarray], mode: str = "fast") -> bytes:
    """Columns of one length as a batch: numbers, datetime64 or strings (``U`` or objects of ``str``).

    ``t`` in int64 nanoseconds or datetime64 is encoded as timestamps
    (delta-of-delta); ``mode`` is the codec's: ``"fast"`` (bit-packing,
    quickest to decode) or ``"compact"`` (smaller).
    """
    if not isinstance(columns, dict):
        raise InvalidArgumentError(f"columns must be a dict of name -> array, got {type(columns).__name__}")
    if mode not in codec.MODES:
        raise InvalidArgumentError(f"mode must be one of {list(codec.MODES)}, got {mode!r}")
    if len(columns) > MAX_COLUMNS:
        raise InvalidArgumentError(f"a batch holds at most {MAX_COLUMNS} columns, got {len(columns)}")
    arrays = {name: _as_column(name, values) for name, values in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise InvalidArgumentError(f"columns differ in length: {({k: len(v) for k, v in arrays.items()})}")
    rows = lengths.pop() if lengths else 0
    table, bodies = [], []
    for name, a in arrays.items():
        code, body = _encode_column(name, a, mode)
        table += [bytes([len(name)]), name.encode(), bytes([len(code)]), code.encode(), _U64.pack(len(body))]
        bodies.append(body)
    message = b"".join([_FIXED.pack(MAGIC, VERSION, 0, len(arrays), rows), *table, *bodies])
    return message + _CRC.pack(crc32c(message))


# ---- decoding (hostile input) ----

class _Reader:
    """Bounds-checked reads from the message (the trailing checksum excluded)."""

    def __init__(self, view: memoryview):
        self.view, self.pos = view, 0

    def take(self, size: int, what: str) -> memoryview:
        if size > len(self.view) - self.pos:
            raise TruncatedDataError(f"batch ends inside {what} (needs {size} bytes at offset {self.pos}, "
                                     f"{len(self.view) - self.pos} left)")
        out = self.view[self.pos : self.pos + size]
        self.pos += size
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u64(self, what: str) -> int:
        return _U64.unpack(self.take(8, what))[0]


def _read_table(reader: _Reader, ncols: int) -> list[tuple[str, str, int]]:
    entries, seen = [], set()
    for i in range(ncols):
        raw = bytes(reader.take(reader.u8(f"the name length of column {i}"), f"the name of column {i}"))
        if not _NAME.match(raw):
            raise CorruptDataError(f"batch column {i}: invalid name {raw[:64]!r}")
        name = raw.decode("ascii")
        if name in seen:
            raise CorruptDataError(f"batch column {name!r} appears twice")
        seen.add(name)
        code = bytes(reader.take(reader.u8(f"the dtype length of column {name!r}"), f"the dtype of column {name!r}"))
        code = code.decode("ascii", "replace")
        if code != _UTF8 and code not in _DTYPES:
            raise UnsupportedFormatError(f"batch column {name!r}: unknown dtype {code[:32]!r}")
        entries.append((name, code, reader.u64(f"the length of column {name!r}")))
    return entries


def _block(buf: memoryview, name: str, dtype: np.dtype, count: int, what: str = "") -> np.ndarray:
    """One codec block holding exactly ``count`` values of ``dtype`` (checked before it is decoded)."""
    context = f"batch column {name!r}{what}"
    bi = codec.info(buf, context=context)
    if bi.dtype != dtype or bi.shape != (count,):
        raise CorruptDataError(f"{context}: the block holds {bi.dtype} of shape {bi.shape}, "
                               f"the batch declares {count} x {dtype}")
    if bi.encoded_bytes != len(buf):
        raise CorruptDataError(f"{context}: the block is {bi.encoded_bytes} bytes, the batch gives it {len(buf)}")
    return codec.decode(buf, context=context)


def _strings(buf: memoryview, name: str, rows: int, budget: int) -> tuple[np.ndarray, int]:
    reader = _Reader(buf)
    size = reader.u64(f"the offsets length of column {name!r}")
    offsets = _block(reader.take(size, f"the offsets of column {name!r}"), name, np.dtype(np.int64), rows + 1,
                     " (offsets)")
    rest = buf[reader.pos :]
    shape = codec.info(rest, context=f"batch column {name!r} (bytes)").shape
    if len(shape) != 1:
        raise CorruptDataError(f"batch column {name!r}: the string bytes block has shape {shape}")
    if shape[0] > budget:
        raise InvalidArgumentError(f"batch column {name!r}: {shape[0]} string bytes, over the limit of {budget}")
    data = _block(rest, name, np.dtype(np.uint8), shape[0], " (bytes)")
    out = utf8_to_strings(offsets, data, max_bytes=budget - shape[0], what=f"batch column {name!r}")
    return out, shape[0] + out.nbytes


def decode_batch(buf, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """The columns of a batch made by :func:`encode_batch` (strings as a unicode array).

    Raises CorruptDataError (or a subclass: TruncatedDataError, ChecksumError,
    UnsupportedFormatError) naming what is wrong, and InvalidArgumentError when
    the decoded values would take more than ``max_bytes``.
    """
    try:
        view = memoryview(buf).cast("B")
    except TypeError:
        raise InvalidArgumentError(f"decode_batch takes bytes, got {type(buf).__name__}") from None
    smallest = _FIXED.size + _CRC.size
    if len(view) < smallest:
        raise TruncatedDataError(f"batch is {len(view)} bytes, shorter than the smallest batch ({smallest})")
    magic, version, flags, ncols, rows = _FIXED.unpack_from(view, 0)
    if magic != MAGIC:
        raise CorruptDataError("not a chronotope batch (wrong magic bytes)")
    if version != VERSION:
        raise UnsupportedFormatError(f"batch format version {version}; this build reads version {VERSION}")
    if flags:
        raise UnsupportedFormatError(f"batch flags {flags:#x} unknown to this build")
    (stored,) = _CRC.unpack_from(view, len(view) - 4)
    if crc32c(view[:-4]) != stored:
        raise ChecksumError("batch checksum mismatch: the bytes changed after they were written")
    if ncols > MAX_COLUMNS:
        raise CorruptDataError(f"batch declares {ncols} columns, more than {MAX_COLUMNS}")
    reader = _Reader(view[:-4])
    reader.pos = _FIXED.size
    entries = _read_table(reader, ncols)
    fixed = sum(8 if code == _UTF8 else _DTYPES[code].itemsize for _, code, _ in entries)
    if rows * fixed > max_bytes or (ncols == 0 and rows):
        raise InvalidArgumentError(f"batch declares {rows} rows of {ncols} columns, more than the limit of "
                                   f"{max_bytes} bytes decoded; send smaller batches")
    if sum(size for *_, size in entries) != len(reader.view) - reader.pos:
        raise CorruptDataError(f"batch column lengths add up to {sum(s for *_, s in entries)} bytes, the data "
                               f"is {len(reader.view) - reader.pos}")
    budget = max_bytes - rows * fixed
    out = {}
    for name, code, size in entries:
        data = reader.take(size, f"column {name!r}")
        if code == _UTF8:
            out[name], used = _strings(data, name, rows, budget)
            budget -= used
        else:
            out[name] = _block(data, name, _DTYPES[code], rows)
    return out
