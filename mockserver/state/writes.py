"""A write on its way into the store: what `Store.prepare` makes of a request (`Prepared`, or
`Replay` for a repeated Idempotency-Key), and the journal entry that makes it durable.

Pure: values in, values out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mockserver.codec import dump_json
from mockserver.state.tenant import Doc

__all__ = ["Prepared", "Replay", "fingerprint"]


def fingerprint(events: Iterable[Any]) -> str:
    canonical = json.dumps(list(events), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Prepared:
    tenant: str
    docs: list[Doc]
    key: str | None
    fingerprint: str | None
    # Each document's JSON text (codec.dump_json), made once by `prepare` for both the journal
    # entry (`payload`) and the stored text (`apply`); None for a replayed entry.
    texts: list[str] | None = None

    @property
    def ids(self) -> list[str]:
        return [doc["id"] for doc in self.docs]

    def entry(self) -> dict[str, Any]:
        """The journal entry that makes this write durable."""
        return {"op": "add", "t": self.tenant, "k": self.key, "fp": self.fingerprint,
                "docs": self.docs}

    def payload(self) -> str:
        """dump_json(self.entry()), character for character, from the documents' texts rather
        than a second serialisation of the documents. O(size)."""
        texts = self.texts
        key = "null" if self.key is None else dump_json(self.key)
        if texts is None or key.startswith(" ") or any(t.startswith(" ") for t in texts):
            return dump_json(self.entry())  # json-module text (codec._JSON_ONLY): as before
        fp = "null" if self.fingerprint is None else f'"{self.fingerprint}"'  # hex digests
        return (f'{{"op":"add","t":"{self.tenant}","k":{key},"fp":{fp},"docs":['
                + ",".join(texts) + "]}")


@dataclass(frozen=True)
class Replay:
    """A repeated Idempotency-Key: nothing new is stored."""

    ids: list[str]
