"""Tracking plans, the way Segment Protocols checks them (pure: no I/O beyond reading a plan).

- loading.py: the plan in the forms users have (Config API export, Public API rules list, a
  short YAML form) → model.Plan; a malformed plan is refused with every problem and its path.
- checking.py: one message → its violations (model.Violation), Protocols' kinds and matching.
- enforcing.py: Protocols' Schema Configuration (block / omit) applied to a checked message.

Used by `segment-connector validate` (offline), the gateway's --tracking-plan (live) and the
`segment_gateway` pytest fixture.
"""

from .checking import check
from .enforcing import ProtocolsSettings, Verdict, enforce
from .loading import load_plan, plan_from_data, plan_summary
from .model import KINDS, PROTOCOLS_TYPE, Plan, Rule, Violation

__all__ = [
    "KINDS", "PROTOCOLS_TYPE", "Plan", "ProtocolsSettings", "Rule", "Verdict", "Violation",
    "check", "enforce", "load_plan", "plan_from_data", "plan_summary",
]
