"""The write-ahead log of the store: durable, checksummed, append-only records.

A :class:`WriteAheadLog` owns one directory of log files named
``<first-lsn, 20 digits>.log``. Every record is an opaque payload given by the
caller (a list of buffers written with one ``os.writev``, never copied in
Python), stamped with the next **LSN** (log sequence number: 1, 2, 3, ... and
never reused) and a CRC-32C. The byte layout, the fsync policies and the
recovery rules are described in docs/storage.md, section "Write-ahead log".

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     with WriteAheadLog(d, fsync="never") as wal:
...         wal.append([b"hello, ", b"world"])
...         wal.append(b"")
...     with WriteAheadLog(d, fsync="never") as wal:
...         [(lsn, bytes(p)) for lsn, p in wal.replay()]
1
2
[(1, b'hello, world'), (2, b'')]
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chronotope._checksum import crc32c
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError, UnsupportedFormatError
from chronotope.fileio import fsync_dir

__all__ = [
    "WriteAheadLog",
    "FSYNC_POLICIES",
    "FILE_MAGIC",
    "FILE_VERSION",
    "FILE_HEADER_SIZE",
    "RECORD_MAGIC",
    "RECORD_HEADER_SIZE",
    "MAX_PAYLOAD",
]

FSYNC_POLICIES = ("always", "batch", "never")

#: First 8 bytes of every log file (a high byte and CR LF catch text-mode damage).
FILE_MAGIC = b"\x93CTWAL\r\n"
FILE_VERSION = 1
#: magic (8 bytes), u32 version, u32 CRC-32C of the 12 bytes before it.
FILE_HEADER_SIZE = 16

#: Record marker, the u32 that starts every record (bytes 93 57 52 63, b"\x93WRc").
RECORD_MAGIC = 0x63525793
#: u32 marker, u32 payload length, u64 lsn, u32 CRC-32C of (length, lsn, payload).
RECORD_HEADER_SIZE = 20
MAX_PAYLOAD = 0xFFFFFFFF

_RECORD_HEADER = struct.Struct("<IIQI")
_MAGIC_BYTES = struct.pack("<I", RECORD_MAGIC)
_LEN_LSN = struct.Struct("<IQ")
_U32 = struct.Struct("<I")
_FILE_HEADER = struct.Struct("<8sII")
_NAME_RE = re.compile(r"^(\d{20})\.log$")

try:
    _IOV_MAX = max(16, min(int(os.sysconf("SC_IOV_MAX")), 1024))
except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux
    _IOV_MAX = 16

_fdatasync = getattr(os, "fdatasync", os.fsync)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _file_header() -> bytes:
    head = FILE_MAGIC + _U32.pack(FILE_VERSION)
    return head + _U32.pack(crc32c(head))


def _as_views(buffers: Any) -> tuple[list[memoryview], int]:
    """Flat byte views of the record parts (no copy) and their total size."""
    items = buffers if isinstance(buffers, (list, tuple)) else (buffers,)
    views = []
    total = 0
    for i, part in enumerate(items):
        try:
            view = memoryview(part)
        except TypeError:
            raise InvalidArgumentError(
                f"record part {i} is not a bytes-like object (got {type(part).__name__})"
            ) from None
        if not view.c_contiguous:
            raise InvalidArgumentError(f"record part {i} is not C-contiguous; pass a contiguous copy")
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        if view.nbytes:
            views.append(view)
            total += view.nbytes
    if total > MAX_PAYLOAD:
        raise InvalidArgumentError(f"record payload of {total} bytes exceeds the maximum of {MAX_PAYLOAD} bytes")
    return views, total


def _write_all(fd: int, views: list[Any], total: int) -> None:
    """``os.writev`` all of ``views`` (no copy), continuing after short writes."""
    pending = list(views)
    first = True
    while pending:
        chunk = pending[:_IOV_MAX]
        written = os.writev(fd, chunk)
        if first and written == total:
            return
        first = False
        while pending and written >= len(pending[0]):
            written -= len(pending[0])
            pending.pop(0)
        if written:
            pending[0] = memoryview(pending[0])[written:]


class _BadRecord(Exception):
    """A record that is not intact (internal: the caller decides torn or corrupt)."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(offset, reason)
        self.offset = offset
        self.reason = reason


