"""Two exception classes may not share a name across httpkit, mockserver and connector: a
reader (or a traceback) that says `InvalidQuery` must mean one class."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

PACKAGES = ("httpkit", "mockserver", "connector")


def exception_classes() -> dict[str, set[str]]:
    """Each exception class name defined in the three packages -> where each is defined."""
    found: dict[str, set[str]] = defaultdict(set)
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        modules = [package_name] + [
            info.name for info in pkgutil.walk_packages(package.__path__, f"{package_name}.")
            if not info.name.endswith("__main__")]  # running a CLI is not reading it
        for module_name in modules:
            module = importlib.import_module(module_name)
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, BaseException)
                        and value.__module__ == module_name):
                    found[value.__name__].add(f"{module_name}.{value.__qualname__}")
    return found


def test_every_exception_class_name_is_defined_once() -> None:
    found = exception_classes()
    shared = {name: sorted(places) for name, places in found.items() if len(places) > 1}
    assert shared == {}


def test_the_walk_sees_each_packages_error_tree() -> None:
    found = exception_classes()
    assert found["HttpProblem"] == {"httpkit.problems.HttpProblem"}
    assert found["MockServerError"] == {"mockserver.errors.MockServerError"}
    assert found["ConnectorError"] == {"connector.errors.ConnectorError"}
