"""Segment messages in, deliveries out, and a summary of what became of every message.

Three steps, the first two pure:

1. `read_jsonl(lines)` / `numbered(messages)`: each input item with its line (JSONL line
   number, 1-based; for an iterable of messages, its 1-based position). A JSONL line that is not
   JSON is an `Unreadable` value, never an exception; blank lines are ignored.
2. `plan(items, settings)`: map every message (`mapping.map_message`). A mapped message becomes
   a `Delivery` (Idempotency-Key = messageId, ordering key = its actor); a skipped one is counted
   by reason; an unreadable or unmappable one is a `MessageFailure` with its line and code.
3. `deliver(plan, client)`: send the deliveries with `DeliveryClient` and return a `Summary`
   (sent / skipped by reason / failed by reason) built on the client's `DeliveryResult`.

The ordering key is the *stitched* actor (`ordering.StitchedOrdering`), linked over the whole
input before the first send: every event of one stitched actor, on any device, before or after
its identify, shares one key, so they reach Pointillist in input order even with concurrency.
(An anonymousId claimed by two users puts both on one key: more ordering than needed, never
less.) That needs the whole input first: `plan` holds the mapped events.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp

from .client import Delivery, DeliveryClient, DeliveryResult
from .config import DEFAULT_MAPPING_SETTINGS, DeliveryConfig, MappingSettings
from .errors import DeliveryError, MappingError
from .mapping import Mapped, map_message
from .messages import message_id
from .ordering import StitchedOrdering

INVALID_JSON: Final = "invalid_json"

Stage = Literal["read", "mapping", "delivery"]

__all__ = [
    "INVALID_JSON", "MessageFailure", "Plan", "Summary", "Unreadable", "deliver", "numbered",
    "plan", "read_jsonl", "send",
]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A JSONL line that is not one JSON value (or not UTF-8)."""

    reason: str


@dataclass(frozen=True, slots=True)
class MessageFailure:
    """A message that was not delivered, and why.

    line: JSONL line number (or 1-based position in an iterable); stage: where it failed;
    code: `invalid_json`, a MappingError code, or the DeliveryError code; field: the
    MappingError's field (None otherwise); message: a readable explanation.
    """

    line: int
    stage: Stage
    code: str
    field: str | None
    message: str
    message_id: str | None = None

    def describe(self) -> str:
        where = f"{self.code} ({self.field})" if self.field is not None else self.code
        return f"line {self.line}: {where}: {self.message}"


@dataclass
class Plan:
    """What to send, what was skipped and what could not be mapped. `lines[i]` is the input
    line of `deliveries[i]`."""

    read: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    failures: list[MessageFailure] = field(default_factory=list)
    labels_left_out: int = 0  # mapped messages with a label left out (max_label_length)


@dataclass
class Summary:
    """The outcome of a run: every message read is sent, skipped or failed."""

    read: int
    result: DeliveryResult  # sent, replays, attempts, retries, skip reasons, delivery failures
    failures: list[MessageFailure]  # read, mapping and delivery failures, by line
    labels_left_out: int = 0  # sent or not, messages whose event lost a too-long label
    unreachable: DeliveryError | None = None  # set when delivery gave up on the URL

    @property
    def sent(self) -> int:
        return self.result.sent

    @property
    def skipped(self) -> dict[str, int]:
        return dict(sorted(self.result.skip_reasons.items()))

    @property
    def failed(self) -> dict[str, int]:
        return dict(sorted(Counter(failure.code for failure in self.failures).items()))

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read, "sent": self.sent, "duplicates": self.result.duplicates,
            "skipped": self.skipped, "failed": self.failed,
            "attempts": self.result.attempts, "retries": self.result.retries,
            "labelsLeftOut": self.labels_left_out,
        }


# -- 1. reading --------------------------------------------------------------------------------


def read_jsonl(lines: Iterable[bytes | str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON value or Unreadable) for each non-blank line."""
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, Unreadable(f"not UTF-8: {exc.reason} at byte {exc.start}")
                continue
        else:
            text = raw
        if not text.strip():
            continue
        yield number, _parse(text)


def _parse(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return Unreadable("nested too deeply")
    except ValueError as exc:  # includes JSONDecodeError
        return Unreadable(str(exc))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def numbered(messages: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    """Messages from an iterable, numbered from 1 like lines."""
    return enumerate(messages, 1)


# -- 2. planning (pure) ------------------------------------------------------------------------


def plan(
    items: Iterable[tuple[int, Any]], settings: MappingSettings = DEFAULT_MAPPING_SETTINGS
) -> Plan:
    """Map every (line, message); see the module docstring."""
    out = Plan()
    ordering = StitchedOrdering()
    mapped: list[tuple[int, Mapped]] = []
    for line, message in items:
        out.read += 1
        if isinstance(message, Unreadable):
            out.failures.append(MessageFailure(line, "read", INVALID_JSON, None, message.reason))
            continue
        try:
            result = map_message(message, settings)
        except MappingError as error:
            out.failures.append(MessageFailure(
                line, "mapping", error.code, error.field, error.message, _message_id(message)))
            continue
        if isinstance(result, Mapped):
            out.labels_left_out += bool(result.labels_left_out)
            ordering.link(result.event["actors"])
            mapped.append((line, result))
        else:
            out.skipped[result.reason] += 1
    for line, result in mapped:
        key = ordering.key(result.event["actors"])
        out.deliveries.append(Delivery(result.event, result.message_id, key))
        out.lines.append(line)
    return out


def _message_id(message: Any) -> str | None:
    return message_id(message) if isinstance(message, Mapping) else None




# -- 3. delivering -----------------------------------------------------------------------------


async def deliver(
    planned: Plan, client: DeliveryClient, result: DeliveryResult | None = None
) -> Summary:
    """Send the planned deliveries; `result` (optional) is filled in as answers arrive, so a
    caller can show progress from `result.sent + result.failed`."""
    result = result if result is not None else DeliveryResult()
    for reason, count in sorted(planned.skipped.items()):
        result.skip(reason, count)
    await client.deliver(planned.deliveries, result)
    line_of = {id(item): line for item, line in zip(planned.deliveries, planned.lines,
                                                       strict=True)}
    failures = list(planned.failures)
    for failure in result.failures:
        failures.append(MessageFailure(
            line_of[id(failure.delivery)], "delivery", failure.error.code, None,
            failure.error.message, failure.delivery.idempotency_key))
    failures.sort(key=lambda failure: failure.line)
    return Summary(planned.read, result, failures, planned.labels_left_out, client.unreachable)


async def send(
    source: Path | Iterable[Mapping[str, Any]],
    config: DeliveryConfig,
    settings: MappingSettings = DEFAULT_MAPPING_SETTINGS,
    *,
    session: aiohttp.ClientSession | None = None,
    result: DeliveryResult | None = None,
) -> Summary:
    """Read (a JSONL file, or an iterable of messages), plan and deliver in one call."""
    if isinstance(source, Path):
        with source.open("rb") as lines:
            planned = plan(read_jsonl(lines), settings)
    else:
        planned = plan(numbered(source), settings)
    if session is not None:
        return await deliver(planned, DeliveryClient(session, config), result)
    async with aiohttp.ClientSession() as own:
        return await deliver(planned, DeliveryClient(own, config), result)
