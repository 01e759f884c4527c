"""Resets are atomic with respect to concurrent keyed writes: after any interleaving of
Idempotency-Keyed writes and `POST /_mock/reset` on one tenant of a durable mock, a key whose
event is visible is remembered (its retry is a replay), and a key that is forgotten has no
visible event (its retry stores it anew); nothing is ever stored twice under one key."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from tests.conftest import make_event
from tests.helpers.mock_process import start_process

ROUNDS = 12
KEYS = 40  # keyed writes per round, with RESETS resets among them
RESETS = 4
SEED = 20261206
LANES = 8  # clients, each sending its share of the writes and resets one after another


async def test_keyed_writes_racing_resets_never_store_a_key_twice(
    http: ClientSession, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    forgotten_total = remembered_total = 0
    # A mock of its own process, so that requests really interleave inside it.
    process, url = await start_process(tmp_path / "events.record", tmp_path / "mock.stderr")
    try:

        async def write(key: str) -> tuple[int, dict[str, Any]]:
            async with http.post(f"{url}/event", json=make_event(labels={"key": key}),
                                 headers={"Idempotency-Key": key}) as answer:
                return answer.status, await answer.json()

        async def reset() -> None:
            async with http.post(f"{url}/_mock/reset") as answer:
                assert answer.status == 200

        for round_ in range(ROUNDS):
            keys = [f"r{round_}-k{n}" for n in range(KEYS)]
            ops: list[str | None] = [*keys, *[None] * RESETS]  # None: a reset
            rng.shuffle(ops)

            async def lane(mine: list[str | None]) -> None:  # one client's requests in turn
                for op in mine:
                    await (reset() if op is None else write(op))

            await asyncio.gather(*(lane(ops[n::LANES]) for n in range(LANES)))

            async with http.get(f"{url}/_mock/events", params={"limit": 10_000}) as answer:
                visible = {e["event"]["labels"]["key"]: e["id"]
                           for e in (await answer.json())["events"]}
            for key in keys:
                status, body = await write(key)  # a client's retry
                if key in visible:  # remembered, with the very event that is visible
                    assert (status, body) == (200, {"id": visible[key], "duplicate": True}), key
                    remembered_total += 1
                else:  # forgotten together with its event: stored anew
                    assert (status, body["duplicate"]) == (202, False), key
                    forgotten_total += 1
            async with http.get(f"{url}/_mock/stats") as answer:
                stats = await answer.json()
            assert stats["duplicateIdempotencyKeys"] == 0
            async with http.get(f"{url}/_mock/events", params={"limit": 10_000}) as answer:
                listed = [e["event"]["labels"]["key"] for e in (await answer.json())["events"]]
            assert len(listed) == len(set(listed))  # no key's event twice
            await reset()
    finally:
        process.terminate()
        assert await process.wait() == 0
    # Both outcomes happened: the resets really did land among the writes.
    assert forgotten_total > 0 and remembered_total > 0, (forgotten_total, remembered_total)
    print(f"keys remembered: {remembered_total}; forgotten with their events: {forgotten_total}")
