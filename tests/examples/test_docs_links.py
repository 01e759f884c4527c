"""The README's links into docs/ resolve, and every docs page is reachable from both fronts.

`mkdocs build --strict` (`make docs`) checks the links inside docs/; the README is outside the
site, so its relative links (which GitHub follows) are checked here: the file exists and, with a
`#fragment`, one of its headings has that anchor.
"""

from __future__ import annotations

import re

import yaml

from tests.helpers.paths import ROOT
from tests.helpers.readme_examples import DOCUMENTS, README

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's (and MkDocs' toc) anchor for a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), re.M)
    return {_anchor(heading) for heading in headings}


def _relative_links(text: str) -> list[str]:
    return [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


def test_the_anchor_rule_is_githubs() -> None:
    assert _anchor("Point your website at it") == "point-your-website-at-it"
    assert _anchor("The gateway: point a real Segment SDK at it") == (
        "the-gateway-point-a-real-segment-sdk-at-it")
    assert _anchor("The connector (Segment side)") == "the-connector-segment-side"


def test_every_relative_link_of_the_readme_resolves() -> None:
    links = _relative_links(README)
    broken = []
    for link in links:
        path, _, fragment = link.partition("#")
        target = ROOT / path if path else ROOT / "README.md"
        resolves = target.is_file() and (
            not fragment or fragment in _anchors(target.read_text(encoding="utf-8")))
        if not resolves:
            broken.append(link)
    assert broken == []
    assert "docs/connector.md#point-your-website-at-it" in links  # the check sees fragments


def test_every_docs_page_is_in_the_nav_and_in_the_readmes_list() -> None:
    pages = sorted(document.removeprefix("docs/") for document in DOCUMENTS
                   if document.startswith("docs/"))
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = sorted(next(iter(item.values())) for item in config["nav"])
    assert in_nav == pages
    listed = README.partition("## Documentation")[2]
    assert sorted({link.removeprefix("docs/") for link in _relative_links(listed)}) == pages


def test_the_site_is_built_strictly_and_offline() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    assert config["theme"]["name"] == "material"
    assert config["theme"]["font"] is False  # no Google Fonts fetched by the pages
    assert config["plugins"] == ["search"]  # nothing that fetches at build time
    assert config["site_dir"] == "site"
    assert "site/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_make_bench_writes_its_table_into_the_performance_page() -> None:
    from benchmarks.run import BEGIN, END, PERFORMANCE

    assert PERFORMANCE == ROOT / "docs" / "performance.md"
    text = PERFORMANCE.read_text(encoding="utf-8")
    assert (text.count(BEGIN), text.count(END)) == (1, 1)
    assert text.index(BEGIN) < text.index(END)


def test_make_docs_builds_strictly_and_make_test_runs_it() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.partition("\ndocs: ")[2].split("\n\n")[0]
    assert "mkdocs build --strict --site-dir site" in recipe
    assert "--quiet" not in recipe and " -q" not in recipe  # quiet lets --strict pass warnings
    (test_line,) = [line for line in makefile.splitlines() if line.startswith("test:")]
    assert "docs" in test_line.split()


def test_the_readme_stays_a_front_door() -> None:
    """Under 250 lines (issue 24): reference material belongs in docs/."""
    assert len(README.splitlines()) < 250
