"""Tracking plans, the way Segment Protocols checks them (pure: no I/O beyond reading a plan).

- parsing.py: a plan file's text → data (JSON is JSON, YAML otherwise), within size, depth and
  alias-expansion limits.
- loading.py: the plan in the forms users have (Config API export, Public API rules list,
  Typewriter's plan.json, a short YAML form) → model.Plan; a malformed plan is refused with
  every problem and its path.
- schemas.py: a rule's JSON Schema made safe (`any`, local `$ref`s only, RE2 patterns).
- checking.py: one message → its violations and, apart, its unplanned properties.
- enforcing.py: Protocols' Schema Configuration (block / omit) applied to a message.

Used by `segment-connector validate` (offline), the gateway's --tracking-plan (live) and the
`segment_gateway` pytest fixture.
"""

from .checking import Findings, check
from .enforcing import ProtocolsSettings, Verdict, evaluate
from .loading import load_plan, plan_from_data, plan_summary
from .model import KINDS, PROTOCOLS_TYPE, Plan, Rule, Violation

__all__ = [
    "KINDS", "PROTOCOLS_TYPE", "Findings", "Plan", "ProtocolsSettings", "Rule", "Verdict",
    "Violation", "check", "evaluate", "load_plan", "plan_from_data", "plan_summary",
]
