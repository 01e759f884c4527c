"""Fuzzing the ingest routes of live servers with hypothesis: no 5xx, ever.

Random bytes, random JSON (NaN, Infinity, huge and tiny numbers, deep and wide documents, any
key), valid events with one field replaced by random JSON, and all of them with random
Content-Type and Content-Encoding headers, go to POST /event (and POST /events) of one real mock,
and to the Tracking API of one real gateway. Every answer must be one the contract documents:

- the mock: 202 with an id (then the event is stored), or 400/413/415 with the JSON error body
  `{"error": {"code", "message", "details"}}`;
- the gateway: 200 `{"success": true}`, or 400 `{"code", "message"}` (Segment's shape).

Generation is derandomized so a failure reproduces; the example budget keeps the module within a
few seconds. The servers run on their own event loops in threads (hypothesis tests are
synchronous) and are shared by the module: every example uses a fresh token, so none sees
another's data.
"""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.config import DeliveryConfig
from connector.gateway.serving import serving as gateway_serving
from connector.gateway.settings import GatewaySettings
from httpkit.serving import BackgroundServer as GatewayThread
from mockserver.http.server import BackgroundServer
from mockserver.settings import Settings
from tests.conftest import make_event

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
MOCK_ERRORS = {400, 413, 415}
TIMEOUT = 30.0  # only bounds a hung request


# -- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mock() -> Iterator[str]:
    with BackgroundServer(Settings(port=0)) as server:
        yield server.url


def background_gateway(pointillist_url: str) -> GatewayThread:
    """A gateway on its own event loop in a thread (delivering to `pointillist_url`)."""
    settings = GatewaySettings(
        delivery=DeliveryConfig(url=pointillist_url, token="fuzz-gateway", backoff_base=0.0,
                                backoff_max=0.0, max_retries=0),
        port=0)
    return GatewayThread(lambda: gateway_serving(settings))


@pytest.fixture(scope="module")
def gateway(mock: str) -> Iterator[str]:
    with background_gateway(mock) as server:
        yield server.url


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# -- strategies ---------------------------------------------------------------------------------

# Number literals json.dumps would never write: overflowing, underflowing, very long, and the
# non-JSON constants Python's parser accepts.
NUMBER_TEXTS = st.sampled_from([
    "1e400", "-1e400", "1e-400", "-0", "0e0", "1E+2", "9" * 4301, "9" * 4000,
    "0." + "0" * 5000 + "1", "NaN", "Infinity", "-Infinity", "42", "-42.5"])
KEYS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["__proto__", "constructor", "prototype", "eventType", "actors", "labels",
                     "userId", "\u0000", "a\nb", "\ud7ff", "\U0001f600", ""]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=30,
)
EVENT_FIELDS = ["eventSource", "eventType", "eventTime", "actors", "labels", "numbers",
                "location", "extra"]
CONTENT_TYPES = st.sampled_from([None, "application/json", "application/json; charset=utf-8",
                                 "application/vnd.api+json", "text/plain", "", "*/*",
                                 "application/x-www-form-urlencoded"])
