"""What the schemathesis suites share: the statuses a rejection may have, and the bound on waits."""

from __future__ import annotations

import math

from schemathesis import Case

# A generated wait must not hold the run: GET /_mock/events?min_count=N waits up to `timeout`.
MAX_WAIT_SECONDS = 0.05
# Schemathesis's default statuses for "invalid data was rejected", plus 413: the mock answers a
# batch over its size limit (maxItems) with 413, as the spec documents.
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                      "429", "5xx"]


def _bound_wait(case: Case) -> None:
    """Shorten a generated in-range `timeout` (and the 5 s default) of a waiting events query.

    Only values the mock accepts are shortened, so a case stays valid or invalid as generated.
    """
    query = case.query
    if case.path != "/_mock/events" or not isinstance(query, dict) or "min_count" not in query:
        return
    bound_timeout(query)


def bound_timeout(query: dict[str, object]) -> None:
    """Shorten a waiting query's `timeout` to MAX_WAIT_SECONDS when it is missing or an
    in-range number; a value the server would refuse is left as generated."""
    timeout = query.get("timeout")
    if timeout is None:
        query["timeout"] = MAX_WAIT_SECONDS
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float | str):
        return
    try:
        seconds = float(timeout)
    except ValueError:
        return
    if math.isfinite(seconds) and MAX_WAIT_SECONDS < seconds <= 30:
        query["timeout"] = MAX_WAIT_SECONDS
