"""Every file a record is made of, and how each is made durable: the one module that names
them and owns the fsync and lock calls.

A record at PATH is the file PATH (header + journal entries), the snapshot its header names,
`PATH.snapshot.<generation>.json`, and, while one is being written, `<name>.tmp` beside it.

Per platform (each path proven on Linux by simulating what the platform lacks:
tests/unit/test_record_files_platforms.py):
- Linux: fdatasync for journal writes, fsync for new files and folders, flock.
- macOS: no os.fdatasync in CPython (cpython#83821), and fsync leaves the data in the drive's
  cache; fcntl(F_FULLFSYNC) where the OS offers it (plain fsync where the file system refuses
  it), flock.
- Windows: no fcntl, so no lock: a record on disk is refused (`--db` says so in one line:
  locking_missing()); the mock runs in memory. fcntl is never imported at module top, so that
  the package imports there.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from types import ModuleType

__all__ = ["flush_file", "fsync_dir", "fsync_file", "leftover_pattern", "lock_exclusive",
           "locking_missing", "snapshot_path", "temporary_path"]


def snapshot_path(path: Path, generation: int) -> Path:
    return path.with_name(f"{path.name}.snapshot.{generation}.json")


def temporary_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place."""
    return path.with_name(path.name + ".tmp")


def leftover_pattern(path: Path) -> re.Pattern[str]:
    """The names of every file of the record at `path` (itself, snapshots, temporary files)."""
    return re.compile(re.escape(path.name) + r"(\.snapshot\.\d+\.json)?(\.tmp)?")


def _fcntl() -> ModuleType | None:
    """The fcntl module, or None where there is none (Windows)."""
    try:
        import fcntl
    except ImportError:
        return None
    return fcntl


def _full_fsync(fd: int) -> bool:
    """macOS's F_FULLFSYNC (through the drive's cache) where the OS offers it: True when done."""
    fcntl = _fcntl()
    full = getattr(fcntl, "F_FULLFSYNC", None)
    if fcntl is None or full is None:
        return False
    try:
        fcntl.fcntl(fd, full)
    except OSError as exc:  # a file system that does not take it (some network shares)
        if exc.errno not in (errno.ENOTSUP, errno.EINVAL, errno.ENOTTY):
            raise
        return False
    return True


def flush_file(fd: int) -> None:
    """Make what was written to `fd` durable: its data, and the metadata needed to read it.
    F_FULLFSYNC where the OS offers it (macOS), else fdatasync where the OS has it (Linux), else
    fsync."""
    if _full_fsync(fd):
        return
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def fsync_file(fd: int) -> None:
    """Make a new file's data and metadata durable (before it is renamed into place)."""
    if not _full_fsync(fd):
        os.fsync(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new name in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def locking_missing() -> str | None:
    """Why a record on disk cannot be kept here (no file locking: Windows), or None."""
    if _fcntl() is None:
        return ("a record on disk needs file locking (fcntl), which this platform lacks: "
                "use --db :memory:")
    return None


def lock_exclusive(fd: int) -> None:
    """Take the record's lock on `fd` without waiting (BlockingIOError when another process
    holds it). The lock moves with the file when it is renamed over the record."""
    fcntl = _fcntl()
    if fcntl is None:
        raise OSError(errno.ENOTSUP, locking_missing())
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
