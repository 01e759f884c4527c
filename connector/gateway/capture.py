"""`segment-connector gateway --capture FILE`: every accepted Segment message, as received after
enrichment (messageId, timestamps, type, context.library the gateway added; the write key
removed; a tracking plan's omissions applied), appended to a JSON-lines file in the `fixtures/`
format that `send`, `validate` and `plan infer` read, and `replay` replays.

Only what the gateway accepted (answered 200 and stored in its outbox) is captured: refused
requests and dropped messages are not (GET /_gateway/dropped lists them with their reasons);
a messageId seen again within the dedup window is captured again, as it was received again.

Size cap, with one rotation: before a request's lines would take the file over `max_bytes`, the
file is renamed FILE.1 (replacing an older FILE.1) and a new FILE is started, so a capture
never holds more than about twice the cap. The lines are flushed once per request, not
fsynced: a capture is a record of traffic for review, not a durable store (the outbox is).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024


def capture_lines(messages: Iterable[Mapping[str, Any]]) -> bytes:
    """The JSON lines of `messages`, in order: one compact object a line. Pure."""
    return b"".join(
        json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for message in messages)


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


class Capture:
    """An open capture file (see the module docstring)."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.rotations = 0
        self._file: BinaryIO = path.open("ab")
        self._size = self._file.seek(0, os.SEEK_END)

    def append(self, messages: Iterable[Mapping[str, Any]]) -> int:
        """Append `messages`; returns how many lines were written. O(their bytes)."""
        data = capture_lines(messages)
        if not data:
            return 0
        if self._size and self._size + len(data) > self.max_bytes:
            self._file.close()
            os.replace(self.path, rotated(self.path))
            self.rotations += 1
            self._file = self.path.open("ab")
            self._size = 0
        self._file.write(data)
        self._file.flush()
        self._size += len(data)
        return data.count(b"\n")

    def close(self) -> None:
        self._file.close()
