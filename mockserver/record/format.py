"""The record's bytes: a header line naming the format, then one line per journal record, each
carrying a CRC-32 of its payload. Pure: bytes in, values out. No files.

    line    = crc32 (8 lowercase hex digits) " " payload "\\n"
    payload = compact JSON (codec.dump_json): the header first, then journal records

The header: {"format": "pointillist-mock-record", "version": 1, "generation": N,
"snapshot": null | {"file": NAME, "bytes": SIZE, "crc32": CRC}}. A line is complete once its
"\\n" is written; only an incomplete final line (a write a crash interrupted, never
acknowledged) may be cut. Any complete line that fails its checksum or does not parse is damage.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from mockserver.codec import dump_json, load_json
from mockserver.errors import RecordDamaged, RecordRefused

FORMAT = "pointillist-mock-record"
VERSION = 1
SNAPSHOT_FORMAT = "pointillist-mock-snapshot"
# What every record starts with: enough to tell ours from any other file without reading more.
_OURS = re.compile(rb'^[0-9a-f]{8} \{"format":"' + FORMAT.encode() + rb'"')
PREFIX_BYTES = 64


@dataclass(frozen=True)
class SnapshotRef:
    file: str  # a name in the record's directory
    bytes: int
    crc32: int

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "bytes": self.bytes, "crc32": self.crc32}


@dataclass(frozen=True)
class Header:
    generation: int = 0
    snapshot: SnapshotRef | None = None

    def line(self) -> bytes:
        snapshot = self.snapshot.as_dict() if self.snapshot else None
        return encode_line({"format": FORMAT, "version": VERSION, "generation": self.generation,
                            "snapshot": snapshot})


def encode_line(value: Any) -> bytes:
    return encode_text(dump_json(value))


def encode_text(text: str) -> bytes:
    """The line of a payload already written as JSON text (what `encode_line` writes of its
    value's dump_json)."""
    payload = text.encode("utf-8")
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


def looks_like_ours(prefix: bytes) -> bool:
    """Whether a file starting with `prefix` (its first PREFIX_BYTES) is a record."""
    return _OURS.match(prefix) is not None


def _damaged(where: str, offset: int, number: int, why: str) -> RecordDamaged:
    return RecordDamaged(
        f"{where} is damaged at record {number} (byte offset {offset}): {why}; it was not "
        "written by a crash (only an incomplete final record can be); `pointillist-mock "
        "verify` tells more, `pointillist-mock repair` keeps what comes before it",
        {"file": where, "offset": offset, "record": number})


def decode_line(line: bytes, where: str, offset: int, number: int) -> Any:
    """The value of one complete line (ending in "\\n"); RecordDamaged says where it fails."""
    def damaged(why: str) -> RecordDamaged:
        return _damaged(where, offset, number, why)

    if len(line) < 10 or line[8:9] != b" ":
        raise damaged("not a checksummed record")
    try:
        expected = int(line[:8], 16)
    except ValueError:
        raise damaged("not a checksummed record") from None
    payload = line[9:-1]
    if zlib.crc32(payload) != expected:
        raise damaged("its checksum does not match")
    try:
        return load_json(payload.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and both JSON decoders' errors are ValueErrors
        raise damaged("its checksum matches but it does not parse") from None


def parse_header(value: Any, where: str) -> Header:
    """The header's meaning; a header of a newer version is refused, not guessed at."""
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise RecordRefused(f"{where} is not a pointillist-mock record")
    if value.get("version") != VERSION:
        raise RecordRefused(
            f"{where} is a pointillist-mock record of version {value.get('version')!r}; this "
            f"pointillist-mock reads version {VERSION}")
    snapshot = value.get("snapshot")
    ref = None if snapshot is None else SnapshotRef(
        str(snapshot["file"]), int(snapshot["bytes"]), int(snapshot["crc32"]))
    return Header(int(value["generation"]), ref)


def check_record(value: Any, where: str, offset: int, number: int) -> dict[str, Any]:
    """A journal record's shape: {"op": "add", "t", "k", "fp", "docs"} or {"op": "reset",
    "t"}. A record whose checksum matches but whose shape is wrong is damage all the same."""
    ok = isinstance(value, dict) and isinstance(value.get("t"), str) and (
        value.get("op") == "reset" or (
            value.get("op") == "add" and isinstance(value.get("docs"), list)
            and bool(value["docs"]) and "k" in value and "fp" in value))
    if not ok:
        raise _damaged(where, offset, number, "not a journal record")
    return value  # type: ignore[no-any-return]
