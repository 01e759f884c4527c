"""Properties of the Engage simulator (connector/engage.py) over random order histories and
random sync times, checked against the definitions computed directly at each sync time.

1. Without stitching: for every user and definition (an audience "at least N orders within D
   days", a count and a sum over D' days), the sequence of emitted values equals the changes of
   the value computed straight from the definition over the orders observed before each sync
   (from false / 0). Orders are observed in a random interleaving with the syncs (some late,
   some before their time), some twice (a retry with the same messageId); sync times repeat and
   often fall exactly D days after an order.
2. With stitching: users order as guests (anonymousId), logged in, or both, and identify at
   random moments. After every sync, for every stitched user, the latest value emitted under
   any of its identifiers (what a destination that stitches shows) equals the definition's
   value over every order of its identifiers observed so far, and each sync emits at most one
   message per user and definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.engage.simulator import EngageSimulator, parse_definitions

D0 = datetime(2026, 1, 1, tzinfo=UTC)
HOURS = 24 * 120
ORDER = "Order Completed"
PROFILE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Order:
    hour: int
    revenue: float
    message_id: str
    user_id: str | None
    anonymous_id: str | None

    @property
    def at(self) -> datetime:
        return D0 + timedelta(hours=self.hour)

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "track", "event": ORDER, "messageId": self.message_id,
            "timestamp": self.at.isoformat(), "properties": {"revenue": self.revenue}}
        if self.user_id is not None:
            message["userId"] = self.user_id
        if self.anonymous_id is not None:
            message["anonymousId"] = self.anonymous_id
        return message


@dataclass(frozen=True)
class Params:
    audience_days: int
    min_count: int
    trait_days: int

    def definitions(self) -> dict[str, Any]:
        return {
            "audiences": [{"name": "Buyers", "event": ORDER, "within_days": self.audience_days,
                           "min_count": self.min_count}],
            "computed_traits": [
                {"name": "Orders", "event": ORDER, "within_days": self.trait_days},
                {"name": "Revenue", "event": ORDER, "within_days": self.trait_days,
                 "aggregate": "sum", "property": "revenue"},
            ],
        }

    def values(self, orders: Iterable[Order], hour: int) -> dict[str, Any]:
        """The definitions computed directly at `hour`: now - D days < order <= now."""
        orders = list(orders)
        in_audience = [o for o in orders if hour - 24 * self.audience_days < o.hour <= hour]
        in_trait = [o for o in orders if hour - 24 * self.trait_days < o.hour <= hour]
        revenue = sum(o.revenue for o in in_trait)
        return {"buyers": len(in_audience) >= self.min_count, "orders": len(in_trait),
                "revenue": revenue}


ZERO = {"buyers": False, "orders": 0, "revenue": 0}

params = st.builds(Params, audience_days=st.integers(1, 40), min_count=st.integers(1, 3),
                   trait_days=st.integers(1, 60))
revenues = st.sampled_from([0, 1, 2, 10, 0.25, 0.5, 12.75, 100])  # exact in binary


@st.composite
def plans(draw: st.DrawFn, stitching: bool) -> tuple[Params, list[Any], list[int]]:
    """(params, a random interleaving of messages and sync hours as ("sync", hour), the
    sync hours)."""
    p = draw(params)
    users = draw(st.integers(1, 5))
    messages: list[Any] = []
    order_hours: list[int] = []
    for u in range(users):
        anonymous = [f"a{u}_{k}" for k in range(draw(st.integers(1, 2)))] if stitching else []
        for n in range(draw(st.integers(0, 7))):
            hour = draw(st.integers(0, HOURS))
            order_hours.append(hour)
            if stitching:
                kind = draw(st.sampled_from(["user", "guest", "both"]))
                anon = draw(st.sampled_from(anonymous))
                order = Order(hour, draw(revenues), f"o{u}_{n}",
                              None if kind == "guest" else f"u{u}",
                              None if kind == "user" else anon)
            else:
                order = Order(hour, draw(revenues), f"o{u}_{n}", f"u{u}", None)
            messages.append(order)
            if draw(st.booleans()) and draw(st.booleans()):
                messages.append(order)  # delivered twice: the same messageId
        for anon in anonymous:
            if draw(st.booleans()):
                messages.append(("identify", f"u{u}", anon, draw(st.integers(0, HOURS))))
    boundary = st.tuples(  # a sync exactly D days after an order
        st.sampled_from(order_hours), st.sampled_from([p.audience_days, p.trait_days]),
    ).map(lambda pair: pair[0] + 24 * pair[1]) if order_hours else st.integers(0, HOURS)
    syncs = sorted(draw(st.lists(st.one_of(st.integers(0, HOURS + 24 * 60), boundary),
                                 min_size=1, max_size=25)))
    # Interleave: each message goes before a random sync (or after the last one).
    slots: list[list[Any]] = [[] for _ in range(len(syncs) + 1)]
    for message in draw(st.permutations(messages)):
        slots[draw(st.integers(0, len(syncs)))].append(message)
    steps: list[Any] = []
    for hour, slot in zip(syncs, slots, strict=False):
        steps.extend(slot)
        steps.append(("sync", hour))
    steps.extend(slots[-1])
    return p, steps, syncs


def observe(sim: EngageSimulator, step: Any) -> None:
    if isinstance(step, Order):
        sim.observe(step.message())
    else:
        _, user_id, anonymous_id, hour = step
        sim.observe({"type": "identify", "userId": user_id, "anonymousId": anonymous_id,
                     "timestamp": (D0 + timedelta(hours=hour)).isoformat()})


def emitted(message: dict[str, Any]) -> tuple[tuple[str, str], str, Any]:
    key = message["context"]["personas"]["computation_key"]
    identity = ("userId", message["userId"]) if "userId" in message else (
        "anonymousId", message["anonymousId"])
    return identity, key, message["traits"][key]


@PROFILE
@given(plans(stitching=False))
def test_emitted_values_are_the_changes_of_the_definition_at_each_sync(
    plan: tuple[Params, list[Any], list[int]],
) -> None:
    p, steps, _ = plan
    sim = EngageSimulator(parse_definitions(p.definitions()))
    observed: dict[str, Order] = {}
    got: dict[tuple[str, str], list[tuple[int, Any]]] = {}
    expected: dict[tuple[str, str], list[tuple[int, Any]]] = {}
    last: dict[tuple[str, str], Any] = {}
    users = sorted({s.user_id for s in steps if isinstance(s, Order) and s.user_id})
    index = 0
    for step in steps:
        if not (isinstance(step, tuple) and step[0] == "sync"):
            observe(sim, step)
            observed[step.message_id] = step
            continue
        hour = step[1]
        for message in sim.sync(D0 + timedelta(hours=hour)):
            (_, user), key, value = emitted(message)
            got.setdefault((user, key), []).append((index, value))
        for user in users:
            mine = [o for o in observed.values() if o.user_id == user]
            for key, value in p.values(mine, hour).items():
                if value != last.get((user, key), ZERO[key]):
                    expected.setdefault((user, key), []).append((index, value))
                    last[(user, key)] = value
        index += 1
    assert got == expected


def _root(parent: dict[str, str], node: str) -> str:
    while parent.setdefault(node, node) != node:
        node = parent[node]
    return node


@PROFILE
@given(plans(stitching=True))
def test_the_latest_value_sent_for_a_stitched_user_is_its_value_at_each_sync(
    plan: tuple[Params, list[Any], list[int]],
) -> None:
    p, steps, _ = plan
    sim = EngageSimulator(parse_definitions(p.definitions()))
    parent: dict[str, str] = {}  # identifier → its link (union-find), users are roots
    orders: dict[str, Order] = {}
    latest: dict[tuple[tuple[str, str], str], tuple[int, int, Any]] = {}  # identity, key
    for index, step in enumerate(steps):
        if not (isinstance(step, tuple) and step[0] == "sync"):
            observe(sim, step)
            if isinstance(step, Order):
                orders[step.message_id] = step
                ids = [i for i in (step.user_id, step.anonymous_id) if i is not None]
            else:
                ids = [step[1], step[2]]
            if len(ids) == 2:
                parent[_root(parent, ids[1])] = _root(parent, ids[0])  # anonymous → user
            continue
        hour = step[1]
        sent = [emitted(m) for m in sim.sync(D0 + timedelta(hours=hour))]
        assert len({(identity, key) for identity, key, _ in sent}) == len(sent)
        for position, (identity, key, value) in enumerate(sent):
            latest[(identity, key)] = (index, position, value)
        components: dict[str, list[str]] = {}
        for node in list(parent):
            components.setdefault(_root(parent, node), []).append(node)
        for order in orders.values():
            for node in (order.user_id, order.anonymous_id):
                if node is not None:
                    components.setdefault(_root(parent, node), [])
                    if node not in components[_root(parent, node)]:
                        components[_root(parent, node)].append(node)
        for members in components.values():
            mine = [o for o in orders.values()
                    if o.user_id in members or o.anonymous_id in members]
            for key, value in p.values(mine, hour).items():
                shown = [latest[(identity, key)] for identity in
                         [("userId", m) for m in members] + [("anonymousId", m) for m in members]
                         if (identity, key) in latest]
                destination = max(shown)[2] if shown else ZERO[key]
                assert destination == value, (members, key, hour)
