"""The record on disk, tried as a user would, with real `pointillist-mock` processes: one owner
per record, anything not ours refused and left byte-identical, damage told apart from a torn
tail, verify and repair, compaction after a reset, and a tenant exported to TinyDB."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from tinydb import Query, TinyDB

from mockserver.record.format import Header
from tests.conftest import make_event
from tests.helpers.mock_process import start_process

REPO = Path(__file__).resolve().parents[2]
Process = asyncio.subprocess.Process


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO)


async def stop(process: Process) -> None:
    process.terminate()
    assert await process.wait() == 0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Process, str, Path]]:
    db = tmp_path / "events.record"
    process, url = await start_process(db, tmp_path / "mock.stderr")
    yield process, url, db
    if process.returncode is None:
        await stop(process)


async def store(http: ClientSession, url: str, count: int, first: int = 0) -> list[str]:
    ids = []
    for n in range(first, first + count):
        async with http.post(f"{url}/event", json=make_event(labels={"n": str(n)})) as answer:
            assert answer.status == 202
            ids.append((await answer.json())["id"])
    return ids


async def listed(http: ClientSession, url: str) -> list[str]:
    async with http.get(f"{url}/_mock/events", params={"limit": 10_000}) as answer:
        return [e["event"]["labels"]["n"] for e in (await answer.json())["events"]]


# -- one owner ------------------------------------------------------------------------------


async def test_a_second_mock_on_the_same_record_exits_at_once_naming_the_holder(
    served: tuple[Process, str, Path], http: ClientSession
) -> None:
    process, url, db = served
    await store(http, url, 2)
    before = db.read_bytes()

    second = cli("serve", "--port", "0", "--db", str(db))
    assert (second.returncode, second.stdout) == (1, "")
    assert second.stderr == (
        f"pointillist-mock: {db} is in use by another pointillist-mock (pid {process.pid}); one "
        "process per record: stop it, or pass another --db\n")
    assert db.read_bytes() == before  # the second changed nothing
    await store(http, url, 1, first=2)  # the first keeps serving
    assert await listed(http, url) == ["0", "1", "2"]


# -- refuse what is not ours ------------------------------------------------------------------

FOREIGN = {
    "a saved answer": b'{"total": 1, "events": [{"id": "evt_0000000001"}]}',
    "segment messages": b'{"type": "track", "event": "A"}\n{"type": "identify"}\n',
    "binary": bytes(range(256)),
    "an old journal": b'{"op":"reset","t":"0123456789abcdef0123456789abcdef"}\n',
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_file_that_is_not_a_record_is_refused_and_left_byte_identical(
    tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "events.json"
    db.write_bytes(FOREIGN[kind])
    result = cli("serve", "--port", "0", "--db", str(db))
    assert (result.returncode, result.stdout) == (1, "")
    prefix = FOREIGN[kind][:24]
    assert result.stderr == (
        f"pointillist-mock: {db} is not a pointillist-mock record (it starts with {prefix!r}); "
        "pass a new or empty path, or a record pointillist-mock wrote\n")
    assert db.read_bytes() == FOREIGN[kind]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.json"]  # nothing beside it


def test_a_directory_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_bytes(b"mine")
    result = cli("serve", "--port", "0", "--db", str(tmp_path / "data"))
    # A usage error, found before anything is opened (httpkit.arguments.store_path).
    assert (result.returncode, result.stderr) == (2, (
        f"pointillist-mock serve: error: argument --db: {tmp_path / 'data'} is a directory; "
        "name a file in it; see pointillist-mock serve --help\n"))
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["keep.txt"]
    assert (tmp_path / "data" / "keep.txt").read_bytes() == b"mine"


async def test_a_read_only_record_is_refused_and_left_byte_identical(
    served: tuple[Process, str, Path], http: ClientSession
) -> None:
    process, url, db = served
    await store(http, url, 1)
    await stop(process)
    before = db.read_bytes()
    db.chmod(0o444)
    result = cli("serve", "--port", "0", "--db", str(db))
    # A usage error, found before anything is opened (mockserver.__main__.record_path).
    assert (result.returncode, result.stderr) == (2, (
        f"pointillist-mock serve: error: argument --db: {db} is read-only; the mock needs to "
        "append to its record; see pointillist-mock serve --help\n"))
    assert db.read_bytes() == before and stat.S_IMODE(db.stat().st_mode) == 0o444


def test_an_unreadable_file_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    db = tmp_path / "secret"
    db.write_bytes(b"private")
    db.chmod(0o000)
    # Root reads every file through its DAC capabilities (and CI runs as root): the command runs
    # without them, so the permission bits bind it as they bind any user.
    without_override = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
                        if os.geteuid() == 0 else [])
    result = subprocess.run(
        [*without_override, sys.executable, "-m", "mockserver", "serve", "--port", "0",
         "--db", str(db)], capture_output=True, text=True, timeout=60, cwd=REPO)
    # A usage error, found before anything is opened (httpkit.arguments.store_path).
    assert (result.returncode, result.stderr) == (2, (
        f"pointillist-mock serve: error: argument --db: {db} is not readable and writable; "
        "see pointillist-mock serve --help\n"))
    db.chmod(0o600)
    assert db.read_bytes() == b"private"


@pytest.mark.parametrize("content", [None, b""])
async def test_a_missing_or_empty_path_becomes_a_record(
    tmp_path: Path, http: ClientSession, content: bytes | None
) -> None:
    # In a folder that exists: a missing folder is a usage error (test_cli_front_door.py).
    db = tmp_path / "events.record"
    if content is not None:
        db.write_bytes(content)
    process, url = await start_process(db, tmp_path / "mock.stderr")
    try:
        assert db.read_bytes() == Header().line()
        await store(http, url, 1)
    finally:
        await stop(process)


# -- damage --------------------------------------------------------------------------------


async def filled(tmp_path: Path, http: ClientSession, count: int) -> tuple[Path, list[bytes]]:
    """A record of `count` one-event records, its mock stopped; returns it and its lines."""
    db = tmp_path / "events.record"
    process, url = await start_process(db, tmp_path / "mock.stderr")
    try:
        await store(http, url, count)
    finally:
        await stop(process)
    return db, db.read_bytes().splitlines(keepends=True)


async def test_a_torn_tail_is_cut_and_the_start_line_says_how_many_bytes(
    tmp_path: Path, http: ClientSession
) -> None:
    db, lines = await filled(tmp_path, http, 3)
    torn = lines[3][: len(lines[3]) // 2]
    db.write_bytes(b"".join(lines[:3]) + torn)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mockserver", "serve", "--port", "0", "--db", str(db),
        stdout=asyncio.subprocess.PIPE, cwd=REPO)
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    try:
        found = re.fullmatch(
            r"pointillist-mock listening on (http://127\.0\.0\.1:\d+) \(store: (.*); tokens: "
            r"any token\)\n", line)
        assert found, line
        assert found.group(2) == (
            f"{db}, cut {len(torn)} bytes of an incomplete final record (a write a crash "
            "interrupted, never acknowledged)")
        assert await listed(http, found.group(1)) == ["0", "1"]
    finally:
        await stop(process)
    assert db.read_bytes().startswith(b"".join(lines[:3]))


@pytest.mark.parametrize("where", ["middle", "last complete"])
async def test_a_damaged_complete_record_refuses_with_its_offset_and_number(
    tmp_path: Path, http: ClientSession, where: str
) -> None:
    db, lines = await filled(tmp_path, http, 4)
    number = 3 if where == "middle" else 5  # the header is record 1
    lines[number - 1] = lines[number - 1].replace(b'"n":"', b'"n":"9')  # one byte more
    damaged = b"".join(lines)
    db.write_bytes(damaged)
    offset = len(b"".join(lines[: number - 1]))

    result = cli("serve", "--port", "0", "--db", str(db))
    assert (result.returncode, result.stderr) == (1, (
        f"pointillist-mock: {db} is damaged at record {number} (byte offset {offset}): its "
        "checksum does not match; it was not written by a crash (only an incomplete final "
        "record can be); `pointillist-mock verify` tells more, `pointillist-mock repair` keeps "
        "what comes before it\n"))
    assert db.read_bytes() == damaged

    verify = cli("verify", "--db", str(db))
    dropped = 5 - number + 1
    assert (verify.returncode, verify.stderr.splitlines()[1:]) == (1, [
        f"`pointillist-mock repair` would keep the first {offset} bytes and drop {dropped} "
        f"records from there (1 unreadable), holding at least {dropped - 1} events"])

    repair = cli("repair", "--db", str(db))
    backup = db.with_name(db.name + ".backup")
    assert (repair.returncode, repair.stdout) == (0, (
        f"repaired {db}: kept the first {offset} bytes (records 1 to {number - 1}); dropped "
        f"{dropped - 1} events in {dropped} records (1 of them unreadable, their events not "
        f"counted); the record as it was is at {backup}\n"))
    assert backup.read_bytes() == damaged
    assert db.read_bytes() == b"".join(lines[: number - 1])
    assert cli("verify", "--db", str(db)).stdout.splitlines() == [
        f"{db}: a pointillist-mock record, generation 0: ok",
        f"journal: {number - 2} records after the header, checksums ok",
        f"events: {number - 2} stored, in 1 tenants"]


async def test_a_file_cut_short_opens_with_what_is_whole_and_says_what_it_cut(
    tmp_path: Path, http: ClientSession
) -> None:
    """A cut inside a record cannot be told from a crash mid-write by its bytes: the start line
    and `verify` say how much was cut; verify, repair and serve agree."""
    db, lines = await filled(tmp_path, http, 4)
    whole = b"".join(lines)
    cut = whole[: len(whole) // 2]
    db.write_bytes(cut)
    kept = len(cut.rsplit(b"\n", 1)[0]) + 1
    verify = cli("verify", "--db", str(db))
    assert verify.returncode == 0
    assert verify.stdout.splitlines()[-1] == (
        f"an incomplete final record of {len(cut) - kept} bytes (a write a crash interrupted, "
        "never acknowledged) is cut at the next start")
    assert db.read_bytes() == cut  # verify changes nothing
    repair = cli("repair", "--db", str(db))
    assert repair.stdout == (
        f"repaired {db}: cut an incomplete final record of {len(cut) - kept} bytes (never "
        f"acknowledged); dropped 0 events; the record as it was is at {db}.backup\n")
    assert db.read_bytes() == cut[:kept]


# -- compaction and export -------------------------------------------------------------------


async def test_after_a_reset_compaction_shrinks_the_record_and_a_restart_loads_the_snapshot(
    tmp_path: Path, http: ClientSession, token: str
) -> None:
    db = tmp_path / "events.record"
    log = tmp_path / "mock.stderr"
    process, url = await start_process(db, log, "--compact-bytes", "4096")
    try:
        await store(http, url, 60)
        grown = db.stat().st_size + sum(
            p.stat().st_size for p in tmp_path.glob("events.record.snapshot.*"))
        async with http.post(f"{url}/_mock/reset") as answer:
            assert answer.status == 200
        await store(http, url, 2, first=100)
    finally:
        await stop(process)
    snapshots = sorted(tmp_path.glob("events.record.snapshot.*.json"))
    assert len(snapshots) == 1  # the latest; older ones were removed
    size = db.stat().st_size + snapshots[0].stat().st_size
    assert grown > 20_000 and size < 4096, (grown, size)
    # The snapshot is a TinyDB database: one table per tenant.
    with TinyDB(snapshots[0]) as snapshot:
        assert "_pointillist" in snapshot.tables()

    process, url = await start_process(db, log, "--compact-bytes", "4096")
    try:
        assert await listed(http, url) == ["100", "101"]
        assert await store(http, url, 1, first=102) == ["evt_0000000063"]
    finally:
        await stop(process)


async def test_export_while_serving_writes_a_file_tinydb_reads_as_the_events_list(
    tmp_path: Path, http: ClientSession, token: str
) -> None:
    db = tmp_path / "events.record"
    process, url = await start_process(db, tmp_path / "mock.stderr", "--compact-bytes", "4096")
    out = tmp_path / "export.json"
    try:
        await store(http, url, 40)  # enough for a snapshot and a tail
        async with ClientSession(headers={"apiToken": "someone-else"}) as other:
            await store(other, url, 3)
        assert list(tmp_path.glob("events.record.snapshot.*.json"))
        result = cli("export", "--db", str(db), "--token", token, "--out", str(out))
        assert (result.returncode, result.stdout) == (
            0, f"exported 40 events to {out} (open it with tinydb.TinyDB)\n")
        async with http.get(f"{url}/_mock/events", params={"limit": 100}) as answer:
            expected = (await answer.json())["events"]
    finally:
        await stop(process)
    with TinyDB(out) as exported:
        assert exported.all() == expected
        assert [d.doc_id for d in exported.all()] == list(range(1, 41))
        found = exported.search(Query().event.labels.n == "7")
        assert [d["id"] for d in found] == ["evt_0000000008"]
    again = cli("export", "--db", str(db), "--token", token, "--out", str(out))
    assert (again.returncode, again.stderr) == (
        1, f"{out} exists; export writes a new file only\n")


async def test_export_of_a_token_never_seen_names_the_tenants_and_fails(
    tmp_path: Path, http: ClientSession, token: str
) -> None:
    import hashlib

    db = tmp_path / "events.record"
    process, url = await start_process(db, tmp_path / "mock.stderr")
    try:
        await store(http, url, 2)
        async with ClientSession(headers={"apiToken": "someone-else"}) as other:
            await store(other, url, 3)
    finally:
        await stop(process)
    out = tmp_path / "export.json"
    result = cli("export", "--db", str(db), "--token", "typo", "--out", str(out))
    mine = hashlib.sha256(token.encode()).hexdigest()[:12]
    other_digest = hashlib.sha256(b"someone-else").hexdigest()[:12]
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"{db} holds no tenant for this token: the mock never accepted an event with it",
        f"its 2 tenant(s), by the sha256 of their token: {other_digest} (3 events), "
        f"{mine} (2 events)",
        "a token's digest: printf %s TOKEN | sha256sum | cut -c1-12"]
    assert "typo" not in result.stderr
    assert not out.exists()
    digest = subprocess.run(["bash", "-c", f"printf %s {token} | sha256sum | cut -c1-12"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert digest == mine  # the hint finds the user's tenant
