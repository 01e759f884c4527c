"""The peers: WireMock standalone and Stoplight Prism, answering the same POST /event.

Both come from npm (benchmarks/peers/package.json and its lock file), installed with `npm ci`
when missing. WireMock is the jar the `wiremock` package ships, run with the machine's Java and
WireMock's own load-test advice (no request journal, no request logging); Prism mocks
contracts/pointillist-openapi.yaml, validating each request against it as the mock does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from .harness import BENCH, ROOT, Server, free_port

PEERS = BENCH / "peers"
MODULES = PEERS / "node_modules"
SPEC = ROOT / "contracts" / "pointillist-openapi.yaml"

WIREMOCK_STUB = {
    "request": {"method": "POST", "url": "/event"},
    "response": {
        "status": 202,
        "headers": {"Content-Type": "application/json"},
        "jsonBody": {"id": "evt_0000000001", "duplicate": False},
    },
}


def install() -> str | None:
    """`npm ci` when node_modules is missing; None when ready, else why not."""
    if shutil.which("npm") is None:
        return "npm is not installed"
    if not (MODULES / ".package-lock.json").exists():
        done = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=PEERS,
            capture_output=True, text=True, check=False, timeout=600,
        )
        if done.returncode != 0:
            return f"npm ci failed: {done.stderr.strip()[-500:]}"
    return None


def wiremock_jar() -> Path | None:
    jars = sorted((MODULES / "wiremock").glob("**/wiremock-standalone-*.jar"))
    return jars[0] if jars else None


def wiremock(cpus: set[int]) -> tuple[Server, Path]:
    """A WireMock server (not started) and its root directory (the caller removes it)."""
    jar = wiremock_jar()
    java = shutil.which("java")
    if jar is None or java is None:
        raise RuntimeError("WireMock needs " + ("Java" if java is None else "npm ci"))
    root = Path(tempfile.mkdtemp(prefix="bench-wiremock-"))
    (root / "mappings").mkdir()
    (root / "__files").mkdir()
    (root / "mappings" / "event.json").write_text(json.dumps(WIREMOCK_STUB), encoding="utf-8")
    port = free_port()
    command = [java, "-jar", str(jar), "--port", str(port), "--root-dir", str(root),
               "--no-request-journal", "--disable-request-logging", "--disable-banner"]
    server = Server("WireMock", command, cpus=cpus, ready_url=f"http://127.0.0.1:{port}/__admin/health")
    return server, root


def prism(cpus: set[int]) -> Server:
    binary = MODULES / ".bin" / "prism"
    if not binary.exists():
        raise RuntimeError("Prism needs npm ci")
    port = free_port()
    command = [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "error", str(SPEC)]
    # Prism answers 401 without a token and 405 on GET /event: any answer means it is up.
    return Server("Prism", command, cpus=cpus, ready_url=f"http://127.0.0.1:{port}/event")


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("wiremock", "@stoplight/prism-cli"):
        manifest = MODULES / name / "package.json"
        if manifest.exists():
            found[name] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    java = shutil.which("java")
    if java is not None:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        found["java"] = (done.stderr.splitlines() or [""])[0]
    node = shutil.which("node")
    if node is not None:
        done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        found["node"] = done.stdout.strip()
    return found
