"""A synchronous handle on one tenant of a running mock: what the pytest plugin hands each test.

Plain urllib, so it works from any test, sync or async, without an extra HTTP client. In an
async test whose code under test sends from the same event loop, call the blocking waits off
the loop: `await asyncio.to_thread(mock.wait_for, 3)`.

Filters (`events`, `wait_for`, `assert_received`) are snake_case keywords, see `EventFilters`;
an unknown one is a TypeError rather than a filter silently ignored.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Unpack, cast

from mockserver.plugin.handle_types import (
    Actor,
    Conflict,
    EventFilters,
    FaultRule,
    Rejection,
    Stats,
    StoredEvent,
)
from mockserver.review import Snapshot, parse_snapshot

__all__ = [
    "Actor",
    "Conflict",
    "EventFilters",
    "FaultRule",
    "MockError",
    "MockHandle",
    "Rejection",
    "Snapshot",
    "Stats",
    "StoredEvent",
]

Json = dict[str, Any]
LISTED = 20  # events and rejections shown in a failure message
PAGE = 10_000  # the inspection API's largest page
HTTP_TIMEOUT = 30.0  # added to a server-side wait


_SNAKE_FILTERS = {
    "event_type": "eventType",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "actor_type": "actorType",
    "since": "since",
    "until": "until",
}
_FILTER_PARAMS = {**_SNAKE_FILTERS, **{wire: wire for wire in _SNAKE_FILTERS.values()}}
_SNAKE_FAULT_PARAMS = {
    "retry_after": "retryAfter",
    "retry_after_format": "retryAfterFormat",
    "jitter_ms": "jitterMs",
    "duration_seconds": "durationSeconds",
}


class MockError(AssertionError):
    """The mock answered with an error status (`status`, `code`), could not be reached, or
    broke the connection (e.g. a fault rule) before a whole answer came."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 details: Json | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details: Json = details or {}


