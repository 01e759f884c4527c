"""Inflating a gzip or deflate body with a bound on what it becomes. Pure: zlib only."""

from __future__ import annotations

import zlib
from typing import Final

from .problems import BodyTooLarge, UnreadableBody

COMPRESSED: Final = frozenset({"gzip", "x-gzip", "deflate"})
# Every Content-Encoding both servers read (lower-cased, stripped): none, or one they inflate.
ENCODINGS: Final = frozenset({"", "identity", *COMPRESSED})


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """A whole gzip or deflate stream, inflated to at most `limit` bytes (one more is inflated to
    tell that it is over, never the whole bomb). `encoding` is one of COMPRESSED."""
    wbits = 16 + zlib.MAX_WBITS  # gzip
    if encoding == "deflate":  # zlib-wrapped (RFC 1950) or, as some clients send it, raw
        wbits = zlib.MAX_WBITS if data[:1] and data[0] & 0x0F == 8 else -zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        body = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise UnreadableBody(f"the body is not valid {encoding} data ({exc})") from None
    if len(body) > limit:
        raise BodyTooLarge(f"the body inflates to over the limit of {limit} bytes",
                           {"limitBytes": limit})
    if not inflater.eof:
        raise UnreadableBody(f"the {encoding} body is truncated")
    if inflater.unused_data:
        extra = len(inflater.unused_data)
        raise UnreadableBody(f"the {encoding} body has {extra} bytes after its end")
    return body
