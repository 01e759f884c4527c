"""connector.traffic.generate and `segment-connector generate`: seeded Segment traffic.

The committed fixtures are regenerated with the commands fixtures/README.md documents and compared
byte for byte; the structural tests then check invariants of those files (which the first tests
proved to be the generator's output). The exact counts for small.jsonl were read off the file by
hand, not computed by the generator.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.mapping import Mapped, Skipped, map_message
from connector.traffic.generate import TrafficSpec, encode_jsonl, generate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = {"small.jsonl": 3, "medium.jsonl": 60}
TYPES = {"identify", "track", "page", "screen", "group", "alias"}
EVENTS = {"Product Viewed", "Product Added", "Order Completed"}
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
PY_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")
PY_SENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00")
Z_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PYTHON_KEYS = {
    "identify": ["integrations", "anonymousId", "timestamp", "context", "type", "userId",
                 "traits", "messageId"],
    "track": ["integrations", "anonymousId", "properties", "timestamp", "context", "userId",
              "type", "event", "messageId"],
    "page": ["integrations", "anonymousId", "properties", "timestamp", "category", "context",
             "userId", "type", "name", "messageId"],
    "screen": ["integrations", "anonymousId", "properties", "timestamp", "category", "context",
               "userId", "type", "name", "messageId"],
    "group": ["integrations", "anonymousId", "timestamp", "groupId", "context", "userId",
              "traits", "type", "messageId"],
    "alias": ["integrations", "previousId", "timestamp", "context", "userId", "type",
              "messageId"],
}
SERVER_KEYS = ["originalTimestamp", "sentAt", "receivedAt"]


def documented_commands() -> dict[str, list[str]]:
    """fixture file name -> the argv after `segment-connector`, as fixtures/README.md says."""
    text = (FIXTURES / "README.md").read_text(encoding="utf-8")
    commands: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("segment-connector generate "):
            argv = shlex.split(line)[1:]
            out = argv[argv.index("--out") + 1]
            commands[Path(out).name] = argv
    return commands


def with_out(argv: list[str], out: Path) -> list[str]:
    argv = list(argv)
    argv[argv.index("--out") + 1] = str(out)
    return argv


def load(name: str) -> list[dict[str, Any]]:
    with (FIXTURES / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def is_python(message: dict[str, Any]) -> bool:
    return bool(message["context"]["library"]["name"] == "analytics-python")


@pytest.fixture(scope="module", params=sorted(DAYS))
def fixture(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, load(request.param)


@pytest.fixture(scope="module")
def small() -> list[dict[str, Any]]:
    return load("small.jsonl")


# -- reproducibility ----------------------------------------------------------------------


def test_readme_documents_one_command_per_fixture() -> None:
    commands = documented_commands()
    assert sorted(commands) == ["medium.jsonl", "small.jsonl"]
    assert commands["small.jsonl"] == [
        "generate", "--seed", "55", "--users", "5", "--days", "3",
        "--start", "2026-01-01T00:00:00Z", "--out", "fixtures/small.jsonl"]
    assert commands["medium.jsonl"] == [
        "generate", "--seed", "7", "--users", "50", "--days", "60",
        "--start", "2026-01-01T00:00:00Z", "--out", "fixtures/medium.jsonl"]


@pytest.mark.parametrize("name", sorted(DAYS))
def test_documented_command_regenerates_the_committed_bytes(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / name
    assert main(with_out(documented_commands()[name], out)) == 0
    assert out.read_bytes() == (FIXTURES / name).read_bytes()
    lines = len(load(name))
    assert capsys.readouterr().err == f"wrote {lines} messages to {out}\n"


def test_console_script_writes_the_same_bytes_to_stdout_whatever_the_hash_seed_and_zone() -> None:
    script = Path(sys.executable).with_name("segment-connector")
    argv = documented_commands()["small.jsonl"]
    argv = argv[: argv.index("--out")]
    env = {**os.environ, "PYTHONHASHSEED": "4242", "TZ": "Pacific/Chatham"}
    done = subprocess.run([str(script), *argv], capture_output=True, env=env, check=False,
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == (FIXTURES / "small.jsonl").read_bytes()


def test_the_same_seed_repeats_and_another_seed_differs() -> None:
    first = generate(TrafficSpec(seed=3, users=4, days=5))
    again = generate(TrafficSpec(seed=3, users=4, days=5))
    other = generate(TrafficSpec(seed=4, users=4, days=5))
    assert encode_jsonl(first) == encode_jsonl(again)
    assert encode_jsonl(first) != encode_jsonl(other)
    # Ids come from the seeded Random: another seed shares none of them.
    assert {m["messageId"] for m in first}.isdisjoint({m["messageId"] for m in other})
    assert {m["anonymousId"] for m in first if "anonymousId" in m}.isdisjoint(
        {m["anonymousId"] for m in other if "anonymousId" in m})


def test_encoding_is_compact_utf8_with_newline_endings() -> None:
    data = (FIXTURES / "small.jsonl").read_bytes()
    text = data.decode("utf-8")
    assert data.endswith(b"\n") and b"\r" not in data
    assert "\\u" not in text  # no ASCII escapes: the Japanese user's name is written as is
    assert '"name":"舞 山田"' in text
    assert text.count("\n") == 85
    assert all(line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))
               for line in text.splitlines())


# -- the messages -------------------------------------------------------------------------


def test_every_message_has_a_type_and_a_unique_message_id(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    _, messages = fixture
    ids = [m["messageId"] for m in messages]
    assert len(set(ids)) == len(ids)
    for message in messages:
        assert message["type"] in TYPES
        assert message["integrations"] == {}
        assert len(message["messageId"]) <= 100
        if is_python(message):
            assert re.fullmatch(UUID4, message["messageId"]), message["messageId"]
        else:
            match = re.fullmatch(rf"node-next-(\d+)-({UUID4})", message["messageId"])
            assert match, message["messageId"]
            # Date.now() when the client built the message = its originalTimestamp.
            original = instant(message["originalTimestamp"])
            assert int(match[1]) == int(original.timestamp() * 1000)


def test_python_shape_has_every_field_and_offset_timestamps(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    _, messages = fixture
    python = [m for m in messages if is_python(m)]
    assert python
    for message in python:
        assert list(message) == PYTHON_KEYS[message["type"]] + SERVER_KEYS
        assert message["context"]["library"] == {"name": "analytics-python", "version": "2.4.0"}
        assert list(message["context"])[-1] == "library"  # the client sets it last
        assert PY_MS.fullmatch(message["timestamp"])
        assert PY_MS.fullmatch(message["originalTimestamp"])
        assert PY_SENT.fullmatch(message["sentAt"])
        assert Z_MS.fullmatch(message["receivedAt"])
    assert any(m["userId"] is None for m in python)
    assert any(m.get("category", "") is None for m in python)


def test_node_shape_omits_absent_fields_and_carries_metadata(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    _, messages = fixture
    node = [m for m in messages if not is_python(m)]
    assert node
    for message in node:
        assert None not in message.values()
        assert message["_metadata"] == {"nodeVersion": "v20.20.2", "jsRuntime": "node"}
        assert message["context"]["library"] == {
            "name": "@segment/analytics-node", "version": "3.1.0"}
        assert list(message)[-4:] == ["_metadata", *SERVER_KEYS]
        for key in ("timestamp", *SERVER_KEYS):
            assert Z_MS.fullmatch(message[key]), (key, message[key])
    assert any("userId" not in m and m["type"] == "track" for m in node)
    # JSON.stringify writes 64.0 as 64: no integral float in a Node message.
    assert not [v for m in node for v in leaves(m) if isinstance(v, float) and v.is_integer()]


def test_times_lie_in_the_period_are_sorted_and_follow_the_skew_formula(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    name, messages = fixture
    end = START + timedelta(days=DAYS[name])
    stamps = [instant(m["timestamp"]) for m in messages]
    assert stamps == sorted(stamps)
    skewed = False
    for message in messages:
        times = {key: instant(message[key]) for key in ("timestamp", *SERVER_KEYS)}
        for key, value in times.items():
            assert START <= value < end, (key, message[key])
        # timestamp = receivedAt - (sentAt - originalTimestamp), truncated to the millisecond.
        exact = times["receivedAt"] - (times["sentAt"] - times["originalTimestamp"])
        assert times["timestamp"] == exact - timedelta(microseconds=exact.microsecond % 1000)
        skewed |= times["timestamp"] != times["originalTimestamp"]
    assert skewed  # client clocks are off: the correction matters


def test_identify_links_an_anonymous_id_seen_before_without_a_user_id(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    _, messages = fixture
    anonymous_before: set[str] = set()
    identified: set[str] = set()
    company_of: dict[str, str] = {}
    for message in messages:
        kind = message["type"]
        if kind == "alias":
            assert message["userId"] in identified
            assert message["previousId"] in anonymous_before
            continue
        assert message["anonymousId"]  # every other message comes from a browser or app
        if kind == "identify":
            assert message["userId"]
            assert message["anonymousId"] in anonymous_before
            identified.add(message["userId"])
            if "company" in message["traits"]:
                company_of[message["userId"]] = message["traits"]["company"]["id"]
        elif message.get("userId") is None:
            anonymous_before.add(message["anonymousId"])
        else:
            assert message["userId"] in identified  # nobody is known before an identify
        if kind == "group":  # a B2B user's company, as in its identify traits
            assert message["groupId"] == company_of[message["userId"]]


def test_identify_traits_are_realistic(fixture: tuple[str, list[dict[str, Any]]]) -> None:
    _, messages = fixture
    identifies = [m for m in messages if m["type"] == "identify"]
    assert identifies
    for message in identifies:
        traits = message["traits"]
        assert re.fullmatch(r"[a-z0-9._]+@example\.(com|org|net)", traits["email"])
        assert traits["name"] == f"{traits['firstName']} {traits['lastName']}"
        assert traits["plan"] in {"free", "pro", "business"}
        assert type(traits["age"]) is int and 18 <= traits["age"] <= 74
        assert type(traits["logins"]) is int and traits["logins"] >= 1
        assert type(traits["emailOptIn"]) is bool and type(traits["verified"]) is bool
        assert isinstance(traits["lifetimeValue"], int | float)
        assert instant(traits["createdAt"]) <= instant(message["timestamp"])


def test_tracks_are_the_commerce_events_with_their_properties(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    _, messages = fixture
    orders = 0
    for message in messages:
        if message["type"] != "track":
            continue
        properties = message["properties"]
        assert message["event"] in EVENTS
        assert properties["currency"] in {"USD", "GBP", "EUR", "BRL", "JPY"}
        if message["event"] != "Order Completed":
            assert properties["product_id"].startswith("P-")
            continue
        orders += 1
        products = properties["products"]
        assert products and all(isinstance(p, dict) for p in products)
        assert [p["position"] for p in products] == list(range(1, len(products) + 1))
        subtotal = sum(p["price"] * p["quantity"] for p in products)
        assert properties["revenue"] == pytest.approx(subtotal - properties["discount"], abs=0.01)
        total = properties["revenue"] + properties["shipping"] + properties["tax"]
        assert properties["total"] == pytest.approx(total, abs=0.01)
        if message.get("userId"):
            assert message["context"]["traits"]["email"]
    assert orders > 0


def test_context_is_web_or_mobile(fixture: tuple[str, list[dict[str, Any]]]) -> None:
    _, messages = fixture
    for message in messages:
        context = message["context"]
        assert set(context["location"]) == {"city", "country", "latitude", "longitude"}
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", context["ip"])
        if "device" in context:
            assert context["device"]["type"] in {"ios", "android"}
            assert "page" not in context and "userAgent" not in context
            assert message["type"] != "page"
        else:
            assert context["userAgent"].startswith("Mozilla/5.0 (")
            assert message["type"] != "screen"
        if message["type"] == "page":
            assert context["page"] == message["properties"]
            assert context["page"]["url"].startswith("https://shop.example.com/")
        if "campaign" in context:
            assert context["campaign"]["source"] and context["campaign"]["medium"]


def test_the_connector_maps_identify_and_track_and_skips_the_rest(
    fixture: tuple[str, list[dict[str, Any]]]
) -> None:
    _, messages = fixture
    for message in messages:
        result = map_message(message)
        if message["type"] in {"identify", "track"}:
            assert isinstance(result, Mapped)
            assert result.event["eventTime"] == message["timestamp"].replace("+00:00", "Z")
            assert result.message_id == message["messageId"]
        else:
            assert result == Skipped(message["type"], "unsupported_message_type",
                                     message["messageId"])


# -- small.jsonl, counted by hand --------------------------------------------------------


def test_small_scenario_counts(small: list[dict[str, Any]]) -> None:
    assert len(small) == 85
    assert Counter(m["type"] for m in small) == {
        "track": 38, "screen": 21, "page": 19, "identify": 5, "group": 1, "alias": 1}
    assert Counter(m["event"] for m in small if m["type"] == "track") == {
        "Product Viewed": 26, "Product Added": 8, "Order Completed": 4}
    assert Counter(m["context"]["library"]["name"] for m in small) == {
        "analytics-python": 48, "@segment/analytics-node": 37}
    assert sum("device" in m["context"] for m in small) == 47
    assert sum("campaign" in m["context"] for m in small) == 1
    assert (small[0]["timestamp"], small[-1]["timestamp"]) == (
        "2026-01-01T10:28:37.520+00:00", "2026-01-02T23:22:26.842+00:00")


def test_small_scenario_identities(small: list[dict[str, Any]]) -> None:
    users: dict[str, set[str]] = {}
    for message in small:
        if message["type"] == "identify":
            users.setdefault(message["userId"], set()).add(message["anonymousId"][:8])
    # Two users came back on a second device that a later identify linked.
    assert users == {
        "usr_5a0416a88b77": {"b4aca4b3", "b82e25f2"},
        "usr_dee27253b744": {"38ed1c13", "2f9872f6"},
        "usr_439cfbf1f3a8": {"2bf8ae27"},
    }
    linked = set().union(*users.values())
    never = {m["anonymousId"][:8] for m in small if "anonymousId" in m} - linked
    assert never == {"f7358341", "e9719d19"}  # two visitors never identify
    assert all(m.get("userId") is None for m in small
               if m.get("anonymousId", "")[:8] in never)
    orders = [m.get("userId") for m in small if m.get("event") == "Order Completed"]
    assert orders == ["usr_5a0416a88b77", "usr_439cfbf1f3a8", None, "usr_439cfbf1f3a8"]


# -- other arguments ------------------------------------------------------------------------


def test_start_with_an_offset_is_converted_to_utc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "traffic.jsonl"
    argv = ["generate", "--seed", "9", "--users", "3", "--days", "1",
            "--start", "2025-06-15T12:30:00+02:00", "--out", str(out)]
    assert main(argv) == 0
    messages = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert messages
    start = datetime(2025, 6, 15, 10, 30, tzinfo=UTC)
    for message in messages:
        for key in ("timestamp", *SERVER_KEYS):
            assert start <= instant(message[key]) < start + timedelta(days=1)
    assert capsys.readouterr().err == f"wrote {len(messages)} messages to {out}\n"


@pytest.mark.parametrize(("argv", "error"), [
    (["generate", "--seed", "1", "--users", "0", "--days", "3"],
     "argument --users: must be at least 1, got 0"),
    (["generate", "--seed", "1", "--users", "2", "--days", "zero"],
     "argument --days: not a whole number: 'zero'"),
    (["generate", "--seed", "1", "--users", "2", "--days", "3", "--start", "yesterday"],
     "argument --start: not an ISO-8601 instant (e.g. 2026-01-01T00:00:00Z): 'yesterday'"),
    (["generate", "--users", "2", "--days", "3"],
     "the following arguments are required: --seed"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    # One line, no usage block: the error, then where the help is.
    assert len(captured.err.splitlines()) == 1
    assert f"error: {error}; see segment-connector" in captured.err


def test_an_output_in_a_missing_folder_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing-dir" / "traffic.jsonl"
    with pytest.raises(SystemExit) as exited:
        main(["generate", "--seed", "1", "--users", "1", "--days", "1", "--out", str(out)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"segment-connector generate: error: argument --out: the folder "
                          f"{out.parent} does not exist")
    assert not out.exists()


def test_unwritable_output_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    # A file that exists and that no one may write, root included (tests run as root in CI, and
    # root ignores permission bits): the kernel's own /proc/version refuses every write.
    out = Path("/proc/version")
    assert main(["generate", "--seed", "1", "--users", "1", "--days", "1",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"segment-connector generate: cannot write {out}: " in err


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"users": -1, "days": 1}, "users must be >= 0"),
    ({"users": 1, "days": 0}, "days must be >= 1"),
    ({"users": 1, "days": 1, "start": datetime(2026, 1, 1)}, "start must be timezone-aware"),
])
def test_traffic_spec_rejects_impossible_values(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=f"^{error}$"):
        TrafficSpec(seed=1, **kwargs)


def test_no_users_means_no_messages() -> None:
    assert generate(TrafficSpec(seed=1, users=0, days=1)) == []