class MockHandle:
    """One tenant (one token) of a running mock.

    Sending: `send`, `send_batch`, or your own client with `event_url` and `headers`.
    Inspecting: `events`, `wait_for`, `actor`, `stats`, `conflicts`, `rejected`; `reset`.
    Misbehaving on demand (this tenant's ingest requests only): `inject_fault`, `faults`,
    `clear_faults`.
    Asserting (failures list what the tenant received and rejected instead): `assert_received`,
    `assert_event`, `assert_nothing_rejected`.
    """

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def __repr__(self) -> str:
        return f"MockHandle(url={self.url!r}, token={self.token!r})"

    @property
    def headers(self) -> dict[str, str]:
        """The headers a client sends to reach this tenant: the token and the JSON type."""
        return {"apiToken": self.token, "Content-Type": "application/json"}

    @property
    def event_url(self) -> str:
        """POST one event here (the real API's endpoint)."""
        return f"{self.url}/event"

    @property
    def batch_url(self) -> str:
        """POST a JSON array of events here (a mock extension)."""
        return f"{self.url}/events"

    # -- sending -----------------------------------------------------------------------------

    def send(self, event: Mapping[str, Any], *, idempotency_key: str | None = None) -> str:
        """POST one event as a client would; return its id. A refusal raises MockError."""
        answer = self._call("POST", "/event", body=event, key=idempotency_key)
        return str(answer["id"])

    def send_batch(self, events: Sequence[Mapping[str, Any]], *,
                   idempotency_key: str | None = None) -> list[str]:
        """POST events to the batch endpoint (all or nothing); return their ids in order."""
        answer = self._call("POST", "/events", body=list(events), key=idempotency_key)
        return [str(i) for i in answer["ids"]]

    # -- inspecting --------------------------------------------------------------------------

    def events(self, **filters: Unpack[EventFilters]) -> list[StoredEvent]:
        """Stored events matching `filters`, oldest first."""
        return cast(list[StoredEvent], self._events(filters)["events"])

    def wait_for(self, count: int, timeout: float = 5.0,
                 **filters: Unpack[EventFilters]) -> list[StoredEvent]:
        """Wait (server-side, no polling) until at least `count` events match; return them all.

        Fails after `timeout` seconds (at most the mock's limit, 30 by default), showing what
        the tenant received and rejected instead.
        """
        __tracebackhide__ = True  # pytest shows the caller's line, not ours
        answer = self._events(filters, min_count=count, timeout=timeout)
        if not answer["minCountReached"]:
            raise AssertionError(self._explain(
                f"waited {timeout:g}s for {count} event(s) matching {_show(filters)}, "
                f"got {answer['total']}", filters))
        return cast(list[StoredEvent], answer["events"])

    def actor(self, *, user_id: str | None = None, anonymous_id: str | None = None,
              actor_type: str = "Customer", limit: int | None = None,
              offset: int | None = None) -> Actor:
        """The actor holding this identifier (give exactly one): identifiers, profile, and a
        page of its events (`limit`, 50 by default, from `offset`; `eventCount` has them all)."""
        params = {"userId": user_id, "anonymousId": anonymous_id, "actorType": actor_type,
                  "limit": limit, "offset": offset}
        return cast(Actor, self._call("GET", "/_mock/actor", params))

    def stats(self) -> Stats:
        return cast(Stats, self._call("GET", "/_mock/stats"))

    def conflicts(self) -> list[Conflict]:
        """Stitch conflicts, oldest first."""
        return cast(list[Conflict], self._call("GET", "/_mock/conflicts")["conflicts"])

    def rejected(self) -> list[Rejection]:
        """Refused requests with their reasons, newest first."""
        return cast(list[Rejection], self._call("GET", "/_mock/rejected")["rejected"])

    def snapshot(self, *, event_times: bool = True) -> Snapshot:
        """The tenant's snapshot (GET /_mock/snapshot): its events in order, volatile values
        left out. Compare it with syrupy's `snapshot` fixture (`assert
        pointillist_mock.snapshot() == snapshot`): a failure shows the event-level diff."""
        text = self._call("GET", "/_mock/snapshot",
                          {"eventTimes": "keep" if event_times else "drop"}, text=True)
        return parse_snapshot(text)

    def reset(self) -> None:
        """Forget everything this tenant stored and rejected, and its fault rules; other tenants
        are untouched."""
        self._call("POST", "/_mock/reset")

    # -- misbehaving -------------------------------------------------------------------------

    def inject_fault(self, kind: str, **params: Any) -> str:
        """Add a fault rule for this tenant's POST /event and /events; return its id.

        Keywords in Python's spelling or the wire's (`retry_after=` or `retryAfter=`), e.g.
        `inject_fault("status", status=503, times=5)`,
        `inject_fault("status", status=429, retry_after=2, probability=0.3, seed=7)`,
        `inject_fault("latency", ms=200, duration_seconds=10)`, `inject_fault("reset", times=1)`,
        `inject_fault("truncate", times=1)`, `inject_fault("delayVisibility", ms=1500, times=3)`.
        An invalid rule raises MockError (code `invalid_fault_rule`) saying what to fix.
        """
        body: Json = {"kind": kind}
        for name, value in params.items():
            wire = _SNAKE_FAULT_PARAMS.get(name, name)
            if wire in body:
                raise TypeError(f"fault parameter {wire!r} given twice")
            body[wire] = value
        return str(self._call("POST", "/_mock/faults", body=body)["id"])

    def faults(self) -> list[FaultRule]:
        """Every rule added since the last clear, in order, with how often each fired."""
        return cast(list[FaultRule], self._call("GET", "/_mock/faults")["rules"])

    def clear_faults(self) -> int:
        """Remove this tenant's fault rules; return how many there were."""
        return int(self._call("DELETE", "/_mock/faults")["cleared"])

    # -- asserting ---------------------------------------------------------------------------

    def assert_received(self, count: int, **filters: Unpack[EventFilters]) -> list[StoredEvent]:
        """Exactly `count` events match `filters` now (after `wait_for` if sending is async)."""
        __tracebackhide__ = True  # pytest shows the caller's line, not ours
        answer = self._events(filters)
        if answer["total"] != count:
            raise AssertionError(self._explain(
                f"expected {count} event(s) matching {_show(filters)}, got {answer['total']}",
                filters))
        return cast(list[StoredEvent], answer["events"])

    def assert_event(self, event_type: str, **expected: Any) -> StoredEvent:
        """Some stored event has this type and contains `expected`, e.g. labels={"plan": "pro"}.

        Objects match when they hold the expected keys (extra keys are fine), other values when
        equal. On failure, each event of that type is listed with the fields that differ.
        """
        __tracebackhide__ = True  # pytest shows the caller's line, not ours
        candidates = self.events(event_type=event_type)
        notes: dict[str, list[str]] = {}
        for item in candidates:
            differences = _differences(item["event"], expected)
            if not differences:
                return item
            notes[item["id"]] = differences
        wanted = f"{event_type!r} event" + (f" with {_show(expected)}" if expected else "")
        raise AssertionError(self._explain(f"no {wanted}", {}, notes))

    def assert_nothing_rejected(self) -> None:
        """The mock refused none of this tenant's requests."""
        __tracebackhide__ = True  # pytest shows the caller's line, not ours
        if self.rejected():
            raise AssertionError(self._explain("the mock rejected requests", {}))

    # -- plumbing ----------------------------------------------------------------------------

    def _events(self, filters: Mapping[str, Any], **extra: Any) -> Json:
        params: Json = {"limit": PAGE, **extra}
        for name, value in filters.items():
            param = _FILTER_PARAMS.get(name)
            if param is None:
                raise TypeError(f"unknown event filter {name!r}; use {', '.join(_SNAKE_FILTERS)}")
            if param in params:
                raise TypeError(f"event filter {param!r} given twice")
            params[param] = value
        return dict(self._call("GET", "/_mock/events", params))

    def _call(self, method: str, path: str, params: Mapping[str, Any] | None = None,
              body: Any = None, key: str | None = None, text: bool = False) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = self.headers if key is None else {**self.headers, "Idempotency-Key": key}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        timeout = HTTP_TIMEOUT + float(query.get("timeout", 0))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return raw.decode("utf-8") if text else json.loads(raw)
        except urllib.error.HTTPError as exc:
            raise _http_error(method, path, exc) from None
        except urllib.error.URLError as exc:
            raise MockError(f"{method} {url}: the mock cannot be reached ({exc.reason})") from None
        except (OSError, http.client.HTTPException) as exc:  # e.g. a reset or truncate fault
            raise MockError(f"{method} {url}: the connection broke before a whole answer came "
                            f"({type(exc).__name__}: {exc})") from None

    def _explain(self, headline: str, filters: Mapping[str, Any],
                 notes: Mapping[str, list[str]] | None = None) -> str:
        """`headline`, then what this tenant received (matches marked) and rejected."""
        everything = self._events({})
        total = everything["total"]
        matching = {e["id"] for e in self._events(filters)["events"]} if filters else set()
        lines = [headline]
        if total == 0:
            lines.append("this tenant received no events")
        else:
            legend = " (* matches the filters)" if filters else ""
            lines.append(f"this tenant received {total} event(s){legend}:")
            for item in everything["events"][:LISTED]:
                mark = ("* " if item["id"] in matching else "  ") if filters else ""
                lines.append(f"  {mark}{_describe(item)}")
                lines.extend(f"      {note}" for note in (notes or {}).get(item["id"], []))
            if total > LISTED:
                lines.append(f"  ... and {total - LISTED} more")
        rejected = self.rejected()
        if rejected:
            lines.append(f"the mock rejected {len(rejected)} request(s), newest first:")
            lines.extend(
                f"  {r['status']} {r['code']}: {r['method']} {r['path']}: {r['message']}"
                for r in rejected[:LISTED]
            )
        return "\n".join(lines)


