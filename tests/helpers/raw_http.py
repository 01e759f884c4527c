"""HTTP/1.1 over a raw socket: requests aiohttp's client would refuse to send, and one answer read
back without waiting for the server to close."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

IO_GUARD_SECONDS = 10.0  # only bounds a hung socket; every read returns as soon as data is there


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    text: str


def request_bytes(method: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if not any(name.lower() == "content-length" for name in headers):
        head.append(f"Content-Length: {len(body)}")
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def raw_exchange(url: str, data: bytes) -> Answer:
    """Write `data` on a fresh socket and read one response (headers, then Content-Length bytes):
    it never waits for the server to close, so it also works while the server still expects
    more body."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IO_GUARD_SECONDS)
        status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        body = await asyncio.wait_for(reader.readexactly(length), IO_GUARD_SECONDS)
    finally:
        writer.close()
    return Answer(int(status_line.split(" ")[1]), headers, body.decode("utf-8", "replace"))
