"""The mock's exception tree. Each class knows its HTTP status and error code.

MockServerError
├── BadRequest (400)
│   ├── InvalidJson
│   ├── InvalidPayload        details.violations: [{path, message}]
│   ├── InvalidQuery
│   └── InvalidFaultRule      details.violations: [{path, message}]
├── Unauthorized (401)
├── NotFound (404)
│   └── ActorNotFound
├── MethodNotAllowed (405)
├── RequestTimeout (408)       the body did not arrive in time; the connection is closed
├── IdempotencyConflict (409)
├── FaultRuleLimit (409)
├── InjectedFault (429, 5xx)  a fault rule answered instead of the mock (details.ruleId)
├── HttpError (any)           a status aiohttp chose before our handlers ran
├── PayloadTooLarge (413)
├── UnsupportedMediaType (415)
└── StoreError (503)          the journal could not be written or read
"""

from __future__ import annotations

from typing import Any


class MockServerError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


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


class MethodNotAllowed(MockServerError):
    status = 405
    code = "method_not_allowed"


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


class RequestTimeout(MockServerError):
    """The body did not arrive within the body timeout: answered, then the connection closes."""

    status = 408
    code = "request_timeout"


class PayloadTooLarge(MockServerError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(MockServerError):
    status = 415
    code = "unsupported_media_type"


class StoreError(MockServerError):
    status = 503
    code = "store_unavailable"


class HttpError(MockServerError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = reason.lower().replace(" ", "_") or "http_error"
