"""Both servers listen on 127.0.0.1 unless told otherwise: nothing is reachable from another
machine by default.

Checked where it matters, on the socket itself: the kernel's table of listening TCP sockets
(/proc/<pid>/net/tcp) shows the address each server bound, for the CLIs (subprocesses) and for
the in-process servers the tests and the pytest plugin use.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import struct
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connector.config import DeliveryConfig
from connector.gateway.serving import serving as gateway_serving
from connector.gateway.settings import GatewaySettings
from mockserver.http.server import BackgroundServer, serving
from mockserver.settings import Settings
from tests.helpers.paths import ROOT

LISTEN = "0A"


def listening_addresses(pid: int, port: int) -> set[str]:
    """The IPv4 addresses process `pid` listens on at `port` (from its /proc/<pid>/net/tcp)."""
    found = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port_hex = fields[1].split(":")
        if fields[3] == LISTEN and int(port_hex, 16) == port:
            packed = struct.pack("<I", int(address, 16))  # little-endian on the platforms we run
            found.add(str(ipaddress.IPv4Address(packed)))
    return found


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@contextmanager
def cli(*command: str) -> Iterator[tuple[str, int]]:
    process = subprocess.Popen([sys.executable, *command], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert " listening on http://" in first, first + process.stderr.read()
        yield first.split(" listening on ")[1].split(" ")[0], process.pid
    finally:
        process.terminate()
        process.communicate(timeout=15)


MOCK = ("-m", "mockserver", "--port", "0")
GATEWAY = ("-m", "connector.cli", "gateway", "--port", "0", "--outbox", ":memory:",
           "--pointillist-url", "http://127.0.0.1:9", "--pointillist-token", "t")


def test_the_mock_cli_binds_loopback_only_by_default() -> None:
    with cli(*MOCK) as (url, pid):
        assert url.startswith("http://127.0.0.1:")
        assert listening_addresses(pid, port_of(url)) == {"127.0.0.1"}


def test_the_gateway_cli_binds_loopback_only_by_default() -> None:
    with cli(*GATEWAY) as (url, pid):
        assert url.startswith("http://127.0.0.1:")
        assert listening_addresses(pid, port_of(url)) == {"127.0.0.1"}


def test_both_clis_bind_where_they_are_told() -> None:
    """--host is honoured (another loopback address, so the test exposes nothing)."""
    with cli(*MOCK, "--host", "127.0.0.2") as (mock, mock_pid), \
            cli(*GATEWAY, "--host", "127.0.0.2") as (gateway, gateway_pid):
        assert listening_addresses(mock_pid, port_of(mock)) == {"127.0.0.2"}
        assert listening_addresses(gateway_pid, port_of(gateway)) == {"127.0.0.2"}


async def test_the_in_process_servers_bind_loopback_only_by_default() -> None:
    """What the tests, the demo and the pytest plugin start: Settings() and GatewaySettings()
    as they come, and BackgroundServer."""
    assert Settings().host == "127.0.0.1"
    delivery = DeliveryConfig(url="http://127.0.0.1:9", token="t")
    assert GatewaySettings(delivery=delivery).host == "127.0.0.1"
    async with serving(Settings(port=0)) as mock, gateway_serving(
            GatewaySettings(delivery=delivery, port=0)) as gateway:
        for url in (mock, gateway):
            assert listening_addresses(os.getpid(), port_of(url)) == {"127.0.0.1"}
    with BackgroundServer(Settings(port=0)) as server:
        assert listening_addresses(os.getpid(), port_of(server.url)) == {"127.0.0.1"}


def test_a_loopback_server_cannot_be_reached_on_another_address() -> None:
    """The consequence, shown on this machine: the port answers on 127.0.0.1 and refuses
    connections on 127.0.0.2, which is how it looks from any other host."""
    with BackgroundServer(Settings(port=0)) as server:
        port = port_of(server.url)
        # A whole exchange (the server closes the connection), so that no connection is still
        # being accepted when the server stops.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_mock/health", timeout=5) as answer:
            assert json.loads(answer.read()) == {"status": "ok"}
        probe = socket.socket()
        try:
            assert probe.connect_ex(("127.0.0.2", port)) == errno.ECONNREFUSED
        finally:
            probe.close()
