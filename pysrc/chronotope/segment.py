"""Segment files: the immutable, self-describing unit of the delta store.

A segment holds the rows of one time partition of one collection, sorted by
(object code, t), cut into blocks of ``rows_per_block`` rows. Every column of
a block is one codec block (:mod:`chronotope.codec`); a column's blocks lie
back to back in one region of the file. A reader needs nothing but the file.

Layout (little-endian)::

    0      4  magic "CTSG"
    4      2  format version (1)
    6      2  reserved, 0
    8      .  column regions, in the order the footer lists them
    F      .  footer: u32 JSON length, the JSON, then the footer arrays
              (codec blocks: per-block summaries and per-column block offsets)
    end-24 8  u64 footer offset F
    end-16 8  u64 footer length
    end-8  4  CRC-32C of the footer
    end-4  4  magic "CTSF"

The footer JSON gives ``rows``, ``rows_per_block``, ``nblocks``, the columns
(name, dtype string, region offset and length), the byte ranges of the footer
arrays and free-form ``meta`` (collection, partition, LSN range). The
per-block summary (object range, time range, bounding box, row count) is what
the index and the planner read without touching the column data.

Files are written to a temporary name, fsynced and renamed, so a segment is
either complete or absent. Reading never trusts the bytes: the trailer,
footer checksum, JSON and every block are validated, and damage raises
:class:`~chronotope.errors.CorruptDataError` naming the file, column and block.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chronotope import codec
from chronotope._checksum import crc32c
from chronotope._query import chunk_summaries
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError
from chronotope.fileio import write_atomic

__all__ = ["write_segment", "Segment", "SUMMARY_FIELDS", "CHUNK_FIELDS", "CHUNK_ROWS", "SEGMENT_VERSION"]

SEGMENT_VERSION = 1
_MAGIC, _TRAILER_MAGIC = b"CTSG", b"CTSF"
_HEAD = struct.Struct("<4sHH")
_TRAILER = struct.Struct("<QQI4s")
#: Per-block summary fields, in footer order.
SUMMARY_FIELDS = ("rows", "oid_min", "oid_max", "t_min", "t_max", "x_min", "x_max", "y_min", "y_max")
#: Per-chunk index fields (chunks of CHUNK_ROWS rows inside each block), in footer order.
CHUNK_FIELDS = ("t_min", "t_max", "oid_min", "oid_max", "x_min", "x_max", "y_min", "y_max", "flags")
CHUNK_ROWS = 64
_REQUIRED = {"oid": np.int64, "t": np.int64, "x": np.float64, "y": np.float64}


def _block_summaries(columns: dict[str, np.ndarray], rows_per_block: int) -> dict[str, np.ndarray]:
    n = len(columns["t"])
    starts = np.arange(0, n, rows_per_block)
    out = {"rows": np.diff(np.append(starts, n)).astype(np.int64)}
    if n == 0:
        return {f: np.empty(0, dtype=np.float64 if f[0] in "xy" else np.int64) for f in SUMMARY_FIELDS}
    for name in ("oid", "t", "x", "y"):
        col = columns[name]
        out[f"{name}_min"] = np.minimum.reduceat(col, starts)
        out[f"{name}_max"] = np.maximum.reduceat(col, starts)
    return out


def write_segment(
    path: str | os.PathLike,
    columns: dict[str, np.ndarray],
    *,
    rows_per_block: int = 4096,
    mode: str = "compact",
    meta: dict | None = None,
    sync: bool = True,
    geographic: bool = True,
) -> dict:
    """Write a segment file atomically; return its description (the manifest entry's core).

    ``columns`` must hold ``oid`` (int64), ``t`` (int64 ns), ``x`` and ``y``
    (float64), all of one length and sorted by (oid, t), plus any other 1-D
    columns. The file appears under ``path`` only once complete and fsynced;
    ``geographic`` says x/y are longitude/latitude (for the chunk index's
    paths across the antimeridian). With ``sync=False`` the caller fsyncs the file and its directory (once for
    many files, see :func:`chronotope.fileio.fsync_files`) before relying on it.
    """
    path = Path(path)
    for name, dtype in _REQUIRED.items():
        if name not in columns:
            raise InvalidArgumentError(f"a segment needs column {name!r}")
        if columns[name].dtype != dtype:
            raise InvalidArgumentError(f"segment column {name!r} must be {np.dtype(dtype)}, got {columns[name].dtype}")
    n = len(columns["t"])
    if any(len(c) != n or c.ndim != 1 for c in columns.values()):
        raise InvalidArgumentError("segment columns must be 1-D and of one length")
    oid, t = columns["oid"], columns["t"]
    if n > 1 and not np.all((oid[1:] > oid[:-1]) | ((oid[1:] == oid[:-1]) & (t[1:] >= t[:-1]))):
        raise InvalidArgumentError("segment rows must be sorted by (oid, t)")

    body, entries, pos = [], [], _HEAD.size
    for name, col in columns.items():
        data, offsets = codec.encode_blocks(np.ascontiguousarray(col), rows_per_block, mode)
        body.append(data)
        entries.append({"name": name, "dtype": col.dtype.str, "offset": pos, "length": len(data), "offsets": offsets})
        pos += len(data)

    summaries = _block_summaries(columns, rows_per_block)
    arrays = [(f"summary.{f}", summaries[f]) for f in SUMMARY_FIELDS]
    chunks = chunk_summaries(oid, t, columns["x"], columns["y"], summaries["rows"], CHUNK_ROWS, geographic)
    arrays += [(f"chunk.{f}", chunks[f]) for f in CHUNK_FIELDS]
    arrays += [(f"offsets.{e['name']}", e.pop("offsets")) for e in entries]
    encoded = [(name, codec.encode(a, "fast")) for name, a in arrays]
    ranges, apos = {}, 0
    for name, blob in encoded:
        ranges[name] = [apos, len(blob)]
        apos += len(blob)
    header = {
        "version": SEGMENT_VERSION,
        "rows": n,
        "rows_per_block": rows_per_block,
        "chunk_rows": CHUNK_ROWS,
        "nblocks": len(summaries["rows"]),
        "columns": entries,
        "arrays": ranges,
        "meta": meta or {},
    }
    js = json.dumps(header, separators=(",", ":")).encode()
    footer = b"".join([struct.pack("<I", len(js)), js, *(blob for _, blob in encoded)])
    trailer = _TRAILER.pack(pos, len(footer), crc32c(footer), _TRAILER_MAGIC)

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, [_HEAD.pack(_MAGIC, SEGMENT_VERSION, 0), *body, footer, trailer], sync_dir=sync, sync_file=sync)
    return {
        "rows": n,
        "nblocks": header["nblocks"],
        "bytes": pos + len(footer) + _TRAILER.size,
        "t_min": int(t.min()) if n else 0,
        "t_max": int(t.max()) if n else 0,
        "bbox": [float(columns["x"].min()), float(columns["y"].min()), float(columns["x"].max()), float(columns["y"].max())]
        if n
        else None,
    }


@dataclass(frozen=True)
class _Column:
    name: str
    dtype: np.dtype
    offset: int
    length: int
    block_offsets: np.ndarray


class Segment:
    """A segment file opened for reading (the file stays open: it remains readable after a compaction unlinks it).

    Attributes: ``path``, ``rows``, ``nblocks``, ``rows_per_block``, ``meta``,
    ``summary`` (dict of per-block numpy arrays, fields ``SUMMARY_FIELDS``),
    ``columns`` (name -> numpy dtype), ``block_starts`` (first row of each block),
    ``chunks`` (dict of per-chunk index arrays, fields ``CHUNK_FIELDS``, or None
    for a segment written without them) and ``chunk_rows``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.key = str(self.path)
        self._file = open(self.path, "rb")
        try:
            size = os.fstat(self._file.fileno()).st_size
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
            self._view = memoryview(self._map) if self._map is not None else memoryview(b"")
            self._parse(size)
        except BaseException:
            self.close()
            raise

    def _fail(self, what: str) -> CorruptDataError:
        return CorruptDataError(f"segment {self.path}: {what}")

    def _parse(self, size: int) -> None:
        v = self._view
        if size < _HEAD.size + _TRAILER.size:
            raise self._fail("truncated: shorter than header and trailer")
        magic, version, _ = _HEAD.unpack_from(v, 0)
        if magic != _MAGIC:
            raise self._fail("bad magic number: not a chronotope segment")
        if version != SEGMENT_VERSION:
            raise self._fail(f"unsupported segment format version {version}")
        foff, flen, fcrc, tmagic = _TRAILER.unpack_from(v, size - _TRAILER.size)
        if tmagic != _TRAILER_MAGIC:
            raise self._fail("bad trailer: truncated or not a chronotope segment")
        if foff < _HEAD.size or flen < 4 or foff + flen != size - _TRAILER.size:
            raise self._fail("footer location out of range")
        footer = v[foff : foff + flen]
        if crc32c(footer) != fcrc:
            raise self._fail("footer checksum mismatch")
        (jlen,) = struct.unpack_from("<I", footer, 0)
        try:
            head = json.loads(bytes(footer[4 : 4 + jlen]))
            self.rows = int(head["rows"])
            self.nblocks = int(head["nblocks"])
            self.rows_per_block = int(head["rows_per_block"])
            self.meta = dict(head["meta"])
            arrays = {
                name: codec.decode(footer[4 + jlen + a : 4 + jlen + a + ln], context=f"segment {self.path}, footer {name}")
                for name, (a, ln) in head["arrays"].items()
            }
            cols = {}
            for e in head["columns"]:
                offs = arrays[f"offsets.{e['name']}"]
                if len(offs) != self.nblocks + 1 or e["offset"] + e["length"] > foff:
                    raise ValueError(f"column {e['name']} has inconsistent block offsets")
                cols[e["name"]] = _Column(e["name"], np.dtype(e["dtype"]), int(e["offset"]), int(e["length"]), offs)
            self.summary = {f: arrays[f"summary.{f}"] for f in SUMMARY_FIELDS}
            # the chunk index (absent from segments written before it existed: built on first query)
            self.chunk_rows = int(head.get("chunk_rows", CHUNK_ROWS))
            self.chunks = {f: arrays[f"chunk.{f}"] for f in CHUNK_FIELDS} if all(f"chunk.{f}" in arrays for f in CHUNK_FIELDS) else None
        except ChronotopeError:
            raise
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise self._fail(f"invalid footer: {exc}") from None
        if int(self.summary["rows"].sum()) != self.rows or len(self.summary["rows"]) != self.nblocks:
            raise self._fail("block row counts do not add up")
        r = self.summary["rows"]
        if self.nblocks and (self.rows_per_block < 1 or np.any(r[:-1] != self.rows_per_block) or not 0 < r[-1] <= self.rows_per_block):
            raise self._fail("blocks do not hold rows_per_block rows each (but the last)")
        if self.chunks is not None:
            per_block = (self.summary["rows"] + (self.chunk_rows - 1)) // max(self.chunk_rows, 1)
            if self.chunk_rows < 1 or any(len(a) != int(per_block.sum()) for a in self.chunks.values()):
                raise self._fail("chunk index does not match the blocks")
        self._columns = cols
        self.columns = {name: c.dtype for name, c in cols.items()}
        self.block_starts = np.concatenate([[0], np.cumsum(self.summary["rows"])[:-1]]).astype(np.int64)

    def read(self, columns=None, blocks=None) -> dict[str, np.ndarray]:
        """Decode ``columns`` (default all) of ``blocks`` (block indices, default all), in block order given.

        One C call per column decodes all the blocks asked for.
        """
        names = list(self._columns) if columns is None else list(columns)
        which = np.arange(self.nblocks, dtype=np.uint32) if blocks is None else np.asarray(blocks, dtype=np.uint32)
        if which.size and int(which.max()) >= self.nblocks:
            raise InvalidArgumentError(f"segment {self.path} has {self.nblocks} blocks")
        n = int(self.summary["rows"][which].sum()) if which.size else 0
        out = {}
        for name in names:
            col = self._columns.get(name)
            if col is None:
                raise InvalidArgumentError(f"segment {self.path} has no column {name!r}")
            region = self._view[col.offset : col.offset + col.length]
            out[name] = codec.decode_blocks(
                region, col.block_offsets, which, np.empty(n, dtype=col.dtype), context=f"segment {self.path}, column {name}"
            )
        return out

    def decode_into(self, name: str, blocks, out: np.ndarray) -> np.ndarray:
        """Decode column ``name`` of ``blocks`` into ``out`` (of the segment's length) at their own rows."""
        col = self._columns.get(name)
        if col is None:
            raise InvalidArgumentError(f"segment {self.path} has no column {name!r}")
        which = np.asarray(blocks, dtype=np.int64)
        if which.size and (int(which.min()) < 0 or int(which.max()) >= self.nblocks):
            raise InvalidArgumentError(f"segment {self.path} has {self.nblocks} blocks")
        if len(out) != self.rows or out.dtype != col.dtype:
            raise InvalidArgumentError(f"out must be {self.rows} values of {col.dtype}")
        region = self._view[col.offset : col.offset + col.length]
        return codec.decode_blocks_at(region, col.block_offsets, which, self.block_starts[which],
                                      self.summary["rows"][which], out, context=f"segment {self.path}, column {name}")

    def check(self) -> list[str]:
        """Validate every block of every column (checksums, structure); one message per bad block."""
        problems = []
        for name, col in self._columns.items():
            region = self._view[col.offset : col.offset + col.length]
            for k, msg in codec.check_blocks(region, col.block_offsets).items():
                problems.append(f"segment {self.path}, column {name}, block {k}: {msg}")
        return problems

    def close(self) -> None:
        """Release the mapping and the file (idempotent)."""
        view, self._view = getattr(self, "_view", None), memoryview(b"")
        if view is not None:
            view.release()
        if getattr(self, "_map", None) is not None:
            self._map.close()
            self._map = None
        if getattr(self, "_file", None) is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Segment":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Segment({str(self.path)!r}, rows={self.rows}, blocks={self.nblocks})"
