"""compaction.py: a compaction that dies at any of its steps leaves a record that opens with
every acknowledged event, once; one that completes leaves a TinyDB snapshot and a short tail.

Each step's death is played by making the step's system call fail: the files are left exactly
as a SIGKILL at that point would leave them (the page cache survives a killed process), and
the record is then opened afresh, as the next process would. Kills of a real process under load
are tests/reliability/test_crash_safety.py's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

from mockserver.record import compaction, journal, snapshot
from mockserver.record.compaction import CompactionPolicy
from mockserver.record.opening import open_record
from mockserver.service.events import EventService
from mockserver.state.store import EventQuery, Prepared, Rejected, Store
from tests.unit.store_helpers import ev, items

A = "a" * 32
B = "b" * 32
NEVER_BYTES = 1 << 40  # a compaction threshold never reached: tests compact by hand


class Died(Exception):
    """A process killed at this point."""


async def write(service: EventService, tenant: str, first: int, count: int) -> None:
    for n in range(first, first + count):
        await service.write(tenant, items(ev("Order", "2026-11-28T10:00:00Z", userId=f"u{n}")),
                              key=f"k{n}")


def reopened(path: Path) -> Store:
    store = Store()
    opened, cut = open_record(path, store)
    assert cut == 0
    os.close(opened._fd)
    return store


def users(store: Store, tenant: str) -> list[str]:
    _, docs = store.events(tenant, EventQuery(limit=1000))
    return [d["event"]["actors"]["Customer"]["userId"] for d in docs]


def die_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    real_replace, real_remove, real_fsync_dir = os.replace, compaction._remove, snapshot.fsync_dir
    calls = {"replace": 0}

    def replace(source: Any, target: Any) -> None:
        calls["replace"] += 1
        if (step, calls["replace"]) in (("snapshot temp written", 1), ("journal renamed", 2)):
            raise Died(step)
        real_replace(source, target)

    def fsync_dir(directory: Path) -> None:
        if step in ("snapshot renamed", "after journal rename"):
            raise Died(step)
        real_fsync_dir(directory)

    def remove(path: Path) -> None:
        if step == "old snapshot removed":
            raise Died(step)
        real_remove(path)

    monkeypatch.setattr(os, "replace", replace)
    target = snapshot if step == "snapshot renamed" else journal
    monkeypatch.setattr(target, "fsync_dir", fsync_dir)
    monkeypatch.setattr(compaction, "_remove", remove)


STEPS = ["snapshot temp written", "snapshot renamed", "journal renamed", "after journal rename",
         "old snapshot removed", "none"]


@pytest.mark.parametrize("step", STEPS)
async def test_a_compaction_dying_at_any_step_leaves_every_acknowledged_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "events.record"
    service = EventService.open(path, 200, 0.0, NEVER_BYTES)
    assert service.compactor is not None
    await write(service, A, 0, 5)
    await service.compactor.compact()  # a first snapshot, generation 1
    await write(service, A, 5, 3)
    await service.reset(B)
    await write(service, B, 0, 2)
    die_at(monkeypatch, step)
    await service.compactor.compact()  # generation 2, or a death on the way
    monkeypatch.undo()
    await write(service, A, 8, 1)  # acknowledged after the compaction, whatever it did
    await service.close()

    store = reopened(path)
    assert users(store, A) == [f"u{n}" for n in range(9)]
    assert users(store, B) == ["u0", "u1"]
    assert store.stats(A)["duplicateIdempotencyKeys"] == 0
    # Keys survive too: a retry of k3 is a replay.
    again = store.prepare(A, items(ev("Order", "2026-11-28T10:00:00Z", userId="u3")), "t", "k3")
    assert again.ids == ["evt_0000000004"]  # type: ignore[union-attr]
    # Exactly the header's snapshot is left: leftovers are removed at start.
    names = sorted(p.name for p in tmp_path.iterdir())
    generation = 2 if step in ("after journal rename", "old snapshot removed", "none") else 1
    assert names == ["events.record", f"events.record.snapshot.{generation}.json"]


async def test_a_completed_compaction_leaves_a_tinydb_snapshot_and_a_short_tail(
    tmp_path: Path
) -> None:
    path = tmp_path / "events.record"
    service = EventService.open(path, 200, 0.0, NEVER_BYTES)
    assert service.compactor is not None
    await write(service, A, 0, 300)
    await service.compactor.compact()
    await write(service, A, 300, 2)
    await service.close()

    assert path.read_bytes().count(b"\n") == 3  # the header and the two records since
    with TinyDB(tmp_path / "events.record.snapshot.1.json") as db:
        assert db.tables() == {"_pointillist", f"events:{A}", f"keys:{A}"}
        events = db.table(f"events:{A}").all()
        assert [d.doc_id for d in events] == list(range(1, 301))
        assert events[0]["event"]["actors"] == {"Customer": {"userId": "u0"}}
        assert db.table("_pointillist").get(doc_id=2) == {"tenant": A, "nextSeq": 301}
        assert db.table(f"keys:{A}").get(doc_id=1)["ids"] == ["evt_0000000001"]  # type: ignore[index]
    assert users(reopened(path), A) == [f"u{n}" for n in range(302)]


def test_a_policy_compacts_a_growing_tail_and_dead_data_after_a_reset_only() -> None:
    policy = CompactionPolicy(min_bytes=100)
    assert not policy.due(snapshot=1000, tail=499, live=1500, reset=False)
    assert policy.due(snapshot=1000, tail=500, live=1500, reset=False)
    assert not policy.due(snapshot=0, tail=99, live=0, reset=True)
    assert policy.due(snapshot=1000, tail=0, live=0, reset=True)
    assert not policy.due(snapshot=1000, tail=0, live=0, reset=False)  # nothing new to drop
    assert not policy.due(snapshot=1000, tail=200, live=600, reset=True)


def refused(at: str) -> Rejected:
    return Rejected(at, "POST", "/event", 400, "invalid_payload", "no", [], "{}")


async def test_a_restart_from_a_snapshot_rebuilds_the_timeline_stitching_and_no_strays(
    tmp_path: Path
) -> None:
    """What the snapshot holds is events, keys and next ids; a restart rebuilds each tenant's
    eventTime order and identity graph from the events (linearly, as apply does), and starts
    with no refusals: those are never written, so a token refused before the restart still has
    no tenant after it."""
    path = tmp_path / "events.record"
    service = EventService.open(path, 200, 0.0, NEVER_BYTES)
    assert service.compactor is not None
    service.reject(B, refused("2026-11-28T09:00:00.000Z"))  # B: refused only, a stray
    times = ["2026-11-28T10:00:03Z", "2026-11-28T10:00:01Z", "2026-11-28T10:00:02Z"]
    for n, at in enumerate(times):  # out of time order
        await service.write(A, items(ev("Page", at, anonymousId=f"anon{n}")), key=None)
    await service.write(A, items(ev("identify", "2026-11-28T10:00:04Z", userId="u1",
                                      anonymousId="anon0")), key=None)
    await service.compactor.compact()
    await service.write(A, items(ev("identify", "2026-11-28T10:00:00Z", userId="u1",
                                      anonymousId="anon1")), key=None)  # in the tail
    await service.close()
    assert list(tmp_path.glob("events.record.snapshot.*.json"))

    store = reopened(path)
    assert (store.tenant_count(), store.tenants()) == (1, [A])
    window = EventQuery(since="2026-11-28T10:00:01.000Z", until="2026-11-28T10:00:03.000Z")
    assert store.count(A, window) == 3
    assert store.decoded() == 0  # counted through the rebuilt eventTime order
    _, docs = store.events(A, window)
    assert [d["id"] for d in docs] == ["evt_0000000001", "evt_0000000002", "evt_0000000003"]
    _, oldest = store.events(A, EventQuery(until="2026-11-28T10:00:00.000Z"))
    assert [d["id"] for d in oldest] == ["evt_0000000005"]
    actor = store.actor(A, ("Customer", "userId", "u1"))
    assert actor["eventCount"] == 4  # anon0's and anon1's pages joined u1, anon2 apart
    assert store.merges(A) == 2 and store.stats(A)["stitchedActors"] == 1
    # B's refusal was not kept across the restart, and B still has no tenant.
    assert store.rejected(B) == [] and store.stats(B)["rejected"] == 0
    store.reject(B, refused("2026-11-28T11:00:00.000Z"))
    assert store.tenant_count() == 1 and store.stats(B)["rejected"] == 1
    prepared = store.prepare(B, items(ev("Page", "2026-11-28T11:00:01Z", anonymousId="x")), "t")
    assert isinstance(prepared, Prepared)
    store.settle(prepared)
    store.apply(prepared)
    assert store.tenant_count() == 2
    assert [r["at"] for r in store.rejected(B)] == ["2026-11-28T11:00:00.000Z"]
