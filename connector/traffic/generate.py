"""Seeded Segment traffic: the messages Segment's servers hand to a destination, as JSONL.

`generate(TrafficSpec(seed, users, days, start))` simulates ``users`` shoppers over ``days`` days:
anonymous browsing (page/screen calls, "Product Viewed", "Product Added") under an anonymousId, an
identify part-way through that links the userId to that anonymousId, repeat visits (sometimes on a
new device, i.e. a new anonymousId that a later identify links), orders ("Order Completed"), users
who never identify, and a few group/alias calls. Every message is written in the shape of one of
the two official server clients (``analytics-python`` 2.4.0 or ``@segment/analytics-node`` 3.1.0)
plus the fields Segment's servers add: ``originalTimestamp`` (the client's timestamp), ``sentAt``,
``receivedAt`` and the skew-corrected ``timestamp = receivedAt - (sentAt - originalTimestamp)``.

Reproducible: all randomness comes from one ``random.Random(seed)`` and per-locale Faker
instances seeded from the seed (``seed_instance``); no wall clock, no ``uuid4()``, no OS
randomness, stable key order, no float maths that goes through libm. Only Faker providers that
never read the clock are used (names, company, places, ipv4, domains); user agents come from
templates in catalog.py. The same arguments and the same Faker version give the same bytes.

The parts, each in its own module: spec.py (what is asked), catalog.py (the shop), people.py
(shoppers and devices), scenario.py (their visits), clients.py (the two client shapes),
timeline.py (integer time and its formats), randomness.py (the seeded draws).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .spec import DEFAULT_START, Message, TrafficSpec, parse_start

__all__ = ["DEFAULT_START", "Message", "TrafficSpec", "encode_jsonl", "generate", "parse_start"]


def generate(spec: TrafficSpec) -> list[Message]:
    """All messages of the scenario, sorted by ``timestamp``."""
    from .scenario import Scenario  # Faker (the demo extra): only when traffic is made

    return Scenario(spec).run()


def encode_jsonl(messages: Iterable[Message]) -> bytes:
    """One compact JSON object per line, UTF-8 (no ``\\u`` escapes), ``\\n`` line endings."""
    return "".join(
        json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        for message in messages
    ).encode("utf-8")