def _check_file_header(buf: memoryview, path: Path) -> None:
    if len(buf) < FILE_HEADER_SIZE:
        raise CorruptDataError(f"{path}: write-ahead log file is shorter than its {FILE_HEADER_SIZE}-byte header")
    magic, version, crc = _FILE_HEADER.unpack_from(buf, 0)
    if magic != FILE_MAGIC:
        raise CorruptDataError(f"{path}: not a chronotope write-ahead log file (bad magic at byte offset 0)")
    if crc != crc32c(buf[:12]):
        raise CorruptDataError(f"{path}: file header checksum mismatch at byte offset 12")
    if version != FILE_VERSION:
        raise UnsupportedFormatError(f"{path}: write-ahead log format version {version} (this build reads {FILE_VERSION})")


def _parse_record(buf: memoryview, off: int, end: int) -> tuple[int, int, int]:
    """(lsn, payload offset, payload length) of the intact record at ``off``, else _BadRecord."""
    if end - off < RECORD_HEADER_SIZE:
        raise _BadRecord(off, f"incomplete record header ({end - off} of {RECORD_HEADER_SIZE} bytes)")
    magic, length, lsn, crc = _RECORD_HEADER.unpack_from(buf, off)
    if magic != RECORD_MAGIC:
        raise _BadRecord(off, "bad record marker")
    start = off + RECORD_HEADER_SIZE
    if length > end - start:
        raise _BadRecord(off, f"record of {length} bytes extends past the end of the file")
    if crc32c(buf[start : start + length], crc32c(buf[off + 4 : off + 16])) != crc:
        raise _BadRecord(off, "record checksum (CRC-32C) mismatch")
    return lsn, start, length


def _walk(buf: memoryview, end: int, first_lsn: int, path: Path) -> Iterator[tuple[int, int, int, int]]:
    """Yield (offset, lsn, payload offset, payload length) of consecutive intact records.

    Raises _BadRecord at the first record that is not intact and
    CorruptDataError for an intact record with an unexpected LSN.
    """
    off = FILE_HEADER_SIZE
    expected = first_lsn
    while off < end:
        lsn, start, length = _parse_record(buf, off, end)
        if lsn != expected:
            raise CorruptDataError(
                f"{path}: record at byte offset {off} has lsn {lsn}, expected {expected} "
                "(log sequence numbers must be consecutive)"
            )
        yield off, lsn, start, length
        expected += 1
        off = start + length


def _find_intact(buf: memoryview, start: int, end: int, min_lsn: int) -> int | None:
    """Offset of the first intact record with lsn >= min_lsn at or after ``start``."""
    raw = buf.obj if isinstance(buf.obj, mmap.mmap) else bytes(buf)
    pos = start
    while True:
        pos = raw.find(_MAGIC_BYTES, pos, end)
        if pos < 0:
            return None
        try:
            lsn, _, _ = _parse_record(buf, pos, end)
        except _BadRecord:
            pass
        else:
            if lsn >= min_lsn:
                return pos
        pos += 1


def _map(path: Path, length: int | None = None) -> tuple[mmap.mmap, int]:
    """Read-only map of the first ``length`` bytes of ``path`` (all of it if None)."""
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if length is None:
            length = size
        elif size < length:
            raise CorruptDataError(f"{path}: write-ahead log file shrank to {size} bytes (expected at least {length})")
        if length < FILE_HEADER_SIZE:
            raise CorruptDataError(
                f"{path}: write-ahead log file is shorter than its {FILE_HEADER_SIZE}-byte header ({length} bytes)"
            )
        return mmap.mmap(fd, length, access=mmap.ACCESS_READ), length
    finally:
        os.close(fd)


def _unmap(view: memoryview, mapped: mmap.mmap) -> None:
    view.release()
    try:
        mapped.close()
    except BufferError:  # payload views handed out still use it; freed with the last of them
        pass


