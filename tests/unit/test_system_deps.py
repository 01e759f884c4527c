"""tools/system-deps.sh, which `make test` and `make demo` run first: a missing Debian package is
one line naming it and the command that installs it. Simulated by PATH (a folder holding only
the commands that should be found, and an `id` that says we are not root), never by
uninstalling anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "system-deps.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _run(target: str, tmp_path: Path, present: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")  # not root: never apt-get
    for name in present:
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    return subprocess.run([BASH, str(SCRIPT), target], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(("present", "line"), [
    ((), "make test: missing chromium curl node npm; install with: sudo apt-get install -y "
         "chromium curl nodejs npm"),
    (("curl", "node", "npm"), "make test: missing chromium; install with: sudo apt-get install "
                              "-y chromium"),
    (("chromium", "curl", "npm"), "make test: missing node; install with: sudo apt-get "
                                  "install -y nodejs"),
])
def test_a_missing_piece_is_one_line_with_its_install_command(
        tmp_path: Path, present: tuple[str, ...], line: str) -> None:
    result = _run("test", tmp_path, present)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", line + "\n")


def test_nothing_is_missing_when_everything_is_found(tmp_path: Path) -> None:
    result = _run("test", tmp_path, ("chromium", "curl", "node", "npm"))
    assert (result.returncode, result.stderr) == (0, "")


def test_the_demo_needs_node_and_npm_for_the_shop_page(tmp_path: Path) -> None:
    result = _run("demo", tmp_path, ())
    assert (result.returncode, result.stderr) == (
        1, "make demo: missing node npm; install with: sudo apt-get install -y nodejs npm\n")
    (tmp_path / "found").mkdir()
    assert _run("demo", tmp_path / "found", ("node", "npm")).returncode == 0


def test_the_image_needs_podman_runc_uidmap_and_mmdebstrap(tmp_path: Path) -> None:
    result = _run("image", tmp_path, ("runc",))
    assert (result.returncode, result.stderr) == (
        1, "make image: missing podman newuidmap mmdebstrap; install with: sudo apt-get install "
           "-y podman uidmap mmdebstrap\n")
    (tmp_path / "found").mkdir()
    found = ("podman", "runc", "newuidmap", "mmdebstrap")
    assert _run("image", tmp_path / "found", found).returncode == 0


def test_make_runs_the_check_before_any_test() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "test: system-test system-image lint typecheck docs unit" in makefile
    assert "unit: system-test" in makefile
    assert "image: system-image" in makefile
    assert "demo: system-demo" in makefile
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    assert os.access(SCRIPT, os.R_OK)
