"""Versioned JSON property documents of moving objects.

Every moving object (an ``int64`` object code) may carry a JSON document -- name,
type, destination and so on -- that changes now and then. :class:`DocumentStore`
keeps every version of it, ordered by ``(t, lsn)``, and answers "what did the
document say at time *t*?" with a bounded amount of work however long the
history grows.

Versions, deltas and keyframes
------------------------------
A version is stored either as a **keyframe** (the whole document) or as a
**delta** (the operations that turn the previous version into this one, see
:func:`diff` and :func:`apply`). A *run* is a keyframe followed by the deltas up
to the next keyframe. Two invariants hold for every run, whatever order the
writes came in:

- it holds at most ``keyframe_every`` deltas (default 32);
- the deltas of a run together take no more bytes than its keyframe.

So rebuilding any version costs one keyframe decode plus at most
``keyframe_every`` delta applications (``DocumentStore.stats`` counts them).

Paths and operations
--------------------
A **path** is a tuple of steps from the document root: a ``str`` step selects a
key of an object, an ``int`` step (``>= 0``, never ``bool``) an element of an
array. ``()`` is the root. An **operation** is one of

- ``("set", path, value)``: in an object, create or replace the key; in an
  array, replace element ``i`` (``0 <= i < len``) or append (``i == len``);
  at the root, replace the whole document;
- ``("delete", path)``: remove the key, or remove element ``i`` of an array
  (later elements move down by one).

Every step but the last must exist. Operations apply in order. Stored deltas
are JSON arrays of such operations (tuples become arrays).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     ds = DocumentStore(d)
...     ds.set(7, {"name": "EVER GIVEN", "dest": "ROTTERDAM"}, at=100, lsn=1)
...     ds.set(7, {"name": "EVER GIVEN", "dest": "SUEZ"}, at=200, lsn=2)
...     print(ds.get(7, as_of=150)["dest"], ds.get(7)["dest"], ds.get(7, as_of=99))
...     ds.close()
ROTTERDAM SUEZ None

The file format and the rules for out-of-order writes, deletes, crash safety
and compaction are described in ``docs/storage.md`` ("Property documents").
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
import struct
import threading
from collections import OrderedDict

import numpy as np

from chronotope import codec
from chronotope._checksum import crc32c
from chronotope.fileio import fsync_dir, write_atomic
from chronotope.errors import (
    ChecksumError,
    ChronotopeError,
    CorruptDataError,
    InvalidArgumentError,
    TruncatedDataError,
    UnsupportedFormatError,
)

__all__ = ["DocumentStore", "diff", "apply"]

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_DEPTH = 256  # nesting limit of documents (keeps every recursion far from Python's limit)

DELTA, KEYFRAME = 0, 1

# ---------------------------------------------------------------------------
# JSON values: validation, comparison, diff and apply
# ---------------------------------------------------------------------------


def _where(path) -> str:
    return "document" + "".join(f"[{step!r}]" for step in path)


def _check_str(s: str, path, what: str) -> None:
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"{what} at {_where(path)} holds a lone surrogate, which UTF-8 JSON cannot represent"
            ) from None


def _canon(v, path=(), depth=0):
    """Validated deep copy of a JSON value with plain types (dict, list, str, int, float, bool, None)."""
    tv = type(v)
    if tv is str:
        _check_str(v, path, "string")
        return v
    if v is None or tv is bool or tv is int:
        return v
    if tv is float:
        if not math.isfinite(v):
            raise InvalidArgumentError(f"{_where(path)} is {v!r}: JSON cannot represent NaN or infinity")
        return v
    if depth >= _MAX_DEPTH:
        raise InvalidArgumentError(f"{_where(path)} is nested deeper than {_MAX_DEPTH} levels")
    # containers: plain scalars are copied inline (no call), the rest recursively
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                if not isinstance(k, str):
                    raise InvalidArgumentError(
                        f"{_where(path)} has key {k!r} of type {type(k).__name__}: JSON object keys must be strings"
                    )
                k = str(k)
            if not k.isascii():
                _check_str(k, path + (k,), "key")
            tx = type(x)
            if tx is int or tx is bool or x is None or (tx is str and x.isascii()) or (tx is float and x - x == 0.0):
                out[k] = x
            else:
                out[k] = _canon(x, path + (k,), depth + 1)
        return out
    if isinstance(v, (list, tuple)):
        out = []
        for i, x in enumerate(v):
            tx = type(x)
            if tx is int or tx is bool or x is None or (tx is str and x.isascii()) or (tx is float and x - x == 0.0):
                out.append(x)
            else:
                out.append(_canon(x, path + (i,), depth + 1))
        return out
    # subclasses of the JSON types and numpy scalars
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _canon(float(v), path, depth)
    if isinstance(v, str):
        return _canon(str(v), path, depth)
    raise InvalidArgumentError(f"{_where(path)} is a {type(v).__name__}, which JSON cannot represent")


_PLAIN = (str, int, bool, type(None))  # types whose == is already strict


def _eq(a, b) -> bool:
    """Equality that tells 1, 1.0 and True (and 0.0 from -0.0) apart, as JSON text does."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta in _PLAIN:
        return a == b
    if ta is dict:
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if ta is list:
        return len(a) == len(b) and all(map(_eq, a, b))
    if ta is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def _dumps(value) -> bytes:
    """The canonical JSON text of a value: compact, sorted keys, UTF-8."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _diff_value(a, b, path, out) -> None:
    ta = type(a)
    if ta is type(b) and (ta is dict or ta is list):
        sub: list = []
        (_diff_dict if ta is dict else _diff_list)(a, b, path, sub)
        # many small operations that together outweigh the new value: replace it whole
        # (not at the root: a document's diff stays a list of per-key operations)
        if path and len(sub) > 1 and len(_dumps(sub)) > len(_dumps(b)) + len(_dumps(path)) + 10:
            out.append(("set", path, b))
        else:
            out.extend(sub)
    elif not _eq(a, b):
        out.append(("set", path, b))


def _diff_dict(a: dict, b: dict, path, out) -> None:
    for k in sorted(a.keys() | b.keys()):
        if k not in b:
            out.append(("delete", path + (k,)))
        elif k not in a:
            out.append(("set", path + (k,), b[k]))
        else:
            va, vb = a[k], b[k]
            tv = type(va)
            if tv is type(vb) and tv in _PLAIN and va == vb:
                continue  # the common case, without a call
            _diff_value(va, vb, path + (k,), out)


def _diff_list(a: list, b: list, path, out) -> None:
    la, lb = len(a), len(b)
    m = min(la, lb)
    p = 0  # common prefix
    while p < m and _eq(a[p], b[p]):
        p += 1
    s = 0  # common suffix (not overlapping the prefix)
    while s < m - p and _eq(a[la - 1 - s], b[lb - 1 - s]):
        s += 1
    ma, mb = la - p - s, lb - p - s  # the differing middles
    k = min(ma, mb)
    for i in range(p, p + k):
        _diff_value(a[i], b[i], path + (i,), out)
    if ma > mb:  # remove the surplus, highest index first
        for i in range(p + ma - 1, p + k - 1, -1):
            out.append(("delete", path + (i,)))
    elif mb > ma:  # no insert operation: rewrite the tail, then append
        for i in range(p + k, la):
            _diff_value(a[i], b[i], path + (i,), out)
        for i in range(la, lb):
            out.append(("set", path + (i,), b[i]))


def diff(old: dict, new: dict) -> list:
    """The operations that turn ``old`` into ``new`` (both JSON values, normally dicts).

    Operations are ``("set", path, value)`` and ``("delete", path)`` with paths
    as tuples of keys and array indices (see the module docstring); they are
    meant to be applied in order by :func:`apply`. Object keys are visited in
    sorted order, so the result is deterministic. Arrays lose common prefixes
    and suffixes first; a nested value whose operations would take more bytes
    than the value itself is replaced whole. Values are compared as JSON text
    compares them: ``1``, ``1.0`` and ``True`` differ.

    Raises InvalidArgumentError if either argument is not a JSON value.

    >>> old = {"name": "EVER GIVEN", "dest": "ROTTERDAM", "tags": ["a", "b", "c"]}
    >>> new = {"name": "EVER GIVEN", "dest": "SUEZ", "tags": ["a", "c"], "draught": 14.5}
    >>> diff(old, new)
    [('set', ('dest',), 'SUEZ'), ('set', ('draught',), 14.5), ('delete', ('tags', 1))]
    >>> apply(old, diff(old, new)) == new
    True
    >>> diff({"a": 1}, {"a": 1.0})
    [('set', ('a',), 1.0)]
    >>> diff(new, new)
    []
    """
    out: list = []
    _diff_value(_canon(old), _canon(new), (), out)
    return out


def _step(node, step, path):
    if type(node) is dict and type(step) is str:
        try:
            return node[step]
        except KeyError:
            pass
    elif type(node) is list and type(step) is int and 0 <= step < len(node):
        return node[step]
    raise InvalidArgumentError(f"path {tuple(path)!r}: no element {step!r} to step into")


def _apply_ops(doc, ops, copy_values: bool):
    """Apply ``ops`` to ``doc`` in place (the root may be replaced: use the return value)."""
    if type(ops) not in (list, tuple):
        raise InvalidArgumentError(f"operations must be a list, got {type(ops).__name__}")
    for op in ops:
        if type(op) not in (list, tuple) or not op or op[0] not in ("set", "delete"):
            raise InvalidArgumentError(f"not an operation: {op!r}")
        name = op[0]
        if len(op) != (3 if name == "set" else 2):
            raise InvalidArgumentError(f"operation {op!r}: {name!r} takes {'a path and a value' if name == 'set' else 'a path'}")
        path = op[1]
        if type(path) not in (list, tuple) or any(type(s) is not str and (type(s) is not int or s < 0) for s in path):
            raise InvalidArgumentError(f"operation {op!r}: a path is a list of keys (str) and indices (int >= 0)")
        value = (_canon(op[2], tuple(path)) if copy_values else op[2]) if name == "set" else None
        if not path:
            if name == "delete":
                raise InvalidArgumentError("cannot delete the document root")
            doc = value
            continue
        parent = doc
        for step in path[:-1]:
            parent = _step(parent, step, path)
        last = path[-1]
        if type(parent) is dict and type(last) is str:
            if name == "set":
                parent[last] = value
            elif last in parent:
                del parent[last]
            else:
                raise InvalidArgumentError(f"path {tuple(path)!r}: no key {last!r} to delete")
        elif type(parent) is list and type(last) is int:
            n = len(parent)
            if name == "set" and last < n:
                parent[last] = value
            elif name == "set" and last == n:
                parent.append(value)
            elif name == "delete" and last < n:
                del parent[last]
            else:
                raise InvalidArgumentError(f"path {tuple(path)!r}: index {last} out of range for an array of {n}")
        else:
            raise InvalidArgumentError(
                f"path {tuple(path)!r}: step {last!r} does not fit a {type(parent).__name__}"
            )
    return doc


def apply(doc: dict, ops) -> dict:
    """Apply operations (as made by :func:`diff`) to a copy of ``doc`` and return it.

    ``doc`` is not modified and the result shares no objects with ``doc`` or
    ``ops``. Raises InvalidArgumentError for a malformed operation or a path
    that does not exist (see the module docstring for the exact rules).

    >>> doc = {"dest": "SUEZ", "ports": ["NLRTM", "EGSUZ"]}
    >>> apply(doc, [("set", ("ports", 2), "SGSIN"), ("delete", ("ports", 0)), ("set", ("eta",), {"d": 3})])
    {'dest': 'SUEZ', 'ports': ['EGSUZ', 'SGSIN'], 'eta': {'d': 3}}
    >>> doc["ports"]
    ['NLRTM', 'EGSUZ']
    >>> apply(doc, [("delete", ("draught",))])
    Traceback (most recent call last):
    ...
    chronotope.errors.InvalidArgumentError: path ('draught',): no key 'draught' to delete
    """
    return _apply_ops(_canon(doc), ops, copy_values=True)


def _int64(x, name: str) -> int:
    if isinstance(x, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be an int64, got a bool")
    try:
        v = int(x.__index__())
    except (AttributeError, TypeError):
        raise InvalidArgumentError(f"{name} must be an int64, got {type(x).__name__}") from None
    if not _I64_MIN <= v <= _I64_MAX:
        raise InvalidArgumentError(f"{name} {v} is outside the int64 range")
    return v


# ---------------------------------------------------------------------------
# Files: <id>.ctd
# ---------------------------------------------------------------------------

_FILE_RE = re.compile(r"^(\d{12})\.ctd$")
_MAGIC = b"CTDOCSEG"
_FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHI")  # magic, version, flags, CRC-32C of the first 12 bytes
_TRAILER = struct.Struct("<QQIII4s")  # footer offset, footer length, footer CRC, body CRC, trailer CRC, magic
_TRAILER_MAGIC = b"CTDE"
_FOOT_HEAD = struct.Struct("<QQII")  # rows, tombstones, payload chunks, reserved
_INDEX_COLUMNS = ("oid", "t", "lsn", "kind", "offsets", "tomb_oid", "tomb_lsn")
_INDEX_DTYPES = (np.int64, np.int64, np.int64, np.uint8, np.int64, np.int64, np.int64)
_CHUNK_TARGET = 32 * 1024  # raw payload bytes per chunk (one codec block)


def _file_name(file_id: int) -> str:
    return f"{file_id:012d}.ctd"


def _write_file(directory, file_id, oid, t, lsn, kind, payloads, tomb_oid, tomb_lsn) -> str:
    """Write one document file durably (temp name, fsync, rename, fsync dir); return its path."""
    n = len(oid)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    blob = memoryview(b"".join(payloads))
    if n:
        window = offsets[:-1] // _CHUNK_TARGET
        chunk_rows = np.concatenate(([0], np.flatnonzero(window[1:] != window[:-1]) + 1, [n])).astype(np.uint64)
    else:
        chunk_rows = np.zeros(1, dtype=np.uint64)
    columns = (oid, t, lsn, kind, offsets, tomb_oid, tomb_lsn)
    blocks = [
        codec.encode_timestamps(np.ascontiguousarray(c, dtype=dt)) if name == "t" else codec.encode_ints(np.ascontiguousarray(c, dtype=dt))
        for name, c, dt in zip(_INDEX_COLUMNS, columns, _INDEX_DTYPES)
    ]
    for a, b in zip(chunk_rows[:-1].tolist(), chunk_rows[1:].tolist()):
        blocks.append(codec.encode_bytes(blob[offsets[a] : offsets[b]]))
    header = bytearray(_HEADER.pack(_MAGIC, _FORMAT_VERSION, 0, 0))
    struct.pack_into("<I", header, 12, crc32c(bytes(header[:12])))
    table = np.empty((len(blocks), 2), dtype="<u8")
    pos = len(header)
    for i, blk in enumerate(blocks):
        table[i] = (pos, len(blk))
        pos += len(blk)
    footer = (
        _FOOT_HEAD.pack(n, len(tomb_oid), len(chunk_rows) - 1, 0)
        + table.tobytes()
        + chunk_rows.astype("<u8").tobytes()
    )
    body_crc = crc32c(bytes(header))
    for blk in blocks:
        body_crc = crc32c(blk, body_crc)
    head = struct.pack("<QQII", pos, len(footer), crc32c(footer), body_crc)
    trailer = head + struct.pack("<I", crc32c(head)) + _TRAILER_MAGIC
    final = os.path.join(directory, _file_name(file_id))
    write_atomic(final, [header, *blocks, footer, trailer])
    return final


class _DocFile:
    """An open document file: validated structure, row offsets, lazy payload chunks."""

    def __init__(self, path: str, file_id: int):
        self.path = path
        self.id = file_id
        self._fd = os.open(path, os.O_RDONLY)
        try:
            self.index = self._read_structure()
        except BaseException:
            os.close(self._fd)
            raise

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _pread(self, length: int, offset: int, what: str) -> bytes:
        buf = os.pread(self._fd, length, offset)
        if len(buf) != length:
            raise TruncatedDataError(f"{self.path}: {what} ends early (file truncated?)")
        return buf

    def _read_structure(self) -> dict:
        p = self.path
        size = os.fstat(self._fd).st_size
        if size < _HEADER.size + _TRAILER.size:
            raise TruncatedDataError(f"{p}: {size} bytes is too short for a document file (torn write?)")
        head = self._pread(_HEADER.size, 0, "header")
        magic, version, _flags, hcrc = _HEADER.unpack(head)
        if magic != _MAGIC:
            raise CorruptDataError(f"{p}: not a chronotope document file (bad magic)")
        if crc32c(head[:12]) != hcrc:
            raise ChecksumError(f"{p}: header checksum mismatch")
        if version != _FORMAT_VERSION:
            raise UnsupportedFormatError(f"{p}: document file format version {version} (this build reads {_FORMAT_VERSION})")
        tr = self._pread(_TRAILER.size, size - _TRAILER.size, "trailer")
        f_off, f_len, f_crc, body_crc, t_crc, t_magic = _TRAILER.unpack(tr)
        if t_magic != _TRAILER_MAGIC:
            raise TruncatedDataError(f"{p}: trailer missing (torn or truncated file)")
        if crc32c(tr[:24]) != t_crc:
            raise ChecksumError(f"{p}: trailer checksum mismatch")
        if f_off < _HEADER.size or f_off + f_len + _TRAILER.size != size:
            raise CorruptDataError(f"{p}: footer position out of range")
        self.body_crc = body_crc
        self.footer_offset = f_off
        foot = self._pread(f_len, f_off, "footer")
        if crc32c(foot) != f_crc:
            raise ChecksumError(f"{p}: footer checksum mismatch")
        if f_len < _FOOT_HEAD.size:
            raise CorruptDataError(f"{p}: footer too short")
        n_rows, n_tombs, n_chunks, _reserved = _FOOT_HEAD.unpack_from(foot)
        n_blocks = len(_INDEX_COLUMNS) + n_chunks
        if f_len != _FOOT_HEAD.size + 16 * n_blocks + 8 * (n_chunks + 1):
            raise CorruptDataError(f"{p}: footer length does not match its {n_chunks} payload chunks")
        table = np.frombuffer(foot, dtype="<u8", count=2 * n_blocks, offset=_FOOT_HEAD.size).reshape(n_blocks, 2)
        starts, lens = table[:, 0], table[:, 1]
        if (
            int(starts[0]) != _HEADER.size
            or np.any(lens == 0)
            or np.any(lens > size)
            or np.any(starts[1:] != starts[:-1] + lens[:-1])
            or int(starts[-1] + lens[-1]) != f_off
        ):
            raise CorruptDataError(f"{p}: block table does not tile the file")
        chunk_rows = np.frombuffer(foot, dtype="<u8", count=n_chunks + 1, offset=_FOOT_HEAD.size + 16 * n_blocks)
        if n_rows >= 1 << 31 or n_tombs >= 1 << 40:
            raise CorruptDataError(f"{p}: implausible row count {n_rows}")
        if (
            int(chunk_rows[0]) != 0
            or int(chunk_rows[-1]) != n_rows
            or (n_rows and np.any(chunk_rows[1:] <= chunk_rows[:-1]))
            or (not n_rows and n_chunks)
        ):
            raise CorruptDataError(f"{p}: payload chunk table is inconsistent")
        self.block_table = table.astype(np.int64)
        self.chunk_rows = chunk_rows.astype(np.int64).tolist()
        self.chunk_pos = [(int(s), int(n)) for s, n in table[len(_INDEX_COLUMNS) :].tolist()]
        # index columns (each a checksummed codec block)
        n_index = len(_INDEX_COLUMNS)
        region_end = int(starts[n_index - 1] + lens[n_index - 1])
        region = self._pread(region_end - _HEADER.size, _HEADER.size, "index columns")
        cols = {}
        for i, (name, dt) in enumerate(zip(_INDEX_COLUMNS, _INDEX_DTYPES)):
            a, b = int(starts[i]) - _HEADER.size, int(starts[i] + lens[i]) - _HEADER.size
            expect = n_rows + 1 if name == "offsets" else (n_tombs if name.startswith("tomb") else n_rows)
            try:
                arr = codec.decode(region[a:b], context=f"{p}: {name} column")
            except InvalidArgumentError as exc:
                raise CorruptDataError(f"{p}: {name} column: {exc}") from None
            if arr.dtype != np.dtype(dt) or arr.shape != (expect,):
                raise CorruptDataError(f"{p}: {name} column holds {arr.dtype}{arr.shape}, expected {np.dtype(dt)}({expect},)")
            cols[name] = arr
        oid, t, lsn, kind, offsets = (cols[k] for k in _INDEX_COLUMNS[:5])
        if np.any(kind > KEYFRAME):
            raise CorruptDataError(f"{p}: unknown row kind")
        if int(offsets[0]) != 0 or np.any(offsets[1:] < offsets[:-1]):
            raise CorruptDataError(f"{p}: payload offsets are not ascending")
        if n_rows > 1:
            a_o, b_o, a_t, b_t = oid[:-1], oid[1:], t[:-1], t[1:]
            ordered = (a_o < b_o) | ((a_o == b_o) & ((a_t < b_t) | ((a_t == b_t) & (lsn[:-1] < lsn[1:]))))
            if not ordered.all():
                raise CorruptDataError(f"{p}: rows are not sorted by (object, t, lsn)")
        self.offsets = offsets
        return cols

    def chunk_of(self, row: int) -> int:
        return bisect.bisect_right(self.chunk_rows, row) - 1

    def read_chunk(self, c: int) -> bytes:
        off, length = self.chunk_pos[c]
        context = f"{self.path}: payload chunk {c}"
        buf = self._pread(length, off, f"payload chunk {c}")
        try:
            data = codec.decode_bytes(buf, context=context)
        except InvalidArgumentError as exc:
            raise CorruptDataError(f"{context}: {exc}") from None
        expect = int(self.offsets[self.chunk_rows[c + 1]] - self.offsets[self.chunk_rows[c]])
        if len(data) != expect:
            raise CorruptDataError(f"{context}: holds {len(data)} bytes, the offsets say {expect}")
        return data


def _verify_file(path: str, file_id: int) -> list[str]:
    """Every problem of one file: structure, whole-body CRC and every block's checksum."""
    try:
        f = _DocFile(path, file_id)
    except FileNotFoundError:
        return [f"{path}: file is missing"]
    except CorruptDataError as exc:
        return [str(exc)]
    try:
        problems = []
        body = os.pread(f._fd, f.footer_offset, 0)
        if len(body) != f.footer_offset:
            return [f"{path}: file ends early (truncated while open?)"]
        if crc32c(body) != f.body_crc:
            problems.append(f"{path}: body checksum mismatch")
        starts = f.block_table[:, 0]
        bounds = np.concatenate((starts, [f.footer_offset])) - _HEADER.size
        names = list(_INDEX_COLUMNS) + [f"payload chunk {c}" for c in range(len(f.chunk_pos))]
        for k, msg in sorted(codec.check_blocks(memoryview(body)[_HEADER.size :], bounds).items()):
            problems.append(f"{path}: {names[k]} block: {msg}")
        if not problems:
            for c in range(len(f.chunk_pos)):
                f.read_chunk(c)  # sizes agree with the offsets column
        return problems
    except CorruptDataError as exc:
        return [str(exc)]
    finally:
        f.close()


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


