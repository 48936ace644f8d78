"""Durable file writes: the one way chronotope makes a file appear complete or not at all."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_files", "write_atomic"]


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a directory, so that a rename, create or unlink inside it is durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_files(paths) -> None:
    """fsync many files at once: the waits overlap in a few threads (fsync releases the GIL)."""
    paths = list(paths)

    def sync(p):
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    if len(paths) < 2:
        for p in paths:
            sync(p)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        list(pool.map(sync, paths))


def write_atomic(path: str | os.PathLike, chunks, *, sync_dir: bool = True, sync_file: bool = True) -> Path:
    """Write ``chunks`` (bytes-like) to ``path`` via a temporary name: write, fsync, rename.

    With ``sync_dir`` (default) the directory is fsynced too, so the new name is
    durable. A caller writing many files may pass ``sync_file=False,
    sync_dir=False`` and then call :func:`fsync_files` and :func:`fsync_dir`
    once, before anything (a manifest) refers to the files.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        if sync_file:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)
    return path