ENCODINGS = st.sampled_from([None, "identity", "gzip", "x-gzip", "deflate", "br", "gzip, gzip"])


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event with one field replaced (or added) by random JSON, sometimes with a raw
    number literal in it."""
    event: dict[str, Any] = make_event()
    name = draw(st.sampled_from(EVENT_FIELDS))
    event[name] = "@@" if draw(st.booleans()) else draw(JSON_VALUES)
    body = dumps(event)
    if b'"@@"' in body:
        body = body.replace(b'"@@"', draw(NUMBER_TEXTS).encode())
    return body


@st.composite
def requests_(draw: st.DrawFn, bodies: st.SearchStrategy[bytes]) -> tuple[bytes, dict[str, str]]:
    body = draw(bodies)
    headers = {}
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers["Content-Type"] = content_type
    encoding = draw(ENCODINGS)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        if encoding in ("gzip", "x-gzip") and draw(st.booleans()):
            body = gzip.compress(body)
        elif encoding == "deflate" and draw(st.booleans()):
            body = zlib.compress(body)
    return body, headers


RANDOM_BYTES = st.binary(max_size=2048)
RANDOM_JSON = JSON_VALUES.map(dumps)
ANY_BODY = st.one_of(RANDOM_BYTES, RANDOM_JSON, mutated_events())


# -- checks -------------------------------------------------------------------------------------


def post_to_mock(http: requests.Session, url: str, body: bytes,
                 headers: dict[str, str]) -> requests.Response:
    token = f"fuzz-{uuid.uuid4().hex}"
    return http.post(url, data=body, headers={"apiToken": token, **headers}, timeout=TIMEOUT)


def check_mock_answer(response: requests.Response, http: requests.Session, batch: bool) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    answer = response.json()
    if response.status_code in MOCK_ERRORS:
        assert list(answer) == ["error"]
        error = answer["error"]
        assert sorted(error) == ["code", "details", "message"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        assert error["message"]
        assert isinstance(error["details"], dict)
        return
    assert response.status_code == 202, response.text
    token = response.request.headers["apiToken"]
    stored = http.get(response.url.rsplit("/", 1)[0] + "/_mock/events",
                      headers={"apiToken": token}, timeout=TIMEOUT).json()
    ids = answer["ids"] if batch else [answer["id"]]
    assert [item["id"] for item in stored["events"]] == ids


@given(request=requests_(ANY_BODY))
@FUZZ
def test_post_event_never_answers_5xx(
    request: tuple[bytes, dict[str, str]], mock: str, http: requests.Session
) -> None:
    body, headers = request
    check_mock_answer(post_to_mock(http, f"{mock}/event", body, headers), http, batch=False)


@given(body=RANDOM_BYTES)
@FUZZ
def test_post_event_with_random_bytes_as_json_is_a_json_400(
    body: bytes, mock: str, http: requests.Session
) -> None:
    response = post_to_mock(http, f"{mock}/event", body, {"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_payload")


@given(body=RANDOM_JSON)
@FUZZ
def test_post_event_with_random_json_is_a_json_400_unless_it_is_an_event(
    body: bytes, mock: str, http: requests.Session
) -> None:
    response = post_to_mock(http, f"{mock}/event", body, {"Content-Type": "application/json"})
    check_mock_answer(response, http, batch=False)
    assert response.status_code in (202, 400)


@given(request=requests_(st.one_of(
    RANDOM_JSON, st.lists(st.one_of(mutated_events(), RANDOM_JSON), max_size=5).map(
        lambda items: b"[" + b",".join(items) + b"]"))))
@FUZZ
def test_post_events_never_answers_5xx(
    request: tuple[bytes, dict[str, str]], mock: str, http: requests.Session
) -> None:
    body, headers = request
    check_mock_answer(post_to_mock(http, f"{mock}/events", body, headers), http, batch=True)


# -- the gateway --------------------------------------------------------------------------------

MESSAGE_FIELDS = ["type", "event", "userId", "anonymousId", "messageId", "timestamp", "sentAt",
                  "properties", "traits", "context", "integrations", "writeKey"]


@st.composite
def segment_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A route and a body: a track, or a batch of one, with one field replaced by random JSON
    or a raw number literal; or random JSON; or random bytes."""
    route = draw(st.sampled_from(["track", "identify", "page", "batch", "import"]))
    kind = draw(st.sampled_from(["message", "message", "json", "bytes"]))
    if kind == "bytes":
        return route, draw(RANDOM_BYTES)
    if kind == "json":
        return route, draw(RANDOM_JSON)
    message: dict[str, Any] = {"type": "track", "event": "Order Completed", "userId": "u_1"}
    message[draw(st.sampled_from(MESSAGE_FIELDS))] = "@@" if draw(st.booleans()) else draw(
        JSON_VALUES)
    document: Any = {"batch": [message]} if route in ("batch", "import") else message
    body = dumps(document)
    if b'"@@"' in body:
        body = body.replace(b'"@@"', draw(NUMBER_TEXTS).encode())
    return route, body


@given(request=segment_bodies(), encoding=st.sampled_from([None, "gzip"]))
@FUZZ
def test_the_gateway_never_answers_5xx(
    request: tuple[str, bytes], encoding: str | None, gateway: str, http: requests.Session
) -> None:
    route, body = request
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
        body = gzip.compress(body)
    response = http.post(f"{gateway}/v1/{route}", data=body, headers=headers, timeout=TIMEOUT)
    assert response.status_code in (200, 400), response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    answer = response.json()
    if response.status_code == 200:
        assert answer == {"success": True}
    else:
        assert sorted(answer) == ["code", "message"]
        assert answer["code"] == "invalid_request"
        assert answer["message"]


def test_the_gateway_is_still_healthy_after_the_fuzz(gateway: str, http: requests.Session
                                                     ) -> None:
    """Runs after the fuzz in this module (pytest keeps file order): the worker has not died on
    anything it accepted; its stats answer and a fresh message is still accepted."""
    stats = http.get(f"{gateway}/_gateway/stats", timeout=TIMEOUT)
    assert stats.status_code == 200
    response = http.post(f"{gateway}/v1/track", json={
        "type": "track", "event": "After the fuzz", "userId": "u_after"}, timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (200, {"success": True})
    waited = http.get(f"{gateway}/_gateway/stats", params={
        "min_received": stats.json()["received"] + 1, "timeout": 5}, timeout=TIMEOUT).json()
    assert waited["waitSatisfied"] is True
