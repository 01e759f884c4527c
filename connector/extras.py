"""The `demo` extra: what only the demo, the traffic generator and the progress bars need.

A plugin user installs `pointillist-mock` alone and gets none of these (DESIGN.md: a light
install); a command that needs them says so in one line instead of an ImportError traceback.
"""

from __future__ import annotations

from importlib import metadata
from importlib.util import find_spec
from typing import Final

INSTALL_DEMO: Final = "pip install 'pointillist-mock[demo]'"
# The Faker release that wrote fixtures/ (the dev extra pins it): another one gives other bytes.
FIXTURES_FAKER: Final = "40.63.0"
# distribution name -> module it provides
DEMO_MODULES: Final = {"faker": "faker", "rich": "rich", "segment-analytics-python": "segment"}


def missing(*distributions: str) -> list[str]:
    """The distributions among `distributions` (keys of DEMO_MODULES) that are not importable."""
    return [name for name in distributions if find_spec(DEMO_MODULES[name]) is None]


def missing_line(prog: str, *distributions: str) -> str | None:
    """One line naming what is missing and how to install it, or None when nothing is."""
    absent = missing(*distributions)
    if not absent:
        return None
    return f"{prog}: needs {', '.join(absent)} (the demo extra): {INSTALL_DEMO}"


def faker_mismatch() -> str | None:
    """A warning when the installed Faker is not the one the committed fixtures came from."""
    try:
        installed = metadata.version("faker")
    except metadata.PackageNotFoundError:
        return None
    if installed == FIXTURES_FAKER:
        return None
    return (f"warning: Faker {installed} is installed; fixtures/ were written with Faker "
            f"{FIXTURES_FAKER}, so the same seed gives other names and places "
            f"(pip install faker=={FIXTURES_FAKER} for byte-identical output)")
