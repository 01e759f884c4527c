"""The durable journal: an append-only JSON-lines file, fsynced before anything is acknowledged.

Concurrent writers share one fsync (group commit). A record is one line, so a request's events
are all there or none are. A crash can only tear the last line; opening the journal cuts that
torn tail off, so the store always opens.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .codec import dump_json
from .errors import StoreError


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete record, in order; a torn last line is cut from the file."""
    if not path.exists():
        return
    good_end = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                break  # torn tail: never acknowledged
            try:
                record = json.loads(line)
            except ValueError:
                if handle.read(1):
                    raise StoreError(
                        f"journal {path} is damaged at line {number}; "
                        "it was not written by a crash (only the last line can tear)"
                    ) from None
                break
            good_end += len(line)
            yield record
    if good_end != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good_end)
            os.fsync(handle.fileno())


class Journal:
    def __init__(self, path: Path, commit_window: float = 0.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._window = commit_window
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # One thread: writes and fsyncs happen in order, off the event loop.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        _fsync_dir(path.parent)

    async def append(self, record: dict[str, Any]) -> None:
        """Return once `record` is on disk."""
        line = dump_json(record).encode("utf-8")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line + b"\n", future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                if self._window:
                    await asyncio.sleep(self._window)  # gather more writers into this fsync
                batch, self._pending = self._pending, []
                try:
                    await loop.run_in_executor(self._io, self._write, b"".join(d for d, _ in batch))
                except OSError as exc:
                    error = StoreError(f"could not write the journal: {exc.strerror}")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flusher = None

    def _write(self, blob: bytes) -> None:
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(self._fd, view):]
            os.fdatasync(self._fd)
        except OSError:
            os.ftruncate(self._fd, self._size)  # never leave half a record behind
            raise
        self._size += len(blob)

    async def close(self) -> None:
        if self._flusher is not None:
            await self._flusher
        self._io.shutdown(wait=True)
        os.close(self._fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
