"""A synchronous handle on one write key of a running gateway: what the `segment_gateway`
pytest fixture (connector/pytest_plugin.py) hands each test.

Plain urllib, like mockserver.plugin.handle, so it works from any test. The write key is the test's
Pointillist token (the gateway runs with --token-per-write-key), so what the app under test
sends arrives in that test's `pointillist_mock` tenant; `violations()` lists only the
violations of messages sent with this write key (filtered by its hash, never by the key), and
`unplanned_properties()` its unplanned properties, which are no violation unless the fixture
runs with --segment-fail-on-unplanned-properties.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast

from .errors import GatewayCallError
from .gateway.planning import write_key_hash

__all__ = ["GatewayCallError", "GatewayHandle", "Violation"]

PAGE = 10_000  # GET /_gateway/violations' largest page
HTTP_TIMEOUT = 30.0  # added to a server-side wait
NO_PLAN = ("assert_no_violations(): no tracking plan is set, so nothing was checked: pass "
           "--segment-tracking-plan PATH to pytest or set segment_tracking_plan = PATH in its "
           "ini file")


class Violation(TypedDict):
    """One tracking-plan violation, as GET /_gateway/violations lists it."""

    messageId: str | None
    type: str | None
    event: str | None
    kind: str  # Protocols' kinds: unplanned_event, required, invalid_type ...
    path: str  # e.g. properties.revenue
    message: str
    blocked: str | None  # why the message was blocked, when it was
    violation: bool  # False for an unplanned property reported apart
    version: NotRequired[int]


class GatewayHandle:
    """One write key of the session's gateway.

    `url`: point the app's Segment SDK here (e.g. analytics-python's `host=`), with
    `write_key`. `violations()`, `assert_no_violations()`, `wait_for_delivery()`.
    """

    def __init__(self, url: str, write_key: str, plan: str | None = None) -> None:
        """plan: the tracking plan the gateway checks ("<name> (<path>)"), None without one."""
        self.url = url.rstrip("/")
        self.write_key = write_key
        self.plan = plan

    def __repr__(self) -> str:  # the key is the test's Pointillist token: shown masked
        return f"GatewayHandle(url={self.url!r}, write_key={_mask(self.write_key)!r})"

    @property
    def headers(self) -> dict[str, str]:
        """What a hand-written client sends: Segment's Basic auth with the write key."""
        basic = base64.b64encode(f"{self.write_key}:".encode()).decode()
        return {"Authorization": f"Basic {basic}", "Content-Type": "application/json"}

    def send(self, route: str, body: Mapping[str, Any]) -> None:
        """POST one Segment call to /v1/<route> (track, identify, batch ...) with this key."""
        self._call("POST", f"/v1/{route}", body=body)

    def violations(self, **filters: str) -> list[Violation]:
        """This write key's violations, oldest first; filters: event, type, kind, messageId."""
        return [v for v in self._findings(filters) if v.get("violation", True)]

    def unplanned_properties(self, **filters: str) -> list[Violation]:
        """This write key's unplanned properties and traits that are no violation (reported
        apart, as Protocols' Source Schema shows them), oldest first."""
        return [v for v in self._findings({**filters, "kind": "unplanned_property"})
                if not v.get("violation", True)]

    def _findings(self, filters: Mapping[str, str]) -> list[Violation]:
        params = {"limit": PAGE, **filters, "writeKeyHash": write_key_hash(self.write_key)}
        return cast(list[Violation], self._call("GET", "/_gateway/violations",
                                                params)["violations"])

    def assert_no_violations(self) -> None:
        """Nothing this write key sent broke the tracking plan; else each violation is listed."""
        __tracebackhide__ = True  # pytest shows the caller's line, not ours
        if self.plan is None:
            raise AssertionError(NO_PLAN)
        found = self.violations()
        if found:
            raise AssertionError(describe(found))

    def wait_for_delivery(self, timeout: float = 5.0) -> dict[str, int]:
        """Wait (server-side) until the gateway has nothing pending: every accepted message is
        delivered, skipped or a dead letter. Returns the gateway's counters. Flush the SDK
        first: a message still in its queue has not reached the gateway."""
        __tracebackhide__ = True
        stats = self._call("GET", "/_gateway/stats", {"max_pending": 0, "timeout": timeout})
        if not stats.pop("waitSatisfied"):
            raise AssertionError(f"waited {timeout:g}s for the gateway to deliver; "
                                 f"{stats['pending']} message(s) still pending ({stats})")
        return cast(dict[str, int], stats)

    def _call(self, method: str, path: str, params: Mapping[str, Any] | None = None,
              body: Any = None) -> Any:
        query = urllib.parse.urlencode(params or {})
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        timeout = HTTP_TIMEOUT + float((params or {}).get("timeout", 0))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            raise GatewayCallError(f"{method} {path} -> {exc.code}: {text}",
                                   {"status": exc.code}) from None
        except (OSError, http.client.HTTPException) as exc:
            raise GatewayCallError(f"{method} {url}: the gateway cannot be reached "
                                   f"({type(exc).__name__}: {exc})") from None


def describe(violations: list[Violation]) -> str:
    """A failure message: one line per violation, with the message and where to look."""
    lines = [f"{len(violations)} tracking-plan violation(s):"]
    for v in violations:
        name = json.dumps(v["event"]) if v.get("event") is not None else v.get("type")
        blocked = f" (blocked: {v['blocked']})" if v.get("blocked") else ""
        lines.append(f"  {v['messageId']} {name} {v['kind']} {v['path']}: "
                     f"{v['message']}{blocked}")
    return "\n".join(lines)


def _mask(secret: str) -> str:
    """As the project shows tokens: the first 3 characters and an ellipsis, when long."""
    return f"{secret[:3]}…" if len(secret) >= 12 else "…"