class _Chain:
    """Versions of one object changed since the last flush: Python lists, cheap to insert into.

    ``locs[j]`` is ``file_id << 32 | row`` for a row in a file, ``-1 - k`` for
    the k-th pending payload.
    """

    __slots__ = ("keys", "locs", "kinds", "tail")

    def __init__(self, keys, locs, kinds):
        self.keys, self.locs, self.kinds = keys, locs, kinds
        self.tail = None  # JSON of the last version, once written here: the next append's base

    def __len__(self):
        return len(self.keys)

    def key(self, j):
        return self.keys[j]

    def loc(self, j):
        return self.locs[j]

    def kind(self, j):
        return self.kinds[j]

    def find(self, as_of):
        return bisect.bisect_right(self.keys, (as_of, _I64_MAX)) - 1

    def keyframe_before(self, i):
        kinds = self.kinds
        while i >= 0 and kinds[i] != KEYFRAME:
            i -= 1
        return i


class _Slice:
    """Versions of one object in the flushed index: views of the numpy columns."""

    __slots__ = ("t", "lsn", "locs", "kinds")

    def __init__(self, t, lsn, locs, kinds):
        self.t, self.lsn, self.locs, self.kinds = t, lsn, locs, kinds

    def __len__(self):
        return len(self.t)

    def key(self, j):
        return (int(self.t[j]), int(self.lsn[j]))

    def loc(self, j):
        return int(self.locs[j])

    def kind(self, j):
        return int(self.kinds[j])

    def find(self, as_of):
        return int(np.searchsorted(self.t, as_of, side="right")) - 1

    def keyframe_before(self, i):
        width = 64
        while True:
            lo = max(0, i + 1 - width)
            hits = np.flatnonzero(self.kinds[lo : i + 1])
            if hits.size:
                return lo + int(hits[-1])
            if lo == 0:
                return -1
            width *= 4