def _http_error(method: str, path: str, exc: urllib.error.HTTPError) -> MockError:
    raw = exc.read().decode("utf-8", "replace")
    try:
        error = json.loads(raw)["error"]
        code, message, details = str(error["code"]), str(error["message"]), error["details"]
    except (ValueError, KeyError, TypeError):
        code, message, details = None, raw, {}
    label = f"{exc.code} {code}" if code else str(exc.code)
    return MockError(f"{method} {path} -> {label}: {message}", exc.code, code, details)


def _differences(actual: Any, expected: Any, path: str = "") -> list[str]:
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            where = f"{path}[{key!r}]" if path else str(key)
            if key not in actual:
                found.append(f"{where}: missing, expected {value!r}")
            else:
                found.extend(_differences(actual[key], value, where))
        return found
    return [] if actual == expected else [f"{path}: expected {expected!r}, got {actual!r}"]


def _show(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "anything"


def _describe(item: Mapping[str, Any], width: int = 240) -> str:
    event = item["event"]
    rest = {k: v for k, v in event.items() if k not in ("eventType", "eventTime", "eventSource")}
    line = (f"{item['id']}  {event.get('eventType')!r} at {item['eventTime']}  "
            f"{json.dumps(rest, sort_keys=True, separators=(',', ':'))}")
    return line if len(line) <= width else line[: width - 3] + "..."
