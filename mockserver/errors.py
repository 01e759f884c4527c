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
│   ├── InvalidQuery
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


class BadRequest(MockServerError):
    status = 400
    code = "bad_request"


class InvalidJson(BadRequest):
    code = "invalid_json"


class InvalidPayload(BadRequest):
    code = "invalid_payload"


class InvalidQuery(BadRequest):
    code = "invalid_query"


class InvalidFaultRule(BadRequest):
    code = "invalid_fault_rule"


class Unauthorized(MockServerError):
    status = 401
    code = "unauthorized"


class NotFound(MockServerError):
    status = 404
    code = "not_found"


class ActorNotFound(NotFound):
    code = "actor_not_found"


class IdempotencyConflict(MockServerError):
    status = 409
    code = "idempotency_key_reused"


class FaultRuleLimit(MockServerError):
    status = 409
    code = "too_many_fault_rules"


class InjectedFault(MockServerError):
    """Not a failure of the mock: a fault rule the tenant added answered this request."""

    code = "injected_fault"

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.status = status


class PayloadTooLarge(MockServerError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(MockServerError):
    status = 415
    code = "unsupported_media_type"


class StoreError(MockServerError):
    status = 503
    code = "store_unavailable"


class RecordRefused(StoreError):
    """The --db path is not a record this mock may open: another kind of file, a directory,
    unreadable, read-only, or a record of a newer format. Its bytes are left as they were."""

    code = "record_refused"


class RecordInUse(StoreError):
    """Another process holds the record's lock."""

    code = "record_in_use"


class RecordDamaged(StoreError):
    """A complete record fails its checksum or does not parse (details: file, offset, record)."""

    code = "record_damaged"
