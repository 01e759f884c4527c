"""The connector's exception tree. Each class knows its error code, and those that reach HTTP
(the gateway's) their status and external form.

ConnectorError
├── ConfigError                 a setting is out of range or of the wrong kind
│   ├── DefinitionError         an Engage definitions file that cannot be used (every problem)
│   └── PlanError               a tracking plan that cannot be used (every problem, with paths)
├── MappingError(code, field)   a Segment message cannot become a Pointillist event
│                               codes: missing_identifier, missing_field, invalid_type,
│                               invalid_timestamp (contracts/mapping/README.md)
├── DeliveryError               an event could not be delivered to Pointillist
├── SyncOrderError              an Engage sync earlier than the previous one
├── GatewayCallError            the segment_gateway fixture's call to its gateway failed
└── GatewayError (500)          answered over HTTP by the gateway (also an httpkit HttpProblem)
    ├── TrackingError (400)     a request the gateway's /v1/* refuses, as Segment would
    │   ├── InvalidRequest      not JSON, not readable, or over a size limit
    │   │   └── InvalidText     JSON holding a lone surrogate escape, which is no character
    │   └── WriteKeyRefused (401)  keys are configured; none of them was offered
    ├── CdnError (404)          a Segment CDN path the gateway does not serve (browser.py)
    │   └── BundleNotInstalled (503)  analytics.js's npm package is not installed
    ├── AdminError (400)        a /_gateway/* request that cannot be served
    │   ├── InvalidAdminQuery
    │   ├── InvalidBody
    │   └── MessageNotFound (404)
    └── OutboxError (503)       the outbox cannot be opened, read or written

The gateway's one renderer (gateway/rendering.py) writes every error, httpkit's problems
included, as Segment's {"code", "message"} under /v1/ and Segment's CDN paths, and as
{"error": {"code", "message", "details"}} elsewhere.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from httpkit.problems import HttpProblem

MappingErrorCode = Literal[
    "missing_identifier", "missing_field", "invalid_type", "invalid_timestamp"
]
MAPPING_ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(MappingErrorCode))


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    code: str = "connector_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details if details is not None else {}

    def as_dict(self) -> dict[str, Any]:
        """The shared error body shape: {"code", "message", "details"}."""
        return {"code": self.code, "message": self.message, "details": self.details}


class ConfigError(ConnectorError, ValueError):
    """A setting is invalid. Also a ValueError, as for any bad argument."""

    code = "invalid_config"


class DefinitionError(ConfigError):
    """The definitions file cannot be read, or says something invalid. `details["problems"]`
    lists every problem found, each a sentence that says where."""

    code = "invalid_definitions"

    @classmethod
    def of(cls, problems: list[str]) -> DefinitionError:
        if len(problems) == 1:
            message = problems[0]
        else:
            listed = "".join(f"\n- {problem}" for problem in problems)
            message = f"the definitions have {len(problems)} problems:{listed}"
        return cls(message, {"problems": problems})


class PlanError(ConfigError):
    """A tracking plan that cannot be read, or that says something invalid (a rule that is no
    JSON Schema, two rules for one event and version ...). `details["problems"]` lists every
    problem found, each a sentence that starts with where."""

    code = "invalid_tracking_plan"

    @classmethod
    def of(cls, source: str, problems: list[str]) -> PlanError:
        if len(problems) == 1:
            message = f"tracking plan {source}: {problems[0]}"
        else:
            listed = "".join(f"\n- {problem}" for problem in problems)
            message = f"tracking plan {source} has {len(problems)} problems:{listed}"
        return cls(message, {"problems": problems})


class SyncOrderError(ConnectorError, ValueError):
    """A sync earlier than the previous one: the simulator's clock only moves forward."""

    code = "sync_out_of_order"


class GatewayCallError(ConnectorError, AssertionError):
    """A call of the pytest fixture's handle (testing.GatewayHandle) to its gateway failed:
    an error status, or no answer. An AssertionError too, so pytest reports it as a failure."""

    code = "gateway_call_failed"


class MappingError(ConnectorError):
    """An invalid Segment message. `code` and `field` are exactly the golden cases' "error"."""

    code: MappingErrorCode

    def __init__(self, code: MappingErrorCode, field: str, message: str | None = None) -> None:
        super().__init__(message or f"{code}: {field}", {"field": field})
        self.code = code
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable (multiprocessing)
        return (type(self), (self.code, self.field, self.message))

    def __repr__(self) -> str:
        return f"MappingError(code={self.code!r}, field={self.field!r})"


class DeliveryError(ConnectorError):
    """Why one delivery attempt failed: the server's error code and message, or the transport's.

    status: the HTTP status when there was a response; retryable: whether another attempt may
    succeed; retry_after: the server's Retry-After, in seconds, when it sent one.
    """

    code = "delivery_failed"

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, {"status": status} if status is not None else None)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.code, self.message, self.status, self.retryable, self.retry_after)
        return (type(self), args)

    def __repr__(self) -> str:
        return f"DeliveryError({self.code!r}, {self.message!r}, status={self.status})"


class GatewayError(ConnectorError, HttpProblem):
    """An error the gateway answers over HTTP: it knows its status (an httpkit problem, so the
    gateway's one renderer writes it like httpkit's own)."""

    status: int = 500
    code = "internal"


class TrackingError(GatewayError, status=400, code="invalid_request"):
    """A request Segment refuses. `segment_body()` is the answer: {"code", "message"}."""

    def segment_body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidRequest(TrackingError):
    """400: not JSON, not readable, or over a size limit."""


class InvalidText(InvalidRequest):
    """400: a lone surrogate escape (`"\\ud800"`) that no UTF-8 text holds; refused, not
    rewritten (U+FFFD would make different userIds one actor). Counted in the stats."""


class WriteKeyRefused(TrackingError, status=401, code="unauthorized"):
    """401: keys are configured and the request carries none of them (not a Segment 400)."""


class CdnError(GatewayError, status=404, code="not_found"):
    """404: a CDN file the gateway does not have (a lazy chunk name analytics.js never asks)."""


class BundleNotInstalled(CdnError, status=503, code="analytics_js_not_installed"):
    """503: the analytics.js bundle is served from the npm package, which setup installs."""


class AdminError(GatewayError, status=400, code="bad_request"):
    """A /_gateway/* request that cannot be served; the message says what to change."""


class InvalidAdminQuery(AdminError, code="invalid_query"):
    """A query parameter that is unknown, of the wrong kind or out of range."""


class InvalidBody(AdminError, code="invalid_body"):
    """An admin body of the wrong shape."""


class MessageNotFound(AdminError, status=404, code="not_found"):
    """No such message in the gateway's outbox or dropped list (an unknown route is NoRoute)."""


class OutboxError(GatewayError, status=503, code="outbox_unavailable"):
    """The outbox file cannot be opened, read or written (503: try again later)."""

