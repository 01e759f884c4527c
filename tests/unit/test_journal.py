"""journal.py: an append-only JSON-lines file; only its last line can tear."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.errors import StoreError
from mockserver.journal import Journal, read_records

GOOD = b'{"n":1}\n{"n":2}\n'


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = Journal(tmp_path / "journal.jsonl")
    yield opened
    await opened.close()


def test_a_missing_journal_has_no_records_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.jsonl"
    assert list(read_records(path)) == []
    assert not path.exists()


def test_an_empty_journal_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(read_records(path)) == []
    assert path.read_bytes() == b""


async def test_appended_records_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "journal.jsonl"  # parent folders are made
    journal = Journal(path)
    records: list[dict[str, Any]] = [
        {"op": "add", "t": "a", "docs": [{"seq": 1, "event": {"city": "Zürich"}}]},
        {"op": "reset", "t": "a"},
        {"op": "add", "t": "b", "docs": [{"seq": 2, "numbers": {"x": 80.77}}]},
    ]
    for record in records:
        await journal.append(record)
    await journal.close()

    assert list(read_records(path)) == records
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every record ends its line
    assert lines[1] == b'{"op":"reset","t":"a"}'
    assert '"Zürich"'.encode() in lines[0]  # UTF-8, not \u escapes


async def test_a_reopened_journal_appends_after_its_records(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = Journal(path)
    await first.append({"n": 1})
    await first.close()
    second = Journal(path)
    await second.append({"n": 2})
    await second.close()
    assert list(read_records(path)) == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    "tail",
    [
        b'{"n":3}',  # complete JSON, but the newline never made it: never acknowledged
        b'{"n":',  # half a record
        b'{"op":"add","t":"a","docs":[{"seq":3,"event":{"eventType":"Ord',
        b"\x00\x00\x00\x00",  # space allocated, data never written
        b'{"n":\n',  # half a record, cut right after a newline inside it
        b"\x00\x00\n",
        b"\n",
    ],
)
def test_a_torn_last_line_is_cut_off(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(GOOD + tail)

    assert list(read_records(path)) == [{"n": 1}, {"n": 2}]
    assert path.read_bytes() == GOOD  # the file is truncated to the last good record
    assert list(read_records(path)) == [{"n": 1}, {"n": 2}]


async def test_appends_after_a_torn_tail_start_on_a_clean_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(GOOD + b'{"n":3,"half')
    assert list(read_records(path)) == [{"n": 1}, {"n": 2}]

    journal = Journal(path)
    await journal.append({"n": 4})
    await journal.close()
    assert path.read_bytes() == GOOD + b'{"n":4}\n'
    assert list(read_records(path)) == [{"n": 1}, {"n": 2}, {"n": 4}]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'{"n":1}\ngarbage\n{"n":3}\n', 2),
        (b'{"n":1}\n{"n":2}\n\n{"n":4}\n', 3),  # an empty line
        (b'{"n"\n{"n":2}\n', 1),
        (b'{"n":1}\n\xff\xfe\n{"n":3}\n', 2),  # not UTF-8
        (b'{"n":1}\ngarbage\n{"n":', 2),  # damage is not excused by a torn tail after it
    ],
)
def test_a_damaged_line_before_the_end_is_an_error(
    tmp_path: Path, content: bytes, line: int
) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)

    with pytest.raises(StoreError) as caught:
        list(read_records(path))
    assert caught.value.message == (
        f"journal {path} is damaged at line {line}; "
        "it was not written by a crash (only the last line can tear)"
    )
    assert (caught.value.status, caught.value.code) == (503, "store_unavailable")
    assert path.read_bytes() == content  # nothing is cut from a damaged journal


@pytest.mark.parametrize("commit_window", [0.0, 0.002])
async def test_concurrent_appends_land_once_in_submission_order(
    tmp_path: Path, commit_window: float
) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, commit_window=commit_window)
    writes: list[int] = []
    write = journal._write

    def counting_write(blob: bytes) -> None:
        writes.append(blob.count(b"\n"))
        write(blob)

    journal._write = counting_write  # type: ignore[method-assign]
    await asyncio.gather(*(journal.append({"n": n}) for n in range(200)))
    # Every writer waited for its record: all 200 are on disk before anyone returned.
    assert sum(writes) == 200
    # Writers that arrive together share one write and one fsync (group commit).
    assert writes == [200]
    await journal.close()

    assert list(read_records(path)) == [{"n": n} for n in range(200)]


async def test_appends_arriving_while_a_write_runs_are_gathered_into_the_next(
    journal: Journal, tmp_path: Path
) -> None:
    writes: list[int] = []
    write = journal._write
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    release = loop.create_future()

    def slow_write(blob: bytes) -> None:
        writes.append(blob.count(b"\n"))
        if len(writes) == 1:
            loop.call_soon_threadsafe(started.set)
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(release, 10), loop).result()
        write(blob)

    journal._write = slow_write  # type: ignore[method-assign]
    first = asyncio.create_task(journal.append({"n": 0}))
    await started.wait()  # the first write is in progress
    later = [asyncio.create_task(journal.append({"n": n})) for n in range(1, 51)]
    # Scheduled behind the 50 new tasks: each has queued its record before the write ends.
    loop.call_soon(release.set_result, None)
    await asyncio.gather(first, *later)

    assert writes == [1, 50]
    assert list(read_records(tmp_path / "journal.jsonl")) == [{"n": n} for n in range(51)]


async def test_a_failed_write_is_reported_and_leaves_no_half_record(
    journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.jsonl"
    await journal.append({"n": 1})
    real_fdatasync = os.fdatasync

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", disk_full)
    with pytest.raises(StoreError) as caught:
        await journal.append({"n": 2, "pad": "x" * 1000})
    assert caught.value.message == "could not write the journal: No space left on device"
    assert path.read_bytes() == b'{"n":1}\n'  # the written bytes were taken back

    monkeypatch.setattr(os, "fdatasync", real_fdatasync)
    await journal.append({"n": 3})
    assert list(read_records(path)) == [{"n": 1}, {"n": 3}]
