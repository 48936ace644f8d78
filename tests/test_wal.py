"""chronotope.wal: round trips, rotation, truncate, torn tails, corruption, group commit, real crashes."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from chronotope import wal as walmod
from chronotope._checksum import crc32c
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError, UnsupportedFormatError
from chronotope.wal import FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RECORD_MAGIC, WriteAheadLog


def _payload(lsn: int, size: int) -> bytes:
    """Deterministic payload of a record: the LSN repeated."""
    return (struct.pack("<Q", lsn) * (size // 8 + 1))[:size]


def _replay_all(directory, after=0, **kwargs) -> list[tuple[int, bytes]]:
    with WriteAheadLog(directory, fsync="never", **kwargs) as wal:
        return [(lsn, bytes(p)) for lsn, p in wal.replay(after=after)]


def _log_files(directory) -> list[Path]:
    return sorted(Path(directory).glob("*.log"))


def _write_records(directory, payloads, **kwargs) -> list[int]:
    with WriteAheadLog(directory, fsync="never", **kwargs) as wal:
        return [wal.append(p) for p in payloads]


# ---------------------------------------------------------------- round trips


def test_empty_log(tmp_path):
    d = tmp_path / "a" / "wal"
    with WriteAheadLog(d) as wal:
        assert wal.last_lsn == 0
        assert list(wal.replay()) == []
        assert wal.recovered_torn_bytes == 0
    assert [p.name for p in _log_files(d)] == ["00000000000000000001.log"]
    assert _replay_all(d) == []


@pytest.mark.parametrize("policy", ["always", "batch", "never"])
def test_round_trip_varied_sizes(tmp_path, policy):
    rng = np.random.default_rng(7)
    big = rng.integers(0, 2**63, size=(3 << 20) // 8, dtype=np.int64)  # 3 MB column
    cols = [rng.random(100_000), rng.integers(0, 2**31, 100_000, dtype=np.int32)]
    records = [
        [b""],
        [b"x"],
        b"",  # a bare bytes object is one part
        [b"head", big],
        [b"", b"", b"z"],
        [struct.pack("<IQ", 5, 9), *cols],
        (bytearray(b"tuple of "), memoryview(b"parts")),
        np.arange(12, dtype=np.float32).reshape(3, 4),  # 2-D, any dtype: its bytes
        [rng.bytes(n) for n in (1, 2, 3, 4095, 4096, 4097)],
    ]
    expected = [
        b"".join(bytes(memoryview(p).cast("B")) for p in (r if isinstance(r, (list, tuple)) else [r]))
        for r in records
    ]
    with WriteAheadLog(tmp_path, fsync=policy, batch_interval=0.001) as wal:
        lsns = [wal.append(r) for r in records]
        assert wal.last_lsn == len(records)
        # replay while open sees everything appended so far
        assert [(lsn, bytes(p)) for lsn, p in wal.replay()] == list(zip(lsns, expected))
        if policy != "never":
            assert wal.durable_lsn == wal.last_lsn
    assert lsns == list(range(1, len(records) + 1))
    assert _replay_all(tmp_path) == list(zip(lsns, expected))
    assert _replay_all(tmp_path, after=4) == list(zip(lsns, expected))[4:]
    assert _replay_all(tmp_path, after=100) == []

    # LSNs continue after reopen, replay is read-only memoryviews
    with WriteAheadLog(tmp_path, fsync=policy) as wal:
        assert wal.last_lsn == len(records)
        for lsn, p in wal.replay():
            assert isinstance(p, memoryview) and p.readonly
        assert wal.append([b"after reopen"]) == len(records) + 1
    assert _replay_all(tmp_path)[-1] == (len(records) + 1, b"after reopen")


def test_many_records_and_large_numpy(tmp_path):
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in rng.integers(0, 3000, 500)] + [0, 1, 5 << 20]
    with WriteAheadLog(tmp_path, fsync="batch", segment_bytes=256 << 10) as wal:
        for size in sizes:
            lsn = wal.last_lsn + 1
            arr = np.frombuffer(_payload(lsn, size), dtype=np.uint8)
            assert wal.append([arr[: size // 3], arr[size // 3 :]], wait=False) == lsn
        wal.sync()
        assert wal.durable_lsn == len(sizes)
    got = _replay_all(tmp_path)
    assert [lsn for lsn, _ in got] == list(range(1, len(sizes) + 1))
    for (lsn, p), size in zip(got, sizes):
        assert p == _payload(lsn, size)
    assert len(_log_files(tmp_path)) > 1


def test_rotation_and_truncate(tmp_path):
    seg = 1000
    with WriteAheadLog(tmp_path, fsync="never", segment_bytes=seg) as wal:
        for lsn in range(1, 101):
            assert wal.append(_payload(lsn, 80)) == lsn
    files = _log_files(tmp_path)
    # 100-byte records: a file takes records until it holds >= seg bytes
    per_file = -(-(seg - FILE_HEADER_SIZE) // (RECORD_HEADER_SIZE + 80))
    firsts = list(range(1, 101, per_file))
    assert [int(p.stem) for p in files] == firsts
    for p in files[:-1]:
        assert p.stat().st_size == FILE_HEADER_SIZE + per_file * 100
        assert p.stat().st_size - 100 < seg <= p.stat().st_size  # rotation only between records
    assert _replay_all(tmp_path, segment_bytes=seg) == [(lsn, _payload(lsn, 80)) for lsn in range(1, 101)]

    with WriteAheadLog(tmp_path, fsync="never", segment_bytes=seg) as wal:
        assert wal.truncate(upto=0) == []
        assert wal.truncate(upto=firsts[1] - 2) == []  # file 0 still holds lsn firsts[1]-1
        assert wal.truncate(upto=firsts[1] - 1) == [files[0]]
        assert wal.truncate(upto=firsts[3] + 2) == files[1:3]
        assert [(lsn, bytes(p)) for lsn, p in wal.replay(after=firsts[3] - 1)][0][0] == firsts[3]
        with pytest.raises(CorruptDataError, match="already deleted"):
            wal.replay(after=firsts[3] - 2)
        # when every record is checkpointed, a fresh current file starts and all old ones go
        deleted = wal.truncate(upto=10**9)
        assert deleted == files[3:]
        assert [int(p.stem) for p in _log_files(tmp_path)] == [101]
        assert wal.last_lsn == 100
        assert wal.append(b"next") == 101
    assert _replay_all(tmp_path, after=100) == [(101, b"next")]
    with WriteAheadLog(tmp_path, fsync="never") as wal:
        assert wal.last_lsn == 101


def test_truncate_everything_then_reopen_keeps_lsns(tmp_path):
    with WriteAheadLog(tmp_path, fsync="never", segment_bytes=100) as wal:
        for _ in range(10):
            wal.append(bytes(100))
        wal.truncate(upto=10)
    # the current file (named after its first record) keeps the LSN sequence going
    with WriteAheadLog(tmp_path, fsync="never", segment_bytes=100) as wal:
        assert wal.last_lsn == 10
        assert list(wal.replay(after=10)) == []
        assert wal.append(b"") == 11


# ---------------------------------------------------------------- torn tails and corruption


def _prepare(tmp_path, last_size, *, rotate_before_last=False, n=5):
    """A log of n records; returns (path of the newest file, its bytes, byte offset of the last record)."""
    d = tmp_path / "wal"
    seg = 1 << 20
    with WriteAheadLog(d, fsync="never", segment_bytes=seg) as wal:
        for lsn in range(1, n):
            wal.append(_payload(lsn, 40 + lsn))
    if rotate_before_last:  # put the last record alone in a file of its own
        with WriteAheadLog(d, fsync="never", segment_bytes=1) as wal:
            wal.append(_payload(n, last_size))
    else:
        with WriteAheadLog(d, fsync="never", segment_bytes=seg) as wal:
            wal.append(_payload(n, last_size))
    newest = _log_files(d)[-1]
    data = newest.read_bytes()
    start = len(data) - RECORD_HEADER_SIZE - last_size
    assert struct.unpack_from("<I", data, start)[0] == RECORD_MAGIC
    return d, newest, data, start


def _check_recovered(d, n, torn):
    with WriteAheadLog(d, fsync="never") as wal:
        assert wal.recovered_torn_bytes == torn
        assert wal.last_lsn == n - 1
        assert [(lsn, bytes(p)) for lsn, p in wal.replay()] == [(i, _payload(i, 40 + i)) for i in range(1, n)]
        assert wal.append([b"new ", b"record"]) == n
    with WriteAheadLog(d, fsync="never") as wal:
        assert wal.recovered_torn_bytes == 0
        got = [(lsn, bytes(p)) for lsn, p in wal.replay()]
    assert got == [(i, _payload(i, 40 + i)) for i in range(1, n)] + [(n, b"new record")]


@pytest.mark.parametrize("last_size", [0, 1, 61])
@pytest.mark.parametrize("alone", [False, True], ids=["shared-file", "own-file"])
def test_torn_tail_every_cut(tmp_path, last_size, alone):
    d, newest, data, start = _prepare(tmp_path, last_size, rotate_before_last=alone)
    for cut in range(start, len(data)):
        newest.write_bytes(data[:cut])
        _check_recovered(d, 5, cut - start)
        assert newest.stat().st_size == start + RECORD_HEADER_SIZE + len(b"new record")


@pytest.mark.parametrize("alone", [False, True], ids=["shared-file", "own-file"])
def test_torn_tail_garbage_and_zeros(tmp_path, alone):
    # a crash can also leave zeros or junk where the last record should be
    d, newest, data, start = _prepare(tmp_path, 100, rotate_before_last=alone)
    for tail in (bytes(7), bytes(4096), b"\xff" * 33, data[start:] + bytes(100)):
        newest.write_bytes(data[:start] + tail)
        if tail.startswith(data[start:]):  # the record is intact, only zeros follow
            with WriteAheadLog(d, fsync="never") as wal:
                assert wal.recovered_torn_bytes == 100 and wal.last_lsn == 5
            continue
        _check_recovered(d, 5, len(tail))


@pytest.mark.parametrize("alone", [False, True], ids=["shared-file", "own-file"])
def test_flipped_byte_in_last_record_is_torn(tmp_path, alone):
    # Rule: a record that is not intact and is followed by no intact record is
    # a torn write, wherever the damage is (marker, length, lsn, CRC, payload).
    d, newest, data, start = _prepare(tmp_path, 23, rotate_before_last=alone)
    for pos in range(start, len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x5A
        newest.write_bytes(damaged)
        _check_recovered(d, 5, len(data) - start)


def test_flipped_byte_in_middle_record_is_corruption(tmp_path):
    d = tmp_path / "wal"
    _write_records(d, [_payload(lsn, 30) for lsn in range(1, 6)])
    (path,) = _log_files(d)
    data = path.read_bytes()
    rec = RECORD_HEADER_SIZE + 30
    third = FILE_HEADER_SIZE + 2 * rec
    for pos in range(third, third + rec):
        damaged = bytearray(data)
        damaged[pos] ^= 0x01
        path.write_bytes(damaged)
        with pytest.raises(CorruptDataError, match=rf"{path.name}.*byte offset {third}\b"):
            WriteAheadLog(d, fsync="never").close()
        assert path.read_bytes() == damaged  # nothing was cut


def test_damage_in_older_file_is_corruption(tmp_path):
    d = tmp_path / "wal"
    _write_records(d, [_payload(lsn, 100) for lsn in range(1, 31)], segment_bytes=500)
    files = _log_files(d)
    assert len(files) >= 3
    for victim, offset in ((files[1], -1), (files[0], FILE_HEADER_SIZE + 5)):  # last record of a file, a middle one
        original = victim.read_bytes()
        damaged = bytearray(original)
        damaged[offset] ^= 0x80
        victim.write_bytes(damaged)
        with WriteAheadLog(d, fsync="never") as wal:  # only the newest file is checked on open
            with pytest.raises(CorruptDataError, match=rf"{victim.name}.*byte offset \d+.*not the newest"):
                list(wal.replay())
        victim.write_bytes(original)
    # a cut (torn) older file is corruption too: the next file says what is missing
    original = files[1].read_bytes()
    files[1].write_bytes(original[:-50])
    with WriteAheadLog(d, fsync="never") as wal:
        with pytest.raises(CorruptDataError, match=files[1].name):
            list(wal.replay())
    files[1].write_bytes(original[: len(original) - RECORD_HEADER_SIZE - 100])  # a whole record missing
    with WriteAheadLog(d, fsync="never") as wal:
        with pytest.raises(CorruptDataError, match=rf"{files[1].name}.*records are missing"):
            list(wal.replay())
    files[1].write_bytes(original)
    # a missing file in the middle
    moved = files[1].with_suffix(".bak")
    files[1].rename(moved)
    with WriteAheadLog(d, fsync="never") as wal:
        with pytest.raises(CorruptDataError, match=rf"{files[0].name}.*records are missing"):
            list(wal.replay())
    moved.rename(files[1])
    assert len(_replay_all(d)) == 30


def test_lsn_mismatch_is_corruption(tmp_path):
    d = tmp_path / "wal"
    _write_records(d, [b"a", b"b", b"c"])
    (path,) = _log_files(d)
    data = bytearray(path.read_bytes())
    # rewrite record 2 with lsn 7 and a valid CRC: intact, but out of sequence
    off = FILE_HEADER_SIZE + RECORD_HEADER_SIZE + 1
    struct.pack_into("<Q", data, off + 8, 7)
    crc = crc32c(bytes(data[off + RECORD_HEADER_SIZE : off + RECORD_HEADER_SIZE + 1]), crc32c(bytes(data[off + 4 : off + 16])))
    struct.pack_into("<I", data, off + 16, crc)
    path.write_bytes(data)
    with pytest.raises(CorruptDataError, match=rf"{path.name}.*lsn 7, expected 2"):
        WriteAheadLog(d, fsync="never").close()
    # a file whose name does not match its first record
    _write_records(tmp_path / "w2", [b"a"])
    (p2,) = _log_files(tmp_path / "w2")
    p2.rename(p2.with_name(f"{5:020d}.log"))
    with pytest.raises(CorruptDataError, match="lsn 1, expected 5"):
        WriteAheadLog(tmp_path / "w2", fsync="never").close()


def test_bad_file_header(tmp_path):
    d = tmp_path / "wal"
    _write_records(d, [b"a"])
    (path,) = _log_files(d)
    data = bytearray(path.read_bytes())
    path.write_bytes(b"NOTAWAL!" + data[8:])
    with pytest.raises(CorruptDataError, match=rf"{path.name}.*not a chronotope write-ahead log"):
        WriteAheadLog(d).close()
    version = bytearray(data)
    struct.pack_into("<I", version, 8, 99)
    struct.pack_into("<I", version, 12, crc32c(bytes(version[:12])))
    path.write_bytes(version)
    with pytest.raises(UnsupportedFormatError, match="version 99"):
        WriteAheadLog(d).close()
    path.write_bytes(data[:10])
    with pytest.raises(CorruptDataError, match="shorter than"):
        WriteAheadLog(d).close()


def test_leftover_temporary_file_is_removed(tmp_path):
    _write_records(tmp_path, [b"a"], segment_bytes=1)
    (tmp_path / f"{2:020d}.log.tmp").write_bytes(b"half a header")
    (tmp_path / "unrelated.txt").write_bytes(b"left alone")
    assert _replay_all(tmp_path) == [(1, b"a")]
    assert not list(tmp_path.glob("*.tmp"))
    assert (tmp_path / "unrelated.txt").exists()


def test_failed_write_is_rolled_back(tmp_path, monkeypatch):
    real_writev = os.writev

    def half_then_fail(fd, buffers):
        # write part of the record, then fail like a full disk would
        real_writev(fd, [bytes(memoryview(buffers[0])[:10])])
        raise OSError(28, "No space left on device")

    with WriteAheadLog(tmp_path, fsync="always") as wal:
        wal.append(b"first")
        monkeypatch.setattr(walmod.os, "writev", half_then_fail)
        with pytest.raises(OSError, match="No space"):
            wal.append(b"second")
        monkeypatch.setattr(walmod.os, "writev", real_writev)
        assert wal.last_lsn == 1
        assert wal.append(b"third") == 2
    assert _replay_all(tmp_path) == [(1, b"first"), (2, b"third")]


# ---------------------------------------------------------------- durability and threads


def test_group_commit_threads(tmp_path):
    n_threads, per_thread = 8, 40
    results: dict[int, list[tuple[int, bytes]]] = {}
    errors = []
    barrier = threading.Barrier(n_threads)

    with WriteAheadLog(tmp_path, fsync="batch", batch_interval=0.002) as wal:

        def worker(k):
            try:
                barrier.wait()
                mine = []
                for i in range(per_thread):
                    payload = f"thread {k} record {i}".encode() * (1 + i % 5)
                    lsn = wal.append([payload[:3], payload[3:]])
                    assert wal.durable_lsn >= lsn  # append returned after the fsync that covers it
                    mine.append((lsn, payload))
                results[k] = mine
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert not errors
        assert wal.last_lsn == n_threads * per_thread
    expected = {}
    for mine in results.values():
        assert [lsn for lsn, _ in mine] == sorted(lsn for lsn, _ in mine)  # per thread, in order
        expected.update(mine)
    got = _replay_all(tmp_path)
    assert [lsn for lsn, _ in got] == list(range(1, n_threads * per_thread + 1))
    assert dict(got) == expected


@pytest.mark.parametrize("policy", ["always", "batch", "never"])
def test_wait_false_and_sync(tmp_path, policy):
    with WriteAheadLog(tmp_path, fsync=policy, batch_interval=0.5) as wal:
        lsns = [wal.append(bytes(1000), wait=False) for _ in range(20)]
        assert lsns == list(range(1, 21))
        wal.sync()
        assert wal.durable_lsn == 20
        wal.sync()  # nothing new: fine
    assert len(_replay_all(tmp_path)) == 20


def test_batch_flusher_syncs_unwaited_records(tmp_path):
    with WriteAheadLog(tmp_path, fsync="batch", batch_interval=0.001) as wal:
        wal.append(b"x", wait=False)
        deadline = time.monotonic() + 30
        while wal.durable_lsn < 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert wal.durable_lsn == 1


def test_close_stops_flusher_and_is_idempotent(tmp_path):
    before = {t.ident for t in threading.enumerate()}
    wal = WriteAheadLog(tmp_path, fsync="batch")
    flushers = [t for t in threading.enumerate() if t.ident not in before]
    assert len(flushers) == 1 and flushers[0].daemon
    wal.append(b"a", wait=False)
    wal.close()
    assert not flushers[0].is_alive()
    assert wal.closed and wal.durable_lsn == 1
    wal.close()
    assert "closed" in repr(wal)


# ---------------------------------------------------------------- bad arguments


def test_bad_arguments(tmp_path):
    with pytest.raises(InvalidArgumentError, match="unknown fsync policy 'sometimes'"):
        WriteAheadLog(tmp_path, fsync="sometimes")
    for bad in (-1, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(InvalidArgumentError, match="batch_interval"):
            WriteAheadLog(tmp_path, batch_interval=bad)
    for bad in (0, -5, 1.5, None):
        with pytest.raises(InvalidArgumentError, match="segment_bytes"):
            WriteAheadLog(tmp_path, segment_bytes=bad)
    with WriteAheadLog(tmp_path, fsync="never") as wal:
        with pytest.raises(InvalidArgumentError, match="not a bytes-like"):
            wal.append(["text is not bytes"])
        with pytest.raises(InvalidArgumentError, match="not a bytes-like"):
            wal.append(12)
        with pytest.raises(InvalidArgumentError, match="C-contiguous"):
            wal.append([np.zeros((4, 4))[:, 1]])
        with pytest.raises(InvalidArgumentError, match="after"):
            wal.replay(after=-1)
        with pytest.raises(InvalidArgumentError, match="upto"):
            wal.truncate(upto="3")
        assert wal.last_lsn == 0  # nothing was written by the failed calls
    with pytest.raises(InvalidArgumentError, match="closed"):
        wal.append(b"late")
    with pytest.raises(InvalidArgumentError, match="closed"):
        wal.sync()
    with pytest.raises(InvalidArgumentError, match="closed"):
        wal.replay()
    with pytest.raises(InvalidArgumentError, match="closed"):
        wal.truncate(upto=0)
    assert isinstance(InvalidArgumentError("x"), ChronotopeError)


# ---------------------------------------------------------------- real crashes

_CHILD = r"""
import struct, sys
from chronotope.wal import WriteAheadLog

