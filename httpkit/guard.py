"""The request guard both servers put in front of their routes: header bytes, Host names, and
admin routes sealed against cross-site use (DESIGN.md, Security).

- Every header value must be UTF-8: aiohttp hands other bytes to handlers as lone surrogates,
  which fail wherever a value is encoded again (a token's digest, a journal record); here they
  are a 400 invalid_header naming the header, on every route.
- The Host header must be a host and port as RFC 3986 writes them (`[::1]evil.com`,
  `localhost:1@evil.com` are a 400 invalid_header), and name the server (loopback names, the
  bound address, or a name allowed with --allow-host), or the answer is 421: a page on a
  rebound DNS name reaches the server's socket but not its routes. A request target in
  absolute form (`GET http://name:port/path`) must name the server too, and the authority
  checked is the one routes use (`checked_authority`), never aiohttp's `request.host`.
- `--allow-host '*'` widens the Host check only: a page whose origin is a name served only
  through the wildcard (a rebound name) is not the server's own origin for a state-changing
  admin request (403), unless --allow-origin names it.
- Admin routes (a path under one of `admin_prefixes`) refuse a request whose Origin is not the
  server's own origin (nor an --allow-origin one) or whose Sec-Fetch-Site says another site
  sent it (403 cross_site_request), and a body that is not JSON (415): a form post or a
  no-cors fetch from another page cannot change anything. Ingest routes stay open to
  cross-origin posts on purpose (analytics.js posts text/plain cross-origin).
- A page of an --allow-origin origin may use the admin routes fully: its preflight is answered
  (204) and every admin answer to it, errors included, carries Access-Control-Allow-Origin
  (`on_prepare`), so a page the guard lets call a route can also read the answer. Every other
  page gets no CORS header at all.

Raised as problems (problems.py); each server's error middleware, which runs outside this one,
renders them in its own shape.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from .problems import CrossSiteRequest, InvalidHeader, MisdirectedRequest, NotJson

LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
ANY: Final = "*"
# Sec-Fetch-Site values a browser sends for a request the user or the server's own page made.
_OWN_SITE: Final = frozenset({"same-origin", "none"})
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# What an allowed page may send to the admin routes (answered in its preflight).
_CORS_METHODS: Final = "GET, POST, DELETE"
_CORS_HEADERS: Final = "apiToken, Authorization, Content-Type, Idempotency-Key"
_CORS_MAX_AGE: Final = "600"


_AUTHORITY: Final = re.compile(r"""
    (?P<name> \[ [0-9A-Fa-f:.]+ \]                                # IP-literal (IPv6, checked)
            | (?: [A-Za-z0-9\-._~!$&'()*+,;=] | %[0-9A-Fa-f]{2} )+ )  # IPv4address / reg-name
    (?: : (?P<port> [0-9]{0,5} ) )?
    """, re.VERBOSE)
# Where check() leaves the authority it checked.
AUTHORITY_KEY: Final = web.RequestKey("httpkit_guard_authority", str)


@lru_cache(maxsize=256)  # every request names its Host: bounded, a hostile client churns it
def parse_authority(value: str) -> tuple[str, str] | None:
    """(name lower-cased, port) of a Host value as RFC 3986 writes host [":" port], or None:
    'LocalHost:8787' → ('localhost', '8787'), '[::1]' → ('[::1]', ''); '[::1]evil.com',
    'localhost:1@evil.com', 'a b' → None."""
    match = _AUTHORITY.fullmatch(value)
    if match is None:
        return None
    name, port = match["name"].lower(), match["port"] or ""
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return None
    if port and int(port) > 65535:
        return None
    return name, port


def host_name(host: str) -> str:
    """The name part of a Host value as configured (--allow-host, the bound address), lower-
    cased: 'LocalHost:8787' → 'localhost', '[::1]:8787' → '[::1]', '::1' → '[::1]'."""
    host = host.strip().lower()
    parsed = parse_authority(host)
    if parsed is not None:
        return parsed[0]
    try:
        return f"[{ipaddress.IPv6Address(host)}]"  # a bare IPv6 address, as a Host writes it
    except ValueError:
        return host


def checked_authority(request: web.Request) -> str:
    """The authority (host[:port]) the guard checked for this request: what a route that
    points back at the server (the gateway's project settings) must use."""
    return str(request.get(AUTHORITY_KEY) or request.headers.get("Host", ""))


@dataclass(frozen=True)
class Guard:
    """What one server accepts. `hosts` are names as `host_name` gives them ('*': any);
    `origins` are scheme://host[:port] values ('*': any)."""

    admin_prefixes: tuple[str, ...]
    hosts: frozenset[str]
    origins: frozenset[str] = frozenset()

    @classmethod
    def serving(cls, admin_prefixes: Iterable[str], bound: str, allow_hosts: Iterable[str] = (),
                allow_origins: Iterable[str] = ()) -> Guard:
        """The guard of a server bound to `bound`: loopback names, the bound address and the
        allowed names."""
        hosts = {*LOOPBACK_NAMES, host_name(bound), *(host_name(h) for h in allow_hosts)}
        return cls(tuple(admin_prefixes), frozenset(hosts),
                   frozenset(o.strip().rstrip("/").lower() for o in allow_origins))

    def check(self, request: web.Request) -> None:
        """Raise the problem of a request the server must not serve. O(headers)."""
        raw = request.raw_headers
        for name, value in () if b"".join([v for _, v in raw]).isascii() else raw:
            if not value.isascii():  # the usual case never gets here: all ASCII, one C call
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    shown = name.decode("ascii", "replace")
                    raise InvalidHeader(f"the {shown} header is not valid UTF-8",
                                        {"header": shown}) from None
        hosts = request.headers.getall("Host", [])
        if len(hosts) > 1:
            raise InvalidHeader("a request has one Host header", {"header": "Host"})
        host = hosts[0] if hosts else None
        own_name = True
        for authority in (host, self._absolute_authority(request)):
            if authority is None:
                continue
            parsed = parse_authority(authority)
            if parsed is None:
                raise InvalidHeader("the Host header is not a host[:port] (RFC 3986)",
                                    {"header": "Host"})
            own_name = own_name and parsed[0] in self.hosts
            if ANY not in self.hosts and parsed[0] not in self.hosts:
                raise MisdirectedRequest(
                    "this server does not answer to that Host name; start it with "
                    "--allow-host NAME to serve it", {"allowedHosts": sorted(self.hosts)})
            request[AUTHORITY_KEY] = authority  # the absolute form's, when there is one
        if request.path.startswith(self.admin_prefixes):
            self._check_admin(request, host, own_name)

    @staticmethod
    def _absolute_authority(request: web.Request) -> str | None:
        """The authority of a request target in absolute form (RFC 9112 3.2.2), else None."""
        target = request.raw_path  # the request line's target, as sent
        if target.startswith("/") or target == "*":
            return None
        return URL(target).raw_authority if "://" in target else None

    def allows_origin(self, origin: str) -> bool:
        """Whether pages of `origin` were allowed with --allow-origin (the server's own origin
        needs no allowing). A route that answers CORS asks this, so it lets read exactly the
        pages the guard lets call it."""
        return ANY in self.origins or origin.strip().rstrip("/").lower() in self.origins

    def _check_admin(self, request: web.Request, host: str | None, own_name: bool) -> None:
        origin = request.headers.get("Origin")
        allowed = origin is not None and self.allows_origin(origin)
        if not allowed:
            # A page served under a name only the '*' wildcard lets in (a rebound DNS name) is
            # not the server's own origin for a state change.
            own = host is not None and origin is not None and \
                origin.lower() == f"{request.scheme}://{host}".lower() and (
                    own_name or request.method in _SAFE_METHODS)
            site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
            if (origin is not None and not own) or (site and site not in _OWN_SITE):
                raise CrossSiteRequest(
                    "admin routes refuse requests from another site's page; start the server "
                    "with --allow-origin ORIGIN to allow one")
        if request.method not in _SAFE_METHODS and _has_body(request):
            mime = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if mime != "application/json" and not mime.endswith("+json"):
                raise NotJson(f"admin routes take application/json bodies, not {mime or 'none'!r}")

    def _allowed_page(self, request: web.Request) -> str | None:
        """The Origin of an admin request from an --allow-origin page, else None."""
        origin = request.headers.get("Origin")
        if origin and request.path.startswith(self.admin_prefixes) and \
                self.allows_origin(origin):
            return origin
        return None

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.check(request)
            if (request.method == "OPTIONS" and self._allowed_page(request)
                    and "Access-Control-Request-Method" in request.headers):
                return web.Response(status=204, headers={
                    "Access-Control-Allow-Methods": _CORS_METHODS,
                    "Access-Control-Allow-Headers": _CORS_HEADERS,
                    "Access-Control-Max-Age": _CORS_MAX_AGE})
            return await handler(request)

        return guard

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """on_response_prepare: CORS for an allowed page's admin answers, errors included (the
        error middleware renders them outside the guard, so a signal, not the middleware)."""
        if not request.path.startswith(self.admin_prefixes):
            return
        response.headers["Vary"] = "Origin"
        origin = self._allowed_page(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin

    def install(self, app: web.Application) -> None:
        """The guard's signal on `app` (its middleware goes in the app's middleware list)."""
        app.on_response_prepare.append(self.on_prepare)


def _has_body(request: web.Request) -> bool:
    return bool(request.content_length) or "Transfer-Encoding" in request.headers
