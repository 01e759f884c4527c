"""The one seeded source of everything random in a traffic run: numbers, ids and Faker data.

All of it comes from one ``random.Random(seed)`` and per-locale Faker instances seeded from the
seed, so a run never touches the wall clock, ``uuid4()`` or OS randomness.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from faker import Faker

from .catalog import Locale


class Draws:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        self.seen_ids: set[str] = set()

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def unique(self, make: Callable[[], str]) -> str:
        """``make()`` until it gives an id not given before in this run."""
        while True:
            value = make()
            if value not in self.seen_ids:
                self.seen_ids.add(value)
                return value

    def faker(self, locale: Locale) -> Faker:
        fake = self.fakers.get(locale.faker)
        if fake is None:
            fake = Faker(locale.faker)
            # A string seed goes through SHA-512 in random.seed: independent of hash seeds
            # and of the order in which locales are first used.
            fake.seed_instance(f"{self.seed}/{locale.faker}")
            self.fakers[locale.faker] = fake
        return fake
