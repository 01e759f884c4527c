"""action.yml, the composite GitHub Action, as far as this machine can run it: its shell steps,
taken from the file and run with bash as a runner runs them (`bash --noprofile --norc -eo
pipefail`, inputs substituted into each step's env, RUNNER_TEMP, GITHUB_OUTPUT and GITHUB_ENV
files). start installs the wheel built from this tree in a fresh venv and starts the mock and
the gateway with a tracking plan; a track that breaks the plan goes through; stop saves the
violations, stats and logs and stops both with SIGTERM. The upload step (actions/upload-artifact)
needs a real runner: only its inputs are checked. About 30 to 60 s (the install)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.container.podman import free_port, http
from tests.helpers.paths import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = {step.get("id", "upload"): step for step in ACTION["runs"]["steps"]}
INPUT = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")


def _run_step(step_id: str, inputs: dict[str, str], runner: Path) -> dict[str, str]:
    """One `run:` step; the outputs it wrote."""
    step = STEPS[step_id]
    assert step["shell"] == "bash"
    given = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    given.update(inputs)
    output = runner / f"{step_id}.output"
    output.write_text("")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "RUNNER_TEMP": str(runner), "GITHUB_OUTPUT": str(output),
           "GITHUB_ENV": str(runner / "github.env")}
    for name, value in step.get("env", {}).items():
        env[name] = INPUT.sub(lambda m: given[m.group(1)], value)
    script = runner / f"{step_id}.sh"
    script.write_text(step["run"])
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=runner, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, f"step {step_id}:\n{done.stdout}{done.stderr}"
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_steps_run_as_their_command_says() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {name: step["if"] for name, step in STEPS.items()} == {
        "install": "inputs.command == 'start'", "start": "inputs.command == 'start'",
        "stop": "inputs.command == 'stop'", "upload": "inputs.command == 'stop'"}
    assert STEPS["upload"]["uses"] == "actions/upload-artifact@v4"
    assert STEPS["upload"]["with"]["path"] == "${{ steps.stop.outputs.artifact-dir }}"
    for step in STEPS.values():  # inputs reach scripts through env only
        assert "${{" not in step.get("run", "")


def test_start_and_stop_the_mock_and_the_gateway_with_a_plan(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "-w", str(dist), str(ROOT)], capture_output=True, text=True, timeout=300,
        check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("pointillist_mock-*.whl")
    runner = tmp_path / "runner"
    runner.mkdir()
    mock, gateway = free_port(), free_port()
    inputs = {"package": str(wheel), "python": sys.executable, "mock-port": str(mock),
              "gateway": "true", "gateway-port": str(gateway), "write-key": "WK-ci",
              "tracking-plan": str(ROOT / "fixtures" / "tracking-plan.yaml")}
    _run_step("install", inputs, runner)
    home = runner / "pointillist-mock"
    try:
        outputs = _run_step("start", inputs, runner)
        assert outputs == {
            "mock-url": f"http://127.0.0.1:{mock}", "event-url": f"http://127.0.0.1:{mock}/event",
            "token": "ci-token", "gateway-url": f"http://127.0.0.1:{gateway}"}
        assert (runner / "github.env").read_text() == (
            f"POINTILLIST_MOCK_URL=http://127.0.0.1:{mock}\n"
            f"SEGMENT_GATEWAY_URL=http://127.0.0.1:{gateway}\n")
        pids = [int((home / f"{name}.pid").read_text()) for name in ("mock", "gateway")]

        # A job's test: a track the plan does not allow (Order Completed needs order_id, total).
        auth = "Basic " + base64.b64encode(b"WK-ci:").decode()
        status, body = http("POST", f"{outputs['gateway-url']}/v1/track", {
            "userId": "u1", "event": "Order Completed", "messageId": "m-1",
            "properties": {"total": 10}}, headers={"Authorization": auth})
        assert (status, body) == (200, {"success": True})
        status, listed = http("GET", f"{outputs['mock-url']}/_mock/events?min_count=1&timeout=20",
                              headers={"apiToken": outputs["token"]})
        assert (status, listed["total"], listed["events"][0]["event"]["eventType"]) == (
            200, 1, "Order Completed")
    finally:
        stopped = _run_step("stop", inputs, runner)
    assert stopped == {"artifact-dir": str(home / "artifact")}
    assert not any(_alive(pid) for pid in pids)
    artifact = home / "artifact"
    assert sorted(p.name for p in artifact.iterdir()) == [
        "gateway-stats.json", "gateway.log", "mock.log", "violations.json"]
    violations: dict[str, Any] = json.loads((artifact / "violations.json").read_text())
    assert (violations["plan"], violations["total"]) == ("PointShop", 3)
    assert {v["messageId"] for v in violations["violations"]} == {"m-1"}
    stats = json.loads((artifact / "gateway-stats.json").read_text())
    assert (stats["received"], stats["delivered"], stats["violatingMessages"]) == (1, 1, 1)
    for log in ("mock.log", "gateway.log"):
        assert "Traceback" not in (artifact / log).read_text()
