"""Settings of the Segment-compatible gateway: a frozen value, built by the CLI or a test.

The gateway's limits are Segment's documented ones (tracking.TrackingLimits). The clock and the
messageId factory are injected so that tests can pin receivedAt and generated ids.
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from httpkit import arguments
from httpkit.arguments import seconds, whole

from ..config import (
    DEFAULT_ACTOR_TYPE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAPPING_SETTINGS,
    GATEWAY_RETRY_FOR,
    DeliveryConfig,
    MappingSettings,
)
from ..engage.definitions import Definitions, load_definitions
from ..engage.schedule import parse_interval
from ..errors import ConfigError
from ..plans import Plan, ProtocolsSettings, load_plan
from .capture import DEFAULT_MAX_BYTES as DEFAULT_CAPTURE_BYTES
from .outbox import dedup_scope
from .tracking import TrackingLimits

MEMORY: Final = ":memory:"
# analytics.js: @segment/analytics-next's dist/umd/standalone.js, its lazy chunks beside it. A
# wheel carries a copy with its license (setup.py copies it from web/'s npm lock when the wheel
# is built); a source checkout has the one `make install` puts in web/node_modules.
PACKAGED_ANALYTICS_JS: Final = Path(__file__).resolve().parent / "analytics_js" / "standalone.js"
SOURCE_ANALYTICS_JS: Final = (Path(__file__).resolve().parents[2] / "web" / "node_modules"
                              / "@segment" / "analytics-next" / "dist" / "umd" / "standalone.js")


def default_analytics_js() -> Path:
    """The bundle the gateway serves unless told otherwise: the wheel's, else the checkout's."""
    return PACKAGED_ANALYTICS_JS if PACKAGED_ANALYTICS_JS.is_file() else SOURCE_ANALYTICS_JS

DEFAULT_PORT: Final = 8788  # the mock's default is 8787
DEFAULT_OUTBOX: Final = "segment-gateway-outbox.sqlite3"  # the CLI's default, in the cwd
LOG_LEVELS: Final[tuple[str, ...]] = ("debug", "info", "warning", "error")
ENGAGE_WRITE_KEY: Final = "engage"  # the scope Engage's syncs are deduplicated in
DAY: Final = 24 * 60 * 60.0
DEFAULT_SYNC_EVERY: Final = "3h"  # Engage: "a sync frequency of two to three hours"
SyncClock = Literal["wall", "traffic"]
SYNC_CLOCKS: Final[tuple[str, ...]] = ("wall", "traffic")


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_message_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class GatewaySettings:
    """host/port: where the gateway listens (port 0 picks a free one).

    delivery: where and how mapped events go (the Pointillist URL, token, retry budget ...).
    outbox: the sqlite file holding accepted messages until they are delivered; ":memory:"
    keeps nothing after exit (tests). write_keys: when non-empty, only these write keys are
    accepted (others get 401); when empty, any key, or none, is accepted.
    dedup_window: seconds a messageId is remembered (Segment: about 24 h). dropped_kept: how
    many dropped messages GET /_gateway/dropped lists (the counter counts all of them).
    chunk_size: pending messages the worker maps and hands to the delivery client at once.
    max_wait_seconds: the longest server-side wait GET /_gateway/stats accepts.
    max_connections: connections open at once; one more is answered 503 too_many_connections
    and closed. idle_timeout: a connection that has not sent a whole request head within this
    many seconds (new, or idle between requests) is closed without an answer (the slow-header
    defence). body_timeout: seconds a body has to arrive once its head has; later it is
    answered 408 request_timeout and the connection is closed (what the client still sends is
    drained for at most 2 seconds more, so that it can read the answer). head_timeout: a request
    head not whole this long after its first byte is closed. max_connections_per_client:
    connections one client address may hold; when a new connection finds no slot, the oldest
    idle one is closed in its place, and only when none is idle is it refused.
    worker_error_pause: seconds the worker pauses after an unexpected error before it resumes.
    summary_every: seconds between the delivery summaries logged at INFO.
    clock: the wall clock (receivedAt, the dedup window); new_id: a messageId for messages
    that arrive without one. analytics_js: the analytics.js bundle the gateway serves as Segment's
    CDN (@segment/analytics-next's dist/umd/standalone.js), its lazy chunks in its folder.
    definitions: Engage audiences and computed traits to simulate (None: no Engage); their
    syncs run every `sync_every` seconds of `sync_clock` time: "wall" (real time, at `clock()`)
    or "traffic" (simulated: the accepted messages' timestamps; see gateway_engage.py).
    plan: a tracking plan every accepted message is checked against (None: none); protocols:
    what is done with the messages that break it (Protocols' Schema Configuration).
    token_per_write_key: deliver each message with its request's write key as the Pointillist
    apiToken (one gateway, one Pointillist tenant per write key: the pytest fixture's mode).
    clock_write_keys: with sync_clock "traffic", only the messages sent with these write keys
    move the audience clock (None: every message); the others are still observed. The demo's
    shop page (live clicks, months after the replayed scenario) must not run the months of
    daily syncs in between.
    """

    delivery: DeliveryConfig
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    outbox: str = MEMORY
    write_keys: frozenset[str] = field(default=frozenset(), repr=False)  # secrets
    dedup_window: float = DAY
    mapping: MappingSettings = DEFAULT_MAPPING_SETTINGS
    limits: TrackingLimits = field(default_factory=TrackingLimits)
    dropped_kept: int = 1000
    chunk_size: int = 500
    max_wait_seconds: float = 30.0
    worker_error_pause: float = 1.0
    summary_every: float = 60.0
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_message_id
    definitions: Definitions | None = None
    sync_every: float = 3 * 60 * 60.0
    sync_clock: SyncClock = "wall"
    max_connections: int = 256
    idle_timeout: float = 60.0
    body_timeout: float = 30.0
    head_timeout: float = 10.0
    max_connections_per_client: int = 64
    analytics_js: Path = field(default_factory=default_analytics_js)
    # Host names served besides loopback and `host` ("*": any), and origins whose pages may call
    # /_gateway/* ("*": any); see httpkit/guard.py. /v1/* stays open to every origin.
    allow_hosts: frozenset[str] = frozenset()
    allow_origins: frozenset[str] = frozenset()
    clock_write_keys: frozenset[str] | None = field(default=None, repr=False)  # secrets
    plan: Plan | None = None
    protocols: ProtocolsSettings = field(default_factory=ProtocolsSettings)
    token_per_write_key: bool = False
    # --capture: accepted messages appended to this JSON-lines file (gateway/capture.py).
    capture: Path | None = None
    capture_max_bytes: int = DEFAULT_CAPTURE_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.delivery, DeliveryConfig):
            raise ConfigError("delivery must be a DeliveryConfig")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not (
            0 <= self.port <= 65535
        ):
            raise ConfigError(f"port must be 0 to 65535, not {self.port!r}")
        if not isinstance(self.outbox, str) or not self.outbox:
            raise ConfigError("outbox must be a file path or ':memory:'")
        if any(not isinstance(key, str) or not key for key in self.write_keys):
            raise ConfigError("write keys must be non-empty strings")
        for name in ("dedup_window", "max_wait_seconds", "worker_error_pause"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and value >= 0
            ):
                raise ConfigError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
        if self.definitions is not None and not isinstance(self.definitions, Definitions):
            raise ConfigError("definitions must be Definitions (engage.load_definitions)")
        every = self.sync_every
        if isinstance(every, bool) or not isinstance(every, int | float) or not (
            math.isfinite(every) and every > 0
        ):
            raise ConfigError(f"sync_every must be a finite number of seconds > 0, not "
                              f"{self.sync_every!r}")
        if self.plan is not None and not isinstance(self.plan, Plan):
            raise ConfigError("plan must be a Plan (plans.load_plan)")
        if not isinstance(self.protocols, ProtocolsSettings):
            raise ConfigError("protocols must be ProtocolsSettings")
        if self.sync_clock not in SYNC_CLOCKS:
            raise ConfigError(f"sync_clock must be wall or traffic, not {self.sync_clock!r}")
        for name in ("idle_timeout", "body_timeout", "head_timeout", "summary_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and value > 0
            ):
                raise ConfigError(f"{name} must be a finite number of seconds > 0, not {value!r}")
        for name in ("dropped_kept", "chunk_size", "max_connections",
                     "max_connections_per_client"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, not {value!r}")

    @property
    def in_memory(self) -> bool:
        return self.outbox == MEMORY

    def moves_clock(self, write_key: str) -> bool:
        """Whether the messages of this write key move the traffic audience clock."""
        return self.clock_write_keys is None or write_key in self.clock_write_keys

    def scope(self, write_key: str, *, own_token: bool = False) -> str:
        """The dedup scope of messages sent with this write key to this gateway's destination.
        With token_per_write_key the write key is the destination's token: one scope per key,
        as each key is a tenant of its own; `own_token`: messages delivered with the gateway's
        own token whatever the mode (Engage's syncs)."""
        per_key = self.token_per_write_key and not own_token
        token = write_key if per_key else self.delivery.token
        return dedup_scope(write_key, self.delivery.url, token)


# -- the command line (`segment-connector gateway`) ---------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=arguments.port, default=DEFAULT_PORT,
                        help=f"port, 0 to 65535 (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--pointillist-url", required=True, metavar="URL",
                        help="Pointillist base URL: the mock's, e.g. http://127.0.0.1:8787, or "
                        "any other; events go to URL/event")
    parser.add_argument("--pointillist-token", required=True, metavar="T",
                        help="the Pointillist API token (apiToken header)")
    parser.add_argument("--outbox", default=DEFAULT_OUTBOX, metavar="PATH",
                        type=arguments.store_path,
                        help=f"sqlite file of the durable outbox (default ./{DEFAULT_OUTBOX}); "
                        f"'{MEMORY}' keeps nothing after exit: nothing pending survives a "
                        "stop and nothing is remembered for dedup")
    parser.add_argument("--write-key", action="append", default=[], metavar="KEY",
                        help="accept only this Segment write key (repeatable); without any, "
                        "every key is accepted")
    parser.add_argument("--dedup-window", type=seconds(0, inclusive=True), default=DAY,
                        metavar="SECONDS",
                        help="how long a messageId is remembered for dedup, per write key and "
                        "destination (URL and token) as Segment's is per source; delivered "
                        "messages leave the outbox after it (default 86400, Segment's 24 h; 0 "
                        "turns dedup off)")
    parser.add_argument("--retry-for", type=seconds(0), default=GATEWAY_RETRY_FOR,
                        metavar="SECONDS",
                        help="how long a 408, 429, 5xx, timeout or connection failure is "
                        "retried, with capped exponential backoff and Retry-After honoured, "
                        "before the message becomes a dead letter (default 43200, 12 h); any "
                        "other 4xx is a dead letter at once")
    parser.add_argument("--max-retries", type=whole(0), default=None, metavar="N",
                        help="also stop after N backoff retries (default: no cap, the time "
                        "budget alone decides; waits asked by Retry-After are not counted)")
    parser.add_argument("--max-label-length", type=whole(1), default=None, metavar="N",
                        help="mirror a destination that limits label values to N characters "
                        "(the mock's --max-label-length): a longer value is left out of the "
                        "event, which is still delivered, and the message record and stats "
                        "say so (default: no limit)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning",
                        help="warning (default): dead letters and outages; info: also a line "
                        "per request and a delivery summary every minute")
    parser.add_argument("--concurrency", type=whole(1), default=DEFAULT_CONCURRENCY,
                        metavar="N", help="delivery requests in flight at once")
    parser.add_argument("--actor-type", default=DEFAULT_ACTOR_TYPE, metavar="TYPE",
                        help=f"actor type of the identifiers (default {DEFAULT_ACTOR_TYPE})")
    parser.add_argument("--max-connections", type=whole(1), default=256, metavar="N",
                        help="connections open at once; one more is answered 503 and closed "
                        "(default 256)")
    parser.add_argument("--idle-timeout", type=seconds(0), default=60.0, metavar="SECONDS",
                        help="close a connection that has not sent a whole request head "
                        "within this time, new or idle: the slow-header defence (default 60)")
    parser.add_argument("--body-timeout", type=seconds(0), default=30.0, metavar="SECONDS",
                        help="answer 408 and close when a body has not all arrived within "
                        "this time after its head (default 30)")
    parser.add_argument("--head-timeout", type=seconds(0), default=10.0, metavar="SECONDS",
                        help="close a connection whose request head is not whole this long "
                        "after its first byte (default 10)")
    parser.add_argument("--max-connections-per-client", type=whole(1), default=64, metavar="N",
                        help="connections one client address may hold at once; its idle ones "
                        "are closed first to make room (default 64)")
    arguments.add_guard_options(parser, "/_gateway/*", ". /v1/* is open to every origin")
    parser.add_argument("--map-page-screen", action="store_true",
                        help="deliver page/screen calls as 'Viewed <name> Page|Screen' events "
                        "instead of skipping them")
    parser.add_argument("--definitions", default=None, metavar="FILE",
                        type=arguments.readable_file,
                        help="Engage audiences and computed traits (YAML or JSON) to simulate "
                        "over the accepted traffic; their syncs are delivered like any message")
    parser.add_argument("--sync-every", default=DEFAULT_SYNC_EVERY, metavar="INTERVAL",
                        help=f"with --definitions: time between audience syncs, e.g. 3h, 30m, "
                        f"1d (default {DEFAULT_SYNC_EVERY})")
    parser.add_argument("--sync-clock", choices=SYNC_CLOCKS, default="wall",
                        help="with --definitions: 'wall' syncs every interval of real time; "
                        "'traffic' runs the syncs in simulated time, as the accepted messages' "
                        "timestamps pass each multiple of the interval (default wall)")
    plan = parser.add_argument_group(
        "tracking plan", "check every message against a plan, as Segment Protocols does "
        "(docs/tracking-plans.md); violations: GET /_gateway/violations")
    plan.add_argument("--tracking-plan", default=None, metavar="PLAN",
                      type=arguments.readable_file,
                      help="a Config API export, a Public API rules list (Typewriter's plan.json "
                      "too) or the short YAML form")
    plan.add_argument("--block-unplanned-events", action="store_true",
                      help="Protocols' Track Calls - Unplanned Events: Block Event")
    plan.add_argument("--omit-unplanned-properties", action="store_true",
                      help="Protocols' Track Calls - Unplanned Properties: Omit Properties")
    plan.add_argument("--omit-unplanned-traits", action="store_true",
                      help="Protocols' Identify/Group Calls - Unplanned Traits: Omit Traits")
    plan.add_argument("--on-violation", choices=("forward", "omit", "block"), default="forward",
                      help="Protocols' JSON Schema Violations control: forward the message "
                      "(default), omit the offending properties, or block the message")
    plan.add_argument("--fail-on-unplanned-properties", action="store_true",
                      help="count unplanned properties and traits as violations (in Protocols "
                      "they are not: by default they are counted apart, unplannedProperties)")
    parser.add_argument("--analytics-js", type=arguments.readable_file, default=None,
                        metavar="FILE",
                        help="the analytics.js bundle to serve as Segment's CDN, its lazy "
                        "chunks (*.bundle.*.js) beside it (default: the @segment/analytics-next "
                        "build the package carries)")
    parser.add_argument("--token-per-write-key", action="store_true",
                        help="deliver each message with its write key as the Pointillist "
                        "token (one tenant per write key)")
    parser.add_argument("--capture", default=None, type=capture_file, metavar="FILE",
                        help="append every accepted message, as received after enrichment, to "
                        "this JSON-lines file (the fixtures/ format send, validate and replay "
                        "read); refused and dropped messages are not captured")
    parser.add_argument("--capture-max-bytes", type=whole(1), default=DEFAULT_CAPTURE_BYTES,
                        metavar="BYTES", help="when the capture would pass this size it is "
                        "renamed FILE.1 (replacing an older one) and a new FILE started")


def capture_file(text: str) -> Path:
    """--capture: a file to append to, in a folder that exists (not standard output)."""
    if text == "-":
        raise argparse.ArgumentTypeError("the capture is a file; name one")
    return arguments.output_file(text)


def settings_from_args(args: argparse.Namespace) -> GatewaySettings:
    """Raises ConfigError for an out-of-range value."""
    delivery = DeliveryConfig(url=args.pointillist_url, token=args.pointillist_token,
                              retry_for=args.retry_for, max_retries=args.max_retries,
                              concurrency=args.concurrency)
    mapping = MappingSettings(actor_type=args.actor_type, map_page_screen=args.map_page_screen,
                              max_label_length=args.max_label_length)
    definitions = None if args.definitions is None else load_definitions(args.definitions)
    return GatewaySettings(
        delivery=delivery, host=args.host, port=args.port, outbox=args.outbox,
        write_keys=frozenset(args.write_key), dedup_window=args.dedup_window, mapping=mapping,
        definitions=definitions, sync_every=parse_interval(args.sync_every).total_seconds(),
        sync_clock=args.sync_clock, max_connections=args.max_connections,
        idle_timeout=args.idle_timeout, body_timeout=args.body_timeout,
        head_timeout=args.head_timeout, max_connections_per_client=args.max_connections_per_client,
        allow_hosts=frozenset(args.allow_host), allow_origins=frozenset(args.allow_origin),
        plan=None if args.tracking_plan is None else load_plan(args.tracking_plan),
        protocols=ProtocolsSettings(
            unplanned_events="block" if args.block_unplanned_events else "forward",
            unplanned_properties="omit" if args.omit_unplanned_properties else "forward",
            unplanned_traits="omit" if args.omit_unplanned_traits else "forward",
            violations=args.on_violation,
            fail_on_unplanned_properties=args.fail_on_unplanned_properties),
        token_per_write_key=args.token_per_write_key,
        analytics_js=(default_analytics_js() if args.analytics_js is None
                      else Path(args.analytics_js)),
        capture=None if args.capture is None else Path(args.capture),
        capture_max_bytes=args.capture_max_bytes,
    )
