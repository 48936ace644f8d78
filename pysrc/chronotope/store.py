"""The store: a directory of collections, its write-ahead log, manifest and segments.

``chronotope.open(path)`` returns the writer (it holds the store's lock);
``chronotope.open(path, readonly=True)`` a reader that takes no lock and sees
the latest committed (flushed) state at open and after ``refresh()``. See
docs/storage.md for the design and the durability guarantees.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import struct
import threading
import time as _time
from pathlib import Path

import numpy as np

from chronotope import codec
from chronotope._sort import sort_keys
from chronotope.collection import Collection
from chronotope.merge import dedup_last, last_of_each, tombstone_mask
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError
from chronotope.ingest import check_metadata, check_name, check_schema, duration_ns, parse_partition, to_ns
from chronotope.manifest import FORMAT_VERSION, empty_manifest, load_manifest, save_manifest
from chronotope.fileio import fsync_dir, fsync_files, write_atomic
from chronotope.segment import Segment, write_segment
from chronotope.cache import DEFAULT_CACHE_BYTES, BlockCache
from chronotope.index import SpaceTimeIndex

__all__ = ["open_store", "Store", "StoreLockedError", "IdempotencyConflictError", "IDEMPOTENCY_KEYS",
           "IDEMPOTENCY_TTL"]

_FSYNC = ("always", "batch", "never")
_HEADER = struct.Struct("<I")
#: Idempotency keys remembered per collection: the most recent ones, each for a day at most.
IDEMPOTENCY_KEYS = 10_000
IDEMPOTENCY_TTL = np.timedelta64(24, "h")
_TTL_NS = int(IDEMPOTENCY_TTL.astype("m8[ns]").astype(np.int64))


class StoreLockedError(ChronotopeError):
    """Another process has the store open for writing."""


class IdempotencyConflictError(InvalidArgumentError):
    """An idempotency key already names an append of other rows."""


def _digest(ids: np.ndarray, cols: dict[str, np.ndarray]) -> str:
    """A fingerprint of a normalised batch: the same rows give the same digest whatever their source."""
    h = hashlib.blake2b(digest_size=16)
    if ids.dtype.kind == "U":  # the same strings in a wider array are the same ids
        ids = ids.astype(f"U{max(1, int(np.char.str_len(ids).max()) if len(ids) else 1)}")
    for name, a in (("object_id", ids), *cols.items()):
        a = np.ascontiguousarray(a)
        h.update(f"{name}:{a.dtype.str}:{len(a)};".encode())
        h.update(a.view(np.uint8))
    return h.hexdigest()


def _pack(header: dict, buffers=()) -> list:
    js = json.dumps(header, separators=(",", ":")).encode()
    return [_HEADER.pack(len(js)), js, *buffers]


def _unpack(payload) -> tuple[dict, memoryview]:
    view = memoryview(payload)
    (n,) = _HEADER.unpack_from(view, 0)
    return json.loads(bytes(view[4 : 4 + n])), view[4 + n :]


class _Memtable:
    """A collection's unflushed writes: columnar batches tagged with their LSN."""

    def __init__(self):
        self.batches: list[tuple[int, dict[str, np.ndarray]]] = []
        self.rows = 0
        self.tombstones: list[dict] = []
        self.max_lsn = 0

    def add(self, lsn: int, cols: dict[str, np.ndarray]) -> None:
        self.batches.append((lsn, cols))
        self.rows += len(cols["t"])
        self.max_lsn = max(self.max_lsn, lsn)


def _memtable_parts(mem: _Memtable, partition_ns: int) -> list[tuple[int, dict]]:
    """A memtable's rows as segments-to-be: (partition, rows sorted by (object, t), last write of each kept),
    its own deletes applied."""
    lsns = np.concatenate([np.full(len(c["t"]), lsn, dtype=np.int64) for lsn, c in mem.batches])
    cols = {k: np.concatenate([c[k] for _, c in mem.batches]) for k in mem.batches[0][1]}
    dead = tombstone_mask(cols["oid"], cols["t"], lsns, mem.tombstones)
    if dead is not None:
        cols = {k: v[~dead] for k, v in cols.items()}
    # one stable sort by (partition, object, t): each partition is then a contiguous
    # run already in segment order, and among equal (object, t) the newest write is last
    part = cols["t"] // partition_ns
    order = sort_keys(part, cols["oid"], cols["t"])
    rows = {k: v[order] for k, v in cols.items()}
    part = part[order]
    keep = last_of_each(rows["oid"], rows["t"])
    if not keep.all():
        rows = {k: v[keep] for k, v in rows.items()}
        part = part[keep]
    edges = np.concatenate([[0], np.flatnonzero(np.diff(part)) + 1, [len(part)]])
    return [(int(part[a]), {k: v[a:b] for k, v in rows.items()}) for a, b in zip(edges[:-1], edges[1:]) if b > a]


