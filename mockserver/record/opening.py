"""The record on disk (`--db PATH`): who may open it, and reading it back.

A record is one file, PATH, holding a header and the journal (record_format.py), plus the
snapshot its header names, `PATH.snapshot.<generation>.json` (snapshot.py), beside it.

- One owner: an exclusive flock on PATH, taken before anything is changed; a second process is
  refused with the holder's pid (from /proc/locks, where the system has it). The lock belongs
  to the open file, and compaction locks the file it renames over PATH first, so it never lapses.
- Refuse what is not ours: a missing or empty PATH becomes a record; anything else that does
  not start with the header (another file, a directory, an unreadable or read-only file) is
  refused with one line, before it is opened for writing: its bytes stay as they were.
- Damage: only an incomplete final record (a crash mid-write, never acknowledged) is cut, and
  the owner reports how many bytes; anything else refuses to open (record_format.decode_line).
"""

from __future__ import annotations

import errno
import gc
import os
import stat
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mockserver.errors import RecordDamaged, RecordInUse, RecordRefused
from mockserver.record.files import (
    fsync_dir,
    fsync_file,
    leftover_pattern,
    lock_exclusive,
)
from mockserver.record.format import (
    PREFIX_BYTES,
    Header,
    check_record,
    decode_line,
    looks_like_ours,
    parse_header,
)
from mockserver.record.journal import Journal
from mockserver.record.snapshot import read_snapshot
from mockserver.state.store import Store

_TRIES = 5  # a compaction may rename a new file over PATH between our open and our lock


@dataclass
class Contents:
    """What reading a record found."""

    header: Header
    entries: int = 0  # journal entries after the header
    events: int = 0  # events loaded (snapshot and journal)
    end: int = 0  # byte offset of the end of the last complete record
    torn: int = 0  # bytes of an incomplete final record after `end`


class _Lines:
    """The complete journal lines of `handle`, with their offsets; an incomplete last line is
    left in `torn`."""

    def __init__(self, handle: BinaryIO, where: str) -> None:
        self.handle, self.where = handle, where
        self.offset = self.number = 0
        self.torn = 0

    def __iter__(self) -> Iterator[tuple[bytes, int, int]]:
        for line in self.handle:
            self.number += 1
            if not line.endswith(b"\n"):
                self.torn = len(line)
                return
            yield line, self.offset, self.number
            self.offset += len(line)


def read_header(handle: BinaryIO, where: str) -> tuple[Header, int]:
    line = handle.readline()
    if not line.endswith(b"\n"):
        raise RecordRefused(f"{where} is not a pointillist-mock record (no complete header)")
    return parse_header(decode_line(line, where, 0, 1), where), len(line)


