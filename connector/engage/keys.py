"""Engage keys and ids: how a definition's name becomes its key, and the deterministic ids.

Engage keys an audience or computed trait by its snake_cased name
(`Order Completed Last 30days` → `order_completed_last_30days`); the destination sees that key
as the trait name, so the derivation must be stable for every alphabet. Ids are digests rather
than random so that the same definitions give the same messages run after run.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Final

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LENGTH: Final = 27  # as Engage's KSUID-style ids: aud_2djnfxHHnYGVQfOAEBroQ9Ti87N


def snake_case(name: str) -> str:
    """The audience/trait key of a name: lowercase, every run of characters that are not
    letters or digits becomes one `_`, no leading or trailing `_`.

    Letters are Unicode letters (categories L*), digits are decimal digits (Nd); combining marks
    (M*) stay with their letter, and the name is NFC-normalized after lowercasing, so `Café`
    gives `café` however it was typed. Other characters (punctuation, spaces, `_`, symbols,
    `²`, emoji) separate words.
    """
    words: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFC", name.lower()):
        category = unicodedata.category(char)
        if category[0] in "LM" or category == "Nd":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return "_".join(words)


def stable_id(*parts: str, length: int = _ID_LENGTH) -> str:
    """A base62 digest of the parts: deterministic, so runs repeat."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


DEFAULT_SPACE_ID: Final = "spa_" + stable_id("pointillist-mock space", length=22)
