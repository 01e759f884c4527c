"""A synchronous handle on one tenant of a running mock: what the pytest plugin hands each test.

Plain urllib, so it works from any test, sync or async, without an extra HTTP client.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

Json = dict[str, Any]


class MockError(AssertionError):
    """The mock answered with an error status."""


class MockHandle:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        """The headers a client sends to reach this tenant."""
        return {"apiToken": self.token}

    @property
    def event_url(self) -> str:
        return f"{self.url}/event"

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None,
              body: Any = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise MockError(f"{method} {path} -> {exc.code}: {exc.read().decode()}") from None

    def send(self, event: Json, idempotency_key: str | None = None) -> str:
        """POST one event as a client would; return its id."""
        path = "/event"
        if idempotency_key is None:
            return str(self._call("POST", path, body=event)["id"])
        request = urllib.request.Request(
            self.event_url, data=json.dumps(event).encode(), method="POST",
            headers={**self.headers, "Content-Type": "application/json",
                     "Idempotency-Key": idempotency_key},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["id"])

    def events(self, **filters: Any) -> list[Json]:
        """Stored events (each {id, receivedAt, eventTime, event}), oldest first."""
        filters.setdefault("limit", 10_000)
        return list(self._call("GET", "/_mock/events", filters)["events"])

    def wait_for(self, count: int, timeout: float = 5.0, **filters: Any) -> list[Json]:
        """Wait server-side until `count` events match; fail showing what arrived instead."""
        params = {**filters, "min_count": count, "timeout": timeout, "limit": 10_000}
        answer = self._call("GET", "/_mock/events", params)
        if not answer["minCountReached"]:
            raise AssertionError(
                f"waited {timeout:g}s for {count} events matching {filters or 'anything'}, "
                f"got {answer['total']}:\n{_describe(answer['events'])}{self._rejected_note()}"
            )
        return list(answer["events"])

    def actor(self, *, user_id: str | None = None, anonymous_id: str | None = None,
              actor_type: str = "Customer") -> Json:
        params = {"userId": user_id, "anonymousId": anonymous_id, "actorType": actor_type}
        return dict(self._call("GET", "/_mock/actor", params))

    def stats(self) -> Json:
        return dict(self._call("GET", "/_mock/stats"))

    def conflicts(self) -> list[Json]:
        return list(self._call("GET", "/_mock/conflicts")["conflicts"])

    def rejected(self) -> list[Json]:
        return list(self._call("GET", "/_mock/rejected")["rejected"])

    def reset(self) -> None:
        self._call("POST", "/_mock/reset")

    def assert_received(self, count: int, **filters: Any) -> list[Json]:
        """Exactly `count` events match `filters` now."""
        found = self.events(**filters)
        if len(found) != count:
            raise AssertionError(
                f"expected {count} events matching {filters or 'anything'}, got {len(found)}:\n"
                f"{_describe(found)}{self._rejected_note()}"
            )
        return found

    def assert_event(self, event_type: str, **expected: Any) -> Json:
        """One stored event has this type and contains `expected` (e.g. labels={...})."""
        found = self.events()
        for item in found:
            event = item["event"]
            if event.get("eventType") == event_type and all(
                _contains(event.get(field), value) for field, value in expected.items()
            ):
                return dict(item)
        raise AssertionError(
            f"no {event_type!r} event containing {expected}; received {len(found)}:\n"
            f"{_describe(found)}{self._rejected_note()}"
        )

    def _rejected_note(self) -> str:
        rejected = self.rejected()
        if not rejected:
            return ""
        lines = "\n".join(f"  {r['status']} {r['code']}: {r['message']}" for r in rejected[:5])
        return f"\nrejected requests (newest first):\n{lines}"


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(actual[key], value) for key, value in expected.items()
        )
    return bool(actual == expected)


def _describe(events: list[Json]) -> str:
    if not events:
        return "  (nothing)"
    return "\n".join(f"  {e['id']} {json.dumps(e['event'], sort_keys=True)}" for e in events[:20])
