"""A page on another origin, in Chromium, tries to change the mock's state: a form POST to
/_mock/reset?token=T and a no-cors fetch with a Blob body (no Content-Type) that would add a
503 fault rule. Both are refused, and the tenant's data is unchanged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page

from mockserver.plugin.handle import MockHandle
from tests.conftest import make_event

ATTACK = """<!doctype html><html><body>
<form id="reset" method="post" action="{mock}/_mock/reset?token={token}">
  <input type="hidden" name="x" value="1"></form>
<script>
async function fault() {{
  const rule = new Blob(['{{"kind":"status","status":503,"times":1000}}']);
  await fetch("{mock}/_mock/faults?token={token}", {{method: "POST", mode: "no-cors", body: rule}});
  await fetch("{mock}/_mock/faults", {{method: "POST", mode: "no-cors", body: rule,
                                       headers: {{"Content-Type": "text/plain"}}}});
  return "sent";
}}
</script></body></html>"""


@pytest.fixture
def attacker_site() -> Iterator[dict[str, str]]:
    """Another origin (its own port) serving whatever page the test puts in `pages["/"]`."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages["origin"] = f"http://localhost:{server.server_address[1]}"
    yield pages
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_page_on_another_origin_cannot_reset_or_add_faults(
    page: Page, mock: MockHandle, attacker_site: dict[str, str], console_errors: list[str],
) -> None:
    mock.send(make_event())
    attacker_site["/"] = ATTACK.format(mock=mock.url, token=mock.token)
    page.goto(attacker_site["origin"] + "/")
    assert page.evaluate("fault()") == "sent"  # no-cors: the page never sees the answer
    with page.expect_navigation():
        page.evaluate("document.getElementById('reset').submit()")
    assert '"cross_site_request"' in page.content()  # the mock's 403, shown as the page
    console_errors.clear()  # the refused requests are logged by Chromium as failed loads
    assert mock.stats()["events"] == 1  # not reset
    assert mock.faults() == []  # no rule added