class _Ids:
    """String object ids <-> dense int64 codes (first-seen order), for one collection."""

    def __init__(self, names: np.ndarray | None = None):
        self.names = list(names) if names is not None else []
        self.codes = {n: i for i, n in enumerate(self.names)}
        self.saved = len(self.names)

    def encode(self, ids: np.ndarray, create: bool) -> tuple[np.ndarray, list[str]]:
        uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        new, codes = [], np.empty(len(uniq), dtype=np.int64)
        names = uniq.tolist()
        for i in np.argsort(first, kind="stable").tolist():  # new ids get codes in the order they first appear
            name = names[i]
            code = self.codes.get(name)
            if code is None:
                if not create:
                    code = -1
                else:
                    code = self.codes[name] = len(self.names)
                    self.names.append(name)
                    new.append(name)
            codes[i] = code
        return codes[inverse], new

    def array(self) -> np.ndarray:
        return np.array(self.names, dtype=str) if self.names else np.empty(0, dtype="U1")


class Store:
    """A chronotope store (use :func:`chronotope.open`)."""

    def __init__(self, path, *, fsync: str = "batch", readonly: bool = False, flush_rows: int = 1_000_000,
                 rows_per_block: int = 4096, mode: str = "fast", cache_bytes: int = DEFAULT_CACHE_BYTES):
        if fsync not in _FSYNC:
            raise InvalidArgumentError(f"fsync must be one of {_FSYNC}, got {fsync!r}")
        if flush_rows < 1:
            raise InvalidArgumentError("flush_rows must be positive")
        if not isinstance(cache_bytes, (int, np.integer)) or cache_bytes < 0:
            raise InvalidArgumentError(f"cache_bytes must be a non-negative integer, got {cache_bytes!r}")
        if mode not in codec.MODES:
            raise InvalidArgumentError(f"mode must be one of {list(codec.MODES)}, got {mode!r}")
        self.path = Path(path)
        self.readonly = readonly
        self.fsync = fsync
        self._flush_rows = flush_rows
        self._rows_per_block = rows_per_block
        self._mode = mode
        self._lock = threading.RLock()
        self._lockfile = None
        self._wal = None
        self._closed = False
        self._open_segments: dict[str, Segment] = {}
        self._mem: dict[str, _Memtable] = {}
        # a flush in the background: the memtables it writes (still read until installed), its thread, its error
        self._flushing: dict[str, _Memtable] = {}
        self._flusher: threading.Thread | None = None
        self._flush_done = threading.Condition(self._lock)
        self._flush_error: BaseException | None = None
        self._ids: dict[str, _Ids] = {}
        self._docs: dict = {}
        self._cache = BlockCache(int(cache_bytes))
        self._indexes: dict[str, tuple] = {}  # collection -> (segment files, SpaceTimeIndex)
        self._obsolete: list[Path] = []  # files replaced by the last manifest, removed once it is durable
        self._idem: dict[str, dict[str, list]] = {}  # collection -> key -> [digest, rows, at ns], oldest first
        try:
            self._open()
        except BaseException:
            self._release()
            raise

    # ---- opening, locking, recovery ----

    def _open(self) -> None:
        if self.readonly:
            if not (self.path / "MANIFEST").exists():
                raise ChronotopeError(f"{self.path} is not a chronotope store (no MANIFEST)")
            self._state = load_manifest(self.path)
            self._load_snapshot()
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(self.path / "LOCK", "a+")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lockfile.seek(0)
            holder = self._lockfile.read().strip() or "another process"
            self._lockfile.close()
            self._lockfile = None
            raise StoreLockedError(f"store {self.path} is open for writing by {holder}; open it with readonly=True") from None
        self._lockfile.seek(0)
        self._lockfile.truncate()
        self._lockfile.write(f"pid {os.getpid()}\n")
        self._lockfile.flush()
        state = load_manifest(self.path)
        if state is None:
            state = empty_manifest()
            save_manifest(self.path, state)
        self._state = state
        self._sweep()
        self._load_snapshot()
        self._idem = {name: {e[0]: e[1:] for e in meta.get("idempotency", [])}
                      for name, meta in self._state["collections"].items()}
        from chronotope.wal import WriteAheadLog

        self._wal = WriteAheadLog(self.path / "wal", fsync=self.fsync)
        for lsn, payload in self._wal.replay(after=self._state["wal_checkpoint"]):
            self._apply(lsn, payload)

    def _sweep(self) -> None:
        """Delete files no manifest lists: leftovers of a flush or compaction cut short."""
        for name, meta in self._state["collections"].items():
            live = {e["file"] for e in meta["segments"]}
            live.update(f for f in (meta.get("ids_file"),) if f)
            root = self.path / name
            for f in list((root / "seg").rglob("*")) + list(root.glob("ids-*")):
                rel = str(f.relative_to(root))
                if f.is_file() and rel not in live:
                    f.unlink()
        for f in self.path.glob("*.tmp"):
            f.unlink()

    def _load_snapshot(self, ids: bool = True) -> None:
        """Open the segments the manifest lists (kept open: a reader's snapshot outlives compactions), and
        with ``ids`` read the id tables."""
        wanted = {}
        for name, meta in self._state["collections"].items():
            for e in meta["segments"]:
                wanted[f"{name}/{e['file']}"] = e
        for key in list(self._open_segments):
            if key not in wanted:
                seg = self._open_segments.pop(key)
                self._cache.forget(seg)
                seg.close()
        for key in wanted:
            if key not in self._open_segments:
                self._open_segments[key] = Segment(self.path / key)
        if not ids:
            return
        self._ids = {}
        for name, meta in self._state["collections"].items():
            if meta.get("ids_file"):
                names = codec.decode((self.path / name / meta["ids_file"]).read_bytes(), context=f"{name}/{meta['ids_file']}")
                self._ids[name] = _Ids(names)
            elif meta.get("id_kind") == "str":
                self._ids[name] = _Ids()

    def refresh(self) -> "Store":
        """Readers: move to the latest committed state (the writer is always current)."""
        self._check_open()
        if self.readonly:
            with self._lock:
                for _ in range(10):  # a compaction may delete files between reading the manifest and opening them
                    state = load_manifest(self.path)
                    try:
                        old = self._state
                        self._state = state
                        self._load_snapshot()
                        break
                    except FileNotFoundError:
                        self._state = old
                        _time.sleep(0.01)
                else:
                    raise ChronotopeError(f"store {self.path}: could not pin a consistent snapshot")
        return self

    # ---- collections ----

    def create_collection(self, name: str, properties: dict | None = None, crs: str = "EPSG:4326",
                          partition="1D", has_z: bool = False, max_gap="10m") -> Collection:
        """Create a collection; ``properties`` maps column names to numpy dtypes (numeric).

        ``max_gap``: the longest time between two samples that snapshots and
        nearest-at-a-time queries interpolate across (default 10 minutes).
        """
        self._check_writer()
        check_name(name, "collection")
        schema = {prop: dt.str for prop, dt in check_schema(properties).items()}
        if not isinstance(crs, str) or not crs:
            raise InvalidArgumentError(f"invalid crs {crs!r}")
        gap = duration_ns(max_gap, "max_gap")
        with self._lock:
            if name in self._state["collections"]:
                raise InvalidArgumentError(f"collection {name!r} exists already")
            self._state["collections"][name] = {
                "schema": schema, "crs": crs, "partition_ns": parse_partition(partition), "has_z": bool(has_z),
                "id_kind": None, "ids_file": None, "segments": [], "tombstones": [], "max_gap_ns": gap,
            }
            (self.path / name / "seg").mkdir(parents=True, exist_ok=True)
            save_manifest(self.path, self._state)
        return Collection(self, name)

    def collection(self, name: str) -> Collection:
        """An existing collection."""
        self._check_open()
        self._collection_meta(name)
        return Collection(self, name)

    def collections(self) -> list[str]:
        """Names of the collections, sorted."""
        self._check_open()
        return sorted(self._state["collections"])

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its data."""
        self._check_writer()
        with self._lock:
            self._collection_meta(name)
            # the log may hold writes to the collection: flush them so replay never sees them
            self._flush_locked()
            del self._state["collections"][name]
            save_manifest(self.path, self._state)
            for key in [k for k in self._open_segments if k.startswith(name + "/")]:
                seg = self._open_segments.pop(key)
                self._cache.forget(seg)
                seg.close()
            self._mem.pop(name, None)
            self._ids.pop(name, None)
            self._idem.pop(name, None)
            docs = self._docs.pop(name, None)
            if docs is not None:
                docs.close()
            shutil.rmtree(self.path / name, ignore_errors=True)

    def _collection_meta(self, name: str) -> dict:
        try:
            return self._state["collections"][name]
        except KeyError:
            raise InvalidArgumentError(f"no collection {name!r} in store {self.path}") from None

    def _set_collection_metadata(self, name: str, metadata: dict) -> None:
        """Keep a collection's descriptive metadata (a JSON object) in the manifest."""
        self._check_writer()
        metadata = check_metadata(metadata)  # a private copy
        with self._lock:
            self._collection_meta(name)["metadata"] = metadata
            save_manifest(self.path, self._state)

    # ---- the write path ----

    def _log(self, header: dict, buffers=()) -> int:
        return self._wal.append(_pack(header, buffers))

    def _append(self, name: str, ids: np.ndarray, cols: dict[str, np.ndarray], idem: list | None = None) -> int:
        """Log and apply one validated batch; ``idem`` = [key, digest, at ns] records its idempotency key
        in the same log record."""
        self._check_writer()
        with self._lock:
            self._raise_flush_error()
            meta = self._collection_meta(name)
            kind = "str" if ids.dtype.kind == "U" else "int"
            if meta["id_kind"] not in (None, kind):
                words = {"str": "string", "int": "integer"}
                raise InvalidArgumentError(
                    f"collection {name!r} has {words[meta['id_kind']]} object ids, got {words[kind]} ids"
                )
            new_ids = []
            if kind == "str":
                oid, new_ids = self._ids.setdefault(name, _Ids()).encode(ids, create=True)
            else:
                oid = ids
            if meta["id_kind"] is None:
                meta["id_kind"] = kind
                save_manifest(self.path, self._state)
            cols = {"oid": np.ascontiguousarray(oid, dtype=np.int64), **{k: np.ascontiguousarray(v) for k, v in cols.items()}}
            header = {"op": "append", "c": name, "n": len(oid), "cols": [[k, v.dtype.str] for k, v in cols.items()],
                      "new_ids": new_ids}
            if idem is not None:
                header["idem"] = idem
            lsn = self._log(header, [memoryview(v).cast("B") for v in cols.values()])
            self._mem.setdefault(name, _Memtable()).add(lsn, cols)
            if idem is not None:
                self._remember(name, idem, len(oid))
            if self._mem[name].rows >= self._flush_rows:
                self._flush_in_background()
            return len(oid)

    def _append_once(self, name: str, key: str, ids: np.ndarray, cols: dict[str, np.ndarray]) -> tuple[int, bool]:
        """Append unless ``key`` already names an append (of the same rows: its row count and True; of
        other rows: IdempotencyConflictError). The key is logged with the rows, so it survives a crash."""
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise InvalidArgumentError(f"an idempotency key is a string of 1 to 255 characters, got {key!r}")
        digest = _digest(ids, cols)
        with self._lock:
            self._check_writer()
            seen = self._idem.get(name, {}).get(key)
            if seen is not None and _time.time_ns() - seen[2] <= _TTL_NS:
                if seen[0] != digest:
                    raise IdempotencyConflictError(
                        f"idempotency key {key!r} was used for an append of other rows; use a new key for new data")
                return seen[1], True
            return self._append(name, ids, cols, idem=[key, digest, _time.time_ns()]), False

    def _remember(self, name: str, idem: list, rows: int) -> None:
        keys = self._idem.setdefault(name, {})
        key, digest, at = idem
        keys.pop(key, None)  # an expired key used again counts from now
        keys[key] = [digest, rows, at]
        while len(keys) > IDEMPOTENCY_KEYS:
            del keys[next(iter(keys))]

    def _code_of(self, name: str, object_id, create: bool) -> int:
        meta = self._collection_meta(name)
        a = np.asarray([object_id])
        if a.dtype.kind in "iu":
            if meta["id_kind"] == "str":
                raise InvalidArgumentError(f"collection {name!r} has string object ids")
            return int(a[0])
        if a.dtype.kind != "U":
            raise InvalidArgumentError(f"object ids are integers or strings, got {object_id!r}")
        if meta["id_kind"] == "int":
            raise InvalidArgumentError(f"collection {name!r} has integer object ids")
        codes, new = self._ids.setdefault(name, _Ids()).encode(a, create=create)
        if new and meta["id_kind"] is None:
            meta["id_kind"] = "str"
            save_manifest(self.path, self._state)
        return int(codes[0])

    def _delete(self, name: str, object_id, t0: int, t1: int) -> None:
        self._check_writer()
        with self._lock:
            code = self._code_of(name, object_id, create=False)
            if code < 0:
                return  # an id never written has nothing to delete
            lsn = self._log({"op": "delete", "c": name, "oid": code, "t0": t0, "t1": t1})
            self._mem.setdefault(name, _Memtable()).tombstones.append({"oid": code, "t0": t0, "t1": t1, "lsn": lsn})

    def _apply(self, lsn: int, payload) -> None:
        """Replay one log record into memory (recovery)."""
        header, body = _unpack(payload)
        name = header["c"]
        if name not in self._state["collections"]:
            return  # dropped after the record was written
        mem = self._mem.setdefault(name, _Memtable())
        if header["op"] == "append":
            if header["new_ids"]:
                ids = self._ids.setdefault(name, _Ids())
                _, new = ids.encode(np.array(header["new_ids"], dtype=str), create=True)
                if new != header["new_ids"]:
                    raise CorruptDataError(f"write-ahead log record {lsn}: object id codes do not replay consistently")
            n, cols, pos = header["n"], {}, 0
            for col, dtype in header["cols"]:
                dt = np.dtype(dtype)
                cols[col] = np.frombuffer(body[pos : pos + n * dt.itemsize], dtype=dt).copy()
                pos += n * dt.itemsize
            mem.add(lsn, cols)
            if "idem" in header:
                self._remember(name, header["idem"], n)
        elif header["op"] == "delete":
            mem.tombstones.append({"oid": header["oid"], "t0": header["t0"], "t1": header["t1"], "lsn": lsn})
            mem.max_lsn = max(mem.max_lsn, lsn)
        elif header["op"] == "props":
            if header.get("new_ids"):
                self._ids.setdefault(name, _Ids()).encode(np.array(header["new_ids"], dtype=str), create=True)
            self._documents(name).set(header["oid"], header["doc"], at=header["at"], lsn=lsn)
            mem.max_lsn = max(mem.max_lsn, lsn)

    def flush(self) -> None:
        """Write every unflushed row into segments and checkpoint the log."""
        self._check_writer()
        with self._lock:
            self._flush_locked()
            self._flush_error = None  # everything is in segments now: an earlier background failure is mended

    # A flush sets the memtables aside (reads still see them), writes and syncs their segments, then
    # installs them in one step under the lock: manifest, log checkpoint up to where it began, the set-aside
    # rows dropped. A memtable past flush_rows is flushed so by a thread of its own, writing without the
    # lock, so the append that filled it does not wait. At most one such flush runs; a second one, and
    # every other flush (flush(), compact, prune, drop, close), waits for it first.

    def _flush_in_background(self) -> None:
        self._await_flusher()
        self._raise_flush_error()
        frozen, mark = self._set_aside()
        self._flusher = threading.Thread(target=self._background_flush, args=(frozen, mark),
                                         name=f"chronotope-flush {self.path.name}", daemon=True)
        self._flusher.start()

    def _background_flush(self, frozen: dict, mark: dict) -> None:
        try:
            written = self._write_frozen(frozen)
            with self._lock:
                self._install_flush(frozen, written, mark)
        except BaseException as exc:  # noqa: BLE001 - kept for the next write; the rows stay in memory and the log
            with self._lock:
                self._flush_error = exc
                self._put_back(frozen)
        finally:
            with self._lock:
                self._flusher = None
                self._flush_done.notify_all()

    def _flush_locked(self) -> None:
        self._await_flusher()
        frozen, mark = self._set_aside()
        try:
            self._install_flush(frozen, self._write_frozen(frozen), mark)
        except BaseException:
            self._put_back(frozen)
            raise

    def _await_flusher(self) -> None:
        while self._flusher is not None:  # its rows come before the ones a new flush would write
            self._flush_done.wait()

    def _set_aside(self) -> tuple[dict, dict]:
        """The memtables, set aside for a flush, and where the log, the id tables and the keys stood."""
        frozen, self._mem, self._flushing = self._mem, {}, self._mem
        mark = {"top": self._wal.last_lsn, "ids": {n: len(i.names) for n, i in self._ids.items()},
                "idem": {n: dict(keys) for n, keys in self._idem.items()}}
        return frozen, mark

    def _put_back(self, frozen: dict) -> None:
        """A flush failed: its memtables go back in front of what came since."""
        for name, mem in frozen.items():
            later = self._mem.get(name)
            if later is not None:
                mem.batches += later.batches
                mem.rows += later.rows
                mem.tombstones += later.tombstones
                mem.max_lsn = max(mem.max_lsn, later.max_lsn)
            self._mem[name] = mem
        self._flushing = {}

    def _write_frozen(self, frozen: dict) -> dict[str, list[dict]]:
        """Write and sync the segments of set-aside memtables (the lock is needed only to number the files)."""
        written = {}
        for name, mem in frozen.items():
            meta = self._state["collections"].get(name)
            if meta is not None and mem.batches:
                parts = _memtable_parts(mem, meta["partition_ns"])
                written[name] = self._write_parts(name, meta, parts, int(mem.batches[0][0]), int(mem.max_lsn))
        return written

    def _install_flush(self, frozen: dict, written: dict, mark: dict) -> None:
        """List a flush's segments in the manifest and checkpoint the log up to where it began."""
        changed = False
        for name, mem in frozen.items():
            meta = self._state["collections"].get(name)
            if meta is None:
                continue  # dropped (drop flushes first, so only a flush's own leftovers)
            meta["segments"].extend(written.get(name, []))
            meta["tombstones"].extend(mem.tombstones)
            changed |= bool(mem.batches or mem.tombstones)
            docs = self._docs.get(name)
            if docs is not None:
                docs.flush()  # versions logged since the flush began too: replaying them is idempotent
            self._save_ids(name, meta, upto=mark["ids"].get(name))  # the later ids come back with their log
        now = _time.time_ns()
        for name, keys in mark["idem"].items():  # the keys of the rows now in segments, unexpired
            if name in self._state["collections"]:
                self._state["collections"][name]["idempotency"] = [[k, *e] for k, e in keys.items()
                                                                   if now - e[2] <= _TTL_NS]
        self._flushing = {}
        if changed or mark["top"] > self._state["wal_checkpoint"]:
            self._state["wal_checkpoint"] = max(self._state["wal_checkpoint"], mark["top"])
            save_manifest(self.path, self._state)
            self._load_snapshot(ids=False)  # the ids in memory may run ahead of the file: keep them
            self._wal.truncate(upto=mark["top"])
            self._remove_obsolete()

    def _raise_flush_error(self) -> None:
        """A background flush failed: say so once (its rows are still in memory and in the log)."""
        if self._flush_error is not None:
            exc, self._flush_error = self._flush_error, None
            raise ChronotopeError(f"store {self.path}: writing segments in the background failed ({exc}); "
                                  "nothing is lost, the next flush tries again") from exc

    def _save_ids(self, name: str, meta: dict, upto: int | None = None) -> None:
        """Write the collection's id table, its first ``upto`` ids (those the log holds before the checkpoint)."""
        ids = self._ids.get(name)
        count = len(ids.names) if ids is not None and upto is None else (upto or 0)
        if ids is None or count <= ids.saved:
            return
        fname = f"ids-{count}.ctb"
        write_atomic(self.path / name / fname, [codec.encode(ids.array()[:count])])
        old = meta.get("ids_file")
        meta["ids_file"] = fname
        ids.saved = count
        if old and old != fname:
            self._obsolete.append(self.path / name / old)

    def _write_parts(self, name: str, meta: dict, parts: list[tuple[int, dict]], lsn_min: int,
                     lsn_max: int) -> list[dict]:
        """Write one segment file per (partition, rows), synced; their manifest entries (not yet listed)."""
        with self._lock:
            first = self._state["next_file"]
            self._state["next_file"] = first + len(parts)
        entries, paths = [], []
        for fid, (p, cols) in enumerate(parts, start=first):
            rel = f"seg/{fid:012d}.cts"
            info = write_segment(self.path / name / rel, cols, rows_per_block=self._rows_per_block, mode=self._mode,
                                 meta={"collection": name, "partition": p, "lsn_min": lsn_min, "lsn_max": lsn_max},
                                 sync=False, geographic=meta["crs"] == "EPSG:4326")
            entries.append({"file": rel, "partition": p, "lsn_min": lsn_min, "lsn_max": lsn_max, **info})
            paths.append(self.path / name / rel)
        # durable before the manifest names them; the waits of many small files overlap
        fsync_files(paths)
        fsync_dir(self.path / name / "seg")
        return entries

    # ---- property documents ----

    def _documents(self, name: str):
        docs = self._docs.get(name)
        if docs is None:
            from chronotope.documents import DocumentStore

            docs = self._docs[name] = DocumentStore(self.path / name / "docs")
        return docs

    def _set_properties(self, name: str, object_id, doc: dict, at) -> None:
        self._check_writer()
        from chronotope.documents import diff

        if not isinstance(doc, dict):
            raise InvalidArgumentError(f"a document must be a dict, got {type(doc).__name__}")
        diff({}, doc)  # validates that the document is JSON (raises InvalidArgumentError)
        t = to_ns(at if at is not None else np.datetime64("now", "ns"), "at")
        with self._lock:
            before = len(self._ids.get(name, _Ids()).names)
            code = self._code_of(name, object_id, create=True)
            ids = self._ids.get(name)
            new_ids = ids.names[before:] if ids is not None else []
            lsn = self._log({"op": "props", "c": name, "oid": code, "at": t, "doc": doc, "new_ids": new_ids})
            self._documents(name).set(code, doc, at=t, lsn=lsn)
            self._mem.setdefault(name, _Memtable()).max_lsn = lsn

    def _properties(self, name: str, object_id, as_of) -> dict | None:
        self._check_open()
        code = self._code_of(name, object_id, create=False)
        if code < 0:
            return None
        return self._documents(name).get(code, as_of=None if as_of is None else to_ns(as_of, "as_of"))

    def _history(self, name: str, object_id) -> list:
        self._check_open()
        code = self._code_of(name, object_id, create=False)
        if code < 0:
            return []
        docs = self._documents(name)
        return [(np.datetime64(t, "ns"), docs.get(code, as_of=t)) for t, _ in docs.history(code)]

    # ---- what reads need (used by Collection) ----

    def _segments(self, name: str):
        meta = self._collection_meta(name)
        return [(e, self._open_segments[f"{name}/{e['file']}"]) for e in meta["segments"]]

    def _index(self, name: str) -> SpaceTimeIndex:
        """The collection's space-time index, rebuilt when its set of segments changed.

        File ids only grow and new segments are appended, so the number of
        segments and the last file name identify the set.
        """
        self._check_open()
        entries = self._collection_meta(name)["segments"]
        key = (len(entries), entries[-1]["file"] if entries else None)
        cached = self._indexes.get(name)
        if cached is None or cached[0] != key:
            geographic = self._collection_meta(name)["crs"] == "EPSG:4326"
            cached = self._indexes[name] = (key, SpaceTimeIndex(self._segments(name), geographic))
        return cached[1]

    def _unflushed(self, name: str) -> list[_Memtable]:
        """The collection's memtables, oldest first: the one a background flush is writing, the current one."""
        return [m for m in (self._flushing.get(name), self._mem.get(name)) if m is not None]

    def _tombstones(self, name: str) -> list[dict]:
        meta = self._collection_meta(name)
        return meta["tombstones"] + [t for mem in self._unflushed(name) for t in mem.tombstones]

    def _memtable_rows(self, name: str, names: list[str]) -> dict | None:
        batches = [b for mem in self._unflushed(name) for b in mem.batches]
        if not batches:
            return None
        out = {k: np.concatenate([c[k] for _, c in batches]) for k in names}
        out["_lsn"] = np.concatenate([np.full(len(c["t"]), lsn, dtype=np.int64) for lsn, c in batches])
        out["_part"] = out["t"] // self._collection_meta(name)["partition_ns"]
        return out

    def _column_dtype(self, name: str, column: str) -> np.dtype:
        if column in ("oid", "t"):
            return np.dtype(np.int64)
        if column in ("x", "y", "z"):
            return np.dtype(np.float64)
        return np.dtype(self._collection_meta(name)["schema"][column])

    def _lookup_ids(self, name: str, ids) -> np.ndarray:
        a = np.atleast_1d(np.asarray(ids))
        meta = self._collection_meta(name)
        if a.size == 0:
            return np.empty(0, dtype=np.int64)
        if a.dtype.kind in "iu":
            return np.unique(a.astype(np.int64))
        if a.dtype.kind in "US" or a.dtype == object:
            if meta["id_kind"] == "int":
                raise InvalidArgumentError(f"collection {name!r} has integer object ids")
            codes, _ = self._ids.setdefault(name, _Ids()).encode(a.astype(str), create=False)
            return np.unique(codes[codes >= 0])
        raise InvalidArgumentError(f"ids must be integers or strings, got dtype {a.dtype}")

    def _ids_of(self, name: str, oid: np.ndarray) -> np.ndarray:
        if self._collection_meta(name)["id_kind"] == "str":
            return self._ids[name].array()[oid]
        return oid

    # ---- maintenance ----

    def compact(self) -> dict:
        """Merge each partition's segments into one, applying deletes, and rewrite the
        property documents' version chains with fresh keyframes; returns what was done."""
        self._check_writer()
        with self._lock:
            self._flush_locked()
            merged = 0
            for name, meta in self._state["collections"].items():
                if (self.path / name / "docs").exists():
                    self._documents(name).compact()
                by_part: dict[int, list] = {}
                for e in meta["segments"]:
                    by_part.setdefault(e["partition"], []).append(e)
                tombs = meta["tombstones"]
                for p, entries in by_part.items():
                    applies = any(t["lsn"] > e["lsn_max"] for t in tombs for e in entries)
                    if len(entries) < 2 and not applies:
                        continue
                    self._rewrite_partition(name, meta, p, entries)
                    merged += len(entries)
                # a tombstone matters while a segment older than it remains
                oldest = min((e["lsn_max"] for e in meta["segments"]), default=None)
                meta["tombstones"] = [t for t in tombs if oldest is not None and t["lsn"] > oldest]
            if merged:
                save_manifest(self.path, self._state)
                self._load_snapshot()
            self._remove_obsolete()
            return {"segments_merged": merged}

    def _rewrite_partition(self, name: str, meta: dict, p: int, entries: list[dict], keep=None) -> None:
        """Replace a partition's segments by one (deduplicated, deletes applied, ``keep`` filter)."""
        entries = sorted(entries, key=lambda e: e["lsn_max"])
        chunks = []
        tombs = meta["tombstones"]
        for e in entries:
            seg = self._open_segments[f"{name}/{e['file']}"]
            rows = seg.read()
            dead = tombstone_mask(rows["oid"], rows["t"], np.full(seg.rows, e["lsn_max"]), tombs)
            if dead is not None:
                rows = {k: v[~dead] for k, v in rows.items()}
            chunks.append(rows)
        cols = dedup_last({k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]})  # oldest segment first
        if keep is not None:
            mask = keep(cols)
            cols = {k: v[mask] for k, v in cols.items()}
        gone = {e["file"] for e in entries}
        meta["segments"] = [e for e in meta["segments"] if e["file"] not in gone]
        self._obsolete.extend(self.path / name / f for f in gone)
        if len(cols["t"]):
            # the tombstones are applied now: the new segment counts as written after them
            lsn_min = min(e["lsn_min"] for e in entries)
            lsn_max = max([e["lsn_max"] for e in entries] + [t["lsn"] for t in tombs])
            meta["segments"].extend(self._write_parts(name, meta, [(p, cols)], lsn_min, lsn_max))

    def _remove_obsolete(self) -> None:
        # readers keep their segments open, so unlinking is safe once the new manifest is durable
        for f in self._obsolete:
            f.unlink(missing_ok=True)
        self._obsolete = []

    def prune(self, older_than, keep_every=None) -> dict:
        """Retention: drop samples older than ``older_than``, or with ``keep_every`` (e.g.
        ``np.timedelta64(10, "m")``) thin them to one sample per object and interval."""
        self._check_writer()
        cutoff = to_ns(older_than, "older_than")
        step = None if keep_every is None else duration_ns(keep_every, "keep_every")

        def keep(cols):
            old = cols["t"] < cutoff
            if step is None:
                return ~old
            bucket = cols["t"] // step
            first = np.ones(len(bucket), dtype=bool)
            first[1:] = (cols["oid"][1:] != cols["oid"][:-1]) | (bucket[1:] != bucket[:-1])
            return ~old | first

        with self._lock:
            self._flush_locked()
            before = sum(e["rows"] for m in self._state["collections"].values() for e in m["segments"])
            for name, meta in self._state["collections"].items():
                by_part: dict[int, list] = {}
                for e in meta["segments"]:
                    if e["t_min"] < cutoff:
                        by_part.setdefault(e["partition"], []).append(e)
                for p, entries in by_part.items():
                    self._rewrite_partition(name, meta, p, entries, keep=keep)
            save_manifest(self.path, self._state)
            self._load_snapshot()
            self._remove_obsolete()
            after = sum(e["rows"] for m in self._state["collections"].values() for e in m["segments"])
            return {"rows_removed": before - after}

    def verify(self) -> list[str]:
        """Check every checksum of every file; one message per bad file or block (empty: all sound)."""
        self._check_open()
        problems = []
        with self._lock:
            for key, entry in ((f"{n}/{e['file']}", e) for n, m in self._state["collections"].items() for e in m["segments"]):
                try:
                    with Segment(self.path / key) as seg:
                        problems.extend(seg.check())
                except (CorruptDataError, OSError) as exc:
                    problems.append(str(exc))
            for name, meta in self._state["collections"].items():
                if meta.get("ids_file"):
                    try:
                        codec.info((self.path / name / meta["ids_file"]).read_bytes())
                    except (CorruptDataError, OSError) as exc:
                        problems.append(f"{name}/{meta['ids_file']}: {exc}")
                if (self.path / name / "docs").exists():
                    problems.extend(self._documents(name).verify())
        return problems

    def stats(self) -> dict:
        """Points, objects, segments, blocks, bytes per column, compression ratio, index
        memory per collection; the decoded-block cache's figures under ``cache``."""
        with self._lock:
            return self._stats_locked()

    def _stats_locked(self) -> dict:
        self._check_open()
        out = {"collections": {}}
        for name, meta in self._state["collections"].items():
            segs = self._segments(name)
            col_bytes: dict[str, int] = {}
            raw = 0
            for _, seg in segs:
                for cname, c in seg._columns.items():
                    col_bytes[cname] = col_bytes.get(cname, 0) + c.length
                    raw += seg.rows * c.dtype.itemsize
            disk = sum(e["bytes"] for e in meta["segments"])
            unflushed = sum(mem.rows for mem in self._unflushed(name))
            objects = np.unique(np.concatenate([seg.read(["oid"])["oid"] for _, seg in segs])).size if segs else 0
            out["collections"][name] = {
                "points": sum(e["rows"] for e in meta["segments"]),
                "unflushed_points": unflushed,
                "objects": int(objects),
                "segments": len(segs),
                "partitions": len({e["partition"] for e in meta["segments"]}),
                "blocks": sum(e["nblocks"] for e in meta["segments"]),
                "bytes_on_disk": disk,
                "bytes_per_column": col_bytes,
                "raw_bytes": raw,
                "compression_ratio": raw / disk if disk else None,
                "tombstones": len(meta["tombstones"]),
                "index_bytes": self._index(name).nbytes,
            }
        out["cache"] = self._cache.stats()
        out["format"] = self._state["format"]
        out["manifest_version"] = self._state["version"]
        return out

    def migrate(self) -> dict:
        """Upgrade the store's format to this build's; returns the versions before and after."""
        self._check_writer()
        with self._lock:
            before = self._state["format"]
            if before < FORMAT_VERSION:  # no older format exists yet: nothing to convert
                self._state["format"] = FORMAT_VERSION
                save_manifest(self.path, self._state)
            return {"from": before, "to": self._state["format"]}

    # ---- lifecycle ----

    def _check_open(self) -> None:
        if self._closed:
            raise ChronotopeError(f"store {self.path} is closed")

    def _check_writer(self) -> None:
        self._check_open()
        if self.readonly:
            raise ChronotopeError(f"store {self.path} is open read-only")

    def close(self) -> None:
        """Flush (writer), release the lock and every file (idempotent)."""
        if self._closed:
            return
        try:
            if not self.readonly and self._wal is not None:
                with self._lock:
                    self._flush_locked()
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        for docs in self._docs.values():
            docs.close()
        self._docs = {}
        for seg in self._open_segments.values():
            seg.close()
        self._open_segments = {}
        if self._wal is not None:
            self._wal.close()
            self._wal = None
        if self._lockfile is not None:
            self._lockfile.close()  # closing the file drops the flock
            self._lockfile = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "reader" if self.readonly else "writer"
        return f"Store({str(self.path)!r}, {mode}, collections={self.collections() if not self._closed else '(closed)'})"


def open_store(path, fsync: str = "batch", readonly: bool = False, **options) -> Store:
    """Open (or create) the store at ``path``: the writer, or with ``readonly=True`` a reader.

    Options: ``flush_rows`` (memtable rows that trigger a flush, default 1,000,000),
    ``rows_per_block`` (4096), ``mode`` (codec mode of segments: "fast", the default, or "compact").
    """
    return Store(path, fsync=fsync, readonly=readonly, **options)
