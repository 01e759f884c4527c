"""The durable journal: checksummed lines appended to the record (record_format.py), fsynced
before anything is acknowledged.

Concurrent writers share one fsync (group commit). A write is one line per record, so a
request's events are all there or none are. Each writer may pass `on_durable`, called on the
event loop once its record is on disk and before any later record's: the store applies writes
in journal order, so a snapshot taken at any moment on the loop holds exactly the records before
`Journal.size`. The async face follows the gateway's outbox: after `close` nothing is accepted,
and every failure (of a write, or of the flusher itself) reaches every writer it concerns.

A write is acknowledged only if it is in the file at the record's path: after each fsync the
open file is compared with the path (its inode, and st_nlink for an unlinked file). A record
removed (its folder deleted) or renamed away while the mock serves is found before anything is
acknowledged; from then on every write is refused (503 store_unavailable saying what
happened), health says so, and one ERROR line is logged.

An entry on disk whose in-memory apply fails (a bug) is logged at ERROR with its traceback; the
writer's 503 says the entry is on disk and will be there after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

from mockserver.errors import StoreError
from mockserver.record.files import (
    flush_file,
    fsync_dir,
    fsync_file,
    lock_exclusive,
    temporary_path,
)
from mockserver.record.format import Header, encode_line

# (line, its future, on_durable, on_failed)
Pending = tuple[bytes, "asyncio.Future[None]", Callable[[], None] | None,
                Callable[[], None] | None]

log = logging.getLogger("mockserver.journal")


def _write_all(fd: int, blob: bytes) -> None:
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view):]


def _failure(exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)
    return StoreError(f"could not write the journal: {why}")


class Journal:
    """Appends to the record at `path`, whose open, locked descriptor `fd` the journal owns."""

    def __init__(self, path: Path, fd: int, header: Header, size: int,
                 commit_window: float = 0.0) -> None:
        self._path = path
        self._fd = fd
        self.header = header
        self.tail_start = len(header.line())
        self.size = size  # durable bytes, as the event loop knows them
        self._written = size  # the same, as the I/O thread knows them
        self._window = commit_window
        self._pending: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._io_lock = asyncio.Lock()  # one write or one rotation at a time
        self._closed = False
        self._swapped = False  # set by _rotate once its file is renamed over the record
        self.lost: str | None = None  # why the record is no longer at its path (sticky)
        # One thread: writes and fsyncs happen in order, off the event loop.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")

    @property
    def path(self) -> Path:
        return self._path

    async def append(self, record: Any, on_durable: Callable[[], None] | None = None) -> None:
        """Return once `record` is on disk (and `on_durable` has run)."""
        await self.submit(encode_line(record), on_durable)

    def submit(self, line: bytes, on_durable: Callable[[], None] | None = None,
               on_failed: Callable[[], None] | None = None) -> asyncio.Future[None]:
        """Queue an encoded line (format.encode_line); its future is done once the line is on
        disk and `on_durable` has run, or failed. The callbacks run whatever becomes of the
        future (a waiter cancelled with its request cancels it): `on_durable` once the line
        is on disk, `on_failed` if the writer gets an error instead. A plain future, not a
        task: the writer's request is woken once, by the flusher (one loop turn per write)."""
        if self._closed:
            raise StoreError("the journal is closed: the mock is stopping")
        if self.lost is not None:
            raise self._lost_error()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, future, on_durable, on_failed))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                if self._window:
                    await asyncio.sleep(self._window)  # gather more writers into this fsync
                batch, self._pending = self._pending, []
                blob = b"".join(line for line, _, _, _ in batch)
                try:
                    async with self._io_lock:
                        await loop.run_in_executor(self._io, self._write, blob)
                        self.size += len(blob)
                except Exception as exc:
                    _settle(batch, _failure(exc))
                    continue
                for _, future, on_durable, on_failed in batch:  # O(writes in the group)
                    try:
                        if on_durable is not None:
                            on_durable()
                    except Exception as exc:
                        log.error("pointillist-mock: an entry is on disk in %s but applying it "
                                  "in memory failed; it will be there after a restart",
                                  self._path, exc_info=exc)
                        _call(on_failed)
                        if not future.done():
                            future.set_exception(StoreError(
                                f"the write is on disk (durable) but could not be applied in "
                                f"memory ({exc!r}); it will be there after a restart of the "
                                "mock", {"durable": True}))
                        continue
                    if not future.done():
                        future.set_result(None)
        except BaseException as exc:  # the flusher itself: nobody may be left waiting
            batch, self._pending = self._pending, []
            _settle(batch, _failure(exc))
            raise
        finally:
            self._flusher = None

    def _write(self, blob: bytes) -> None:
        self._check_in_place()
        try:
            _write_all(self._fd, blob)
            flush_file(self._fd)
        except OSError:
            os.ftruncate(self._fd, self._written)  # never leave half a record behind
            raise
        self._written += len(blob)
        self._check_in_place()  # durable only if in the file a restart will open

    async def check(self) -> None:
        """Raise the StoreError saying why the record is gone from its path, if it is (health
        asks this between writes). Two stat calls, on the I/O thread: after any rotation that
        is under way, never between its rename and its switch to the new file."""
        if self.lost is None and not self._closed:
            with suppress(StoreError):
                await asyncio.get_running_loop().run_in_executor(self._io, self._check_in_place)
        if self.lost is not None:
            raise self._lost_error()

    def _lost_error(self) -> StoreError:
        return StoreError(f"the record {self._path} {self.lost} while the mock served: writes "
                          "are refused, as a restart would not find them; restart the mock to "
                          "start a record there", {"record": str(self._path)})

    def _check_in_place(self) -> None:
        """Compare the open file with the record's path: an unlinked file (st_nlink 0), a path
        gone or naming another file means what is written here is lost at the next start."""
        if self.lost is not None:
            raise self._lost_error()
        mine = os.fstat(self._fd)
        try:
            there: os.stat_result | None = os.stat(self._path)
        except FileNotFoundError:
            there = None
        if there is not None and (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino) \
                and mine.st_nlink > 0:
            return
        if there is None:
            what = "was deleted (or its folder was)" if mine.st_nlink == 0 else \
                "was renamed or moved away"
        else:
            what = "was replaced by another file"
        self.lost = what
        log.error("pointillist-mock: the record %s %s; every write is now refused (503)",
                  self._path, what)
        raise self._lost_error()

    async def rotate(self, header: Header, cut: int) -> None:
        """Replace the record by `header` followed by its records from byte `cut` on,
        atomically, between two writes: a temporary file (locked, fsynced) is renamed over
        the record and the directory fsynced. Costs the copy of the bytes after `cut`."""
        async with self._io_lock:
            if self._closed:
                raise StoreError("the journal is closed: the mock is stopping")
            line = header.line()
            self._swapped = False
            try:
                await asyncio.get_running_loop().run_in_executor(self._io, self._rotate, line, cut)
            finally:  # once renamed, the new file is the record, even if a later step failed
                if self._swapped:
                    self.header, self.tail_start, self.size = header, len(line), self._written

    def _rotate(self, line: bytes, cut: int) -> None:
        self._check_in_place()  # a record gone from its path is not put back by a compaction
        temporary = temporary_path(self._path)
        fd = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                     0o600)
        renamed = False
        try:
            lock_exclusive(fd)  # the lock moves with the file
            _write_all(fd, line)
            position = cut
            while position < self._written:
                chunk = os.pread(self._fd, min(1 << 20, self._written - position), position)
                _write_all(fd, chunk)
                position += len(chunk)
            fsync_file(fd)
            os.replace(temporary, self._path)
            renamed = True
            fsync_dir(self._path.parent)
        finally:
            if renamed:
                old, self._fd = self._fd, fd
                os.close(old)
                self._written = len(line) + self._written - cut
                self._swapped = True
            else:
                os.close(fd)
                temporary.unlink(missing_ok=True)

    async def close(self) -> None:
        """Write what is pending, then release the record (and its lock)."""
        if self._closed:
            return
        self._closed = True
        while self._flusher is not None:
            await asyncio.wait([self._flusher])
        async with self._io_lock:
            self._io.shutdown(wait=True)
            os.close(self._fd)


def _settle(batch: list[Pending], error: StoreError) -> None:
    for _, future, _, on_failed in batch:
        _call(on_failed)
        if not future.done():
            future.set_exception(error)


def _call(callback: Callable[[], None] | None) -> None:
    """A writer's on_failed: it must not keep the others of its group from being told."""
    if callback is not None:
        try:
            callback()
        except Exception as exc:
            log.error("pointillist-mock: cleaning up after a failed write failed", exc_info=exc)
