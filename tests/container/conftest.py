"""The image the container tests run: built once per run with `make image` (podman, the base
image from Debian's packages when missing), unless POINTILLIST_TEST_IMAGE says it was already
built in this run. Podman, runc, uidmap and mmdebstrap are installed first when running as root
(as CI does); otherwise the tests fail with the one line naming the command that installs
them (tools/system-deps.sh image). They never skip."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.container.podman import IMAGE
from tests.helpers.paths import ROOT

BUILD_TIMEOUT = 900.0


@pytest.fixture(scope="session")
def image() -> str:
    deps = subprocess.run(["bash", str(ROOT / "tools" / "system-deps.sh"), "image"],
                          capture_output=True, text=True, timeout=600, check=False)
    if deps.returncode != 0:
        pytest.fail(deps.stderr.strip(), pytrace=False)
    if os.environ.get("POINTILLIST_TEST_IMAGE") == IMAGE:
        return IMAGE
    build = subprocess.run(["make", "--no-print-directory", "image", f"IMAGE={IMAGE}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                           check=False)
    tail = build.stdout[-4000:] + build.stderr[-4000:]
    assert build.returncode == 0, f"make image failed:\n{tail}"
    return IMAGE
