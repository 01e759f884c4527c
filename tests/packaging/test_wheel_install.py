"""The package as a pip user gets it: the README's install lines, run as written (`make wheel`
in this tree, then `pip install ./dist/…whl` in a fresh virtual environment, from the tree's
folder), and the core commands and the README's pytest examples run from there, in a folder
that is not the source tree.

Offline: pip runs with PIP_NO_INDEX=1 (the only change to the README's lines). A requirement is
met only by what the fresh environment already sees: the distributions this environment has
installed for exactly the package's requirements (their own requirements included), linked into
a folder that a .pth file adds to the fresh environment. The plain environment sees only the
core requirements and pytest (the README's pytest examples are the user's tests), never the
demo extra's rich, Faker or Segment SDK: a core command that needs them fails here."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from connector.gateway.settings import SOURCE_ANALYTICS_JS
from mockserver.http.server import BackgroundServer
from tests.helpers.readme_examples import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
MAKE, PLAIN, DEMO = (line.strip() for line in EXAMPLES["install"].strip().splitlines())
USERS_OWN = ["pytest"]  # what a project running the README's pytest examples has already


def _closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions that satisfy `requirements`, theirs included."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(text, "") for text in requirements]
    while todo:
        text, extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        dist = found.get(name) or metadata.distribution(requirement.name)
        assert dist.version in requirement.specifier, (text, dist.version)
        new = name not in found
        found[name] = dist
        for wanted in ([""] if new else []) + sorted(requirement.extras):
            todo += [(child, wanted) for child in dist.requires or []]
    return found


def _borrowed(folder: Path, requirements: list[str]) -> Path:
    """A folder holding links to the files of the distributions of `requirements`."""
    folder.mkdir()
    for dist in _closure(requirements).values():
        site = Path(str(dist.locate_file("")))
        for top in {Path(str(f)).parts[0] for f in dist.files or []} - {".."}:
            if (site / top).exists() and not (folder / top).exists():
                (folder / top).symlink_to(site / top)
    return folder


def _core_requirements() -> list[str]:
    requires = metadata.distribution("pointillist-mock").requires or []
    return [r for r in requires if "extra ==" not in r]


@dataclass(frozen=True)
class Installed:
    bin: Path
    seconds: float


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _install(base: Path, line: str, borrowed: Path) -> Installed:
    """A fresh venv that sees `borrowed`, then the README's install `line` run in it."""
    import time

    started = time.monotonic()
    env_dir = base / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    site = subprocess.run(
        [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed-deps.pth").write_text(f"{borrowed}\n")
    env = {**_env(), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    install = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    assert "Successfully installed pointillist-mock-0.1.0" in install.stdout, install.stdout
    return Installed(bin_dir, time.monotonic() - started)


@pytest.fixture(scope="module")
def wheel() -> Path:
    """The README's `make wheel`, in this tree."""
    assert MAKE == "make wheel"
    build = subprocess.run(["make", "-s", "wheel"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "BuildBackendWarning" not in build.stdout + build.stderr
    (built,) = (ROOT / "dist").glob("pointillist_mock-*.whl")
    assert f"pip install ./dist/{built.name}" == PLAIN
    return built


@pytest.fixture(scope="module")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("plain")
    return _install(base, PLAIN, _borrowed(base / "deps", _core_requirements() + USERS_OWN))


@pytest.fixture(scope="module")
def demo(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("demo")
    demo_extra = [r.split(";")[0] for r in metadata.distribution("pointillist-mock").requires
                  or [] if 'extra == "demo"' in r]
    return _install(base, DEMO, _borrowed(base / "deps", _core_requirements() + demo_extra))


@pytest.fixture
def mock_url() -> Iterator[str]:
    with BackgroundServer() as server:
        yield server.url


def _run(argv: list[str | Path], cwd: Path,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def _events(url: str, token: str) -> int:
    request = urllib.request.Request(f"{url}/_mock/stats", headers={"apiToken": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["events"])


def test_the_installed_code_is_the_wheel_with_only_the_core_requirements(
    plain: Installed, tmp_path: Path,
) -> None:
    print(f"plain install: {plain.seconds:.1f} s")
    result = _run([plain.bin / "python", "-c",
                   "import connector, mockserver; print(mockserver.__file__, connector.__file__)\n"
                   "from importlib.util import find_spec\n"
                   "print([m for m in ('rich', 'faker', 'segment') if find_spec(m)])"], tmp_path)
    assert result.returncode == 0, result.stderr
    files, extras = result.stdout.splitlines()
    assert str(ROOT) not in files
    assert str(plain.bin.parent) in files
    assert extras == "[]"


def test_serve_runs_from_the_wheel(plain: Installed, tmp_path: Path) -> None:
    command = EXAMPLES["serve"].strip().split()[1:]  # without .venv/bin/pointillist-mock
    args = [a.replace("8787", "0") for a in command]
    process = subprocess.Popen([str(plain.bin / "pointillist-mock"), *args], cwd=tmp_path,
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


def test_send_runs_from_the_plain_wheel(plain: Installed, mock_url: str, tmp_path: Path) -> None:
    (tmp_path / "traffic.jsonl").write_bytes((ROOT / "fixtures" / "medium.jsonl").read_bytes())
    send = next(line for line in EXAMPLES["connector"].splitlines() if " send " in line)
    argv = send.replace(".venv/bin/", f"{plain.bin}/").replace("http://127.0.0.1:8787",
                                                               mock_url).split()
    result = _run(list(argv), tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    shown = [line[2:] for line in EXAMPLES["connector"].splitlines() if line.startswith("# ")]
    assert result.stdout.splitlines() == shown
    assert _events(mock_url, "my-token") == 1043


def test_audiences_sync_runs_from_the_plain_wheel(
    plain: Installed, mock_url: str, tmp_path: Path,
) -> None:
    result = _run([plain.bin / "segment-connector", "audiences", "sync", "--definitions",
                   ROOT / "fixtures" / "audiences.yaml", "--traffic",
                   ROOT / "fixtures" / "medium.jsonl", "--every", "1d", "--url", mock_url,
                   "--token", "aud"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    sent = next(line for line in result.stdout.splitlines() if line.startswith("sent "))
    assert int(sent.split()[-1]) == _events(mock_url, "aud") == 694


def test_validate_runs_from_the_plain_wheel(plain: Installed, tmp_path: Path) -> None:
    result = _run([plain.bin / "segment-connector", "validate",
                   ROOT / "fixtures" / "medium.jsonl", "--plan",
                   ROOT / "fixtures" / "tracking-plan.yaml"], tmp_path)
    assert (result.returncode, result.stderr) == (1, "")  # the 50 null coupons
    lines = result.stdout.splitlines()
    assert lines[0] == "plan PointShop: 3 track events, group, identify"
    assert sum(" invalid_type properties.coupon: " in line for line in lines) == 50


def test_the_plain_wheels_gateway_serves_analytics_js_byte_for_byte(
    plain: Installed, mock_url: str, tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [str(plain.bin / "segment-connector"), "gateway", "--port", "0", "--pointillist-url",
         mock_url, "--pointillist-token", "t", "--outbox", ":memory:"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", process.stdout.readline())
        assert match
        chunk = next(SOURCE_ANALYTICS_JS.parent.glob("schemaFilter.bundle.*.js"))
        for path, source in (("/analytics.js/v1/wk/analytics.min.js", SOURCE_ANALYTICS_JS),
                             (f"/analytics-next/bundles/{chunk.name}", chunk)):
            request = urllib.request.Request(match.group(1) + path,
                                             headers={"Accept-Encoding": "identity"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.read() == source.read_bytes(), path
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    packaged = plain.bin.parent.glob("lib/python*/site-packages/connector/gateway/analytics_js")
    (folder,) = packaged
    license_file = (SOURCE_ANALYTICS_JS.parents[2] / "LICENSE.MD").read_bytes()
    assert (folder / "LICENSE.md").read_bytes() == license_file


@pytest.mark.parametrize("example", ["pytest-plugin", "segment-gateway"])
def test_the_readme_pytest_examples_run_from_the_plain_wheel(
    plain: Installed, tmp_path: Path, example: str,
) -> None:
    (tmp_path / "test_readme_example.py").write_text(EXAMPLES[example])
    (tmp_path / "plan.yaml").write_text(EXAMPLES["tracking-plan"])
    (tmp_path / "pytest.ini").write_text("[pytest]\nsegment_tracking_plan = plan.yaml\n")
    result = _run([plain.bin / "python", "-m", "pytest", "-p", "no:cacheprovider", "-q",
                   "test_readme_example.py"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("1 passed")


def test_the_demo_runs_from_the_wheel_with_the_demo_extra(demo: Installed, tmp_path: Path) -> None:
    print(f"demo install: {demo.seconds:.1f} s")
    result = _run([demo.bin / "pointillist-mock", "demo", "--no-wait"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "sending fixtures/medium.jsonl" in result.stdout


def test_the_connector_runs_from_the_wheel(plain: Installed, tmp_path: Path) -> None:
    for argv in ([plain.bin / "segment-connector", "--version"],
                 [plain.bin / "python", "-m", "connector", "--version"]):
        result = _run(argv, tmp_path)
        assert (result.returncode, result.stdout.split()[0]) == (0, "segment-connector")
