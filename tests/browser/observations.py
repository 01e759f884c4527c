"""What the browser tests read back: the gateway's stats (waiting for counts) and the shape of
the events the mock stored."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page


def gateway_stats(gateway: str, **wait: int) -> Any:
    query = "&".join(f"min_{name}={n}" for name, n in wait.items())
    with urllib.request.urlopen(f"{gateway}/_gateway/stats?timeout=10&{query}") as response:
        return json.load(response)


def shapes(events: list[Any]) -> list[tuple[str, dict[str, str], dict[str, str], dict[str, Any]]]:
    return [(e["event"]["eventType"], e["event"]["actors"]["Customer"], e["event"]["labels"],
             e["event"]["numbers"]) for e in events]


def load(page: Page, url: str) -> str:
    """Open the page, wait until analytics.js has started; its anonymousId."""
    page.goto(url)
    page.wait_for_function("window.analytics && window.analytics.initialized === true")
    anonymous_id: str = page.evaluate("analytics.user().anonymousId()")
    return anonymous_id
