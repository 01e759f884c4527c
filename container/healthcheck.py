"""The image's HEALTHCHECK: GET the health route of the server this container runs, found among
its processes: /_mock/health of `pointillist-mock serve`, /_gateway/health of `segment-connector
gateway`, each on the address and port its flags or environment variables name (the flag wins,
as in the server). The demo has no fixed ports: it is healthy while it runs. Exit 0 healthy,
1 not. Standard library only, so it starts in a few tens of milliseconds."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

SERVERS = {  # (script, subcommand) -> (variable prefix, default port, health route)
    ("pointillist-mock", "serve"): ("POINTILLIST_MOCK_", "8787", "/_mock/health"),
    ("segment-connector", "gateway"): ("SEGMENT_GATEWAY_", "8788", "/_gateway/health"),
}


def _flag(argv: list[str], name: str) -> str | None:
    found = None
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith(name + "="):
            found = arg.split("=", 1)[1]
    return found


def _server() -> tuple[list[str], dict[str, str]] | None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            raw = (proc / "environ").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        names = [Path(arg).name for arg in argv[:2]]
        if any(name in ("pointillist-mock", "segment-connector") for name in names):
            return argv, dict(item.split("=", 1) for item in raw if "=" in item)
    return None


def url() -> str | None:
    """The health URL, "" for the demo, None when no server runs."""
    found = _server()
    if found is None:
        return None
    argv, environ = found
    for (script, command), (prefix, port, route) in SERVERS.items():
        at = [i for i, arg in enumerate(argv) if Path(arg).name == script]
        rest = argv[at[0] + 1:] if at else []
        if rest[:1] == [command] or (command == "serve" and at and rest[:1] != ["demo"]
                                     and (not rest or rest[0].startswith("-"))):
            host = _flag(rest, "--host") or environ.get(prefix + "HOST", "127.0.0.1")
            port = _flag(rest, "--port") or environ.get(prefix + "PORT", port)
            host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
            return f"http://{f'[{host}]' if ':' in host else host}:{port}{route}"
    return ""


def main() -> int:
    target = url()
    if target is None:
        print("unhealthy: no pointillist-mock or segment-connector process", file=sys.stderr)
        return 1
    if not target:
        return 0
    try:
        with urllib.request.urlopen(target, timeout=2) as response:
            healthy = response.status == 200
    except OSError as exc:
        print(f"unhealthy: {target}: {exc}", file=sys.stderr)
        return 1
    print(f"{'healthy' if healthy else 'unhealthy'}: {target}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
