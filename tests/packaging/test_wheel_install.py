"""The package as a pip user gets it: the wheel built from this tree, installed into a fresh
virtual environment, runs the demo, the serve command and the README's pytest-plugin example
from a folder that is not the source tree. Offline: the wheel is built without build isolation
and installed without its dependencies, which the fresh environment borrows from this one's
site-packages through a .pth file (paths only, so this tree's editable install is not seen)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.helpers.readme_examples import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding only the wheel."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(dist), str(ROOT)], capture_output=True, text=True, timeout=300, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "BuildBackendWarning" not in build.stdout + build.stderr
    (wheel,) = dist.glob("pointillist_mock-*.whl")
    env_dir = base / "env"
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / "bin"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install",
         "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    site = subprocess.run(
        [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(site, "borrowed-deps.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    return bin_dir


def _run(argv: list[str | Path], cwd: Path,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_the_installed_code_is_the_wheel(installed: Path, tmp_path: Path) -> None:
    result = _run([installed / "python", "-c",
                   "import connector, mockserver; print(mockserver.__file__, connector.__file__)"],
                  tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(ROOT) not in result.stdout
    assert str(installed.parent) in result.stdout


def test_the_demo_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    result = _run([installed / "pointillist-mock", "demo", "--no-wait"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "sending fixtures/medium.jsonl" in result.stdout
    assert "dashboard: http://127.0.0.1:" in result.stdout


def test_serve_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    command = EXAMPLES["serve"].strip().split()[1:]  # without .venv/bin/pointillist-mock
    args = [a.replace("8787", "0") for a in command]
    process = subprocess.Popen([str(installed / "pointillist-mock"), *args], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert re.match(r"pointillist-mock listening on http://127\.0\.0\.1:\d+ ", line), line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "events.journal").exists()


def test_the_readme_plugin_example_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "test_readme_example.py").write_text(EXAMPLES["pytest-plugin"])
    result = _run([installed / "python", "-m", "pytest", "-p", "no:cacheprovider", "-q",
                   "test_readme_example.py"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_connector_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    for argv in ([installed / "segment-connector", "--version"],
                 [installed / "python", "-m", "connector", "--version"]):
        result = _run(argv, tmp_path)
        assert (result.returncode, result.stdout.split()[0]) == (0, "segment-connector")
