"""What a restart needs of each stored event, readable without decoding the event.

Every stored document's JSON text starts with one extra field, `_index`, written when the
event is stored (and kept in the snapshot as is, so a TinyDB reader sees it as one more field):

    {"_index":[seq,"eventType",eventTimeAsInteger,[["actorType","name","value"],…]],"seq":…}

Arrays only, so the bytes `,"seq":` cannot occur inside it (a JSON string escapes its quotes,
and in an array a string is never followed by a colon): the first such bytes end it. A restart
parses these few bytes instead of the whole event (a third of the work), and keeps the text as
is. Documents without it (a version 1 snapshot, or text only the json module could write, see
codec.py) are decoded whole, as before: `columns` builds the same columns from either.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .codec import dump_json, load_json
from .identity import Node
from .timeline import time_key

KEY = "_index"
_OPEN = '{"' + KEY + '":'
_OPEN_BYTES = _OPEN.encode()
_SEQ = b',"seq":'

Groups = list[list[Node]]  # an event's identifiers, by actor type, in the event's order


def index_of(doc: dict[str, Any]) -> list[Any]:
    """The `_index` value of a document. O(identifiers)."""
    event = doc["event"]
    nodes = [[actor_type, name, value] for actor_type, identifiers in event["actors"].items()
             for name, value in identifiers.items()]
    return [doc["seq"], event["eventType"], time_key(doc["eventTime"]), nodes]


def indexed_text(doc: dict[str, Any]) -> str:
    """The JSON text a document is stored as: `_index` first, then the document. O(size)."""
    text = dump_json(doc)
    if not text.startswith('{"seq":'):  # json-module text (codec._JSON_ONLY): kept as is
        return text
    index = dump_json(index_of(doc))
    if index.startswith(" "):
        return text
    return _OPEN + index + "," + text[1:]


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as stored before `_index` (what readers get). O(1)."""
    doc.pop(KEY, None)
    return doc


class Columns:
    """The index fields of a batch of documents, one list per field, in the batch's order."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.types: list[str] = []
        self.times: list[int] = []
        self.actors: list[Groups] = []

    def add(self, index: Sequence[Any]) -> None:
        """One `_index` value. O(identifiers)."""
        self.seqs.append(index[0])
        self.types.append(index[1])
        self.times.append(index[2])
        groups: Groups = []
        current = None
        for node in index[3]:
            if node[0] != current:
                current = node[0]
                groups.append([])
            groups[-1].append((node[0], node[1], node[2]))
        self.actors.append(groups)


def from_docs(docs: Sequence[dict[str, Any]]) -> Columns:
    """The columns of decoded documents. O(documents + identifiers)."""
    columns = Columns()
    for doc in docs:
        columns.add(index_of(doc))
    return columns


def from_text(body: bytes) -> list[Any] | None:
    """The `_index` value at the start of a stored document's bytes, or None when it has none.
    O(len(_index)): the rest is not read. ValueError if it does not parse."""
    if not body.startswith(_OPEN_BYTES):
        return None
    end = body.find(_SEQ, len(_OPEN_BYTES))
    if end < 0:
        raise ValueError("an _index without its document")
    index = orjson.loads(body[len(_OPEN_BYTES):end])
    if not (isinstance(index, list) and len(index) == 4 and isinstance(index[3], list)):
        raise ValueError("not an _index")
    return index


def decode(text: str) -> dict[str, Any]:
    """A stored document's value, without `_index`. O(size)."""
    doc: dict[str, Any] = load_json(text)
    return strip(doc)
