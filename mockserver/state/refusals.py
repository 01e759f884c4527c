"""Refused requests as /_mock/rejected shows them, and the ones kept for tokens that have no
tenant yet ("strays": a refused request creates no tenant, see store.Store.reject).

Pure data, no I/O. Refusals are never journaled: a restart, from the journal or a snapshot,
starts with none (for tenants and strays alike).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

# Refusals kept for tokens that have no tenant (no accepted write yet), across all of them:
# enough for a misconfigured client to see why nothing arrives, bounded however many tokens try.
STRAY_REJECTED_KEPT = 1000


@dataclass
class Rejected:
    at: str
    method: str
    path: str
    status: int
    code: str
    message: str
    violations: list[dict[str, str]]
    excerpt: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "method": self.method, "path": self.path, "status": self.status,
                "code": self.code, "message": self.message, "violations": self.violations,
                "bodyExcerpt": self.excerpt}


@dataclass
class Strays:
    """The refusals kept for a token that has no tenant yet."""

    kept: deque[Rejected] = field(default_factory=deque)
    total: int = 0


class StrayBook:
    """Refusals of tokens without a tenant, oldest first: at most `per_token` for a token and
    STRAY_REJECTED_KEPT in all, so /_mock/rejected can still show them."""

    def __init__(self, per_token: int) -> None:
        self._per_token = per_token
        self._strays: OrderedDict[str, Strays] = OrderedDict()
        self._count = 0

    def get(self, tenant: str) -> Strays | None:
        return self._strays.get(tenant)

    def take(self, tenant: str) -> Strays | None:
        """The token's refusals, no longer kept here (its tenant now holds them)."""
        strays = self._strays.pop(tenant, None)
        if strays is not None:
            self._count -= len(strays.kept)
        return strays

    def add(self, tenant: str, rejected: Rejected) -> None:
        strays = self._strays.setdefault(tenant, Strays())
        self._strays.move_to_end(tenant)
        strays.kept.append(rejected)
        strays.total += 1
        self._count += 1
        if len(strays.kept) > self._per_token:
            strays.kept.popleft()
            self._count -= 1
        while self._count > STRAY_REJECTED_KEPT:  # O(1) amortized
            oldest = next(iter(self._strays.values()))
            oldest.kept.popleft()
            self._count -= 1
            if not oldest.kept:
                self._strays.popitem(last=False)
