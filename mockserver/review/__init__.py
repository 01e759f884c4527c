"""Reviewing what a tenant holds: its snapshot (a normal form, one event per line, volatile
values left out) and the event-level diff of two snapshots. Pure: values in, values out; the
HTTP route, the CLI, the pytest handle and the connector's `replay` all use these."""

from mockserver.review.diff import Change, Diff, EventChange, EventRef, diff
from mockserver.review.normal import Snapshot, normalise, parse_snapshot

__all__ = ["Change", "Diff", "EventChange", "EventRef", "Snapshot", "diff", "normalise",
           "parse_snapshot"]