class DocumentStore:
    """Versioned JSON documents of many objects, persisted as immutable ``<id>.ctd`` files.

    Parameters
    ----------
    directory : path
        Created if needed; existing document files in it are loaded.
    keyframe_every : int
        Most deltas between two keyframes (``0``: every version is a keyframe).
    doc_cache : int
        Documents (canonical JSON) kept for the write path; 0 disables.
    chunk_cache : int
        Decoded payload chunks kept for reads (at least 4 are always kept).

    Versions are ordered by ``(t, lsn)``; the version valid at time ``t`` is the
    last one with ``version.t <= t``. Un-flushed changes live in memory; only
    :meth:`flush` (and :meth:`close`, which flushes) makes them durable. The
    methods are serialised by a lock, so one store may be shared by threads.

    ``stats`` counts the work of rebuilding versions: ``keyframes_decoded``,
    ``deltas_applied``, ``ops_applied`` and ``cache_hits``.
    """

    def __init__(self, directory, keyframe_every: int = 32, *, doc_cache: int = 4096, chunk_cache: int = 256):
        if type(keyframe_every) is not int or keyframe_every < 0:
            raise InvalidArgumentError(f"keyframe_every must be an int >= 0, got {keyframe_every!r}")
        for name, v in (("doc_cache", doc_cache), ("chunk_cache", chunk_cache)):
            if type(v) is not int or v < 0:
                raise InvalidArgumentError(f"{name} must be an int >= 0, got {v!r}")
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.keyframe_every = keyframe_every
        self.stats = {"keyframes_decoded": 0, "deltas_applied": 0, "ops_applied": 0, "cache_hits": 0}
        self._lock = threading.RLock()
        self._doc_cap = doc_cache
        self._chunk_cap = max(4, chunk_cache)
        self._docs: OrderedDict = OrderedDict()  # (oid, t, lsn) -> canonical JSON bytes
        self._chunks: OrderedDict = OrderedDict()  # (file id, chunk) -> decoded payload bytes
        self._files: dict[int, _DocFile] = {}
        self._closed = False
        self._load()

    # -- loading and the flushed index --------------------------------------

    def _load(self) -> None:
        self._files = {}
        self._broken: dict[str, str] = {}
        self._dirty: dict[int, _Chain] = {}
        self._pending: list[bytes] = []
        self._pending_tombs: dict[int, int] = {}
        ids = []
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".ctd.tmp") and _FILE_RE.match(name[:-4]):
                os.unlink(os.path.join(self.directory, name))  # never renamed: never visible
                continue
            m = _FILE_RE.match(name)
            if m:
                ids.append(int(m.group(1)))
        parts = []
        for fid in sorted(ids):
            path = os.path.join(self.directory, _file_name(fid))
            try:
                f = _DocFile(path, fid)
            except CorruptDataError as exc:
                self._broken[path] = str(exc)
                continue
            self._files[fid] = f
            parts.append((fid, f.index))
            f.index = None
        self._next_id = max(ids, default=0) + 1
        cat = lambda key, dt: np.concatenate([c[key] for _, c in parts] + [np.empty(0, dt)])  # noqa: E731
        oid, t, lsn = cat("oid", np.int64), cat("t", np.int64), cat("lsn", np.int64)
        kind = cat("kind", np.uint8)
        loc = np.concatenate(
            [(np.int64(fid) << 32) | np.arange(len(c["oid"]), dtype=np.int64) for fid, c in parts]
            + [np.empty(0, np.int64)]
        )
        # tombstones: newest (largest lsn) per object
        t_oid, t_lsn = cat("tomb_oid", np.int64), cat("tomb_lsn", np.int64)
        self._tomb: dict[int, int] = {}
        for o, l in zip(t_oid.tolist(), t_lsn.tolist()):
            if l > self._tomb.get(o, _I64_MIN):
                self._tomb[o] = l
        # the newest file wins for a version present in several files
        order = np.lexsort((loc, lsn, t, oid))
        oid, t, lsn, kind, loc = oid[order], t[order], lsn[order], kind[order], loc[order]
        keep = np.ones(len(oid), dtype=bool)
        if len(oid) > 1:
            keep[:-1] = ~((oid[1:] == oid[:-1]) & (t[1:] == t[:-1]) & (lsn[1:] == lsn[:-1]))
        if self._tomb:
            tk = np.array(sorted(self._tomb), dtype=np.int64)
            tv = np.array([self._tomb[k] for k in tk.tolist()], dtype=np.int64)
            idx = np.minimum(np.searchsorted(tk, oid), len(tk) - 1)
            keep &= ~((tk[idx] == oid) & (lsn <= tv[idx]))
        self._set_base(oid[keep], t[keep], lsn[keep], loc[keep], kind[keep])

    def _set_base(self, oid, t, lsn, loc, kind) -> None:
        self._b_oid, self._b_t, self._b_lsn, self._b_loc, self._b_kind = oid, t, lsn, loc, kind
        self._b_objects = np.unique(oid)

    def _base_bounds(self, oid: int):
        s = int(np.searchsorted(self._b_oid, oid, side="left"))
        e = int(np.searchsorted(self._b_oid, oid, side="right"))
        return s, e

    def _view(self, oid: int):
        chain = self._dirty.get(oid)
        if chain is not None:
            return chain
        s, e = self._base_bounds(oid)
        if s == e:
            return None
        return _Slice(self._b_t[s:e], self._b_lsn[s:e], self._b_loc[s:e], self._b_kind[s:e])

    def _chain(self, oid: int) -> _Chain:
        chain = self._dirty.get(oid)
        if chain is None:
            s, e = self._base_bounds(oid)
            chain = _Chain(
                list(zip(self._b_t[s:e].tolist(), self._b_lsn[s:e].tolist())),
                self._b_loc[s:e].tolist(),
                self._b_kind[s:e].tolist(),
            )
            self._dirty[oid] = chain
        return chain

    def _usable(self) -> None:
        if self._closed:
            raise ChronotopeError("the DocumentStore is closed")
        if self._broken:
            msg = next(iter(self._broken.values()))  # messages name their file
            more = f" (and {len(self._broken) - 1} more damaged files)" if len(self._broken) > 1 else ""
            raise CorruptDataError(f"{msg}{more}")

    # -- payloads -----------------------------------------------------------

    def _where(self, loc: int) -> str:
        if loc < 0:
            return "an un-flushed change"
        f = self._files.get(loc >> 32)
        return f"{f.path if f else 'document file ' + str(loc >> 32)}, row {loc & 0xFFFFFFFF}"

    def _payload(self, loc: int) -> bytes:
        if loc < 0:
            return self._pending[-1 - loc]
        fid, row = loc >> 32, loc & 0xFFFFFFFF
        f = self._files.get(fid)
        if f is None:
            raise CorruptDataError(f"document file {_file_name(fid)} is no longer open")
        c = f.chunk_of(row)
        key = (fid, c)
        data = self._chunks.get(key)
        if data is None:
            data = f.read_chunk(c)
            self._chunks[key] = data
            if len(self._chunks) > self._chunk_cap:
                self._chunks.popitem(last=False)
        else:
            self._chunks.move_to_end(key)
        base = int(f.offsets[f.chunk_rows[c]])
        return data[int(f.offsets[row]) - base : int(f.offsets[row + 1]) - base]

    def _size(self, loc: int) -> int:
        if loc < 0:
            return len(self._pending[-1 - loc])
        f = self._files[loc >> 32]
        row = loc & 0xFFFFFFFF
        return int(f.offsets[row + 1] - f.offsets[row])

    def _parse(self, loc: int, kind: int):
        payload = self._payload(loc)
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise CorruptDataError(f"{self._where(loc)}: payload is not JSON ({exc})") from None
        if kind == KEYFRAME and type(value) is not dict:
            raise CorruptDataError(f"{self._where(loc)}: keyframe is not a JSON object")
        if kind == DELTA and type(value) is not list:
            raise CorruptDataError(f"{self._where(loc)}: delta is not a JSON array")
        return value

    def _cache_put(self, key, payload: bytes) -> None:
        if self._doc_cap:
            self._docs[key] = payload
            self._docs.move_to_end(key)
            if len(self._docs) > self._doc_cap:
                self._docs.popitem(last=False)

    def _materialize(self, oid: int, view, i: int):
        """The document of version ``i`` of ``view``: one keyframe plus the deltas after it."""
        cached = self._docs.get((oid,) + view.key(i))
        if cached is None and type(view) is _Chain and i == len(view) - 1:
            cached = view.tail
        if cached is not None:
            self.stats["cache_hits"] += 1
            return json.loads(cached)
        k = view.keyframe_before(i)
        if k < 0:
            raise CorruptDataError(
                f"{self._where(view.loc(0))}: object {oid} has no keyframe before version {view.key(i)}"
            )
        doc = self._parse(view.loc(k), KEYFRAME)
        stats = self.stats
        stats["keyframes_decoded"] += 1
        for j in range(k + 1, i + 1):
            loc = view.loc(j)
            ops = self._parse(loc, DELTA)
            try:
                doc = _apply_ops(doc, ops, copy_values=False)
            except InvalidArgumentError as exc:
                raise CorruptDataError(f"{self._where(loc)}: delta does not apply: {exc}") from None
            stats["deltas_applied"] += 1
            stats["ops_applied"] += len(ops)
        if type(doc) is not dict:
            raise CorruptDataError(f"{self._where(view.loc(i))}: version is not a JSON object")
        return doc

    def _add_pending(self, payload: bytes) -> int:
        self._pending.append(payload)
        return -len(self._pending)

    # -- public API ---------------------------------------------------------

    def set(self, oid, doc: dict, *, at, lsn) -> None:
        """Store ``doc`` as the version of object ``oid`` at time ``at`` (int64 ns), written with ``lsn``.

        The version is a delta on the version just before it in ``(t, lsn)``
        order, or a keyframe when the run it joins would exceed
        ``keyframe_every`` deltas or its keyframe's size. A version inserted
        before existing ones re-encodes its successor (as a delta on the new
        version, or as a keyframe if the run would break a limit), so every run
        stays bounded. The same ``(at, lsn)`` again replaces that version (a
        no-op if the document is identical: replaying a log is idempotent). A
        write with ``lsn`` at or below the object's last :meth:`delete` is
        ignored: it happened before the delete.

        Raises InvalidArgumentError if ``doc`` is not a dict or holds a value
        JSON cannot represent (the message names its path).
        """
        oid, t, lsn = _int64(oid, "oid"), _int64(at, "at"), _int64(lsn, "lsn")
        if not isinstance(doc, dict):
            raise InvalidArgumentError(f"a document must be a dict, got {type(doc).__name__}")
        doc = _canon(doc)
        payload = _dumps(doc)
        with self._lock:
            self._usable()
            if lsn <= self._tomb.get(oid, _I64_MIN):
                return
            self._insert(oid, self._chain(oid), t, lsn, doc, payload)

    def _run_stats(self, chain: _Chain, first: int, last: int) -> tuple[int, int]:
        """Number and bytes of the rows ``first..last`` (inclusive)."""
        return last - first + 1, sum(self._size(chain.locs[m]) for m in range(first, last + 1))

    def _tail(self, chain: _Chain, start: int) -> tuple[int, int]:
        """Number and bytes of the deltas from ``start`` up to the next keyframe."""
        m, n = start, len(chain)
        while m < n and chain.kinds[m] == DELTA:
            m += 1
        return self._run_stats(chain, start, m - 1) if m > start else (0, 0)

    def _insert(self, oid, chain: _Chain, t, lsn, doc, payload) -> None:
        key = (t, lsn)
        keys, n, limit = chain.keys, len(chain), self.keyframe_every
        i = bisect.bisect_left(keys, key)
        replace = i < n and keys[i] == key
        if replace and _dumps(self._materialize(oid, chain, i)) == payload:
            return
        succ = i + 1 if replace else i
        succ_doc = self._materialize(oid, chain, succ) if succ < n and chain.kinds[succ] == DELTA else None
        succ_delta = None
        if succ_doc is not None:
            succ_delta = _dumps(_diff_top(doc, succ_doc))
            after_n, after_b = self._tail(chain, succ + 1)
        kind, row = KEYFRAME, payload
        if i > 0 and not (replace and chain.kinds[i] == KEYFRAME):
            prev_doc = self._materialize(oid, chain, i - 1)
            delta = _dumps(_diff_top(prev_doc, doc))
            k = chain.keyframe_before(i - 1)
            run_n, run_b = self._run_stats(chain, k + 1, i - 1) if i - 1 > k else (0, 0)
            run_n, run_b = run_n + 1, run_b + len(delta)
            if succ_doc is not None:
                run_n, run_b = run_n + 1 + after_n, run_b + len(succ_delta) + after_b
            if run_n <= limit and run_b <= self._size(chain.locs[k]):
                kind, row = DELTA, delta
        new_loc = self._add_pending(row)
        if replace:
            chain.locs[i], chain.kinds[i] = new_loc, kind
        else:
            keys.insert(i, key)
            chain.locs.insert(i, new_loc)
            chain.kinds.insert(i, kind)
        if succ_doc is not None:
            j = i + 1  # the successor's index now
            if kind == KEYFRAME and (1 + after_n > limit or len(succ_delta) + after_b > len(payload)):
                chain.locs[j], chain.kinds[j] = self._add_pending(_dumps(succ_doc)), KEYFRAME
            else:
                chain.locs[j] = self._add_pending(succ_delta)
        if i == len(chain) - 1:
            chain.tail = payload
        self._cache_put((oid, t, lsn), payload)

    def get(self, oid, as_of=None) -> dict | None:
        """The document of ``oid`` valid at ``as_of`` (int64 ns; latest if None), or None if none yet.

        The valid version is the last one with ``t <= as_of`` (of equal ``t``,
        the larger lsn). Costs one keyframe decode and at most
        ``keyframe_every`` delta applications. The result is a fresh dict.
        """
        oid = _int64(oid, "oid")
        as_of = None if as_of is None else _int64(as_of, "as_of")
        with self._lock:
            self._usable()
            view = self._view(oid)
            if view is None or not len(view):
                return None
            i = len(view) - 1 if as_of is None else view.find(as_of)
            if i < 0:
                return None
            return self._materialize(oid, view, i)

    def history(self, oid, *, ops: bool = False) -> list:
        """``(t, lsn)`` of every version of ``oid`` in order; with ``ops=True``, ``(t, lsn, ops)``.

        ``ops`` are the operations that turn the previous version (``{}`` for the
        first) into this one, as :func:`diff` would return them.
        """
        oid = _int64(oid, "oid")
        with self._lock:
            self._usable()
            view = self._view(oid)
            if view is None:
                return []
            if isinstance(view, _Chain):
                keys = list(view.keys)
            else:
                keys = list(zip(view.t.tolist(), view.lsn.tolist()))
            if not ops:
                return keys
            out, doc = [], {}
            for j, (t, lsn) in enumerate(keys):
                loc, kind = view.loc(j), view.kind(j)
                # the returned operations get their own parse: `doc` is then changed in place
                if kind == KEYFRAME:
                    step = _diff_top(doc, self._parse(loc, KEYFRAME))
                    doc = self._parse(loc, KEYFRAME)
                else:
                    if j == 0:
                        raise CorruptDataError(f"{self._where(loc)}: object {oid} starts with a delta")
                    try:
                        doc = _apply_ops(doc, self._parse(loc, DELTA), copy_values=False)
                    except InvalidArgumentError as exc:
                        raise CorruptDataError(f"{self._where(loc)}: delta does not apply: {exc}") from None
                    step = [(o[0], tuple(o[1])) + tuple(o[2:]) for o in self._parse(loc, DELTA)]
                out.append((t, lsn, step))
            return out

    def delete(self, oid, *, lsn) -> None:
        """Delete object ``oid``: every version written with an lsn at or below ``lsn`` goes.

        The tombstone is kept (also by :meth:`compact`), so a replayed older
        write stays deleted; versions written with a larger lsn survive and are
        re-encoded as a fresh chain.
        """
        oid, lsn = _int64(oid, "oid"), _int64(lsn, "lsn")
        with self._lock:
            self._usable()
            if lsn <= self._tomb.get(oid, _I64_MIN):
                return
            self._tomb[oid] = self._pending_tombs[oid] = lsn
            view = self._view(oid)
            if view is None:
                return
            chain = self._chain(oid)
            survivors = [j for j, (_, l) in enumerate(chain.keys) if l > lsn]
            if len(survivors) == len(chain):
                return
            docs = [self._materialize(oid, chain, j) for j in survivors]
            keys = [chain.keys[j] for j in survivors]
            self._dirty[oid] = fresh = _Chain([], [], [])
            for key, d in zip(keys, docs):
                self._insert(oid, fresh, key[0], key[1], d, _dumps(d))

    def objects(self) -> np.ndarray:
        """Sorted int64 array of the objects that have at least one version."""
        with self._lock:
            self._usable()
            base = self._b_objects
            if not self._dirty:
                return base.copy()
            touched = np.fromiter(self._dirty, dtype=np.int64, count=len(self._dirty))
            live = np.fromiter((o for o, c in self._dirty.items() if len(c)), dtype=np.int64)
            return np.union1d(base[~np.isin(base, touched)], live)

    def flush(self) -> None:
        """Write every pending change as one new file, durably (temp file, fsync, rename, fsync dir)."""
        with self._lock:
            self._usable()
            rows = []
            for oid, chain in self._dirty.items():
                for j, loc in enumerate(chain.locs):
                    if loc < 0:
                        rows.append((oid, chain.keys[j], chain.kinds[j], j))
            if rows or self._pending_tombs:
                rows.sort(key=lambda r: (r[0], r[1]))
                tombs = sorted(self._pending_tombs.items())
                fid = self._next_id
                path = _write_file(
                    self.directory,
                    fid,
                    np.array([r[0] for r in rows], dtype=np.int64),
                    np.array([r[1][0] for r in rows], dtype=np.int64),
                    np.array([r[1][1] for r in rows], dtype=np.int64),
                    np.array([r[2] for r in rows], dtype=np.uint8),
                    [self._pending[-1 - self._dirty[r[0]].locs[r[3]]] for r in rows],
                    np.array([k for k, _ in tombs], dtype=np.int64),
                    np.array([v for _, v in tombs], dtype=np.int64),
                )
                self._next_id = fid + 1
                f = _DocFile(path, fid)
                f.index = None
                self._files[fid] = f
                for row, (oid, _, _, j) in enumerate(rows):
                    self._dirty[oid].locs[j] = (fid << 32) | row
            self._merge_dirty()
            self._pending = []
            self._pending_tombs = {}

    def _merge_dirty(self) -> None:
        if not self._dirty:
            return
        touched = np.fromiter(self._dirty, dtype=np.int64, count=len(self._dirty))
        keep = ~np.isin(self._b_oid, touched)
        parts = [(self._b_oid[keep], self._b_t[keep], self._b_lsn[keep], self._b_loc[keep], self._b_kind[keep])]
        for oid, c in self._dirty.items():
            if len(c):
                t, lsn = zip(*c.keys)
                parts.append(
                    (
                        np.full(len(c), oid, dtype=np.int64),
                        np.array(t, dtype=np.int64),
                        np.array(lsn, dtype=np.int64),
                        np.array(c.locs, dtype=np.int64),
                        np.array(c.kinds, dtype=np.uint8),
                    )
                )
        oid, t, lsn, loc, kind = (np.concatenate(col) for col in zip(*parts))
        order = np.lexsort((lsn, t, oid))
        self._set_base(oid[order], t[order], lsn[order], loc[order], kind[order])
        self._dirty = {}

    def compact(self) -> None:
        """Rewrite everything as one file: fresh keyframes, deleted objects dropped, tombstones kept.

        Every version keeps its ``(t, lsn)`` and content. The new file becomes
        visible atomically; the old files are removed only after it is durable,
        and a crash in between leaves a readable store (the newer file wins).
        """
        with self._lock:
            self._usable()
            self.flush()
            out_oid, out_t, out_lsn, out_kind, payloads = [], [], [], [], []
            oids, starts = np.unique(self._b_oid, return_index=True)
            bounds = np.append(starts, len(self._b_oid)).tolist()
            limit = self.keyframe_every
            for oid, s, e in zip(oids.tolist(), bounds[:-1], bounds[1:]):
                doc, run_n, run_b, kf_size = None, 0, 0, 0
                for j in range(s, e):
                    loc, kind = int(self._b_loc[j]), int(self._b_kind[j])
                    if kind == KEYFRAME:
                        new, delta = self._parse(loc, KEYFRAME), None
                        if doc is not None:
                            delta = _dumps(_diff_top(doc, new))
                        doc = new
                    else:
                        if doc is None:
                            raise CorruptDataError(f"{self._where(loc)}: object {oid} starts with a delta")
                        delta = self._payload(loc)
                        try:
                            doc = _apply_ops(doc, self._parse(loc, DELTA), copy_values=False)
                        except InvalidArgumentError as exc:
                            raise CorruptDataError(f"{self._where(loc)}: delta does not apply: {exc}") from None
                    if delta is not None and run_n < limit and run_b + len(delta) <= kf_size:
                        run_n, run_b, row, kind = run_n + 1, run_b + len(delta), delta, DELTA
                    else:
                        row = _dumps(doc)
                        run_n, run_b, kf_size, kind = 0, 0, len(row), KEYFRAME
                    out_oid.append(oid)
                    out_t.append(int(self._b_t[j]))
                    out_lsn.append(int(self._b_lsn[j]))
                    out_kind.append(kind)
                    payloads.append(row)
            old = list(self._files.values())
            if out_oid or self._tomb:
                tombs = sorted(self._tomb.items())
                _write_file(
                    self.directory,
                    self._next_id,
                    np.array(out_oid, dtype=np.int64),
                    np.array(out_t, dtype=np.int64),
                    np.array(out_lsn, dtype=np.int64),
                    np.array(out_kind, dtype=np.uint8),
                    payloads,
                    np.array([k for k, _ in tombs], dtype=np.int64),
                    np.array([v for _, v in tombs], dtype=np.int64),
                )
            for f in old:
                f.close()
                os.unlink(f.path)
            fsync_dir(self.directory)
            self._chunks.clear()
            self._load()

    def verify(self) -> list[str]:
        """Check every file (structure, checksums of header, footer, body and every block) and every chain.

        Returns the problems found, each naming its file; empty if all is sound.
        """
        with self._lock:
            if self._closed:
                raise ChronotopeError("the DocumentStore is closed")
            problems = list(self._broken.values())
            for f in self._files.values():
                problems += _verify_file(f.path, f.id)
            first = np.ones(len(self._b_oid), dtype=bool)
            first[1:] = self._b_oid[1:] != self._b_oid[:-1]
            dirty = np.isin(self._b_oid, np.fromiter(self._dirty, dtype=np.int64, count=len(self._dirty)))
            for j in np.flatnonzero(first & ~dirty & (self._b_kind == DELTA)).tolist():
                problems.append(f"{self._where(int(self._b_loc[j]))}: object {int(self._b_oid[j])} starts with a delta (a file is missing?)")
            return problems

    def drop_caches(self) -> None:
        """Forget cached documents and payload chunks (benchmarks use it to measure cold reads)."""
        with self._lock:
            self._docs.clear()
            self._chunks.clear()
            for chain in self._dirty.values():
                chain.tail = None

    def close(self) -> None:
        """Flush pending changes (unless a file is damaged) and release the files. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if not self._broken and (self._dirty or self._pending_tombs):
                    self.flush()
            finally:
                for f in self._files.values():
                    f.close()
                self._files = {}
                self._chunks.clear()
                self._docs.clear()
                self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"DocumentStore({self.directory!r}, keyframe_every={self.keyframe_every})"

    def _kinds(self, oid) -> list[int]:
        """Row kinds of an object's chain (1 keyframe, 0 delta); for tests."""
        with self._lock:
            view = self._view(_int64(oid, "oid"))
            return [] if view is None else [view.kind(j) for j in range(len(view))]


def _diff_top(old, new) -> list:
    """:func:`diff` without validation or copying (both sides are canonical already)."""
    out: list = []
    _diff_value(old, new, (), out)
    return out
