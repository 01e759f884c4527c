"""The event-level explanation of a failed `assert pointillist_mock.snapshot() == snapshot`
(syrupy's `snapshot` fixture), for the pytest plugin's pytest_assertrepr_compare hook.

syrupy is not imported: its SnapshotAssertion is recognised by what it holds (the last
execution's `recalled_data`, the stored text), so the plugin works without syrupy installed.
When the stored text is not a snapshot (or none is stored yet) syrupy explains as usual."""

from __future__ import annotations

from typing import Any

from mockserver.review import Snapshot, diff, parse_snapshot
from mockserver.review.render import render


def _recalled(assertion: Any) -> str | None:
    results = getattr(assertion, "_execution_results", None)
    executions = getattr(assertion, "num_executions", None)
    if not isinstance(results, dict) or not isinstance(executions, int):
        return None
    result = results.get(executions - 1)
    recalled = getattr(result, "recalled_data", None)
    return recalled if isinstance(recalled, str) else None


def explain(op: str, left: Any, right: Any) -> list[str] | None:
    """Lines for pytest, or None to leave the comparison to others."""
    if op != "==":
        return None
    received, assertion = (left, right) if isinstance(left, Snapshot) else (right, left)
    if not isinstance(received, Snapshot):
        return None
    stored_text = _recalled(assertion)
    if stored_text is None:
        return None
    try:
        stored = parse_snapshot(stored_text)
    except ValueError:
        return None
    name = getattr(assertion, "name", "snapshot")
    lines = render(diff(stored, received), "text").splitlines()
    return [f"the events received differ from the stored {name} (A: stored, B: received; "
            "--snapshot-update stores what was received):", *lines]
