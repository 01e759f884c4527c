"""Settings of one mock server: a frozen value, built from the CLI, the environment or a test."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

MEMORY = ":memory:"
TOKENS_ENV = "POINTILLIST_MOCK_TOKENS"


@dataclass(frozen=True)
class Limits:
    """Documented, configurable limits; anything over them is rejected, never truncated.

    max_body_bytes: a request body on the wire (413 over it; a Content-Length over it is refused
    before any byte is read). max_decompressed_bytes: a gzip/deflate body once inflated (413;
    inflating stops one byte past it, so a compression bomb costs no more memory than this).
    max_connections: connections open at once; one more is answered 503 too_many_connections
    and closed. idle_timeout_seconds: a connection that has not sent a complete request head
    within this time (a new one, or an idle keep-alive one) is closed without an answer (the
    slowloris defence). body_timeout_seconds: the time a body has to arrive once its head has;
    later it is answered 408 request_timeout and the connection is closed (what the client
    still sends is read and dropped for at most 2 seconds more, so it can read the answer).
    head_timeout_seconds: a request head not whole this long after its first byte is closed
    (whatever the idle timeout). max_connections_per_client: connections one client address may
    hold at once. When a new connection finds no slot, the oldest idle connection is closed in
    its place; only when none is idle is it refused (httpkit/connections.py).
    """

    max_body_bytes: int = 1024 * 1024
    max_batch_events: int = 1000
    max_name_length: int = 255
    max_label_length: int = 32768  # a value as long as a whole 32 KB Segment message
    max_wait_seconds: float = 30.0
    rejected_kept: int = 200
    excerpt_chars: int = 512
    max_decompressed_bytes: int = 1024 * 1024
    max_connections: int = 256
    idle_timeout_seconds: float = 60.0
    body_timeout_seconds: float = 30.0
    head_timeout_seconds: float = 10.0
    max_connections_per_client: int = 64


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8787
    db: str = MEMORY
    tokens: frozenset[str] = field(default_factory=frozenset, repr=False)  # secrets
    limits: Limits = field(default_factory=Limits)
    # How long the journal may gather concurrent writes into one fsync (0: as they come).
    commit_window_seconds: float = 0.0
    # Compaction's smallest step (compaction.CompactionPolicy): a journal tail or dead data
    # below this many bytes is never compacted.
    compact_min_bytes: int = 4 * 1024 * 1024
    # Host names served besides loopback and `host` ("*": any), and origins whose pages may call
    # /_mock/* ("*": any); see httpkit/guard.py.
    allow_hosts: frozenset[str] = frozenset()
    allow_origins: frozenset[str] = frozenset()
    # What one live-feed subscriber may have waiting, in bytes, before it is dropped.
    stream_queue_bytes: int = 4 * 1024 * 1024

    @property
    def strict_tokens(self) -> bool:
        """With configured tokens only those pass; otherwise any non-empty token is a tenant."""
        return bool(self.tokens)

    @property
    def in_memory(self) -> bool:
        return self.db == MEMORY


def tokens_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    raw = (os.environ if environ is None else environ).get(TOKENS_ENV, "")
    return frozenset(t.strip() for t in raw.split(",") if t.strip())
