"""A restart from a snapshot reads each event's `_index` instead of decoding the event
(doc_index.py): the state it builds is exactly the one the events built as they were stored,
and the one a version 1 snapshot (no `_index`, every event decoded) and the journal build."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

from mockserver.record.format import SnapshotRef
from mockserver.record.snapshot import _Loader, read_snapshot, write_snapshot
from mockserver.state import documents as doc_index
from mockserver.state.store import Prepared, Store
from mockserver.state.timeline import HIGHEST, LOWEST
from tests.unit.store_helpers import RECEIVED, ev, items

TENANTS = ("tenant-a", "tenant-b", "tenant-c")


def _event(tenant: int, n: int) -> dict[str, Any]:
    """A mixed history: anonymous visits stitched by identifies, users seen only by userId,
    conflicting identifies (a second userId on a stitched anonymousId), identify profiles,
    two actor types on one event, and eventTimes out of order."""
    user, anon = f"u{n % 7}", f"a{n % 11}"
    time = f"2026-{1 + (n * 5) % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z"
    kind = (n // 3) % 6  # every kind in every tenant
    if kind == 0:
        return ev("Product Viewed", time, anonymousId=anon)
    if kind == 1:
        return ev("identify", time, {"plan": f"p{n % 3}", "email": f"{user}@x"}, None,
                  userId=user, anonymousId=anon)
    if kind == 2:
        return ev("Order Completed", time, None, {"revenue": n / 4}, userId=user)
    if kind == 3:
        event = ev("Checkout Started", time, anonymousId=anon)
        event["actors"]["Account"] = {"accountId": f"acct{tenant}-{n % 3}"}
        return event
    if kind == 4:  # another user on the same anonymousId: a conflict, once stitched
        return ev("identify", time, {"plan": "x"}, None, userId=f"u{(n + 1) % 7}",
                  anonymousId=anon)
    return ev("Product Added", time, {"sku": f"s{n}"}, None, userId=user, deviceId=f"d{n}")


def _live() -> tuple[Store, list[dict[str, Any]]]:
    """The store as it was written, one event at a time (keys on some), and its journal."""
    store, journal = Store(), []
    for n in range(900):
        tenant = n % len(TENANTS)
        key = f"k{n}" if n % 4 == 0 else None
        outcome = store.prepare(TENANTS[tenant], items(_event(tenant, n)), RECEIVED, key)
        assert isinstance(outcome, Prepared)
        store.settle(outcome)
        store.apply(outcome)
        journal.append(json.loads(json.dumps(outcome.entry())))
        if n == 450:  # a reset: its tenant starts again, its ids go on
            store.reset(TENANTS[1])
            journal.append({"op": "reset", "t": TENANTS[1]})
    return store, journal


def _state(store: Store) -> dict[str, Any]:
    """Everything a restart rebuilds, per tenant, in comparable form."""
    out: dict[str, Any] = {"next": dict(store._next_seq), "live": store.live_bytes}
    for name in sorted(store.tenants()):
        state = store.tenant(name)
        graph = state.graph
        nodes = sorted(graph._parent)
        out[name] = {
            "seqs": list(state.seqs),
            "texts": [state.doc_text(seq) for seq in state.seqs],
            "docs": [state.doc(seq) for seq in state.seqs],
            "byType": {t: list(s) for t, s in sorted(state.by_type.items())},
            "times": [state.timeline.time_of(seq) for seq in state.seqs],
            "timeline": state.timeline.between(LOWEST, HIGHEST),
            "order": list(state.timeline._sorted),
            "actors": [(s.actor_type, s.user_id, list(s.members), s.event_count)
                       for s in graph.page(0, 10**6)],
            "nodes": [(node, graph.actor_of(node)) for node in nodes],
            "events": {node: list(seqs) for node, seqs in graph._events.items()},
            "merges": graph.merges,
            "conflicts": store.conflicts(name),
            "keys": dict(state.idempotency),
            "stats": store.stats(name),
        }
    return out


def _snapshot(store: Store, path: Path) -> SnapshotRef:
    return write_snapshot(path, store.capture(), 1)


def _loaded(path: Path, ref: SnapshotRef) -> Store:
    store = Store()
    read_snapshot(path, ref, store)
    return store


def test_the_index_builds_what_storing_built(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the batch path alone (snapshot._Loader._bulk): no document read one by one."""
    def refused(*_: object) -> None:
        raise AssertionError("a document was read one by one")

    monkeypatch.setattr(_Loader, "_one_by_one", refused)
    live, _ = _live()
    assert live.conflicts(TENANTS[0]) and live.graph(TENANTS[0]).stitched_count()
    path = tmp_path / "snapshot.json"
    restarted = _loaded(path, _snapshot(live, path))
    assert _state(restarted) == _state(live)
    # Each document starts with its `_index`, and TinyDB reads the snapshot all the same.
    with TinyDB(path) as db:
        doc = db.table("events:" + TENANTS[0]).get(doc_id=1)
    assert doc is not None and doc[doc_index.KEY][0] == 1 and doc["id"] == "evt_0000000001"


