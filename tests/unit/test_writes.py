"""The journal entry of a prepared write: written from the documents' texts made once, and the
very same text as a serialisation of the whole entry."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.codec import dump_json
from mockserver.state.store import Prepared, Store
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
