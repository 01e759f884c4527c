"""What an unlucky world does to the record while the mock serves (issue: vanished records,
symlinks, a failed compaction, one poisoned event): real `pointillist-mock` processes, or a
mock served in this test's loop where the test must break something inside it (a full disk,
a bug in the in-memory apply)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from mockserver.http.keys import SERVICE
from mockserver.record import snapshot
from mockserver.state.store import Prepared, Store
from tests.conftest import StartMock, make_event
from tests.helpers.mock_process import start_process
from tests.helpers.paths import ROOT

Process = asyncio.subprocess.Process


async def stop(process: Process) -> None:
    process.terminate()
    assert await process.wait() == 0


async def post(http: ClientSession, url: str, n: int, **fields: Any) -> tuple[int, Any]:
    async with http.post(f"{url}/event", json=make_event(labels={"n": str(n)}, **fields)) as r:
        return r.status, await r.json()


async def store(http: ClientSession, url: str, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        assert (await post(http, url, n))[0] == 202


async def listed(http: ClientSession, url: str) -> list[str]:
    async with http.get(f"{url}/_mock/events", params={"limit": 10_000}) as answer:
        return [e["event"]["labels"]["n"] for e in (await answer.json())["events"]]


async def health(http: ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(f"{url}/_mock/health") as answer:
        return answer.status, await answer.json()


def refusal(body: Mapping[str, Any]) -> tuple[str, str]:
    return body["error"]["code"], body["error"]["message"]


# -- the record removed or renamed away while serving --------------------------------------


@pytest.mark.parametrize("how", ["folder deleted", "renamed away"])
async def test_a_record_gone_from_its_path_refuses_writes_503_and_health_says_so(
    how: str, tmp_path: Path, http: ClientSession,
) -> None:
    folder = tmp_path / "records"
    db, log = folder / "events.record", tmp_path / "mock.stderr"
    folder.mkdir()
    process, url = await start_process(db, log)
    try:
        await store(http, url, 3)
        assert await health(http, url) == (200, {"status": "ok"})
        if how == "folder deleted":
            shutil.rmtree(folder)
            what = "was deleted (or its folder was)"
        else:
            db.rename(tmp_path / "moved.record")
            what = "was renamed or moved away"
        message = (f"the record {db} {what} while the mock served: writes are refused, as a "
                   "restart would not find them; restart the mock to start a record there")
        status, body = await post(http, url, 3)
        assert (status, refusal(body)) == (503, ("store_unavailable", message))
        assert body["error"]["details"] == {"record": str(db)}
        status, body = await health(http, url)
        assert (status, refusal(body)) == (503, ("store_unavailable", message))
        assert (await post(http, url, 4))[0] == 503  # and every later write
        assert await listed(http, url) == ["0", "1", "2"]  # reads go on
    finally:
        await stop(process)
    errors = [line for line in log.read_text().splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"the record {db} {what}; every write is now refused" in \
        errors[0], errors
    if how == "renamed away":  # what was acknowledged is in the file, and nothing else
        process, url = await start_process(tmp_path / "moved.record", log)
        try:
            assert await listed(http, url) == ["0", "1", "2"]
        finally:
            await stop(process)


# -- a symlinked --db ----------------------------------------------------------------------


async def test_a_symlinked_record_keeps_every_file_beside_its_target_and_its_lock(
    tmp_path: Path, http: ClientSession,
) -> None:
    real, links = tmp_path / "real", tmp_path / "links"
    real.mkdir()
    links.mkdir()
    target, link = real / "events.record", links / "events.record"
    link.symlink_to(target)
    target.touch()  # an empty file becomes a record
    log = tmp_path / "mock.stderr"
    process, url = await start_process(link, log, "--compact-bytes", "4096")
    try:
        await store(http, url, 200)
        second = subprocess.run(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--db", str(target)],
            capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        await stop(process)
    assert second.returncode != 0 and "is in use by another pointillist-mock" in second.stderr
    assert (link.is_symlink(), os.readlink(link)) == (True, str(target))
    assert sorted(p.name for p in links.iterdir()) == ["events.record"]
    snapshots = sorted(p.name for p in real.iterdir() if p.name != "events.record")
    assert len(snapshots) == 1 and snapshots[0].startswith("events.record.snapshot."), snapshots
    process, url = await start_process(link, log)
    try:
        assert await listed(http, url) == [str(n) for n in range(200)]
    finally:
        await stop(process)


def test_a_dangling_symlink_is_refused_in_one_line(tmp_path: Path) -> None:
    link = tmp_path / "events.record"
    link.symlink_to(tmp_path / "nowhere" / "events.record")
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--db", str(link)],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"{link} is a symbolic link to {tmp_path / 'nowhere' / 'events.record'}, which does "
        "not exist; create the file, or pass its real path"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.record"]  # nothing created


# -- a compaction that fails ---------------------------------------------------------------


async def test_a_compaction_that_fails_removes_its_temporary_snapshot_at_once(
    start_mock: StartMock, apps: list[web.Application], http: ClientSession, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    written = snapshot._Writer.put

    def disk_full(self: snapshot._Writer, text: str) -> None:
        written(self, text)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(snapshot._Writer, "put", disk_full)
    db = tmp_path / "events.record"
    with caplog.at_level(logging.WARNING, "mockserver.compaction"):
        async with start_mock(db=str(db), compact_min_bytes=4096) as url:
            await store(http, url, 60)
            compactor = apps[0][SERVICE].compactor
            assert compactor is not None
            await compactor.close()  # waits for the compaction the last writes started
            files = sorted(p.name for p in tmp_path.iterdir())
            assert await listed(http, url) == [str(n) for n in range(60)]
    assert files == ["events.record"]  # no events.record.snapshot.1.json.tmp left behind
    failures = [r.getMessage() for r in caplog.records if "compaction of" in r.getMessage()]
    assert failures and all("No space left on device" in m for m in failures), failures


# -- the in-memory apply fails after the entry is on disk -----------------------------------


async def test_an_apply_that_fails_after_the_entry_is_on_disk_says_so_and_logs_the_traceback(
    start_mock: StartMock, http: ClientSession, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    apply = Store.apply

    def poisoned(self: Store, prepared: Prepared) -> None:
        if any(doc["event"]["eventType"] == "Poison" for doc in prepared.docs):
            raise RuntimeError("a bug in Store.apply")
        apply(self, prepared)

    monkeypatch.setattr(Store, "apply", poisoned)
    db = tmp_path / "events.record"
    with caplog.at_level(logging.ERROR, "mockserver.journal"):
        async with start_mock(db=str(db)) as url:
            assert (await post(http, url, 0))[0] == 202
            status, body = await post(http, url, 1, eventType="Poison")
            assert (await post(http, url, 2))[0] == 202  # the mock goes on serving
    assert (status, refusal(body), body["error"]["details"]) == (503, (
        "store_unavailable",
        "the write is on disk (durable) but could not be applied in memory (RuntimeError('a "
        "bug in Store.apply')); it will be there after a restart of the mock"),
        {"durable": True})
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"pointillist-mock: an entry is on disk in {db} but applying it in memory failed; it "
        "will be there after a restart"]
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], RuntimeError)
    monkeypatch.undo()
    async with start_mock(db=str(db)) as url:
        assert await listed(http, url) == ["0", "1", "2"]
