"""The mock's exception tree. Each class knows its HTTP status and error code.

Built on httpkit's problems (httpkit/problems.py), which the shared plumbing raises for what is
not the mock's own business: a body that cannot be read (rendered as invalid_json, see
public_code), a query number out of range (invalid_query), no route (not_found), a wrong method
(method_not_allowed), a late body (request_timeout, 408), a body over a size limit
(payload_too_large, 413). One renderer, middlewares.error_response, writes them all as
{"error": {"code", "message", "details"}}.

MockServerError (an httpkit HttpProblem)
├── BadRequest (400)
│   ├── InvalidJson
│   ├── InvalidPayload        details.violations: [{path, message}]
│   ├── InvalidInspectionQuery
│   └── InvalidFaultRule      details.violations: [{path, message}]
├── Unauthorized (401)
├── NotFound (404)
│   └── ActorNotFound
├── IdempotencyConflict (409)
├── FaultRuleLimit (409)
├── InjectedFault (429, 5xx)  a fault rule answered instead of the mock (details.ruleId)
├── PayloadTooLarge (413)
├── UnsupportedMediaType (415)
└── StoreError (503)          the journal could not be written or read
    ├── RecordRefused         --db names something that is not a record this mock may open
    ├── RecordInUse           another process holds the record's lock
    └── RecordDamaged         a complete record fails its checksum or does not parse
"""

from __future__ import annotations

from typing import Any

from httpkit.problems import HttpProblem, UnreadableBody


def public_code(problem: HttpProblem) -> str:
    """The code the mock's API documents for a problem: a body it cannot read is invalid_json,
    whichever layer found it."""
    return "invalid_json" if isinstance(problem, UnreadableBody) else problem.code


def error_body(problem: HttpProblem) -> dict[str, Any]:
    return {"error": {"code": public_code(problem), "message": problem.message,
                      "details": problem.details}}


class MockServerError(HttpProblem):
    status: int = 500
    code: str = "internal"

    def body(self) -> dict[str, Any]:
        return error_body(self)


class BadRequest(MockServerError, status=400, code="bad_request"):
    """The request cannot be used as sent; the message says what to change."""


class InvalidJson(BadRequest, code="invalid_json"):
    """The body is not JSON (or not readable as sent: encoding, truncation)."""


class InvalidPayload(BadRequest, code="invalid_payload"):
    """JSON, but not an event the contract allows: details.violations lists each."""


class InvalidInspectionQuery(BadRequest, code="invalid_query"):
    """A query parameter is unknown, of the wrong kind or out of range."""


class InvalidFaultRule(BadRequest, code="invalid_fault_rule"):
    """A fault rule the FaultRule schema refuses: details.violations lists each."""


class Unauthorized(MockServerError, status=401, code="unauthorized"):
    """No token, or (in strict mode) one the mock was not started with."""


class NotFound(MockServerError, status=404, code="not_found"):
    """Nothing at this path, or no such thing in the caller's tenant."""


class ActorNotFound(NotFound, code="actor_not_found"):
    """No actor in the tenant holds the identifier asked for."""


class IdempotencyConflict(MockServerError, status=409, code="idempotency_key_reused"):
    """The Idempotency-Key was used before with a different body."""


class FaultRuleLimit(MockServerError, status=409, code="too_many_fault_rules"):
    """The tenant already has as many fault rules as the mock keeps."""


class InjectedFault(MockServerError, code="injected_fault"):
    """Not a failure of the mock: a fault rule the tenant added answered this request."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.status = status


class PayloadTooLarge(MockServerError, status=413, code="payload_too_large"):
    """Over a size limit: the body (on the wire or inflated) or the batch."""


class UnsupportedMediaType(MockServerError, status=415, code="unsupported_media_type"):
    """A Content-Type or Content-Encoding the mock does not read."""


class StoreError(MockServerError, status=503, code="store_unavailable"):
    """The record could not be written or read: retry later (503)."""


class RecordRefused(StoreError, code="record_refused"):
    """The --db path is not a record this mock may open: another kind of file, a directory,
    unreadable, read-only, or a record of a newer format. Its bytes are left as they were."""


class RecordInUse(StoreError, code="record_in_use"):
    """Another process holds the record's lock."""


class RecordDamaged(StoreError, code="record_damaged"):
    """A complete record fails its checksum or does not parse (details: file, offset, record)."""
