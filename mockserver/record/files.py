"""Every file a record is made of, and how each is made durable: the one module that names
them and owns the fsync and lock calls.

A record at PATH is the file PATH (header + journal entries), the snapshot its header names,
`PATH.snapshot.<generation>.json`, and, while one is being written, `<name>.tmp` beside it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["flush_file", "fsync_dir", "fsync_file", "leftover_pattern", "lock_exclusive",
           "snapshot_path", "temporary_path"]


def snapshot_path(path: Path, generation: int) -> Path:
    return path.with_name(f"{path.name}.snapshot.{generation}.json")


def temporary_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place."""
    return path.with_name(path.name + ".tmp")


def leftover_pattern(path: Path) -> re.Pattern[str]:
    """The names of every file of the record at `path` (itself, snapshots, temporary files)."""
    return re.compile(re.escape(path.name) + r"(\.snapshot\.\d+\.json)?(\.tmp)?")


def flush_file(fd: int) -> None:
    """Make what was written to `fd` durable: its data, and the metadata needed to read it.
    fdatasync where the OS has it; plain fsync elsewhere."""
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def fsync_file(fd: int) -> None:
    """Make a new file's data and metadata durable (before it is renamed into place)."""
    os.fsync(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new name in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_exclusive(fd: int) -> None:
    """Take the record's lock on `fd` without waiting (BlockingIOError when another process
    holds it). The lock moves with the file when it is renamed over the record."""
    import fcntl  # POSIX only: imported here so the package imports where it is missing

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
