"""The tracking-plan golden cases (contracts/tracking-plans/cases/*.json) and their plan, in its
three forms: written by hand, never regenerated from the code's output. A case lists its
`violations` and, apart, its `unplanned` properties (none when the key is absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / "contracts" / "tracking-plans"
PLANS = [ROOT / "plan.yaml", ROOT / "plan.config-api.json", ROOT / "plan.public-api.json"]


def cases() -> list[tuple[str, dict[str, Any]]]:
    return [(path.stem, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted((ROOT / "cases").glob("*.json"))]


def expected(case: dict[str, Any]) -> list[dict[str, str]]:
    return [{"kind": v["kind"], "path": v["path"], "message": v["message"]}
            for v in case["violations"]]


def expected_unplanned(case: dict[str, Any]) -> list[dict[str, str]]:
    return [{"kind": v["kind"], "path": v["path"], "message": v["message"]}
            for v in case.get("unplanned", [])]


def coverage_cases() -> list[tuple[str, dict[str, Any]]]:
    """contracts/tracking-plans/coverage/*.json: a plan (short form, inline), messages and the
    coverage they give (GET /_gateway/coverage's shape), and validate's table, by hand."""
    return [(path.stem, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted((ROOT / "coverage").glob("*.json"))]


def write_case(directory: Path, case: dict[str, Any]) -> tuple[Path, Path]:
    """The case's plan (as JSON) and its messages (as JSON lines) in `directory`."""
    plan = directory / "plan.json"
    plan.write_text(json.dumps(case["plan"]), encoding="utf-8")
    capture = directory / "capture.jsonl"
    capture.write_text("".join(json.dumps(m) + "\n" for m in case["messages"]),
                       encoding="utf-8")
    return plan, capture
