"""`segment-connector plan infer`: the hand-written golden draft, the round trip on
fixtures/medium.jsonl (infer, then validate the same traffic: no violation, full coverage), a
hand-made mutation of that traffic flagged with the right kind and path, determinism, and the
one-line errors."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from connector.cli import main
from connector.plans import check, load_plan
from connector.plans.inference import infer, render

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "contracts" / "tracking-plans" / "inference"
MEDIUM = ROOT / "fixtures" / "medium.jsonl"


def test_the_golden_messages_give_the_hand_written_plan(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO((GOLDEN / "messages.jsonl").read_text()))
    assert main(["plan", "infer", "-", "--enums", "--common", "--name", "Golden"]) == 0
    out = capsys.readouterr().out
    assert out == (GOLDEN / "expected.yaml").read_text()


def test_the_golden_plan_loads_and_its_messages_meet_it(tmp_path: Path) -> None:
    plan = load_plan(GOLDEN / "expected.yaml")
    lines = (GOLDEN / "messages.jsonl").read_text().splitlines()
    assert [check(json.loads(line), plan).all() for line in lines] == [[]] * 8


def test_the_draft_does_not_depend_on_the_order_of_the_traffic() -> None:
    messages = [json.loads(line) for line in MEDIUM.read_text().splitlines()]
    first = render(infer(messages), enums=True, common=True)
    random.Random(7).shuffle(messages)
    assert render(infer(messages), enums=True, common=True) == first


def test_round_trip_infer_then_validate_the_same_traffic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    assert main(["plan", "infer", str(MEDIUM), "--out", str(plan), "--enums", "--common"]) == 0
    assert capsys.readouterr().out == (
        f"wrote {plan}: 3 track event(s) from 2184 message(s)\n")
    assert main(["validate", str(MEDIUM), "--plan", str(plan), "--min-coverage",
                 "100,100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "events 13/13 (100 %), properties 64/64 (100 %)"
    assert ("0 violation(s) in 0 of 2184 message(s); 0 unplanned properties; "
            "0 unreadable line(s)") in out
    assert not [line for line in out if line.startswith("line ")]


def test_a_renamed_property_and_a_number_sent_as_a_string_are_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    assert main(["plan", "infer", str(MEDIUM), "--out", str(plan)]) == 0
    lines = MEDIUM.read_text().splitlines()
    renamed = next(i for i, line in enumerate(lines) if '"event":"Order Completed"' in line)
    retyped = next(i for i, line in enumerate(lines) if '"event":"Product Added"' in line)
    first, second = json.loads(lines[renamed]), json.loads(lines[retyped])
    first["properties"]["orderId"] = first["properties"].pop("order_id")
    second["properties"]["price"] = str(second["properties"]["price"])
    lines[renamed], lines[retyped] = json.dumps(first), json.dumps(second)
    mutated = tmp_path / "mutated.jsonl"
    mutated.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["validate", str(mutated), "--plan", str(plan)]) == 1
    found = [line for line in capsys.readouterr().out.splitlines() if line.startswith("line ")]
    price = second["properties"]["price"]
    assert price == str(json.loads(MEDIUM.read_text().splitlines()[retyped])["properties"][
        "price"])
    expected = {
        renamed: [f"line {renamed + 1}: {first['messageId']} required properties.order_id: "
                  "properties.order_id is required"],
        retyped: [f"line {retyped + 1}: {second['messageId']} invalid_type properties.price: "
                  "Invalid type. Expected: number, given: string"],
    }
    unplanned = [f"line {renamed + 1}: {first['messageId']} unplanned_property "
                 "properties.orderId: properties.orderId is not in the tracking plan for "
                 '"Order Completed"']
    assert found == [*expected[min(expected)], *expected[max(expected)], *unplanned]


def test_nothing_to_read_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "infer"]) == 2
    assert capsys.readouterr().err == "error: give at least one FILE, or --from-gateway URL\n"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["plan", "infer", str(empty)]) == 2
    assert capsys.readouterr().err == (
        f"error: no message in {empty}: nothing to draft a plan from\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "track", "event": "A"}\n[1]\n')
    out = tmp_path / "plan.yaml"
    assert main(["plan", "infer", str(bad), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {bad} line 2: a JSON list, not an object\n"
    assert not out.exists()