def load(path: Path, store: Store, only: str | None = None) -> Contents:
    """Read the record at `path` into `store` (only tenant `only`, if given), changing
    nothing on disk. O(snapshot + journal), one record in memory at a time. The cyclic
    garbage collector is paused meanwhile: loading frees nothing cyclic, and its passes over
    the growing store were an eighth of a restart."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _load(path, store, only)
    finally:
        if paused:
            gc.enable()


def _load(path: Path, store: Store, only: str | None) -> Contents:
    where = str(path)
    with path.open("rb") as handle:
        header, start = read_header(handle, where)
        found = Contents(header)
        if header.snapshot is not None:
            found.events = read_snapshot(path.with_name(header.snapshot.file),
                                         header.snapshot, store, only)
        lines = _Lines(handle, where)
        lines.offset, lines.number = start, 1
        for line, offset, number in lines:
            record = check_record(decode_line(line, where, offset, number), where, offset, number)
            found.entries += 1
            if only is None or record["t"] == only:
                store.replay(record)
                found.events += len(record.get("docs", ()))
        found.end, found.torn = lines.offset, lines.torn
    return found


def refuse_foreign(path: Path, writable: bool = True) -> os.stat_result | None:
    """Raise RecordRefused unless `path` is missing, empty or starts like a record (and is
    `writable`); return its stat (None when missing). Opens nothing for writing."""
    where = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordRefused(f"{where} cannot be opened: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise RecordRefused(f"{where} is a directory, not a pointillist-mock record; "
                            "pass a file path (a new one is created)")
    if not stat.S_ISREG(info.st_mode):
        raise RecordRefused(f"{where} is not a regular file, so not a pointillist-mock record")
    try:
        with path.open("rb") as handle:
            prefix = handle.read(PREFIX_BYTES)
    except OSError as exc:
        raise RecordRefused(f"{where} cannot be read: {exc.strerror}") from None
    if prefix and not looks_like_ours(prefix):
        raise RecordRefused(
            f"{where} is not a pointillist-mock record (it starts with {prefix[:24]!r}); "
            "pass a new or empty path, or a record pointillist-mock wrote")
    if writable and (not os.access(path, os.W_OK) or not info.st_mode & 0o222):
        raise RecordRefused(f"{where} is read-only; the mock needs to append to its record")
    return info


def holder(path: Path) -> str:
    """Who holds the lock on `path`: "pid N" where /proc/locks says, else "another process"."""
    with suppress(OSError):
        info = os.stat(path)
        want = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[1] == "FLOCK":
                major, minor, inode = fields[5].split(":")
                if (int(major, 16), int(minor, 16), int(inode)) == want:
                    return f"pid {fields[4]}"
    return "another process"


def acquire(path: Path) -> int:
    """An open, exclusively locked descriptor of the record at `path` (created, with its
    header, when missing or empty). RecordRefused or RecordInUse otherwise, nothing changed."""
    where = str(path)
    for _ in range(_TRIES):
        info = refuse_foreign(path)
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        try:
            if info is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            else:
                fd = os.open(path, flags)
        except FileExistsError:
            continue  # created meanwhile by someone else: look again
        except OSError as exc:
            raise RecordRefused(f"{where} cannot be opened: {exc.strerror}") from None
        try:
            lock_exclusive(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise RecordInUse(
                    f"{where} is in use by another pointillist-mock ({holder(path)}); one "
                    "process per record: stop it, or pass another --db") from None
            raise RecordRefused(f"{where} cannot be locked: {exc.strerror}") from None
        with suppress(FileNotFoundError):
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                if os.fstat(fd).st_size == 0:  # ours now: a new record
                    os.write(fd, Header().line())
                    fsync_file(fd)
                    fsync_dir(path.parent)
                return fd
        os.close(fd)  # a compaction replaced the file between open and lock: again
    raise RecordInUse(f"{where} keeps being replaced; is another pointillist-mock using it?")


def _remove_leftovers(path: Path, header: Header) -> None:
    """Temporary files and snapshots a crash left behind (never the one the header names)."""
    keep = header.snapshot.file if header.snapshot else None
    pattern = leftover_pattern(path)
    removed = False
    for entry in path.parent.iterdir():
        if entry.name not in (path.name, keep) and pattern.fullmatch(entry.name):
            entry.unlink(missing_ok=True)
            removed = True
    if removed:
        fsync_dir(path.parent)


def resolve(path: Path) -> Path:
    """The record's real path, resolved once at start: through a symbolic link (or linked
    folders), so that the record, its snapshots, temporary files and lock all live beside the
    real file and a compaction renames over it, never over the link. A link to nothing is
    refused in one line."""
    if path.is_symlink():
        try:
            return Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:
            raise RecordRefused(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                "create the file, or pass its real path") from None
        except OSError as exc:  # a loop of links
            raise RecordRefused(f"{path} cannot be resolved: {exc.strerror}") from None
    return Path(os.path.realpath(path))


def open_record(path: Path, store: Store, commit_window: float = 0.0) -> tuple[Journal, int]:
    """Take the record at `path` (resolved: see `resolve`) for this process, load it into
    `store`, and return its journal and the bytes of an incomplete final record that were cut
    (0 almost always)."""
    path = resolve(path)
    fd = acquire(path)
    try:
        found = load(path, store)
        if found.torn:
            os.ftruncate(fd, found.end)
            fsync_file(fd)
        _remove_leftovers(path, found.header)
    except BaseException:
        os.close(fd)
        raise
    return Journal(path, fd, found.header, found.end, commit_window), found.torn


__all__ = ["Contents", "RecordDamaged", "acquire", "load", "open_record", "resolve"]
