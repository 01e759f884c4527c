"""Running the project's image (Dockerfile) with podman, as the container tests do: the
project's podman settings (tools/containers.conf), host networking (the only network here, so
every container gets free ports of the host's loopback), a unique name per container, removed
with its volumes at the end of the test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from httpkit.environment import variable
from tests.helpers.paths import ROOT

IMAGE = "localhost/pointillist-mock:dev"  # the Makefile's IMAGE
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "tools" / "containers.conf")}
START_TIMEOUT = 60.0  # a container's server answering its health route, from `podman run`


def podman(*args: str, timeout: float = 120.0,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http(method: str, url: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; the status and the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until_healthy(url: str, name: str, timeout: float = START_TIMEOUT) -> None:
    """Poll the health route (bounded) until it answers 200; fails with the container's log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", name, check=False)
        if time.monotonic() > deadline or state.stdout.strip() not in ("running", "created"):
            logs = podman("logs", name, check=False)
            raise AssertionError(f"{name} did not answer {url} ({state.stdout.strip()}):\n"
                                 f"{logs.stdout}{logs.stderr}")
        time.sleep(0.1)  # the bounded poll's pace, not a wait for something


@dataclass
class Pod:
    """The containers and volumes of one test."""

    names: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def volume(self) -> str:
        name = f"pointillist-test-{uuid.uuid4().hex[:12]}"
        podman("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(self, args: Sequence[str], env: dict[str, str] | None = None,
            volume: str | None = None, options: Sequence[str] = ()) -> str:
        """`podman run -d` of the image with these arguments; the container's name."""
        name = f"pointillist-test-{uuid.uuid4().hex[:12]}"
        command = ["run", "--detach", "--network=host", "--name", name, *options]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        if volume is not None:
            command += ["--volume", f"{volume}:/data"]
        podman(*command, IMAGE, *args)
        self.names.append(name)
        return name

    def mock(self, port: int, volume: str | None = None, tokens: str = "") -> str:
        """The mock, configured by environment variables only (the image's way)."""
        env = {"POINTILLIST_MOCK_HOST": "127.0.0.1", "POINTILLIST_MOCK_PORT": str(port),
               "POINTILLIST_MOCK_LOG_LEVEL": "info"}
        if tokens:
            env["POINTILLIST_MOCK_TOKEN"] = tokens
        if volume is None:
            env["POINTILLIST_MOCK_DB"] = ":memory:"
        name = self.run([], env=env, volume=volume)
        wait_until_healthy(f"http://127.0.0.1:{port}/_mock/health", name)
        return name

    def gateway(self, port: int, mock_port: int, token: str, write_key: str,
                volume: str | None = None, by_environment: bool = False) -> str:
        """The gateway, configured by flags, or by environment variables only (as a CI service
        container is: POINTILLIST_ROLE and no arguments)."""
        flags = {"--host": "127.0.0.1", "--port": str(port),
                 "--pointillist-url": f"http://127.0.0.1:{mock_port}",
                 "--pointillist-token": token, "--write-key": write_key}
        if volume is None:
            flags["--outbox"] = ":memory:"
        if by_environment:
            env = {variable("SEGMENT_GATEWAY_", flag): value for flag, value in flags.items()}
            name = self.run([], env={"POINTILLIST_ROLE": "gateway", **env}, volume=volume)
        else:
            args = ["gateway", *(word for pair in flags.items() for word in pair)]
            name = self.run(args, volume=volume)
        wait_until_healthy(f"http://127.0.0.1:{port}/_gateway/health", name)
        return name

    def stop(self, name: str) -> int:
        """`podman stop` (SIGTERM, then SIGKILL after 20 s); the exit code."""
        podman("stop", "--time", "20", name)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        return int(code)

    def logs(self, name: str) -> tuple[str, str]:
        done = podman("logs", name)
        return done.stdout, done.stderr


@contextmanager
def pod() -> Iterator[Pod]:
    made = Pod()
    try:
        yield made
    finally:
        for name in made.names:
            podman("rm", "--force", "--time", "0", name, check=False)
        for volume in made.volumes:
            podman("volume", "rm", "--force", volume, check=False)
