"""The import rule (DESIGN.md, Layout): imports run one way.

- httpkit imports neither mockserver nor connector;
- mockserver never imports connector, and inside it every import goes down its floors:
  base modules < validation/, faults < state/ < record/ < service/ < http/, dashboard/ <
  plugin/, the CLI; with no import circle between modules;
- the connector's domain code never imports mockserver: only its composers do.
Read from the source (ast), so a violating import fails here whether or not it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FLOORS = {  # mockserver's floors, lowest first
    "mockserver.errors": 0, "mockserver.settings": 0, "mockserver.times": 0,
    "mockserver.codec": 0,
    "mockserver.validation": 1, "mockserver.faults": 1, "mockserver.review": 1,
    "mockserver.state": 2,
    "mockserver.record": 3,
    "mockserver.service": 4,
    "mockserver.http": 5, "mockserver.dashboard": 5,
    "mockserver.plugin": 6, "mockserver.__main__": 6, "mockserver": 6,
    "mockserver.review_commands": 6,
}
# They start a mock to compose both (replay: a throw-away mock for a capture).
COMPOSERS = {"connector.demo", "connector.pytest_plugin", "connector.cli.replay"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports (a `from X import name` counts X and X.name when that is a
    module of ours), at any depth of the code, type-checking blocks included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                        ROOT / candidate.replace(".", "/") / "__init__.py").exists():
                    found.add(candidate)
    return {module for module in found if module.split(".")[0] in
            ("httpkit", "mockserver", "connector")}


def sources(package: str) -> dict[str, set[str]]:
    return {module_name(path): imports(path)
            for path in sorted((ROOT / package).rglob("*.py"))}


def floor(module: str) -> int:
    while module not in FLOORS:
        module = module.rpartition(".")[0]
    return FLOORS[module]


def test_httpkit_imports_neither_server() -> None:
    wrong = {(module, target) for module, targets in sources("httpkit").items()
             for target in targets if not target.startswith("httpkit")}
    assert wrong == set()


def test_mockserver_never_imports_the_connector() -> None:
    wrong = {(module, target) for module, targets in sources("mockserver").items()
             for target in targets if target.startswith("connector")}
    assert wrong == set()


def test_mockserver_imports_only_down_its_floors() -> None:
    upward = {(module, target) for module, targets in sources("mockserver").items()
              for target in targets
              if target.startswith("mockserver") and target != "mockserver"
              and floor(target) > floor(module)}
    assert upward == set()


def test_mockserver_has_no_import_circle() -> None:
    graph = {module: {t for t in targets if t.startswith("mockserver.")}
             for module, targets in sources("mockserver").items()}
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:  # O(modules + imports)
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            # a package's __init__ importing its own modules is how a package exports
            if module != "mockserver" and target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_connector_imports_mockserver_only_in_its_composers() -> None:
    importers = {module for module, targets in sources("connector").items()
                 if any(target.startswith("mockserver") for target in targets)}
    assert importers <= COMPOSERS
