"""Text a UTF-8 server cannot hold: a lone surrogate. Pure: values in, a finding out.

JSON allows a `\\ud800` escape with no pair (JavaScript's JSON.stringify writes one for a string
cut inside an emoji); json.loads reads it as a lone surrogate, which no UTF-8 text can hold. Both
servers refuse such a body with 400 rather than store or rewrite it (a rewrite to U+FFFD would
make different userIds one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

# Only a body holding one of these escapes can hold a lone surrogate (UTF-8 cannot encode one).
SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class LoneSurrogate:
    """The first lone surrogate of a value: the code point, and where (keys and list indexes
    from the top; `in_key` when it is in the name of a key of the object at `path`)."""

    code_point: int
    path: Path
    in_key: bool = False

    @property
    def escape(self) -> str:
        """As the JSON text wrote it, e.g. \\ud800."""
        return f"\\u{self.code_point:04x}"

    def where(self, top: str = "") -> str:
        """The path as a reader writes it: `batch[0].userId`; `top` names the body itself."""
        text = top
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
        text = text or "the body"
        return f"a key in {text}" if self.in_key else text


def find_lone_surrogate(text: str, value: Any) -> LoneSurrogate | None:
    """The first lone surrogate of `value` (json.loads' reading of `text`), in the order JSON
    writes it (each key before its value); None when there is none. json.loads joins an escaped
    pair into one character, so a surrogate left in a string is a lone one."""
    if not SURROGATE_ESCAPE.search(text):  # the common case: no escape, nothing to walk
        return None
    # A stack, not recursion: the value may be nested as deep as json.loads allows.
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                return LoneSurrogate(ord(found.group()), path)
        elif isinstance(item, list):
            stack.extend(((*path, index), child) for index, child in reversed(
                list(enumerate(item))))
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                found = _SURROGATE.search(key)
                if found:  # reported before its value, and before the keys after it
                    stack.append((path, _KeyFinding(ord(found.group()))))
                else:
                    stack.append(((*path, key), child))
        elif isinstance(item, _KeyFinding):
            return LoneSurrogate(item.code_point, path, in_key=True)
    return None


@dataclass(frozen=True, slots=True)
class _KeyFinding:
    code_point: int
