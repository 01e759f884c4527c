"""The dashboard's files over HTTP: the page at /, its assets under /dashboard/, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import ClientSession

DASHBOARD = Path(__file__).resolve().parents[2] / "mockserver" / "dashboard"


async def test_the_page_is_served_at_the_root_without_a_token(mock_url: str) -> None:
    async with ClientSession() as anonymous, anonymous.get(f"{mock_url}/") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert await response.read() == (DASHBOARD / "index.html").read_bytes()


@pytest.mark.parametrize(("name", "content_type"), [
    ("app.js", "text/javascript; charset=utf-8"),
    ("charts.js", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
])
async def test_each_asset_is_served_with_its_type(
    mock_url: str, http: ClientSession, name: str, content_type: str
) -> None:
    async with http.get(f"{mock_url}/dashboard/{name}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert await response.read() == (DASHBOARD / name).read_bytes()


def test_the_page_loads_nothing_from_the_network() -> None:
    for path in DASHBOARD.glob("*.*"):
        if path.suffix in (".html", ".js", ".css"):
            text = path.read_text(encoding="utf-8")
            assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), path.name
            assert "https://" not in text, path.name
            assert "//cdn" not in text, path.name


@pytest.mark.parametrize("name", ["__init__.py", "nope.js", "..%2f__init__.py", "index.html"])
async def test_anything_else_under_dashboard_is_a_json_404(
    mock_url: str, http: ClientSession, name: str
) -> None:
    async with http.get(f"{mock_url}/dashboard/{name}") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
