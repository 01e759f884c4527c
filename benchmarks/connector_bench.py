"""The connector's figures: pure mapping throughput, and the gateway end to end.

    python -m benchmarks.connector_bench mapping --seconds 5
        map_message over fixtures/medium.jsonl, repeated, in this one process (one core);
        prints one JSON line.
    python -m benchmarks.connector_bench gateway --port 0 --pointillist-url U --token T \
            --outbox PATH [--batch] [--write-key K]
        a gateway whose delivery may use the mock's POST /events extension (--batch), which the
        `segment-connector gateway` command does not offer; retries for the gateway's default
        budget; prints "gateway listening on URL".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEDIUM = ROOT / "fixtures" / "medium.jsonl"


def medium_messages() -> list[dict[str, Any]]:
    with MEDIUM.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def mapping_rate(seconds: float, messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Messages mapped per second by `map_message`, on this thread, for about `seconds`."""
    from connector.errors import MappingError
    from connector.mapping import Mapped, map_message

    messages = messages if messages is not None else medium_messages()
    for message in messages:  # warm up; and every fixture message must map or skip
        try:
            map_message(message)
        except MappingError as exc:
            raise RuntimeError(f"the fixture holds an unmappable message: {exc}") from None
    mapped = sum(isinstance(map_message(m), Mapped) for m in messages)
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for message in messages:
            map_message(message)
        done += len(messages)
        now = time.perf_counter()
        if now >= deadline:
            break
    elapsed = now - started
    return {"messages": done, "seconds": elapsed, "rate": done / elapsed,
            "mappedShare": mapped / len(messages), "scenario": MEDIUM.name}


def repeated(messages: list[dict[str, Any]], times: int) -> list[dict[str, Any]]:
    """The scenario `times` over, each copy with its own messageIds, users and devices, so the
    gateway's dedup keeps every copy and the copies are independent actors."""
    out: list[dict[str, Any]] = []
    for copy in range(times):
        suffix = f"~{copy}"
        for message in messages:
            clone = dict(message)
            for name in ("messageId", "userId", "anonymousId", "previousId"):
                value = clone.get(name)
                if isinstance(value, str) and value:
                    clone[name] = value + suffix
            out.append(clone)
    return out


def expected_deliveries(messages: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(events the gateway will deliver, messages it will skip)."""
    from connector.pipeline import numbered, plan

    planned = plan(numbered(messages))
    return len(planned.deliveries), sum(planned.skipped.values())


def send_with_sdk(gateway: str, messages: list[dict[str, Any]], upload_size: int) -> float:
    """Send every message through the official Python SDK; return the seconds until the SDK
    had them all acknowledged by the gateway."""
    from segment.analytics import Client

    from connector.traffic.sdk_replay import replay

    failures: list[Any] = []
    client = Client("bench-write-key", host=gateway, upload_size=upload_size,
                    max_queue_size=len(messages) + 1, on_error=lambda e, b: failures.append(e))
    started = time.perf_counter()
    try:
        replay(messages, client)
        client.flush()
    finally:
        client.shutdown()
    if failures:
        raise RuntimeError(f"the SDK reported {len(failures)} failed uploads: {failures[0]}")
    return time.perf_counter() - started


def _gateway(args: argparse.Namespace) -> None:
    from connector.config import GATEWAY_RETRY_FOR, DeliveryConfig
    from connector.gateway.serving import serve_until_stopped
    from connector.gateway.settings import GatewaySettings

    settings = GatewaySettings(
        delivery=DeliveryConfig(url=args.pointillist_url, token=args.token, batch=args.batch,
                                batch_size=args.batch_size,
                                **({} if args.concurrency is None
                                   else {"concurrency": args.concurrency}),
                                retry_for=GATEWAY_RETRY_FOR),
        port=args.port, outbox=args.outbox, chunk_size=args.chunk_size,
        write_keys=frozenset(args.write_key),
    )

    def announce(url: str, holds: dict[str, int]) -> None:
        print(f"gateway listening on {url} ({holds['pending']} pending)", flush=True)

    asyncio.run(serve_until_stopped(settings, announce))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.connector_bench")
    commands = parser.add_subparsers(dest="command", required=True)
    mapping = commands.add_parser("mapping")
    mapping.add_argument("--seconds", type=float, default=5.0)
    gateway = commands.add_parser("gateway")
    gateway.add_argument("--port", type=int, default=0)
    gateway.add_argument("--pointillist-url", required=True)
    gateway.add_argument("--token", required=True)
    gateway.add_argument("--outbox", required=True)
    gateway.add_argument("--batch", action="store_true")
    gateway.add_argument("--batch-size", type=int, default=100)
    gateway.add_argument("--concurrency", type=int, default=None,
                         help="delivery requests in flight (default: the gateway's own)")
    gateway.add_argument("--chunk-size", type=int, default=500)
    gateway.add_argument("--write-key", action="append", default=[],
                         help="accept only this key (repeatable); any key when none is given")
    args = parser.parse_args(argv)
    if args.command == "mapping":
        print(json.dumps(mapping_rate(args.seconds)), flush=True)
    else:
        _gateway(args)


if __name__ == "__main__":
    sys.exit(main())