def test_a_version_1_snapshot_builds_the_same(tmp_path: Path) -> None:
    """Documents without `_index` (as version 1 wrote them) are decoded whole, and given their
    `_index` from then on: the state is the same, texts included."""
    live, _ = _live()
    path = tmp_path / "snapshot.json"
    _snapshot(live, path)
    old = path.read_text().replace('"version":2', '"version":1')
    lines = []
    for line in old.splitlines(keepends=True):
        start = line.find('{"_index":')
        if start >= 0:
            line = line[:start] + "{" + line[line.index(',"seq":') + 1:]
        lines.append(line)
    path.write_text("".join(lines))
    assert '"_index"' not in path.read_text()
    data = path.read_bytes()
    ref = SnapshotRef(path.name, len(data), zlib.crc32(data))
    assert _state(_loaded(path, ref)) == _state(live)


def test_types_the_batch_reader_leaves_to_one_by_one(tmp_path: Path) -> None:
    """Event types holding what the batch reader cuts at (`,[[`) or escapes: those batches are
    read one by one, and the state is still the one storing built."""
    store = Store()
    for n, event_type in enumerate(('a,[["b', 'q\\",[["r', "plain", 'x"y')):
        event = ev(event_type, f"2026-01-0{n + 1}T00:00:00.000Z", userId=f"u{n}",
                   anonymousId="a")
        outcome = store.prepare(TENANTS[0], items(event), RECEIVED, None)
        assert isinstance(outcome, Prepared)
        store.settle(outcome)
        store.apply(outcome)
    bodies = [store.tenant(TENANTS[0]).doc_text(seq).encode() for seq in (1, 2, 3, 4)]
    assert doc_index.from_bodies(bodies[2:3], {}) is not None
    for body in bodies[:2] + bodies[3:]:
        assert doc_index.from_bodies([body], {}) is None
    path = tmp_path / "snapshot.json"
    assert _state(_loaded(path, _snapshot(store, path))) == _state(store)


def test_the_journal_builds_the_same() -> None:
    live, journal = _live()
    replayed = Store()
    for record in journal:
        replayed.replay(record)
    assert _state(replayed) == _state(live)


def test_the_graph_shortcut_leaves_the_general_paths_state() -> None:
    """observe_groups' inline case against _observe_type alone, event by event."""
    live, journal = _live()
    for name in TENANTS:
        reference = type(live.graph(name))()
        seen = 0
        for record in journal:
            if record["op"] == "reset" and record["t"] == name:
                reference, seen = type(reference)(), 0
            if record["op"] != "add" or record["t"] != name:
                continue
            for doc in record["docs"]:
                for actor_type, ids in doc["event"]["actors"].items():
                    reference._observe_type(doc["seq"], actor_type,
                                            [(actor_type, k, v) for k, v in ids.items()])
                seen += 1
        graph = live.graph(name)
        assert seen and reference._components.keys() == graph._components.keys()
        assert {n: graph.actor_of(n) for n in graph._parent} == {
            n: reference.actor_of(n) for n in reference._parent}
        assert [vars(s) for s in graph.page(0, 10**6)] == [
            vars(s) for s in reference.page(0, 10**6)]
