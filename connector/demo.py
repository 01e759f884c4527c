"""`pointillist-mock demo` (`make demo`): the medium scenario, end to end, on a laptop.

The one place that composes both packages (DESIGN.md: "the one-shot demo command may compose
both"): a mock started in-process on a free port, fixtures/medium.jsonl (2,184 Segment messages
from 50 shoppers over 60 days) mapped and delivered by the connector pipeline, and then, for the
three users whose actors stitched the most anonymousIds (devices), what the mock's inspection
API shows: identifiers, profile labels and numbers, event count. mockserver imports this module
lazily, from its `demo` command only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, Final

from aiohttp import ClientSession

from mockserver.server import serving
from mockserver.settings import Settings

from .cli import summary_lines
from .config import DeliveryConfig
from .generate import TrafficSpec, generate
from .pipeline import Summary, send

TOKEN: Final = "demo-token"
FIXTURE: Final = Path(__file__).resolve().parents[1] / "fixtures" / "medium.jsonl"
# The command that wrote fixtures/medium.jsonl (fixtures/README.md): the same messages when the
# file is not there, e.g. in an installed wheel.
MEDIUM: Final = TrafficSpec(seed=7, users=50, days=60)
USERS_SHOWN: Final = 3


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _replay(url: str) -> Summary:
    config = DeliveryConfig(url=url, token=TOKEN)
    if FIXTURE.is_file():
        print(f"replaying {FIXTURE.parent.name}/{FIXTURE.name} through the connector")
        return await send(FIXTURE, config)
    print(f"replaying the medium scenario (seed {MEDIUM.seed}, {MEDIUM.users} users, "
          f"{MEDIUM.days} days) through the connector")
    return await send(generate(MEDIUM), config)


async def _get(http: ClientSession, url: str, **params: str | int) -> Any:
    async with http.get(url, params=params) as response:
        response.raise_for_status()
        return await response.json()


async def demo(wait: bool) -> list[dict[str, Any]]:
    """Run the demo; return the actors shown."""
    async with serving(Settings(port=0)) as url, ClientSession(headers={"apiToken": TOKEN}) as http:
        print(f"mock listening on {url}  (token: {TOKEN})\n")
        summary = await _replay(url)
        print("\n".join(summary_lines(summary)))

        stats = await _get(http, f"{url}/_mock/stats")
        print(f"\nGET /_mock/stats -> {stats['events']} events, {stats['actors']} actors "
              f"({stats['stitchedActors']} stitched), {stats['conflicts']} conflicts")

        listing = await _get(http, f"{url}/_mock/actors", limit=10_000)
        shown = []
        for user_id in _most_stitched(listing["actors"]):
            actor = await _get(http, f"{url}/_mock/actor", userId=user_id)
            anonymous = sum(1 for record in actor["events"]
                            if "userId" not in record["event"]["actors"]["Customer"])
            print(f"\nGET /_mock/actor?userId={user_id} -> the stitched actor")
            print(f"  identifiers: {_show(actor['identifiers'])}")
            print(f"  labels:      {_show(actor['labels'])}")
            print(f"  numbers:     {_show(actor['numbers'])}")
            print(f"  events:      {actor['eventCount']} ({anonymous} of them sent under an "
                  "anonymousId only)")
            shown.append(actor)
        if wait:
            print(f"\nserving until Ctrl-C; try: curl -s '{url}/_mock/stats' "
                  f"-H 'apiToken: {TOKEN}'", flush=True)
            await asyncio.Event().wait()
        return shown


def _most_stitched(actors: list[dict[str, Any]]) -> list[str]:
    """The userIds of the USERS_SHOWN actors with the most anonymousIds (devices); ties: more
    events first, then by userId (not by arrival, which concurrency makes vary)."""
    users = [actor for actor in actors if actor["userId"] is not None]
    users.sort(key=lambda actor: (-len(actor["identifiers"].get("anonymousId", [])),
                                  -actor["eventCount"], actor["userId"]))
    return [actor["userId"] for actor in users[:USERS_SHOWN]]


def run_demo(wait: bool) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(demo(wait))
    return 0