class WriteAheadLog:
    """A durable, checksummed, append-only log of opaque records.

    Parameters
    ----------
    directory : str or os.PathLike
        The log directory (the store passes ``<store>/wal``); created if needed.
        It holds the files ``<first-lsn, 20 digits>.log``. Only one
        ``WriteAheadLog`` may have a directory open at a time (the store's
        ``LOCK`` guarantees it).
    fsync : {"always", "batch", "never"}
        When appended records become durable (see :meth:`append`).
    batch_interval : float
        Under ``"batch"``: the background flusher fsyncs at most once per this
        many seconds (default 10 ms).
    segment_bytes : int
        A new log file starts (between records) once the current one holds at
        least this many bytes.

    Opening recovers the newest file: a torn tail (see :attr:`recovered_torn_bytes`)
    is cut off, and a damaged record followed by intact ones raises
    :class:`~chronotope.errors.CorruptDataError`. Older files are checked by
    :meth:`replay`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        fsync: str = "batch",
        batch_interval: float = 0.01,
        segment_bytes: int = 64 << 20,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise InvalidArgumentError(f"unknown fsync policy {fsync!r}; expected one of {', '.join(FSYNC_POLICIES)}")
        if isinstance(batch_interval, bool) or not isinstance(batch_interval, (int, float)):
            raise InvalidArgumentError(f"batch_interval must be a number of seconds, got {batch_interval!r}")
        if not (math.isfinite(batch_interval) and batch_interval >= 0):
            raise InvalidArgumentError(f"batch_interval must be finite and >= 0, got {batch_interval!r}")
        if isinstance(segment_bytes, bool) or not isinstance(segment_bytes, int) or segment_bytes <= 0:
            raise InvalidArgumentError(f"segment_bytes must be a positive int, got {segment_bytes!r}")
        self._dir = Path(directory)
        self._policy = fsync
        self._interval = float(batch_interval)
        self._segment_bytes = segment_bytes

        # Lock order: _sync_lock -> _lock -> _state. _lock guards the current
        # file, its size, the file list and _last_lsn; _sync_lock serialises
        # fsyncs (and the closing of retired descriptors); _state guards
        # _synced_lsn, _failure and the flusher's flags.
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._state = threading.Lock()
        self._work = threading.Condition(self._state)  # the flusher waits here for unsynced records
        self._done = threading.Condition(self._state)  # appenders wait here for their fsync
        self._fd = -1
        self._retired: list[int] = []  # descriptors of finished files (fsynced), closed by the next sync
        self._files: list[tuple[int, Path]] = []  # (first lsn, path), oldest first; the last is current
        self._size = 0
        self._last_lsn = 0
        self._synced_lsn = 0
        self._closed = False
        self._failure: BaseException | None = None
        self._stopping = False
        self._idle = False
        self._waiters = 0  # appenders blocked until their record is synced
        self._thread: threading.Thread | None = None
        #: Bytes of a torn tail cut from the newest file when the log was opened (0 if none).
        self.recovered_torn_bytes = 0

        try:
            if not self._dir.is_dir():
                self._dir.mkdir(parents=True, exist_ok=True)
                fsync_dir(self._dir.parent)  # the new directory's own entry
            self._recover()
        except BaseException:
            self._close_descriptors()
            raise
        self._synced_lsn = self._last_lsn
        if fsync == "batch":
            self._thread = threading.Thread(target=self._flusher, name=f"chronotope-wal-flusher {self._dir}", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ properties

    @property
    def directory(self) -> Path:
        """The log directory."""
        return self._dir

    @property
    def fsync(self) -> str:
        """The fsync policy: ``"always"``, ``"batch"`` or ``"never"``."""
        return self._policy

    @property
    def last_lsn(self) -> int:
        """The LSN of the last record written or found on open (0 for an empty log)."""
        return self._last_lsn

    @property
    def durable_lsn(self) -> int:
        """Every record with an LSN up to this one has been fsynced (or was on disk at open)."""
        return self._synced_lsn

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"last_lsn={self._last_lsn}"
        return f"<WriteAheadLog {str(self._dir)!r} fsync={self._policy!r} {state}>"

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ open / recovery

    def _recover(self) -> None:
        found = []
        for entry in os.scandir(self._dir):
            if entry.name.endswith(".log.tmp") and _NAME_RE.match(entry.name[:-4]):
                os.unlink(entry.path)  # a file creation that never completed: holds no record
                continue
            m = _NAME_RE.match(entry.name)
            if m:
                found.append((int(m.group(1)), self._dir / entry.name))
        found.sort()
        if not found:
            self._new_file(1)
            fsync_dir(self._dir)
            return
        if found[0][0] < 1:
            raise CorruptDataError(f"{found[0][1]}: log file name gives first lsn 0 (lsns start at 1)")
        self._files = found
        first, path = found[-1]
        mapped, size = _map(path)
        view = memoryview(mapped)
        try:
            _check_file_header(view, path)
            good_end = FILE_HEADER_SIZE
            expected = first
            try:
                for _, lsn, start, length in _walk(view, size, first, path):
                    good_end = start + length
                    expected = lsn + 1
            except _BadRecord as bad:
                later = _find_intact(view, bad.offset + 1, size, expected)
                if later is not None:
                    raise CorruptDataError(
                        f"{path}: {bad.reason} at byte offset {bad.offset} (record lsn {expected}), "
                        f"but an intact record follows at byte offset {later}: the log is corrupt"
                    ) from None
        finally:
            _unmap(view, mapped)
        self._fd = os.open(path, os.O_WRONLY | _O_CLOEXEC)
        if good_end < size:
            # A torn write at the end of the newest file: drop it so that new
            # records follow good data, and make the cut durable first.
            os.ftruncate(self._fd, good_end)
            self.recovered_torn_bytes = size - good_end
        # Everything replayable is durable from now on (the previous process
        # may have died before an fsync, the OS may not have written it yet).
        os.fsync(self._fd)
        os.lseek(self._fd, good_end, os.SEEK_SET)
        self._size = good_end
        self._last_lsn = expected - 1

    def _new_file(self, first_lsn: int) -> None:
        """Create ``<first_lsn>.log`` (header written and fsynced before it gets its name) and make it current.

        The caller fsyncs the directory.
        """
        path = self._dir / f"{first_lsn:020d}.log"
        tmp = self._dir / f"{path.name}.tmp"
        if path.exists():
            raise CorruptDataError(f"{path}: log file already exists (lsn {first_lsn} would be reused)")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_CLOEXEC, 0o644)
        try:
            header = _file_header()
            _write_all(fd, [header], len(header))
            _fdatasync(fd)
            os.rename(tmp, path)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        if self._fd >= 0:
            self._retired.append(self._fd)
        self._fd = fd
        self._size = FILE_HEADER_SIZE
        self._files.append((first_lsn, path))

    # ------------------------------------------------------------------ replay

    def replay(self, after: int = 0) -> Iterator[tuple[int, memoryview]]:
        """Iterate ``(lsn, payload)`` over every record with ``lsn > after``, in LSN order.

        Payloads are read-only memoryviews of a read-only map of the log file
        (no copy); ``bytes(payload)`` for an independent copy. Records appended
        after this call are not included. Every record read is checked (CRC,
        consecutive LSNs, files that fit together); damage raises
        :class:`~chronotope.errors.CorruptDataError` naming the file and byte
        offset, and so does a request for records the log no longer holds
        (``after`` before the first record of the oldest file).
        Files that hold only records ``<= after`` are not read.
        """
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidArgumentError(f"after must be an int >= 0, got {after!r}")
        with self._lock:
            self._check_open()
            files = list(self._files)
            end = self._size
        if after < files[0][0] - 1:
            raise CorruptDataError(
                f"{files[0][1]}: the log starts at lsn {files[0][0]}, so records {after + 1}..{files[0][0] - 1} "
                "requested by replay(after=...) were already deleted by truncate()"
            )
        return self._replay(files, end, after)

    def _replay(self, files: list[tuple[int, Path]], end: int, after: int) -> Iterator[tuple[int, memoryview]]:
        for i, (first, path) in enumerate(files):
            is_last = i == len(files) - 1
            following = None if is_last else files[i + 1][0]
            if following is not None and following - 1 <= after:
                continue
            mapped, size = _map(path, end if is_last else None)
            view = memoryview(mapped)
            try:
                _check_file_header(view, path)
                expected = first
                try:
                    for _, lsn, start, length in _walk(view, size, first, path):
                        expected = lsn + 1
                        if lsn > after:
                            yield lsn, view[start : start + length]
                except _BadRecord as bad:
                    where = "" if is_last else " (not the newest log file, so it cannot be a torn write)"
                    raise CorruptDataError(
                        f"{path}: {bad.reason} at byte offset {bad.offset} (record lsn {expected}){where}"
                    ) from None
                if following is not None and expected != following:
                    raise CorruptDataError(
                        f"{path}: holds records up to lsn {expected - 1} (byte offset {size}), "
                        f"but the next log file starts at lsn {following}: records are missing"
                    )
            finally:
                _unmap(view, mapped)

    # ------------------------------------------------------------------ append

    def append(self, buffers: Any, *, wait: bool = True) -> int:
        """Append one record, the concatenation of ``buffers``; return its LSN.

        ``buffers`` is a list (or tuple) of bytes-like objects (bytes,
        bytearray, memoryview, C-contiguous numpy arrays), or a single one.
        They are written with ``os.writev`` and checksummed in place, never
        copied. When this returns, the record is in the OS page cache (it
        survives the death of this process) and:

        - ``"always"``: it has been fsynced (fdatasync);
        - ``"batch"``: it has been fsynced by the background flusher (group
          commit): a waiting appender is synced at once, and appenders that
          arrive during an fsync share the next one;
        - ``"never"``: nothing more (the OS writes it back when it likes);
        - with ``wait=False`` (any policy): nothing more either; it becomes
          durable with the next :meth:`sync`, :meth:`close` or, under
          ``"batch"``, the next flusher fsync (started within about
          ``batch_interval`` seconds: the bound on unsynced data).
        """
        views, total = _as_views(buffers)
        with self._lock:
            self._check_open()
            lsn = self._last_lsn + 1
            if self._size >= self._segment_bytes and self._size > FILE_HEADER_SIZE:
                self._rotate(lsn)
            head = _LEN_LSN.pack(total, lsn)
            crc = crc32c(head)
            for view in views:
                crc = crc32c(view, crc)
            header = _U32.pack(RECORD_MAGIC) + head + _U32.pack(crc)
            views.insert(0, header)  # type: ignore[arg-type]
            try:
                _write_all(self._fd, views, total + RECORD_HEADER_SIZE)
            except BaseException as exc:
                self._undo_partial_write(exc)
                raise
            self._size += total + RECORD_HEADER_SIZE
            self._last_lsn = lsn
        if self._policy == "batch":
            with self._state:
                if self._idle:
                    self._work.notify()  # unsynced records: the flusher fsyncs within about batch_interval
                if wait:
                    # a waiting appender makes the flusher sync at once (no interval delay);
                    # appenders arriving meanwhile share the next fsync
                    self._waiters += 1
                    if self._idle:
                        self._work.notify()
                    try:
                        while self._synced_lsn < lsn:
                            if self._failure is not None:
                                raise ChronotopeError(f"write-ahead log {self._dir}: fsync failed") from self._failure
                            self._done.wait()
                    finally:
                        self._waiters -= 1
        elif self._policy == "always" and wait:
            self._sync_now()
        return lsn

    def _undo_partial_write(self, exc: BaseException) -> None:
        # Called with _lock held. A record must never be followed by another
        # after a partial write, so cut the file back; if that fails too, the
        # log refuses all further work (reopening recovers the torn tail).
        try:
            os.ftruncate(self._fd, self._size)
            os.lseek(self._fd, self._size, os.SEEK_SET)
        except OSError:
            self._fail(exc)

    def _rotate(self, lsn: int) -> None:
        # Called with _lock held. The finished file is fsynced whatever the
        # policy, so that a crash can never leave a gap between two files.
        _fdatasync(self._fd)
        with self._state:
            if self._last_lsn > self._synced_lsn:
                self._synced_lsn = self._last_lsn
                self._done.notify_all()
        self._new_file(lsn)
        fsync_dir(self._dir)
        if self._sync_lock.acquire(blocking=False):
            try:
                self._close_retired()
            finally:
                self._sync_lock.release()

    # ------------------------------------------------------------------ durability

    def sync(self) -> None:
        """Make every record appended before this call durable (fdatasync), whatever the policy."""
        with self._lock:
            self._check_open()
        self._sync_now()

    def _sync_now(self) -> None:
        with self._sync_lock:
            with self._lock:
                target = self._last_lsn
                fd = self._fd
                self._close_retired()
            if self._failure is not None:
                raise ChronotopeError(f"write-ahead log {self._dir}: an earlier write or fsync failed") from self._failure
            if target <= self._synced_lsn or fd < 0:
                return
            try:
                _fdatasync(fd)
            except BaseException as exc:
                # After a failed fsync the kernel may have dropped the dirty
                # pages: nothing after this point can be trusted.
                self._fail(exc)
                raise
            with self._state:
                if target > self._synced_lsn:
                    self._synced_lsn = target
                    self._done.notify_all()

    def _close_retired(self) -> None:
        # _sync_lock held (no fsync in progress on them); they were fsynced at rotation.
        while self._retired:
            os.close(self._retired.pop())

    def _fail(self, exc: BaseException) -> None:
        with self._state:
            if self._failure is None:
                self._failure = exc
            self._work.notify_all()
            self._done.notify_all()

    def _flusher(self) -> None:
        last = -math.inf
        try:
            while True:
                with self._state:
                    while not self._stopping and self._last_lsn <= self._synced_lsn:
                        self._idle = True
                        self._work.wait()
                    self._idle = False
                    if self._stopping:
                        return
                    # records nobody waits for (wait=False) are batched for up to one interval
                    delay = last + self._interval - time.monotonic()
                    if delay > 0 and not self._waiters and self._work.wait_for(
                        lambda: self._stopping or self._waiters > 0, delay
                    ):
                        if self._stopping:
                            return
                if self._failure is not None:
                    return
                try:
                    self._sync_now()
                except BaseException:
                    return  # _sync_now recorded the failure and woke the waiters
                last = time.monotonic()
        except BaseException as exc:  # pragma: no cover - defensive: never leave waiters hanging
            self._fail(exc)

    # ------------------------------------------------------------------ truncate / close

    def truncate(self, upto: int) -> list[Path]:
        """Delete the log files that hold only records with ``lsn <= upto``; return their paths.

        Called once everything up to ``upto`` is in segments. When that is
        every record, a new (empty) current file is started first, so the log
        shrinks to its header; otherwise the current file is kept. The
        directory is fsynced afterwards.
        """
        if isinstance(upto, bool) or not isinstance(upto, int) or upto < 0:
            raise InvalidArgumentError(f"upto must be an int >= 0, got {upto!r}")
        with self._lock:
            self._check_open()
            if upto >= self._last_lsn and self._size > FILE_HEADER_SIZE:
                # everything is checkpointed: start a fresh file so the old ones can all go
                self._rotate(self._last_lsn + 1)
            doomed = []
            while len(self._files) > 1 and self._files[1][0] - 1 <= upto:
                doomed.append(self._files.pop(0)[1])
            for path in doomed:
                os.unlink(path)
            if doomed:
                fsync_dir(self._dir)
        return doomed

    def close(self) -> None:
        """Stop the flusher, fsync (unless ``fsync="never"``) and close the files. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self._thread is not None:
                with self._state:
                    self._stopping = True
                    self._work.notify_all()
                self._thread.join()
            if self._policy != "never" and self._failure is None:
                self._sync_now()
        finally:
            with self._sync_lock, self._lock:
                self._close_descriptors()
            with self._state:
                self._done.notify_all()

    def _close_descriptors(self) -> None:
        self._close_retired()
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgumentError(f"write-ahead log {self._dir} is closed")
        if self._failure is not None:
            raise ChronotopeError(
                f"write-ahead log {self._dir}: an earlier write or fsync failed; reopen the log to recover"
            ) from self._failure
