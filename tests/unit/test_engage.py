"""The Engage simulator's pure core (connector/engage.py, engage_definitions.py,
engage_schedule.py): keys, definitions, the time window, sync rules, stitching, messages, and
the scheduled replay. Expected values are written by hand."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector import Mapped, map_message
from connector.cli import build_parser
from connector.engage.definitions import with_emit
from connector.engage.schedule import next_tick, parse_interval, replay, schedule
from connector.engage.simulator import (
    Change,
    Definitions,
    EngageSimulator,
    load_definitions,
    parse_definitions,
    snake_case,
)
from connector.errors import ConfigError, DefinitionError, SyncOrderError
from connector.gateway.settings import settings_from_args

ROOT = Path(__file__).resolve().parents[2]
D0 = datetime(2026, 1, 1, tzinfo=UTC)
ORDER = "Order Completed"
AUDIENCE_KEY = "order_completed_last_30days"

ISSUE_YAML = """\
audiences:
  - name: Order Completed Last 30days
    event: Order Completed
    within_days: 30
    min_count: 1
computed_traits:
  - name: orders_last_90_days
    event: Order Completed
    within_days: 90
    aggregate: count          # or: sum, with property: revenue
"""


def day(n: float, hour: float = 0) -> datetime:
    return D0 + timedelta(days=n, hours=hour)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def order(at: datetime, user_id: str | None = None, anonymous_id: str | None = None,
          message_id: str | None = None, **properties: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track", "event": ORDER, "timestamp": iso(at),
                               "properties": properties}
    if user_id is not None:
        message["userId"] = user_id
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    if message_id is not None:
        message["messageId"] = message_id
    return message


def identify(at: datetime, user_id: str, anonymous_id: str) -> dict[str, Any]:
    return {"type": "identify", "userId": user_id, "anonymousId": anonymous_id,
            "timestamp": iso(at), "traits": {}}


def definitions(**document: Any) -> Definitions:
    return parse_definitions(document)


def audience(name: str = "Order Completed Last 30days", **rule: Any) -> dict[str, Any]:
    return {"name": name, "event": ORDER, "within_days": 30, **rule}


def values(messages: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """(identity, key, value) of each emitted message, in order."""
    out = []
    for message in messages:
        key = message["context"]["personas"]["computation_key"]
        who = message.get("userId") or message["anonymousId"]
        body = message.get("traits") or message["properties"]
        out.append((who, key, body[key]))
    return out


# -- keys -----------------------------------------------------------------------------------------

SNAKE_CASES = [
    ("Order Completed Last 30days", "order_completed_last_30days"),
    ("  Order   Completed  ", "order_completed"),
    ("Order Completed (Last 30 Days)!", "order_completed_last_30_days"),
    ("order_completed__last--30days", "order_completed_last_30days"),
    ("VIP: High-Value Customers", "vip_high_value_customers"),
    ("30 Day Actives", "30_day_actives"),
    ("2024/Q3 — Churn Risk", "2024_q3_churn_risk"),
    ("Café Crème Lovers", "café_crème_lovers"),
    ("Cafe\u0301 (decomposed)", "café_decomposed"),  # NFC: e + U+0301 is é
    ("ÜBER Größe", "über_größe"),
    ("Клиенты Москвы", "клиенты_москвы"),
    ("Πελάτες VIP", "πελάτες_vip"),
    ("注文 完了", "注文_完了"),
    ("हिन्दी ग्राहक", "हिन्दी_ग्राहक"),  # combining vowel signs stay in their word
    ("Top 10² users 🚀🚀", "top_10_users"),  # ² is not a decimal digit, emoji separate
    ("___leading and trailing___", "leading_and_trailing"),
    ("tab\tnew\nline", "tab_new_line"),
    ("email@domain.com subscribers", "email_domain_com_subscribers"),
    ("camelCaseName", "camelcasename"),
    ("٣٠ days", "٣٠_days"),  # Arabic-Indic digits are decimal digits
    ("!!!", ""),
]


@pytest.mark.parametrize(("name", "key"), SNAKE_CASES, ids=[k or "empty" for _, k in SNAKE_CASES])
def test_snake_case_keys(name: str, key: str) -> None:
    assert snake_case(name) == key


# -- definitions --------------------------------------------------------------------------------


def test_the_issue_form_loads_from_yaml_and_the_same_structure_from_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "audiences.yaml"
    yaml_file.write_text(ISSUE_YAML, encoding="utf-8")
    json_file = tmp_path / "audiences.json"
    json_file.write_text(json.dumps({
        "audiences": [{"name": "Order Completed Last 30days", "event": ORDER,
                       "within_days": 30, "min_count": 1}],
        "computed_traits": [{"name": "orders_last_90_days", "event": ORDER,
                             "within_days": 90, "aggregate": "count"}],
    }), encoding="utf-8")

    loaded = load_definitions(yaml_file)

    assert load_definitions(json_file) == loaded
    (aud,) = loaded.audiences
    (trait,) = loaded.traits
    assert (aud.name, aud.key, aud.emit, aud.min_count) == (
        "Order Completed Last 30days", AUDIENCE_KEY, "identify", 1)
    assert aud.rule is not None
    assert (aud.rule.event, aud.rule.within_days, aud.rule.where) == (ORDER, 30.0, ())
    assert re.fullmatch(r"aud_[0-9A-Za-z]{27}", aud.id)
    assert (trait.key, trait.aggregate, trait.property, trait.rule.within_days) == (
        "orders_last_90_days", "count", None, 90.0)
    assert re.fullmatch(r"tra_[0-9A-Za-z]{27}", trait.id)
    assert re.fullmatch(r"spa_[0-9A-Za-z]{22}", loaded.space_id)


def test_the_committed_sample_definitions_load() -> None:
    loaded = load_definitions(ROOT / "fixtures" / "audiences.yaml")
    assert [a.key for a in loaded.audiences] == [
        "order_completed_last_30days", "repeat_buyers_2_orders_60_days", "big_eur_spenders",
        "engaged_or_repeat", "recent_repeat_buyers"]
    assert [t.key for t in loaded.traits] == [
        "orders_last_90_days", "revenue_last_90_days", "products_viewed_7_days"]
    assert loaded.audiences[3].of == ("order_completed_last_30days",
                                      "repeat_buyers_2_orders_60_days")
    assert loaded.space_id == "spa_pointillistmockdemo01"


def test_ids_are_deterministic_and_may_be_given() -> None:
    first = definitions(audiences=[audience()])
    again = definitions(audiences=[audience()])
    given = definitions(audiences=[audience(id="aud_custom", key="my_key")],
                        space_id="spa_x")
    assert first.audiences[0].id == again.audiences[0].id
    assert (given.audiences[0].id, given.audiences[0].key, given.space_id) == (
        "aud_custom", "my_key", "spa_x")


@pytest.mark.parametrize(("document", "message"), [
    ({"audiences": [audience("Big Spenders"), audience("big spenders!")]},
     'audiences[1] (big spenders!): key "big_spenders" is also the key of audiences[0] '
     "(Big Spenders)"),
    ({"audiences": [audience("VIP")],
      "computed_traits": [{"name": "V.I.P", "key": "vip", "event": ORDER, "within_days": 1}]},
     'computed_traits[0] (V.I.P): key "vip" is also the key of audiences[0] (VIP)'),
    ({"audiences": [audience("A", key="same"), audience("B", key="same")]},
     'audiences[1] (B): key "same" is also the key of audiences[0] (A); give one of them '
     "another name or an explicit key"),
    ({"audiences": [audience("A", id="aud_1"), audience("B", id="aud_1")]},
     'audiences[1] (B): id "aud_1" is also the id of audiences[0] (A)'),
])
def test_key_and_id_collisions_are_load_errors(document: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)):
        parse_definitions(document)


@pytest.mark.parametrize(("document", "message"), [
    ([], "the definitions must be a mapping"),
    ({}, "the definitions hold no audiences and no computed_traits"),
    ({"audiences": [], "computed_traits": None}, "hold no audiences"),
    ({"audience": []}, "unknown key(s) audience"),
    ({"audiences": {"name": "x"}}, "audiences must be a list"),
    ({"audiences": ["x"]}, "audiences[0] must be a mapping"),
    ({"audiences": [{"event": ORDER}]}, "audiences[0]: missing name"),
    ({"audiences": [audience(within_day=3)]}, "unknown key(s) within_day"),
    ({"audiences": [audience(event="")]}, "event must be a non-blank string"),
    ({"audiences": [audience(within_days=0)]}, "within_days must be a number > 0, not 0"),
    ({"audiences": [audience(within_days=True)]}, "within_days must be a number > 0"),
    ({"audiences": [audience(within_days="30")]}, "within_days must be a number > 0"),
    ({"audiences": [audience(min_count=0)]}, "min_count must be an integer >= 1, not 0"),
    ({"audiences": [audience(min_count=1.5)]}, "min_count must be an integer >= 1"),
    ({"audiences": [audience(key="Not Snake")]}, "key must be snake_cased"),
    ({"audiences": [audience("!!!")]}, "the name has no letters or digits"),
    ({"audiences": [audience(emit="group")]}, "emit must be identify or track"),
    ({"emit": "page", "audiences": [audience()]}, "emit must be identify or track"),
    ({"space_id": " ", "audiences": [audience()]}, "space_id must be a non-blank string"),
    ({"audiences": [audience(where=["currency"])]}, "where must be a mapping"),
    ({"audiences": [audience(where={"revenue": {"above": 3}})]}, "unknown operator"),
    ({"audiences": [audience(where={"revenue": {}})]},
     "where.revenue must be a mapping of one or more operators to values, not {}"),
    ({"audiences": [audience(where={"revenue": {"gte": [1]}})]},
     "where.revenue.gte must be a number or a string, not [1]"),
    ({"audiences": [audience(where={"revenue": {"in": 3}})]},
     "where.revenue.in must be a list, not 3"),
    ({"audiences": [audience(where={"coupon": {"exists": "yes"}})]},
     'where.coupon.exists must be true or false, not "yes"'),
    ({"audiences": [audience("A"), {"name": "U", "union": ["A"]}]},
     'audiences[1] (U): union must be a list of two or more audience names or keys, '
     'not ["A"]'),
    ({"audiences": [audience("A"), {"name": "U", "union": ["A", "B"]}]},
     'audiences[1] (U): union names "B", which is not an audience of this file'),
    ({"audiences": [audience("A"), {"name": "U", "union": ["A", "U"]}]},
     'audiences[1] (U): union names "U", the audience itself'),
    ({"audiences": [{"name": "X", "union": ["A", "Y"]}, {"name": "Y", "union": ["A", "X"]},
                    audience("A")]}, "audiences form a cycle: X → Y → X"),
    ({"audiences": [audience("A"), audience("B"),
                    {"name": "U", "union": ["A", "B"], "event": ORDER}]},
     "either an event rule"),
    ({"audiences": [audience("A"), audience("B"),
                    {"name": "U", "union": ["A", "B"], "intersection": ["A", "B"]}]},
     "either an event rule"),
    ({"computed_traits": [{"name": "t", "event": ORDER, "within_days": 1,
                           "aggregate": "avg"}]},
     'computed_traits[0] (t): aggregate must be count or sum, not "avg"'),
    ({"computed_traits": [{"name": "t", "event": ORDER, "within_days": 1,
                           "aggregate": "sum"}]}, "aggregate sum needs property"),
    ({"computed_traits": [{"name": "t", "event": ORDER, "within_days": 1,
                           "property": "revenue"}]}, "property is only for aggregate: sum"),
    ({"computed_traits": [{"name": "t", "event": ORDER, "within_days": 1,
                           "min_count": 2}]}, "unknown key(s) min_count"),
])
def test_invalid_definitions_say_what_and_where(document: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)) as caught:
        parse_definitions(document)
    assert caught.value.code == "invalid_definitions"
    assert isinstance(caught.value, ConfigError)


def test_every_problem_is_reported_at_once_with_its_path_in_json_terms() -> None:
    document = {"audiences": [
        {"name": "A", "event": ORDER, "within_days": 0, "min_count": True},
        "x",
        {"name": "B", "event": ORDER, "within_days": 1, "where": {"plan": {"in": {"a": 1}}}},
    ], "emit": None}
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(document)
    problems = [
        "audiences[0] (A): min_count must be an integer >= 1, not true",
        "audiences[0] (A): within_days must be a number > 0, not 0",
        'audiences[1] must be a mapping, not "x"',
        'audiences[2] (B): where.plan.in must be a list, not {"a": 1}',
        "emit must be identify or track, not null",
    ]
    assert caught.value.details == {"problems": problems}
    assert caught.value.message == "the definitions have 5 problems:\n" + "\n".join(
        f"- {problem}" for problem in problems)


def test_the_definition_schema_is_a_valid_json_schema_shipped_with_the_package() -> None:
    from jsonschema import Draft202012Validator

    from connector.engage.validation import schema

    Draft202012Validator.check_schema(schema())
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"connector.engage" = ["definitions.schema.json"]' in pyproject


def test_unreadable_definition_files_are_definition_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("audiences: [\n", encoding="utf-8")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{audiences: []}", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"broken\.yaml is not valid YAML"):
        load_definitions(broken)
    with pytest.raises(DefinitionError, match=r"bad\.json is not valid JSON"):
        load_definitions(bad_json)
    with pytest.raises(DefinitionError, match="cannot read the definitions file"):
        load_definitions(tmp_path / "missing.yaml")


# -- the window and the sync rules --------------------------------------------------------------


def test_within_the_last_d_days_excludes_an_event_exactly_d_days_old_and_future_events() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.observe(order(day(0, 10), "u1"))
    boundary = day(30, 10)
    assert sim.value(AUDIENCE_KEY, day(0, 10), user_id="u1") is True  # at now: counted
    assert sim.value(AUDIENCE_KEY, boundary - timedelta(milliseconds=1), user_id="u1") is True
    assert sim.value(AUDIENCE_KEY, boundary, user_id="u1") is False  # exactly 30 days: out
    assert sim.value(AUDIENCE_KEY, day(0, 10) - timedelta(milliseconds=1),
                     user_id="u1") is False  # not yet
    assert sim.value(AUDIENCE_KEY, day(0), user_id="nobody") is False


def test_day_0_true_days_1_to_30_nothing_day_31_false_day_41_true() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.observe(order(day(0, 10), "u1", message_id="o1"))
    emitted = {0: values(sim.sync(day(0, 12)))}
    for n in range(1, 46):
        if n == 40:
            sim.observe(order(day(40, 10), "u1", message_id="o2"))
        emitted[n] = values(sim.sync(day(n)))
    assert {n: v for n, v in emitted.items() if v} == {
        0: [("u1", AUDIENCE_KEY, True)],
        31: [("u1", AUDIENCE_KEY, False)],
        41: [("u1", AUDIENCE_KEY, True)],
    }


def test_first_sync_emits_members_only_and_a_second_sync_without_change_nothing() -> None:
    sim = EngageSimulator(definitions(audiences=[audience(min_count=2)]))
    for user, orders in (("u1", 2), ("u2", 1), ("u3", 3), ("u4", 0)):
        sim.observe({"type": "identify", "userId": user, "timestamp": iso(day(0))})
        for k in range(orders):
            sim.observe(order(day(0, k + 1), user))
    assert values(sim.sync(day(1))) == [("u1", AUDIENCE_KEY, True), ("u3", AUDIENCE_KEY, True)]
    assert sim.sync(day(1)) == []
    assert sim.sync(day(2)) == []
    assert sim.synced(AUDIENCE_KEY) == {("userId", "u1"): True, ("userId", "u3"): True}


def test_a_sync_before_the_last_one_is_an_error() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.sync(day(5))
    with pytest.raises(SyncOrderError, match="before the last sync at 2026-01-06T00:00:00"):
        sim.sync(day(4))
    with pytest.raises(ValueError, match="timezone-aware"):
        sim.sync(datetime(2026, 1, 7))  # naive: the error under test


def test_computed_traits_count_and_sum_emit_only_changes() -> None:
    sim = EngageSimulator(definitions(computed_traits=[
        {"name": "orders_last_90_days", "event": ORDER, "within_days": 90},
        {"name": "Revenue 90d", "event": ORDER, "within_days": 90, "aggregate": "sum",
         "property": "revenue"},
        {"name": "Items 90d", "event": ORDER, "within_days": 90, "aggregate": "sum",
         "property": "items"},
    ]))
    sim.observe({"type": "identify", "userId": "u1", "anonymousId": "a1",
                 "timestamp": iso(day(0))})
    assert sim.sync(day(0, 12)) == []  # 0 everywhere: nothing to send
    sim.observe(order(day(1), "u1", revenue=10.1, items=2))
    sim.observe(order(day(2), "u1", revenue=0.2, items=True))  # a bool is no number
    sim.observe(order(day(3), "u1", revenue="7", items=3))  # nor a string
    assert values(sim.sync(day(3))) == [
        ("u1", "orders_last_90_days", 3), ("u1", "revenue_90d", 10.299999999999999),
        ("u1", "items_90d", 5)]
    assert sim.sync(day(4)) == []
    assert values(sim.sync(day(91, 12))) == [
        ("u1", "orders_last_90_days", 2), ("u1", "revenue_90d", 0.2), ("u1", "items_90d", 3)]
    assert values(sim.sync(day(93, 12))) == [
        ("u1", "orders_last_90_days", 0), ("u1", "revenue_90d", 0), ("u1", "items_90d", 0)]
    assert sim.sync(day(200)) == []


def test_where_filters_compare_json_values() -> None:
    sim = EngageSimulator(definitions(audiences=[
        audience("EUR", where={"currency": "EUR"}),
        audience("EUR or GBP", where={"currency": ["EUR", "GBP"]}),
        audience("Big", where={"revenue": {"gte": 100, "lt": 500}}),
        audience("Couponed", where={"coupon": {"exists": True}}),
        audience("Gift", where={"gift": True}),
        audience("Not JPY", where={"currency": {"ne": "JPY"}}),
    ]))
    sim.observe(order(day(0), "eur_big", currency="EUR", revenue=100))
    sim.observe(order(day(0), "gbp_huge", currency="GBP", revenue=500.0, coupon=None))
    sim.observe(order(day(0), "jpy_coupon", currency="JPY", revenue="300", coupon="X"))
    sim.observe(order(day(0), "gift_one", gift=1))  # 1 is not true
    sim.observe(order(day(0), "gift_true", gift=True))
    assert values(sim.sync(day(1))) == [
        ("eur_big", "eur", True),
        ("eur_big", "eur_or_gbp", True), ("gbp_huge", "eur_or_gbp", True),
        ("eur_big", "big", True),
        ("jpy_coupon", "couponed", True),
        ("gift_true", "gift", True),
        ("eur_big", "not_jpy", True), ("gbp_huge", "not_jpy", True),
        ("gift_one", "not_jpy", True), ("gift_true", "not_jpy", True),
    ]


def test_union_and_intersection_of_audiences() -> None:
    sim = EngageSimulator(definitions(audiences=[
        {"name": "Both", "intersection": ["Recent", "repeat"]},
        {"name": "Either", "union": ["Recent", "Repeat"]},
        {"name": "Recent", "event": ORDER, "within_days": 7},
        {"name": "Repeat", "event": ORDER, "within_days": 60, "min_count": 2},
    ]))
    assert [a.key for a in sim.definitions.audiences] == ["recent", "repeat", "both", "either"]
    sim.observe(order(day(0), "old_repeat"))
    sim.observe(order(day(1), "old_repeat"))
    sim.observe(order(day(10), "recent_once"))
    sim.observe(order(day(2), "recent_repeat"))
    sim.observe(order(day(10), "recent_repeat"))
    assert values(sim.sync(day(12))) == [
        ("recent_once", "recent", True), ("recent_repeat", "recent", True),
        ("old_repeat", "repeat", True), ("recent_repeat", "repeat", True),
        ("recent_repeat", "both", True),
        ("old_repeat", "either", True), ("recent_once", "either", True),
        ("recent_repeat", "either", True),
    ]


def test_observe_keeps_only_what_definitions_need_and_dedups_by_message_id() -> None:
    sim = EngageSimulator(definitions(audiences=[audience(min_count=2)]))
    sim.observe(order(day(0), "u1", message_id="m1", revenue=5, note="x" * 1000))
    sim.observe(order(day(0), "u1", message_id="m1", revenue=5))  # a retry: same messageId
    sim.observe({"type": "track", "event": "Product Viewed", "userId": "u1",
                 "timestamp": iso(day(0))})
    sim.observe({"type": "page", "anonymousId": "a1", "timestamp": iso(day(0))})
    sim.observe(order(day(0), None))  # no identifier
    sim.observe("not an object")
    sim.observe({**order(day(0), "u1"), "timestamp": "yesterday"})
    sim.observe({**order(day(0), "u1"), "context": {"personas": {"computation_key": "x"}}})
    assert sim.stats.as_dict() == {"observed": 8, "events": 1, "duplicates": 1, "unusable": 3,
                                   "conflicts": 0, "syncs": 0, "emitted": 0}
    assert sim.sync(day(1)) == []  # one order, not two
    sim.observe(order(day(0, 1), "u1", message_id="m2"))
    assert values(sim.sync(day(1))) == [("u1", AUDIENCE_KEY, True)]


def test_an_event_older_than_every_window_after_a_sync_is_not_kept() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.sync(day(40))
    sim.observe(order(day(10), "u1"))  # exactly 30 days before the last sync: never counts
    sim.observe(order(day(10, 1), "u2"))  # counts until day 40 01:00
    assert sim.stats.events == 1
    assert values(sim.sync(day(40))) == [("u2", AUDIENCE_KEY, True)]
    assert values(sim.sync(day(40, 1))) == [("u2", AUDIENCE_KEY, False)]


# -- identity -----------------------------------------------------------------------------------


def test_a_user_who_qualified_anonymously_then_identified_is_one_member() -> None:
    sim = EngageSimulator(definitions(
        audiences=[audience()],
        computed_traits=[{"name": "orders", "event": ORDER, "within_days": 30}]))
    sim.observe(order(day(0, 10), anonymous_id="a1"))
    assert values(sim.sync(day(0, 12))) == [("a1", AUDIENCE_KEY, True), ("a1", "orders", 1)]
    sim.observe(identify(day(1), "u1", "a1"))
    sim.observe(order(day(2, 10), "u1"))
    assert values(sim.sync(day(2, 12))) == [("u1", "orders", 2)]
    assert sim.synced(AUDIENCE_KEY) == {("userId", "u1"): True}
    assert sim.profile_of(anonymous_id="a1") == ("userId", "u1")
    assert sim.evaluate(day(2, 12)) == {AUDIENCE_KEY: {("userId", "u1"): True},
                                        "orders": {("userId", "u1"): 2}}


def test_anonymous_events_before_the_identify_count_for_the_user() -> None:
    sim = EngageSimulator(definitions(audiences=[audience(min_count=3)]))
    sim.observe(order(day(0), anonymous_id="a1"))
    sim.observe(order(day(0), anonymous_id="a2"))
    sim.observe(order(day(1), "u1"))
    assert sim.sync(day(1)) == []
    sim.observe(identify(day(2), "u1", "a1"))
    assert sim.sync(day(2)) == []  # a2 is still someone else
    sim.observe({**order(day(3), "u1", anonymous_id="a2")})  # a track linking them too
    assert values(sim.sync(day(3))) == [("u1", AUDIENCE_KEY, True)]


def test_an_anonymous_id_of_another_user_is_not_moved() -> None:
    sim = EngageSimulator(definitions(audiences=[audience(min_count=2)]))
    sim.observe(identify(day(0), "u1", "a1"))
    sim.observe(order(day(0), anonymous_id="a1"))
    sim.observe(identify(day(1), "u2", "a1"))  # a conflict: a1 stays with u1
    sim.observe(order(day(1), anonymous_id="a1"))
    sim.observe(order(day(1), "u2"))
    assert sim.stats.conflicts == 1
    assert values(sim.sync(day(2))) == [("u1", AUDIENCE_KEY, True)]


def test_stitching_two_profiles_emitted_with_different_values_sends_the_value_again() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.observe(order(day(0), "u1"))
    assert values(sim.sync(day(0))) == [("u1", AUDIENCE_KEY, True)]
    assert values(sim.sync(day(30))) == [("u1", AUDIENCE_KEY, False)]
    sim.observe(order(day(31), anonymous_id="a1"))
    assert values(sim.sync(day(31))) == [("a1", AUDIENCE_KEY, True)]
    sim.observe(identify(day(32), "u1", "a1"))  # the destination holds false (u1), true (a1)
    assert values(sim.sync(day(32))) == [("u1", AUDIENCE_KEY, True)]
    assert sim.sync(day(33)) == []


# -- the messages -------------------------------------------------------------------------------


def test_an_emitted_identify_is_shaped_like_engages_and_maps_to_a_label() -> None:
    defs = definitions(audiences=[audience(id="aud_2djnfxHHnYGVQfOAEBroQ9Ti87N")],
                       space_id="spa_o1E9fAxCkCzjp6rLG1ptWR")
    sim = EngageSimulator(defs)
    sim.observe(order(day(0), "u_700"))
    (message,) = sim.sync(datetime(2026, 1, 1, 19, 42, 50, 66179, tzinfo=UTC))
    message_id = message.pop("messageId")
    assert message == {
        "type": "identify",
        "userId": "u_700",
        "traits": {AUDIENCE_KEY: True},
        "context": {
            "library": {"name": "unknown", "version": "unknown"},
            "personas": {
                "computation_class": "audience",
                "computation_id": "aud_2djnfxHHnYGVQfOAEBroQ9Ti87N",
                "computation_key": AUDIENCE_KEY,
                "namespace": "spa_o1E9fAxCkCzjp6rLG1ptWR",
                "space_id": "spa_o1E9fAxCkCzjp6rLG1ptWR",
            },
        },
        "integrations": {"All": False, "Pointillist": True},
        "timestamp": "2026-01-01T19:42:50.066179000Z",
        "originalTimestamp": "2026-01-01T19:42:50.066179000Z",
        "sentAt": None,
    }
    assert re.fullmatch(r"personas_[0-9A-Za-z]{27}", message_id)
    mapped = map_message({**message, "messageId": message_id})
    assert isinstance(mapped, Mapped)
    assert mapped.message_id == message_id
    assert mapped.event == {
        "eventSource": "Segment", "eventType": "identify",
        "eventTime": "2026-01-01T19:42:50.066Z",
        "actors": {"Customer": {"userId": "u_700"}},
        "labels": {AUDIENCE_KEY: "true"}, "numbers": {},
    }


def test_message_ids_repeat_across_runs_and_differ_between_messages() -> None:
    def run() -> list[str]:
        sim = EngageSimulator(definitions(audiences=[audience()]))
        sim.observe(order(day(0), "u1"))
        sim.observe(order(day(0), "u2"))
        out = sim.sync(day(0)) + sim.sync(day(30))
        return [m["messageId"] for m in out]

    first = run()
    assert first == run()
    assert len(set(first)) == 4


def test_an_anonymous_profile_is_sent_with_its_anonymous_id_only() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.observe(order(day(0), anonymous_id="a1"))
    (message,) = sim.sync(day(0))
    assert (message["anonymousId"], "userId" in message) == ("a1", False)


def test_the_track_form() -> None:
    defs = definitions(emit="track", audiences=[audience()], computed_traits=[
        {"name": "Revenue", "event": ORDER, "within_days": 30, "aggregate": "sum",
         "property": "revenue", "emit": "identify"},
        {"name": "orders", "event": ORDER, "within_days": 30}])
    sim = EngageSimulator(defs)
    sim.observe(order(day(0), "u1", revenue=42.5))
    entered = sim.sync(day(0))
    exited = sim.sync(day(30))
    shapes = [(m["type"], m.get("event"), m.get("properties"), m.get("traits"))
              for m in entered + exited]
    assert shapes == [
        ("track", "Audience Entered", {"audience_key": AUDIENCE_KEY, AUDIENCE_KEY: True}, None),
        ("identify", None, None, {"revenue": 42.5}),
        ("track", "Trait Computed", {"trait_key": "orders", "orders": 1}, None),
        ("track", "Audience Exited", {"audience_key": AUDIENCE_KEY, AUDIENCE_KEY: False}, None),
        ("identify", None, None, {"revenue": 0}),
        ("track", "Trait Computed", {"trait_key": "orders", "orders": 0}, None),
    ]
    everything_identify = with_emit(defs, "identify")
    assert {d.emit for d in everything_identify.all} == {"identify"}


def test_sync_changes_say_what_changed_from_what() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    sim.observe(order(day(0), "u1"))
    assert sim.sync_changes(day(0)) == [Change(AUDIENCE_KEY, ("userId", "u1"), None, True)]
    assert sim.sync_changes(day(30)) == [Change(AUDIENCE_KEY, ("userId", "u1"), True, False)]


# -- the schedule -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("3h", 10800), ("90m", 5400), ("1d", 86400), ("2h30m", 9000), ("45s", 45),
    ("1.5h", 5400), ("250ms", 0.25), ("1w", 604800), (" 3H ", 10800), ("1d 12h", 129600),
])
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "3", "h", "3x", "-3h", "0h", "3h-", "h3", "3h 2"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="interval"):
        parse_interval(text)


def test_the_schedule_is_aligned_to_the_epoch_unless_a_start_is_given() -> None:
    every = timedelta(hours=3)
    assert next_tick(day(0, 10.5), every) == day(0, 12)
    assert next_tick(day(0, 12), every) == day(0, 12)
    assert schedule(day(0, 10.5), day(0, 17), every) == [day(0, 12), day(0, 15), day(0, 18)]
    assert schedule(day(0, 10.5), day(0, 17), every, start=day(0, 11)) == [
        day(0, 11), day(0, 14), day(0, 17)]
    assert schedule(day(0, 10.5), day(9), every, until=day(0, 14)) == [day(0, 12)]
    assert schedule(None, None, every) == []
    assert schedule(day(0), day(0), every) == [day(0)]
    with pytest.raises(ConfigError, match="more than 1000000"):
        schedule(day(0), day(3000), timedelta(seconds=1))


def test_replay_observes_each_message_before_the_syncs_at_or_after_it() -> None:
    sim = EngageSimulator(definitions(audiences=[audience()]))
    traffic = [order(day(0, 12), "late"), order(day(0, 10), "early"),
               {"type": "track", "event": ORDER, "userId": "x", "timestamp": "soon"}]
    result = replay(sim, traffic, timedelta(days=1), until=day(31, 12), with_traffic=True)
    assert [run.at for run in result.syncs] == [day(n) for n in range(1, 32)]
    emitted = {run.at: values(run.messages) for run in result.syncs if run.messages}
    assert emitted == {
        day(1): [("early", AUDIENCE_KEY, True), ("late", AUDIENCE_KEY, True)],
        day(31): [("early", AUDIENCE_KEY, False), ("late", AUDIENCE_KEY, False)],
    }
    assert [m.get("userId") for m in result.outgoing[:4]] == ["early", "late", "early", "late"]
    assert result.outgoing[:2] == [traffic[1], traffic[0]]
    assert (result.unusable, result.after, result.emitted) == (1, 0, 4)


def test_sixty_days_of_traffic_every_3h_replays_every_sync() -> None:
    lines = (ROOT / "fixtures" / "medium.jsonl").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line) for line in lines]
    sim = EngageSimulator(load_definitions(ROOT / "fixtures" / "audiences.yaml"))
    result = replay(sim, messages, parse_interval("3h"))  # its speed: benchmarks/, not here
    assert len(result.syncs) == 476  # 2026-01-01 12:00 to 2026-03-01 21:00, every 3 h
    assert (result.syncs[0].at, result.syncs[-1].at) == (day(0, 12), day(59, 21))
    assert sim.stats.observed == 2184


# -- the gateway's command line -----------------------------------------------------------------


def test_gateway_definitions_options(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text(ISSUE_YAML, encoding="utf-8")
    base = ["gateway", "--pointillist-url", "http://127.0.0.1:9", "--pointillist-token", "t"]
    parser = build_parser()

    plain = settings_from_args(parser.parse_args(base))
    engaged = settings_from_args(parser.parse_args(
        [*base, "--definitions", str(file), "--sync-every", "30m", "--sync-clock", "traffic"]))

    assert (plain.definitions, plain.sync_every, plain.sync_clock) == (None, 10800.0, "wall")
    assert engaged.definitions == load_definitions(file)
    assert (engaged.sync_every, engaged.sync_clock) == (1800.0, "traffic")
    with pytest.raises(ConfigError, match="not an interval"):
        settings_from_args(parser.parse_args([*base, "--sync-every", "soon"]))
    with pytest.raises(SystemExit):  # a usage error, before any settings are made
        parser.parse_args([*base, "--definitions", str(tmp_path / "x")])
    directory = tmp_path / "d"
    directory.mkdir()
    with pytest.raises(DefinitionError, match="cannot read"):
        load_definitions(directory / "x")


def test_audiences_sync_writes_the_traffic_and_the_syncs_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.cli import main

    definitions_file = tmp_path / "a.yaml"
    definitions_file.write_text(ISSUE_YAML, encoding="utf-8")
    first, second = order(day(0, 10), "u1", message_id="o1"), order(day(1, 8), "u2")
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text("\n".join([json.dumps(first), "{oops", "", json.dumps(second)]) + "\n",
                       encoding="utf-8")
    out_file = tmp_path / "out.jsonl"

    status = main(["audiences", "sync", "--definitions", str(definitions_file), "--traffic",
                   str(traffic), "--every", "1d", "--until", "2026-02-01T00:00:00Z",
                   "--with-traffic", "--emit", "track", "--out", str(out_file)])

    captured = capsys.readouterr()
    assert status == 1  # an unreadable line
    assert captured.err == "line 2: invalid_json: Expecting property name enclosed in double " \
        "quotes: line 1 column 2 (char 1)\n"
    assert captured.out.splitlines() == [
        "31 syncs from 2026-01-02T00:00:00.000Z to 2026-02-01T00:00:00.000Z, 5 messages",
        "definition                  class    entered  exited changed",
        "order_completed_last_30days audience       2       1        ",
        "orders_last_90_days         trait                          2",
    ]
    written = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [(m.get("userId"), m["event"], m["timestamp"]) for m in written] == [
        ("u1", ORDER, "2026-01-01T10:00:00.000Z"),
        ("u1", "Audience Entered", "2026-01-02T00:00:00.000000000Z"),
        ("u1", "Trait Computed", "2026-01-02T00:00:00.000000000Z"),
        ("u2", ORDER, "2026-01-02T08:00:00.000Z"),
        ("u2", "Audience Entered", "2026-01-03T00:00:00.000000000Z"),
        ("u2", "Trait Computed", "2026-01-03T00:00:00.000000000Z"),
        ("u1", "Audience Exited", "2026-02-01T00:00:00.000000000Z"),  # day 0 10:00 + 30 d
    ]
