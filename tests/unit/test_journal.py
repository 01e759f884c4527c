"""journal.py and record.py: a header, then checksummed lines; only an incomplete final record
is cut; the async face never leaves a writer waiting."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.errors import RecordDamaged, RecordRefused, StoreError
from mockserver.record.format import Header, decode_line, encode_line
from mockserver.record.journal import Journal
from mockserver.record.opening import open_record
from mockserver.state.store import Store

HEADER = Header().line()


def reset(tenant: str) -> dict[str, Any]:
    return {"op": "reset", "t": tenant}


def records(path: Path) -> list[Any]:
    """The journal records after the header, as written."""
    header, *lines = path.read_bytes().splitlines(keepends=True)
    assert header == HEADER
    return [decode_line(line, str(path), 0, 0) for line in lines]


def opened(path: Path, commit_window: float = 0.0) -> Journal:
    journal, cut = open_record(path, Store(), commit_window)
    assert cut == 0
    return journal


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    journal = opened(tmp_path / "record")
    yield journal
    await journal.close()


async def test_a_new_record_starts_with_its_header_and_appends_checksummed_lines(
    tmp_path: Path
) -> None:
    path = tmp_path / "deep" / "er" / "record"  # parent folders are made
    journal = opened(path)
    assert path.read_bytes() == HEADER
    assert HEADER == (b'fc1d8657 {"format":"pointillist-mock-record","version":1,'
                      b'"generation":0,"snapshot":null}\n')
    for record in (reset("a"), {"op": "reset", "t": "Zürich"}, reset("b")):
        await journal.append(record)
    await journal.close()

    assert records(path) == [reset("a"), reset("Zürich"), reset("b")]
    assert path.read_bytes() == HEADER + b"".join(
        encode_line(r) for r in (reset("a"), reset("Zürich"), reset("b")))
    assert b'"Z\xc3\xbcrich"' in path.read_bytes()  # UTF-8, not \\u escapes


async def test_a_reopened_record_appends_after_its_records(tmp_path: Path) -> None:
    path = tmp_path / "record"
    first = opened(path)
    await first.append(reset("a"))
    await first.close()
    second = opened(path)
    await second.append(reset("b"))
    await second.close()
    assert records(path) == [reset("a"), reset("b")]


@pytest.mark.parametrize(
    "tail",
    [
        encode_line(reset("c"))[:-1],  # complete, but the newline never made it
        encode_line(reset("c"))[:12],  # half a record
        b"\x00\x00\x00\x00",  # space allocated, data never written
    ],
)
def test_only_an_incomplete_final_record_is_cut_and_its_bytes_counted(
    tmp_path: Path, tail: bytes
) -> None:
    path = tmp_path / "record"
    good = HEADER + encode_line(reset("a")) + encode_line(reset("b"))
    path.write_bytes(good + tail)

    store = Store()
    journal, cut = open_record(path, store)
    asyncio.run(journal.close())
    assert cut == len(tail)
    assert path.read_bytes() == good  # the file is cut to the last complete record


@pytest.mark.parametrize(
    ("damage", "number", "why"),
    [
        ("middle", 3, "its checksum does not match"),  # a byte changed in record 3 of 4
        ("last", 4, "its checksum does not match"),  # the last complete record
        ("newline", 3, "not a checksummed record"),  # an empty line
        ("json", 3, "its checksum matches but it does not parse"),
        ("shape", 3, "not a journal record"),
    ],
)
def test_a_complete_record_that_fails_refuses_to_open_and_changes_nothing(
    tmp_path: Path, damage: str, number: int, why: str
) -> None:
    path = tmp_path / "record"
    lines = [HEADER, encode_line(reset("a")), encode_line(reset("b")), encode_line(reset("c"))]
    if damage == "middle":
        lines[2] = lines[2].replace(b'"b"', b'"x"')
    elif damage == "last":
        lines[3] = lines[3].replace(b'"c"', b'"x"')
    elif damage == "newline":
        lines[2] = b"\n"
    elif damage == "json":
        lines[2] = b"%08x %s\n" % (__import__("zlib").crc32(b"{nope"), b"{nope")
    else:
        lines[2] = encode_line({"op": "add", "t": "a"})
    content = b"".join(lines) + b'half a rec'  # damage is not excused by a torn tail after it
    path.write_bytes(content)

    with pytest.raises(RecordDamaged) as caught:
        open_record(path, Store())
    offset = len(b"".join(lines[: number - 1]))
    assert caught.value.message == (
        f"{path} is damaged at record {number} (byte offset {offset}): {why}; it was not "
        "written by a crash (only an incomplete final record can be); `pointillist-mock "
        "verify` tells more, `pointillist-mock repair` keeps what comes before it")
    assert caught.value.details == {"file": str(path), "offset": offset, "record": number}
    assert (caught.value.status, caught.value.code) == (503, "record_damaged")
    assert path.read_bytes() == content  # nothing is cut from a damaged record


def test_the_record_itself_refuses_a_directory_or_a_read_only_file(tmp_path: Path) -> None:
    """The CLI refuses these before opening anything (mockserver.__main__.record_path); the
    record refuses them too, for any other caller, and leaves them as they were."""
    (tmp_path / "data").mkdir()
    with pytest.raises(RecordRefused) as caught:
        open_record(tmp_path / "data", Store())
    assert caught.value.message == (
        f"{tmp_path / 'data'} is a directory, not a pointillist-mock record; "
        "pass a file path (a new one is created)")
    assert list((tmp_path / "data").iterdir()) == []
    path = tmp_path / "record"
    path.write_bytes(HEADER)
    path.chmod(0o444)
    with pytest.raises(RecordRefused) as caught:
        open_record(path, Store())
    assert caught.value.message == (
        f"{path} is read-only; the mock needs to append to its record")
    assert path.read_bytes() == HEADER


@pytest.mark.parametrize("commit_window", [0.0, 0.002])
async def test_concurrent_appends_land_once_in_submission_order(
    tmp_path: Path, commit_window: float
) -> None:
    path = tmp_path / "record"
    journal = opened(path, commit_window)
    writes: list[int] = []
    write = journal._write
    applied: list[int] = []

    def counting_write(blob: bytes) -> None:
        writes.append(blob.count(b"\n"))
        write(blob)

    journal._write = counting_write  # type: ignore[method-assign]
    await asyncio.gather(*(journal.append(reset(str(n)), lambda n=n: applied.append(n))
                           for n in range(200)))
    # Every writer waited for its record: all 200 are on disk before anyone returned.
    assert sum(writes) == 200
    # Writers that arrive together share one write and one fsync (group commit).
    assert writes == [200]
    assert applied == list(range(200))  # each applied once durable, in journal order
    await journal.close()
    assert records(path) == [reset(str(n)) for n in range(200)]


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
    first = asyncio.create_task(journal.append(reset("0")))
    await started.wait()  # the first write is in progress
    later = [asyncio.create_task(journal.append(reset(str(n)))) for n in range(1, 51)]
    # Scheduled behind the 50 new tasks: each has queued its record before the write ends.
    loop.call_soon(release.set_result, None)
    await asyncio.gather(first, *later)

    assert writes == [1, 50]
    assert records(tmp_path / "record") == [reset(str(n)) for n in range(51)]


async def test_a_failed_write_is_reported_and_leaves_no_half_record(
    journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "record"
    await journal.append(reset("1"))
    real_fdatasync = os.fdatasync

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", disk_full)
    applied: list[str] = []
    with pytest.raises(StoreError) as caught:
        await journal.append(reset("2" * 1000), lambda: applied.append("2"))
    assert caught.value.message == "could not write the journal: No space left on device"
    assert path.read_bytes() == HEADER + encode_line(reset("1"))  # the bytes were taken back
    assert applied == []  # never applied

    monkeypatch.setattr(os, "fdatasync", real_fdatasync)
    await journal.append(reset("3"))
    assert records(path) == [reset("1"), reset("3")]


async def test_any_failure_of_a_write_reaches_every_writer_of_its_batch(
    journal: Journal, tmp_path: Path
) -> None:
    write = journal._write
    failures = iter([RuntimeError("boom")])

    def failing_once(blob: bytes) -> None:
        for failure in failures:
            raise failure
        write(blob)

    journal._write = failing_once  # type: ignore[method-assign]
    results = await asyncio.gather(*(journal.append(reset(str(n))) for n in range(3)),
                                   return_exceptions=True)
    assert [type(r) for r in results] == [StoreError] * 3
    assert {r.message for r in results if isinstance(r, StoreError)} == {
        "could not write the journal: RuntimeError('boom')"}
    await journal.append(reset("after"))  # the journal goes on
    assert records(tmp_path / "record") == [reset("after")]


async def test_an_append_after_close_is_refused_at_once(tmp_path: Path) -> None:
    journal = opened(tmp_path / "record")
    await journal.close()
    with pytest.raises(StoreError) as caught:
        await asyncio.wait_for(journal.append(reset("a")), 5)
    assert caught.value.message == "the journal is closed: the mock is stopping"


async def test_close_writes_what_is_pending_first(tmp_path: Path) -> None:
    journal = opened(tmp_path / "record")
    pending = [asyncio.create_task(journal.append(reset(str(n)))) for n in range(5)]
    # One loop turn: each task runs append() up to its first await, which comes after it has
    # queued its record (journal.py), so all five are pending when close() starts.
    await asyncio.sleep(0)
    await journal.close()
    assert [task.result() for task in pending] == [None] * 5
    assert records(tmp_path / "record") == [reset(str(n)) for n in range(5)]
