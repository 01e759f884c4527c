"""A diff (diff.py) as text for a terminal or a test failure, markdown for a pull-request
comment, or JSON. Pure. Positions are 1-based places in a snapshot: in A for removed and
changed events, in B for added ones (a changed event that moved shows both)."""

from __future__ import annotations

import json
from typing import Any, Final

from mockserver.review.diff import Change, Diff, EventChange, EventRef

__all__ = ["FORMATS", "render", "summary_line"]

FORMATS: Final = ("text", "json", "markdown")
_FIELD_NAMES: Final = {"labels": "label", "numbers": "number", "actors": "actor",
                       "location": "location"}


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)


def _field(change: Change) -> str:
    if change.key is None:
        return change.field
    return f"{_FIELD_NAMES.get(change.field, change.field)} {change.key}"


def _event(ref: EventRef, moved_from: EventRef | None = None, code: bool = False) -> str:
    where = f"#{ref.position}" if moved_from is None or moved_from.position == ref.position \
        else f"#{moved_from.position} → #{ref.position}"
    name = f"`{ref.event_type}`" if code else ref.event_type
    return f"{where} {name}" + ("" if ref.event_time is None else f" at {ref.event_time}")


def summary_line(result: Diff) -> str:
    if result.empty:
        return f"no difference: the same {result.events_a} events"
    return (f"{result.added} added, {result.removed} removed, {result.changed} changed in "
            f"{len(result.actors)} actor{'' if len(result.actors) == 1 else 's'}; "
            f"{result.unchanged} unchanged "
            f"(A: {result.events_a} events, B: {result.events_b})")


def _text(result: Diff) -> list[str]:
    lines: list[str] = []
    for actor in result.actors:
        lines.append(actor.actor)
        entries: list[tuple[int, list[str]]] = []
        for change in actor.changed:
            entries.append((change.after.position, _changed(change, code=False)))
        entries += [(ref.position, [f"  - {_event(ref)}"]) for ref in actor.removed]
        entries += [(ref.position, [f"  + {_event(ref)}"]) for ref in actor.added]
        for _, block in sorted(entries, key=lambda entry: entry[0]):
            lines.extend(block)
    return [*lines, summary_line(result)]


def _changed(change: EventChange, code: bool) -> list[str]:
    head = f"  ~ {_event(change.after, change.before, code)}"
    if code:
        return [f"- changed {_event(change.after, change.before, code)}",
                *(f"  - {_field(c)}: `{_value(c.before)}` → `{_value(c.after)}`"
                  for c in change.changes)]
    return [head, *(f"      {_field(c)}: {_value(c.before)} → {_value(c.after)}"
                    for c in change.changes)]


def _markdown(result: Diff) -> list[str]:
    lines = [f"**Pointillist events**: {summary_line(result)}"]
    for actor in result.actors:
        lines += ["", f"#### {actor.actor}"]
        for change in actor.changed:
            lines.extend(_changed(change, code=True))
        lines += [f"- removed {_event(ref, code=True)}" for ref in actor.removed]
        lines += [f"- added {_event(ref, code=True)}" for ref in actor.added]
    return lines


def render(result: Diff, form: str = "text") -> str:
    """The diff in `form` (one of FORMATS), ending with a newline."""
    if form == "json":
        return json.dumps(result.as_json(), ensure_ascii=False, indent=2) + "\n"
    if form == "markdown":
        return "\n".join(_markdown(result)) + "\n"
    if form != "text":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {form!r}")
    return "\n".join(_text(result)) + "\n"
