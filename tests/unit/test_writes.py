"""The write path's texts, each made once: the journal entry (from the documents' texts, the
very same text as a serialisation of the whole entry), the stored text, the answer (json.dumps'
text, written directly); and the token digest, made once per token in use."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from mockserver.codec import dump_json
from mockserver.http.handlers import answer_text
from mockserver.state import documents as doc_index
from mockserver.state.store import Prepared, Store, tenant_key
from tests.unit.store_helpers import RECEIVED, ev, items


def prepared(*events: dict[str, Any], key: str | None = None) -> Prepared:
    outcome = Store().prepare("tenant-a", items(*events), RECEIVED, key)
    assert isinstance(outcome, Prepared)
    return outcome


@pytest.mark.parametrize("key", [None, "k-1", 'a "quoted", \\ key', "clé ☃"])
def test_the_payload_is_the_entry_serialised_whole(key: str | None) -> None:
    write = prepared(ev("Order Completed", "2026-11-28T11:00:00+01:00", userId="u1"),
                     ev("Signed Up", "2026-11-28T12:00:00Z", userId="u2"), key=key)
    assert write.texts == [dump_json(doc) for doc in write.docs]
    assert write.payload() == dump_json(write.entry())


def test_text_only_the_json_module_writes_falls_back_to_the_whole_entry() -> None:
    event = ev("Order Completed", "2026-11-28T11:00:00Z", userId="u1")
    event["labels"] = {"big": 10**30}  # orjson refuses it: codec's json-module text
    write = prepared(event)
    assert write.texts is not None and write.texts[0].startswith(" ")
    assert write.payload() == dump_json(write.entry())


def test_the_store_keeps_the_texts_prepare_made() -> None:
    store = Store()
    outcome = store.prepare("t", items(ev("A", "2026-11-28T11:00:00Z", userId="u1")), RECEIVED)
    assert isinstance(outcome, Prepared)
    store.apply(outcome)
    stored = store.tenant("t").doc_text(1)
    assert stored.endswith(outcome.texts[0][1:])  # type: ignore[index]
    assert store.tenant("t").doc(1) == outcome.docs[0]


@pytest.mark.parametrize("replay", [False, True])
def test_answers_are_json_dumps_text_written_directly(replay: bool) -> None:
    one = ["evt_0000000001"]
    three = ["evt_0000000001", "evt_0000000002", "evt_0000000003"]
    assert answer_text(one, replay, batch=False) == json.dumps(
        {"id": one[0], "duplicate": replay})
    assert answer_text(three, replay, batch=True) == json.dumps(
        {"ids": three, "count": 3, "duplicate": replay})


def test_a_token_is_digested_once_while_it_is_in_use() -> None:
    tenant_key.cache_clear()
    first = tenant_key("t-cached-token")
    for _ in range(9):
        assert tenant_key("t-cached-token") == first
    assert (tenant_key.cache_info().misses, tenant_key.cache_info().hits) == (1, 9)
    assert first == hashlib.sha256(b"t-cached-token").hexdigest()[:32]


def test_stored_makes_what_index_of_columns_and_indexed_text_make() -> None:
    events = [ev("A", "2026-11-28T11:00:00+01:00", userId="u1", anonymousId="a1"),
              ev("B", "2026-11-28T12:00:00Z", anonymousId="a2")]
    events[1]["actors"]["Account"] = {"accountId": "acc-1"}
    write = prepared(*events, key="k")
    columns, texts = doc_index.stored(write.docs, write.texts)
    expected = doc_index.Columns()
    for doc in write.docs:
        expected.add(doc_index.index_of(doc))
    assert vars(columns) == vars(expected)
    assert texts == [doc_index.indexed_text(doc) for doc in write.docs]
    again, same_texts = doc_index.stored(write.docs)  # a replayed entry: no texts made yet
    assert (vars(again), same_texts) == (vars(expected), texts)
