"""The CI recipes (docs/recipes/) and docs/container.md against the code, where no runner can
try them here: every server variable a recipe sets is a flag's variable (or POINTILLIST_ROLE),
every service runs a role the entry point knows, every input given to the action exists, and
docs/container.md lists the variable of every flag of both servers."""

from __future__ import annotations

import re
from typing import Any

import yaml

from connector.cli import GATEWAY_ENV_PREFIX, build_parser
from httpkit.environment import subcommand, variable
from mockserver.__main__ import ENV_PREFIX, _parser
from tests.helpers.paths import ROOT
from tests.helpers.readme_examples import EXAMPLES

RECIPES = ROOT / "docs" / "recipes"
ENTRYPOINT = (ROOT / "container" / "entrypoint.sh").read_text(encoding="utf-8")
ACTION_INPUTS = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])


def _variables() -> set[str]:
    found = set()
    for parser, prefix in ((subcommand(_parser([]), "serve"), ENV_PREFIX),
                           (subcommand(build_parser(), "gateway"), GATEWAY_ENV_PREFIX)):
        for action in parser._actions:
            flags = [s for s in action.option_strings if s.startswith("--")]
            if flags and action.dest != "help":
                found.add(variable(prefix, flags[0]))
    return found


VARIABLES = _variables()
KNOWN = VARIABLES | {"POINTILLIST_ROLE", "POINTILLIST_MOCK_TOKENS"}


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((RECIPES / name).read_text(encoding="utf-8"))
    return loaded


def _server_names(env: dict[str, Any]) -> set[str]:
    return {name for name in env if name.startswith(("POINTILLIST_", "SEGMENT_GATEWAY_"))}


def test_docs_list_the_variable_of_every_flag() -> None:
    docs = (ROOT / "docs" / "container.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `--[\w-]+` \| `(\w+)` \|", docs, re.M))
    assert listed == VARIABLES


def test_github_services_run_known_roles_with_known_variables() -> None:
    services = _load("github-actions-services.yml")["jobs"]["test"]["services"]
    assert set(services) == {"mock", "gateway"}
    assert services["gateway"]["env"]["POINTILLIST_ROLE"] == "gateway"
    assert (services["mock"]["ports"], services["gateway"]["ports"]) == (
        ["8787:8787"], ["8788:8788"])
    for service in services.values():
        assert _server_names(service.get("env", {})) <= KNOWN


def test_gitlab_services_run_known_roles_with_known_variables() -> None:
    job = _load("gitlab-ci.yml")["test"]
    assert [s.get("command") for s in job["services"]] == [None, ["gateway"]]
    assert [s["alias"] for s in job["services"]] == ["mock", "gateway"]
    assert _server_names(job["variables"]) <= KNOWN


def test_compose_runs_known_roles_with_known_variables() -> None:
    services = _load("compose.yaml")["services"]
    assert services["gateway"]["command"] == ["gateway"]
    assert "mock" not in services["mock"].get("command", [])
    for name in ("mock", "gateway"):
        assert _server_names(services[name]["environment"]) <= KNOWN
    assert services["app"]["environment"]["SEGMENT_HOST"] == "http://gateway:8788"
    assert '  gateway) shift; exec segment-connector gateway "$@" ;;' in ENTRYPOINT


def test_the_action_recipe_gives_only_inputs_the_action_has() -> None:
    steps = _load("github-actions-action.yml")["jobs"]["test"]["steps"]
    ours = [step for step in steps if str(step.get("uses", "")).endswith("/pointillist-mock@v1")]
    assert len(ours) == 2
    for step in ours:
        assert set(step.get("with", {})) <= ACTION_INPUTS
    assert ours[1]["if"] == "always()" and ours[1]["with"] == {"command": "stop"}


def test_the_recipes_are_the_four_documented() -> None:
    assert sorted(p.name for p in RECIPES.iterdir()) == [
        "compose.yaml", "github-actions-action.yml", "github-actions-services.yml",
        "gitlab-ci.yml"]


def test_the_readme_shows_the_recipes_as_they_are() -> None:
    shown = yaml.safe_load(EXAMPLES["ci-services"])["services"]
    services = _load("github-actions-services.yml")["jobs"]["test"]["services"]
    assert shown == {name: {k: v for k, v in service.items() if k != "options"}
                     for name, service in services.items()}
    steps = _load("github-actions-action.yml")["jobs"]["test"]["steps"]
    action = yaml.safe_load(EXAMPLES["ci-action"])
    assert [action[0]["uses"], action[0]["id"], action[0]["with"]] == [
        steps[2]["uses"], steps[2]["id"], {"gateway": "true",
                                           "tracking-plan": "tracking-plan.yaml"}]
    assert action[1]["env"]["SEGMENT_HOST"] == steps[3]["env"]["SEGMENT_HOST"]
    assert action[2] == steps[4]
    assert set(action[0]["with"]) <= ACTION_INPUTS
