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
