"""The gateway's tracking plan (--tracking-plan): each accepted message checked as Protocols
does (../plans), then forwarded, trimmed or blocked by the Schema Configuration settings.

What each message covers of the plan (its planned event and the planned properties it has,
../plans/coverage.py) is stored with it too: GET /_gateway/coverage, counts in the stats.
Violations are stored with the message in the outbox (GET /_gateway/violations) and in the
forwarded message's `context.protocols`, as Protocols adds them. Unplanned properties are no
violation in Protocols: they are stored beside them with kind unplanned_property and
`"violation": false` (GET /_gateway/violations?kind=unplanned_property lists them), counted
apart (`unplannedProperties` in /_gateway/stats), and become violations only with
--fail-on-unplanned-properties (`"violation": true`). A blocked message becomes a
dropped one, reason `blocked_by_tracking_plan`, listed by GET /_gateway/dropped with why. The
log gets one line per violation kind per event name (the first one seen), not one per message.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from ..plans import Plan, ProtocolsSettings, evaluate
from ..plans.coverage import Observer, Target, targets
from .outbox_coverage import Observation
from .tracking import Accepted, Dropped, Entry

log = logging.getLogger("connector.gateway.plan")
Json = dict[str, Any]


def write_key_hash(write_key: str) -> str:
    """What violations keep of the write key they came with (GET /_gateway/violations?
    writeKeyHash=): enough to filter one source's violations, never the key itself."""
    return hashlib.sha256(write_key.encode()).hexdigest()


class PlanGate:
    def __init__(self, plan: Plan, settings: ProtocolsSettings) -> None:
        self.plan = plan
        self.settings = settings
        self._logged: set[tuple[str | None, str | None, str]] = set()
        self.observer = Observer(plan)
        self.targets: list[Target] = targets(plan)

    def apply(self, entries: Sequence[Entry]) -> tuple[
            list[Entry], dict[int, list[Json]], dict[int, Observation]]:
        """The entries as they go to the outbox, and by position each one's violations and
        what it covers of the plan (as sent, blocked or not: it was tested)."""
        out: list[Entry] = []
        found: dict[int, list[Json]] = {}
        observed: dict[int, Observation] = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, Accepted):
                out.append(entry)
                continue
            seen = self.observer.observe(entry.message)
            if seen is not None:
                observed[index] = seen
            verdict = evaluate(entry.message, self.plan, self.settings)
            fails = self.settings.fail_on_unplanned_properties
            rows = [{**v.as_dict(), "blocked": verdict.blocked, "violation": True}
                    for v in verdict.findings.violations]
            rows += [{**v.as_dict(), "blocked": verdict.blocked, "violation": fails}
                     for v in verdict.findings.unplanned]
            if rows:
                found[index] = rows
            for row in rows:
                self._log_once(row["type"], row["event"], row["kind"], row["message"],
                               row["violation"])
            if verdict.message is None:
                out.append(Dropped("blocked_by_tracking_plan", entry.message_id, entry.message,
                                   verdict.blocked or "blocked by the tracking plan"))
            elif verdict.message is entry.message:
                out.append(entry)
            else:
                out.append(Accepted(entry.message_id, verdict.message))
        return out, found, observed

    def _log_once(self, call_type: str | None, event: str | None, kind: str,
                  text: str, violation: bool) -> None:
        key = (call_type, event, kind)
        if key in self._logged:
            return
        self._logged.add(key)
        name = json.dumps(event, ensure_ascii=False) if event is not None else call_type
        what = "violation" if violation else "(not a violation)"
        log.warning("tracking plan %s: %s %s %s, e.g. %s (GET /_gateway/violations"
                    "?kind=%s lists them; logged once per event and kind)",
                    self.plan.name, name, kind, what, text, kind)
