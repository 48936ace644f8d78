"""The decoded-block cache: decoded segment columns kept under a byte budget.

An entry is one column of one segment: an array of the segment's length that
fills block by block as queries need them, with a mask of the blocks decoded.
Only decoded blocks count against the budget. Entries are evicted least
recently used first; one call per (segment, column) and query, whatever the
number of blocks, and one C call decodes every missing block.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


__all__ = ["BlockCache", "DEFAULT_CACHE_BYTES"]

#: Default budget: room for about 16 million decoded (oid, t, x, y) rows.
DEFAULT_CACHE_BYTES = 512 << 20


class _Entry:
    __slots__ = ("values", "decoded", "bytes")

    def __init__(self, rows: int, nblocks: int, dtype):
        self.values = np.empty(rows, dtype=dtype)
        self.decoded = np.zeros(nblocks, dtype=bool)
        self.bytes = 0


class BlockCache:
    """Decoded blocks of segment columns, least recently used evicted first.

    >>> cache = BlockCache(1 << 20)
    >>> cache.stats()["budget_bytes"]
    1048576
    """

    def __init__(self, budget_bytes: int = DEFAULT_CACHE_BYTES):
        if budget_bytes < 0:
            raise ValueError("cache budget must be >= 0 bytes")
        self.budget = int(budget_bytes)
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def columns(self, seg, names: list[str], blocks: np.ndarray, scratch: dict | None = None) -> tuple[list, int, int]:
        """Columns ``names`` of segment ``seg`` with at least ``blocks`` decoded (rows at their segment positions).

        Returns (arrays, blocks found decoded, blocks decoded now). Blocks not
        in the cache are decoded into entries kept in ``scratch`` (a dict the
        caller owns, for reads too large to cache) or, without one, in the cache.
        """
        out, hits, misses = [], 0, 0
        with self._lock:
            for name in names:
                key = (seg.key, name)  # file names are never reused
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    if entry.decoded[blocks].all():  # the common case, kept short
                        out.append(entry.values)
                        hits += len(blocks)
                        continue
                elif scratch is not None:
                    entry = scratch.get(key)
                    if entry is None:
                        entry = scratch[key] = _Entry(seg.rows, seg.nblocks, seg.columns[name])
                else:
                    entry = _Entry(seg.rows, seg.nblocks, seg.columns[name])
                missing = blocks[~entry.decoded[blocks]]
                if key in self._entries:  # blocks reused from a query's own scratch are not cache hits
                    hits += len(blocks) - len(missing)
                misses += len(missing)
                if len(missing):
                    seg.decode_into(name, missing, entry.values)
                    entry.decoded[missing] = True
                    added = int(seg.summary["rows"][missing].sum()) * entry.values.itemsize
                    entry.bytes += added
                    if self.budget and (scratch is None or key in self._entries):
                        self._entries[key] = entry
                        self._bytes += added
                        self._evict(keep=key)
                out.append(entry.values)
            self.hits += hits
            self.misses += misses
        return out, hits, misses

    def _evict(self, keep) -> None:
        while self._bytes > self.budget and len(self._entries) > 1:
            key, entry = next(iter(self._entries.items()))
            if key == keep:
                self._entries.move_to_end(key)
                continue
            del self._entries[key]
            self._bytes -= entry.bytes
            self.evictions += 1
        if self._bytes > self.budget and keep in self._entries:  # one entry larger than the budget
            self._bytes -= self._entries.pop(keep).bytes
            self.evictions += 1

    def forget(self, seg) -> None:
        """Drop a segment's entries (it was replaced or closed)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == seg.key]:
                self._bytes -= self._entries.pop(key).bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> dict:
        """Budget, bytes held, entries, and block hits / misses / evictions since the store opened."""
        with self._lock:
            return {"budget_bytes": self.budget, "bytes": self._bytes, "entries": len(self._entries),
                    "hits": self.hits, "misses": self.misses, "evictions": self.evictions}
