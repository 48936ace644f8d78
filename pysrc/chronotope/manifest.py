"""The manifest: the one file that says what a store holds.

It is JSON followed by a line with its CRC-32C, and it is only ever replaced
atomically: written to ``MANIFEST.tmp``, fsynced, renamed over ``MANIFEST``,
and the directory fsynced. A crash leaves either the old or the new manifest,
never a mix; files that no manifest lists (a flush or compaction cut short)
are swept when the writer opens the store.

State (a plain dict)::

    {"format": 1, "version": <int, +1 per save>, "next_lsn": <int>,
     "wal_checkpoint": <lsn: everything up to it is in segments>,
     "next_file": <int>,
     "collections": {name: {"schema": {column: dtype string}, "crs": str,
                            "partition_ns": int, "id_kind": "int"|"str"|None,
                            "ids_file": str|None, "ids_count": int,
                            "segments": [entry, ...], "tombstones": [...],
                            "docs": [file, ...]}}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from chronotope._checksum import crc32c
from chronotope.errors import CorruptDataError, UnsupportedFormatError
from chronotope.fileio import write_atomic

__all__ = ["FORMAT_VERSION", "empty_manifest", "load_manifest", "save_manifest"]

#: The store format this build writes; ``Store.migrate()`` upgrades older ones.
FORMAT_VERSION = 1
_NAME = "MANIFEST"


def empty_manifest() -> dict:
    """The manifest of a new, empty store."""
    return {"format": FORMAT_VERSION, "version": 0, "next_lsn": 1, "wal_checkpoint": 0, "next_file": 1, "collections": {}}


def load_manifest(store: str | os.PathLike) -> dict | None:
    """Read and validate the manifest of a store directory; None if there is none yet."""
    path = Path(store) / _NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    body, sep, tail = raw.rstrip(b"\n").rpartition(b"\n")
    try:
        ok = sep and int(tail, 16) == crc32c(body)
        state = json.loads(body) if ok else None
    except ValueError:
        ok, state = False, None
    if not ok or not isinstance(state, dict):
        raise CorruptDataError(f"manifest {path}: checksum mismatch or invalid content")
    fmt = state.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise UnsupportedFormatError(f"manifest {path}: store format {fmt!r} is newer than this build ({FORMAT_VERSION})")
    return state


def save_manifest(store: str | os.PathLike, state: dict) -> None:
    """Replace the manifest atomically and durably; bumps ``state["version"]``."""
    state["version"] = int(state.get("version", 0)) + 1
    store = Path(store)
    body = json.dumps(state, separators=(",", ":")).encode()  # insertion order: property columns keep theirs
    write_atomic(store / _NAME, [body, b"\n", b"%08x\n" % crc32c(body)])
