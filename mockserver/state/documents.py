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

from mockserver.codec import dump_json, load_json
from mockserver.state.identity import Node
from mockserver.state.timeline import time_key

KEY = "_index"
_OPEN = '{"' + KEY + '":'
_OPEN_BYTES = _OPEN.encode()
_SEQ = b',"seq":'
_NODES = b",[["  # where an `_index`'s identifiers start (after its id, type and time)
_SHARED = 1 << 16  # identifier lists shared by a batch reader before it starts afresh

Groups = list[list[Node]]  # an event's identifiers, by actor type, in the event's order


def event_id(seq: int) -> str:
    return f"evt_{seq:010d}"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the inspection API lists it (GET /_mock/events)."""
    # idempotencyKey: how a client (the connector sends the Segment messageId) finds its event;
    # null for events stored without one and for journals written before it was kept.
    return {"id": doc["id"], "receivedAt": doc["receivedAt"], "eventTime": doc["eventTime"],
            "idempotencyKey": doc.get("idempotencyKey"), "event": doc["event"]}


def index_of(doc: dict[str, Any]) -> list[Any]:
    """The `_index` value of a document. O(identifiers)."""
    event = doc["event"]
    nodes = [[actor_type, name, value] for actor_type, identifiers in event["actors"].items()
             for name, value in identifiers.items()]
    return [doc["seq"], event["eventType"], time_key(doc["eventTime"]), nodes]


def indexed_text(doc: dict[str, Any], index: list[Any] | None = None,
                 text: str | None = None) -> str:
    """The JSON text a document is stored as: `_index` (`index`, when already made) first,
    then the document (`text`: its dump_json, when already made). O(size)."""
    if text is None:
        text = dump_json(doc)
    if not text.startswith('{"seq":'):  # json-module text (codec._JSON_ONLY): kept as is
        return text
    head = dump_json(index_of(doc) if index is None else index)
    if head.startswith(" "):
        return text
    return _OPEN + head + "," + text[1:]


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
        self.actors.append(_groups(index[3]))


def _groups(nodes: Sequence[Sequence[str]]) -> Groups:
    """An `_index`'s identifiers grouped by actor type, in order. O(identifiers)."""
    groups: Groups = []
    current = None
    for node in nodes:
        if node[0] != current:
            current = node[0]
            groups.append([])
        groups[-1].append((node[0], node[1], node[2]))
    return groups


def stored(docs: Sequence[dict[str, Any]], texts: Sequence[str] | None = None
           ) -> tuple[Columns, list[str]]:
    """The columns of decoded documents and the JSON texts they are stored as (`texts`: the
    documents' dump_json, when already made): what `index_of`, `Columns.add` and
    `indexed_text` make, with each event's identifiers read once, as the tuples the columns
    keep (orjson writes a tuple as the array `_index` holds). O(documents + identifiers)."""
    columns, stored_texts = Columns(), []
    seqs, types, times, actors = columns.seqs, columns.types, columns.times, columns.actors
    for n, doc in enumerate(docs):  # O(documents)
        event = doc["event"]
        groups: Groups = [[(actor_type, name, value) for name, value in identifiers.items()]
                          for actor_type, identifiers in event["actors"].items() if identifiers]
        index = [doc["seq"], event["eventType"], time_key(doc["eventTime"]),
                 [node for group in groups for node in group]]
        seqs.append(index[0])
        types.append(index[1])
        times.append(index[2])
        actors.append(groups)
        stored_texts.append(indexed_text(doc, index, None if texts is None else texts[n]))
    return columns, stored_texts


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


def from_bodies(bodies: Sequence[bytes], shared: dict[bytes, Groups]) -> Columns | None:
    """The columns of a batch of stored documents' bytes, every `_index` read by one parse of
    their (id, type, time) heads; identifier lists are parsed once per distinct text and shared
    (kept in `shared`, read-only from then on). None when any document lacks the usual shape (no
    `_index`, a type with an escape, or that does not parse): the caller reads them one by one.
    O(total len(_index)): per document, a few C scans and a dict look-up."""
    start = len(_OPEN_BYTES)
    heads: list[bytes] = []
    keys: list[bytes] = []
    for body in bodies:  # O(documents)
        nodes = body.find(_NODES, start)
        end = body.find(_SEQ, nodes)
        head = body[start:nodes]  # `[seq,"type",time`: a cut in the type would leave one quote
        if nodes < 0 or end < 0 or not body.startswith(_OPEN_BYTES) or b"\\" in head \
                or head.count(b'"') != 2:
            return None
        heads.append(head)
        keys.append(body[nodes + 1:end - 1])
    if len(shared) > _SHARED:
        shared.clear()
    columns = Columns()
    try:
        rows = orjson.loads(b"[" + b"],".join(heads) + b"]]")
        if not isinstance(rows, list) or len(rows) != len(bodies):
            return None
        seqs, types, times = zip(*rows, strict=True)
        for key in keys:  # O(documents)
            groups = shared.get(key)
            if groups is None:
                groups = shared[key] = _groups(orjson.loads(key))
            columns.actors.append(groups)
    except (ValueError, TypeError, IndexError, KeyError):
        return None
    columns.seqs, columns.types, columns.times = list(seqs), list(types), list(times)
    return columns


def decode(text: str) -> dict[str, Any]:
    """A stored document's value, without `_index`. O(size)."""
    doc: dict[str, Any] = load_json(text)
    return strip(doc)
