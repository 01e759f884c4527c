"""The documentation's examples: every fenced block marked `<!-- example: NAME -->`, by name.

They live in README.md (the front door) and in docs/*.md (the reference); a name is used once
across all of them, and each example is found by its name wherever it lives.
"""

from __future__ import annotations

import re

from tests.helpers.paths import ROOT

DOCUMENTS = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
}
README = DOCUMENTS["README.md"]
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(\w+)\n(.*?)```", re.S)
SITES = [(name, document) for document, text in DOCUMENTS.items()
         for name, _, _ in EXAMPLE.findall(text)]
"""(name, document) for every marked block, duplicates included, so a test can refuse them."""
EXAMPLES = {name: body for text in DOCUMENTS.values() for name, _, body in EXAMPLE.findall(text)}
WHERE = dict(SITES)
"""name -> the document (README.md or docs/NAME.md) that holds the example."""
