"""The tests' own layout: a test module imports helpers from helper modules (conftest.py, or a
module not named test_*), never from another test module; and tests/README.md's index names
every test module there is, and only those."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
README = TESTS / "README.md"


def _test_module(dotted: str) -> bool:
    return dotted.rpartition(".")[2].startswith("test_")


def imported_test_modules(path: Path) -> list[str]:
    """Every test module (or test function) that `path` imports, as written (`tests.e2e.test_x`,
    `.test_x`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if _test_module(module):
                found.append(module)
            else:  # `from tests.e2e import test_x`, or a test function imported by name
                found += [f"{module}.{alias.name}" for alias in node.names
                          if alias.name.startswith("test_")]
    return found


def test_imported_test_modules_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "import tests.e2e.test_stream\n"
        "from tests.e2e.test_persistence import start_process\n"
        "from .test_store import ev\n"
        "from tests.e2e import test_record\n"
        "from tests.e2e.gateway_helpers import run_gateway\n"
        "from tests.helpers.sse import next_message\n",
        encoding="utf-8",
    )
    assert imported_test_modules(module) == [
        "tests.e2e.test_stream", "tests.e2e.test_persistence", ".test_store",
        "tests.e2e.test_record",
    ]


def test_no_test_module_is_imported_by_another_module_of_the_tests() -> None:
    offenders = {
        str(path.relative_to(TESTS)): imported
        for path in sorted(TESTS.rglob("*.py"))
        if "node_modules" not in path.parts and (imported := imported_test_modules(path))
    }
    assert offenders == {}, "move the shared helpers into a helper module (see tests/README.md)"


def test_the_readme_index_names_every_test_module_and_only_those() -> None:
    on_disk = {
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("test_*.py")
        if "node_modules" not in path.parts
    }
    index = README.read_text(encoding="utf-8").partition("## Index by behaviour")[2]
    named = set(re.findall(r"`([a-z0-9_]+/test_\w+\.py)`", index))
    assert sorted(on_disk - named) == [], "add these to the index in tests/README.md"
    assert sorted(named - on_disk) == [], "tests/README.md names files that do not exist"
