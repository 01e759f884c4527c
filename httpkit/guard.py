"""The request guard both servers put in front of their routes: header bytes, Host names, and
admin routes sealed against cross-site use (DESIGN.md, Security).

- Every header value must be UTF-8: aiohttp hands other bytes to handlers as lone surrogates,
  which fail wherever a value is encoded again (a token's digest, a journal record); here they
  are a 400 invalid_header naming the header, on every route.
- The Host header must name the server (loopback names, the bound address, or a name allowed
  with --allow-host), or the answer is 421: a page on a rebound DNS name reaches the server's
  socket but not its routes.
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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

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


def host_name(host: str) -> str:
    """The name part of a Host header value, lower-cased: 'LocalHost:8787' → 'localhost',
    '[::1]:8787' → '[::1]'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


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
        for name, value in request.raw_headers:
            if not value.isascii():  # the usual case ends here: one C call per header
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    shown = name.decode("ascii", "replace")
                    raise InvalidHeader(f"the {shown} header is not valid UTF-8",
                                        {"header": shown}) from None
        host = request.headers.get("Host")
        if host is not None and ANY not in self.hosts and host_name(host) not in self.hosts:
            raise MisdirectedRequest(
                "this server does not answer to that Host name; start it with --allow-host "
                "NAME to serve it", {"allowedHosts": sorted(self.hosts)})
        if request.path.startswith(self.admin_prefixes):
            self._check_admin(request, host)

    def allows_origin(self, origin: str) -> bool:
        """Whether pages of `origin` were allowed with --allow-origin (the server's own origin
        needs no allowing). A route that answers CORS asks this, so it lets read exactly the
        pages the guard lets call it."""
        return ANY in self.origins or origin.strip().rstrip("/").lower() in self.origins

    def _check_admin(self, request: web.Request, host: str | None) -> None:
        origin = request.headers.get("Origin")
        allowed = origin is not None and self.allows_origin(origin)
        if not allowed:
            own = host is not None and origin is not None and \
                origin.lower() == f"{request.scheme}://{host}".lower()
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
