"""The README's examples: every fenced block marked `<!-- example: NAME -->`, by name."""

from __future__ import annotations

import re

from tests.helpers.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(\w+)\n(.*?)```", re.S)
EXAMPLES = {name: body for name, _, body in EXAMPLE.findall(README)}