SIZES = (0, 1, 17, 1000, 70_000, 600_000, 2_500_000)

def payload(lsn):
    size = SIZES[lsn % len(SIZES)]
    return (struct.pack("<Q", lsn) * (size // 8 + 1))[:size]

directory, policy, checkpoint = sys.argv[1], sys.argv[2], int(sys.argv[3])
with WriteAheadLog(directory, fsync=policy, batch_interval=0.002, segment_bytes=4 << 20) as wal:
    for lsn, p in wal.replay(after=checkpoint):
        assert p == payload(lsn)
    while True:
        lsn = wal.last_lsn + 1
        data = payload(lsn)
        third = len(data) // 3
        got = wal.append([data[:third], memoryview(data)[third:]])
        assert got == lsn, (got, lsn)
        sys.stdout.write(f"{lsn}\n")
        sys.stdout.flush()
"""


def _child_payload(lsn: int) -> bytes:
    sizes = (0, 1, 17, 1000, 70_000, 600_000, 2_500_000)
    return _payload(lsn, sizes[lsn % len(sizes)])


@pytest.mark.parametrize("policy", ["always", "batch"])
def test_crash_with_sigkill(tmp_path, policy):
    rng = random.Random(f"crash-{policy}")
    d = tmp_path / "wal"
    acked: list[int] = []
    checkpoint = 0  # like the store: records up to here are "in segments", their files get deleted
    for _ in range(10):
        with subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(d), policy, str(checkpoint)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            watchdog = threading.Timer(60, child.kill)  # bounded time even if the child hangs
            watchdog.start()
            try:
                first = child.stdout.readline()  # the child has recovered the log and acknowledged a record
                if first:
                    time.sleep(rng.uniform(0.0, 0.25))
                    child.send_signal(signal.SIGKILL)
                # read through the same (buffered) file objects: the pipes end when the child dies
                rest = child.stdout.read()
                err = child.stderr.read()
                child.wait(timeout=60)
            finally:
                watchdog.cancel()
        assert first, f"child failed: {err}"
        assert child.returncode == -signal.SIGKILL, err
        lines = (first + rest).split("\n")
        new = [int(x) for x in lines[:-1]]  # complete lines only; the last one may be cut
        assert new and new == list(range(new[0], new[-1] + 1))
        assert not acked or new[0] > acked[-1]
        acked += new
        with WriteAheadLog(d, fsync="never", segment_bytes=4 << 20) as wal:
            got = list(wal.replay(after=checkpoint))
            lsns = [lsn for lsn, _ in got]
            assert lsns == list(range(checkpoint + 1, checkpoint + 1 + len(lsns)))  # consecutive, nothing corrupt
            for lsn, p in got:
                assert p == _child_payload(lsn), f"payload of lsn {lsn} is wrong"
            # every acknowledged record survived, exactly once
            assert set(new) <= set(lsns)
            assert wal.last_lsn == (lsns[-1] if lsns else checkpoint)
            del got, p
            # checkpoint about half of what is there (whole older files get deleted)
            checkpoint = (checkpoint + wal.last_lsn) // 2
            wal.truncate(upto=checkpoint)
    assert len(acked) >= 10
