"""Durable file writes: the one way chronotope makes a file appear complete or not at all."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "write_atomic"]


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a directory, so that a rename, create or unlink inside it is durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, chunks, *, sync_dir: bool = True) -> Path:
    """Write ``chunks`` (bytes-like) to ``path`` via a temporary name: write, fsync, rename.

    With ``sync_dir`` (default) the directory is fsynced too, so the new name is
    durable; a caller writing many files may pass False and fsync the directory once.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)
    return path
