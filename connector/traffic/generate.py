"""Seeded Segment traffic: the messages Segment's servers hand to a destination, as JSONL.

`generate(TrafficSpec(seed, users, days, start))` simulates ``users`` shoppers over ``days`` days:
anonymous browsing (page/screen calls, "Product Viewed", "Product Added") under an anonymousId, an
identify part-way through that links the userId to that anonymousId, repeat visits (sometimes on a
new device, i.e. a new anonymousId that a later identify links), orders ("Order Completed"), users
who never identify, and a few group/alias calls. Every message is written in the shape of one of
the two official server clients (``analytics-python`` 2.4.0 or ``@segment/analytics-node`` 3.1.0)
plus the fields Segment's servers add: ``originalTimestamp`` (the client's timestamp), ``sentAt``,
``receivedAt`` and the skew-corrected ``timestamp = receivedAt - (sentAt - originalTimestamp)``.

Reproducible: all randomness comes from one ``random.Random(seed)`` and per-locale Faker
instances seeded from the seed (``seed_instance``); no wall clock, no ``uuid4()``, no OS
randomness, stable key order, no float maths that goes through libm. Only Faker providers that
never read the clock are used (names, company, places, ipv4, domains); user agents come from
templates here. The same arguments and the same Faker version give the same bytes.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from faker import Faker

Message = dict[str, Any]
Style = Literal["python", "node"]

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
SITE = "https://shop.example.com"
PYTHON_LIBRARY = {"name": "analytics-python", "version": "2.4.0"}
NODE_LIBRARY = {"name": "@segment/analytics-node", "version": "3.1.0"}
NODE_METADATA = {"nodeVersion": "v20.20.2", "jsRuntime": "node"}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = 1_000  # microseconds
_SECOND = 1_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
# Every client/server time of a message stays inside [start, start + days): sessions start at
# least _EDGE after start and at least _RESERVE before the end, a session lasts at most
# _MAX_SESSION, and clock skew plus delivery delay stay well under _EDGE.
_EDGE = 15 * _MINUTE
_RESERVE = 2 * _HOUR
_MAX_GAP = 150 * _SECOND  # 30 messages per session at most -> 75 minutes
_MAX_SKEW = 4 * _MINUTE

# Key order of each message type as the clients put it on the wire (None/absent fields
# included for Python, omitted for Node). Server-added fields follow.
_PYTHON_ORDER: dict[str, tuple[str, ...]] = {
    "identify": ("integrations", "anonymousId", "timestamp", "context", "type", "userId",
                 "traits", "messageId"),
    "track": ("integrations", "anonymousId", "properties", "timestamp", "context", "userId",
              "type", "event", "messageId"),
    "page": ("integrations", "anonymousId", "properties", "timestamp", "category", "context",
             "userId", "type", "name", "messageId"),
    "group": ("integrations", "anonymousId", "timestamp", "groupId", "context", "userId",
              "traits", "type", "messageId"),
    "alias": ("integrations", "previousId", "timestamp", "context", "userId", "type",
              "messageId"),
}
_PYTHON_ORDER["screen"] = _PYTHON_ORDER["page"]
_NODE_ORDER: dict[str, tuple[str, ...]] = {
    "identify": ("timestamp", "integrations", "type", "userId", "anonymousId", "traits",
                 "context", "messageId", "_metadata"),
    "track": ("timestamp", "integrations", "event", "type", "properties", "context", "userId",
              "anonymousId", "messageId", "_metadata"),
    "page": ("timestamp", "integrations", "category", "name", "type", "properties", "context",
             "userId", "anonymousId", "messageId", "_metadata"),
    "group": ("timestamp", "integrations", "type", "groupId", "traits", "context", "userId",
              "anonymousId", "messageId", "_metadata"),
    "alias": ("timestamp", "integrations", "type", "userId", "previousId", "context",
              "messageId", "_metadata"),
}
_NODE_ORDER["screen"] = _NODE_ORDER["page"]


@dataclass(frozen=True)
class TrafficSpec:
    """What to generate: ``users`` shoppers over ``days`` days from ``start`` (UTC)."""

    seed: int
    users: int
    days: int
    start: datetime = DEFAULT_START

    def __post_init__(self) -> None:
        if self.users < 0:
            raise ValueError("users must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")


@dataclass(frozen=True)
class _Locale:
    faker: str
    country_code: str
    country: str
    currency: str
    tag: str
    carriers: tuple[str, ...]


_LOCALES = (
    _Locale("en_US", "US", "United States", "USD", "en-US", ("T-Mobile", "Verizon", "AT&T")),
    _Locale("en_GB", "GB", "United Kingdom", "GBP", "en-GB", ("EE", "Vodafone UK", "O2 - UK")),
    _Locale("fr_FR", "FR", "France", "EUR", "fr-FR", ("Orange F", "SFR", "Free")),
    _Locale("de_DE", "DE", "Germany", "EUR", "de-DE", ("Telekom.de", "Vodafone.de", "o2-de")),
    _Locale("es_ES", "ES", "Spain", "EUR", "es-ES", ("Movistar", "Orange", "Vodafone ES")),
    _Locale("pt_BR", "BR", "Brazil", "BRL", "pt-BR", ("VIVO", "Claro BR", "TIM")),
    _Locale("ja_JP", "JP", "Japan", "JPY", "ja-JP", ("NTT DOCOMO", "au", "SoftBank")),
)
_LOCALE_WEIGHTS = (50, 10, 10, 10, 6, 7, 7)
_RATES = {"USD": 1.0, "GBP": 0.79, "EUR": 0.92, "BRL": 5.1, "JPY": 150.0}

# (product_id, sku, name, category, price in USD)
_CATALOG = (
    ("P-1001", "FW-TRAIL-01", "Trail Running Shoes", "Footwear", 89.0),
    ("P-1002", "FW-ROAD-02", "Road Racer Flats", "Footwear", 119.5),
    ("P-1003", "FW-SNDL-03", "Recovery Sandals", "Footwear", 39.99),
    ("P-2001", "AP-MERI-01", "Merino Base Layer", "Apparel", 64.0),
    ("P-2002", "AP-SHEL-02", "Rain Shell Jacket", "Apparel", 149.0),
    ("P-2003", "AP-SOCK-03", "Cushioned Socks (3-pack)", "Apparel", 18.75),
    ("P-2004", "AP-CAP-04", "Reflective Cap", "Apparel", 24.0),
    ("P-3001", "AC-BOTL-01", "Insulated Bottle 750 ml", "Accessories", 29.9),
    ("P-3002", "AC-VEST-02", "Hydration Vest", "Accessories", 94.0),
    ("P-3003", "AC-LAMP-03", "Head Lamp 400 lm", "Accessories", 45.0),
    ("P-4001", "EL-WTCH-01", "GPS Sport Watch", "Electronics", 299.0),
    ("P-4002", "EL-BUDS-02", "Open-Ear Headphones", "Electronics", 129.0),
    ("P-5001", "NU-GELS-01", "Energy Gels (12-pack)", "Nutrition", 21.6),
    ("P-5002", "NU-BARS-02", "Oat Bars (box of 10)", "Nutrition", 15.0),
)
_CAMPAIGNS: tuple[tuple[dict[str, str], str], ...] = (
    ({"name": "spring_sale", "source": "google", "medium": "cpc", "term": "trail running shoes",
      "content": "text_ad_1"}, "https://www.google.com/"),
    ({"name": "weekly_digest", "source": "newsletter", "medium": "email",
      "content": "hero_banner"}, ""),
    ({"name": "retargeting_q1", "source": "facebook", "medium": "paid_social",
      "content": "carousel"}, "https://l.facebook.com/"),
    ({"name": "ambassadors", "source": "instagram", "medium": "social", "content": "story"},
     "https://l.instagram.com/"),
    ({"name": "brand_search", "source": "bing", "medium": "cpc", "term": "pointshop"},
     "https://www.bing.com/"),
)
_ORGANIC_REFERRERS = ("", "", "https://www.google.com/", "https://duckduckgo.com/")
_IOS_MODELS = (("iPhone15,2", "iPhone 14 Pro"), ("iPhone16,1", "iPhone 15 Pro"),
               ("iPhone14,5", "iPhone 13"))
_ANDROID_MODELS = (("samsung", "SM-S911B", "Galaxy S23"), ("Google", "Pixel 8", "Pixel 8"),
                   ("OnePlus", "CPH2449", "OnePlus 11"))
_INDUSTRIES = ("Retail", "Sports & Fitness", "Healthcare", "Software", "Logistics", "Education")
_WEB_AGENTS = (  # (weight, template); {v} is a browser major version
    (30, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v}.0.0.0 Safari/537.36"),
    (18, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v}.0.0.0 Safari/537.36"),
    (14, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.{m} Safari/605.1.15"),
    (16, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1"),
    (12, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v}.0.0.0 Mobile Safari/537.36"),
    (6, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    (4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0"),
)
_APP = {"name": "PointShop", "version": "4.12.0", "build": "4120",
        "namespace": "com.example.pointshop"}


@dataclass
class _Device:
    anonymous_id: str
    kind: Literal["web", "ios", "android"]
    ip: str
    context: dict[str, Any]  # userAgent (web) or app/device/os/network/screen (mobile)
    logged_in: bool = False


@dataclass
class _User:
    locale: _Locale
    user_id: str
    first_name: str
    last_name: str
    email: str
    plan: str
    created_at: str | None
    age: int
    email_opt_in: bool
    verified: bool
    location: dict[str, Any]
    timezone: str
    company: dict[str, Any] | None
    identifies: bool
    mobile: bool
    visit_rate: float  # sessions per day
    devices: list[_Device] = field(default_factory=list)
    identified: bool = False
    logins: int = 0
    orders: int = 0
    lifetime_value: float = 0.0


@dataclass
class _Session:
    user: _User
    device: _Device
    style: Style
    skew: int  # client clock minus true time, microseconds
    campaign: dict[str, str] | None
    referrer: str
    landing_search: str
    cart: list[tuple[tuple[str, str, str, str, float], int]] = field(default_factory=list)
    cart_id: str = ""
    last_url: str = ""
    views: int = 0  # page/screen calls so far; campaign context only on the landing one


def _iso_z(us: int) -> str:
    """``2026-01-01T10:00:00.123Z``: milliseconds, truncated."""
    moment = _EPOCH + timedelta(microseconds=us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_offset_ms(us: int) -> str:
    """``2026-01-01T10:00:00.123+00:00``, as analytics-python writes ``timestamp``."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat(timespec="milliseconds")


def _iso_offset(us: int) -> str:
    """``2026-01-01T10:00:00.123456+00:00``, as analytics-python writes ``sentAt``."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _js_numbers(value: Any) -> Any:
    """What JSON.stringify does to numbers: an integral float is written without ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _js_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_js_numbers(item) for item in value]
    return value


def _money(amount: float, currency: str) -> float:
    """An amount in ``currency``: whole yen (an int), else cents."""
    return round(amount) if currency == "JPY" else round(amount, 2)


class _Generator:
    def __init__(self, spec: TrafficSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.start = _epoch_us(spec.start)
        self.end = self.start + spec.days * _DAY
        self.fakers: dict[str, Faker] = {}
        self.seen_ids: set[str] = set()
        self.out: list[tuple[int, int, Message]] = []

    # -- ids -----------------------------------------------------------------------------
    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.seen_ids:
                self.seen_ids.add(value)
                return value

    def faker(self, locale: _Locale) -> Faker:
        fake = self.fakers.get(locale.faker)
        if fake is None:
            fake = Faker(locale.faker)
            # A string seed goes through SHA-512 in random.seed: independent of hash seeds
            # and of the order in which locales are first used.
            fake.seed_instance(f"{self.spec.seed}/{locale.faker}")
            self.fakers[locale.faker] = fake
        return fake

    # -- people and devices --------------------------------------------------------------
    def new_user(self) -> _User:
        rng = self.rng
        locale = rng.choices(_LOCALES, weights=_LOCALE_WEIGHTS)[0]
        fake = self.faker(locale)
        first, last = fake.first_name(), fake.last_name()
        folded = unicodedata.normalize("NFKD", f"{first}.{last}".lower())
        local = "".join(ch for ch in folded if (ch.isascii() and ch.isalnum()) or ch == ".")
        local = local.strip(".")
        if len(local) < 3 or ".." in local:
            local = fake.user_name()
        suffix = str(rng.randrange(100)) if rng.random() < 0.4 else ""
        email = f"{local}{suffix}@{fake.safe_domain_name()}"
        latlng = fake.local_latlng(country_code=locale.country_code)
        assert latlng is not None
        lat, lng, city, _, timezone = latlng
        company = None
        if rng.random() < 0.25:
            company = {"id": self.unique(lambda: f"cmp_{self.rng.getrandbits(40):010x}"),
                       "name": fake.company(), "industry": rng.choice(_INDUSTRIES),
                       "employee_count": rng.choice((8, 25, 60, 140, 420, 1800, 5200)),
                       "plan": "business"}
        existing = rng.random() < 0.4
        user = _User(
            locale=locale,
            user_id=self.unique(lambda: f"usr_{self.rng.getrandbits(48):012x}"),
            first_name=first, last_name=last, email=email,
            plan="business" if company else rng.choices(("free", "pro"), weights=(3, 2))[0],
            created_at=(_iso_z(self.start - rng.randint(20 * _DAY, 900 * _DAY)) if existing
                        else None),
            age=rng.randint(18, 74), email_opt_in=rng.random() < 0.55,
            verified=existing or rng.random() < 0.5,
            location={"city": city, "country": locale.country, "latitude": float(lat),
                      "longitude": float(lng)},
            timezone=timezone, company=company, identifies=rng.random() < 0.8,
            mobile=rng.random() < 0.2, visit_rate=rng.uniform(0.03, 0.15),
        )
        if existing:
            user.orders = rng.randint(1, 6)
            spent = user.orders * rng.uniform(30, 160) * _RATES[locale.currency]
            user.lifetime_value = _money(spent, locale.currency)
        return user

    def new_device(self, user: _User) -> _Device:
        rng = self.rng
        fake = self.faker(user.locale)
        anonymous_id = self.unique(self.uuid)
        ip = fake.ipv4_public()
        mobile = user.mobile != (rng.random() < 0.1)  # now and then the other kind
        if not mobile:
            # Faker's own user agents are decades old (and its Firefox ones read dates), so
            # the agent comes from current templates.
            template = rng.choices([t for _, t in _WEB_AGENTS],
                                   weights=[w for w, _ in _WEB_AGENTS])[0]
            agent = template.format(v=rng.randint(120, 131), m=rng.randint(0, 6))
            return _Device(anonymous_id, "web", ip, {"userAgent": agent})
        if rng.random() < 0.55:
            model, name = rng.choice(_IOS_MODELS)
            hardware = {"id": self.uuid().upper(), "advertisingId": self.uuid().upper(),
                        "adTrackingEnabled": rng.random() < 0.3, "manufacturer": "Apple",
                        "model": model, "name": name, "type": "ios"}
            system = {"name": "iOS", "version": rng.choice(("17.5.1", "18.1", "18.2.1"))}
            screen: dict[str, float] = {"width": 393, "height": 852, "density": 3}
            kind: Literal["ios", "android"] = "ios"
        else:
            maker, model, name = rng.choice(_ANDROID_MODELS)
            hardware = {"id": f"{rng.getrandbits(64):016x}", "advertisingId": self.uuid(),
                        "adTrackingEnabled": rng.random() < 0.6, "manufacturer": maker,
                        "model": model, "name": name, "type": "android"}
            system = {"name": "Android", "version": rng.choice(("13", "14", "15"))}
            screen = {"width": 412, "height": 915, "density": 2.625}
            kind = "android"
        wifi = rng.random() < 0.6
        network = {"wifi": wifi, "cellular": not wifi, "carrier": rng.choice(user.locale.carriers)}
        context = {"app": dict(_APP), "device": hardware, "os": system, "network": network,
                   "screen": screen}
        return _Device(anonymous_id, kind, ip, context)

    def traits(self, user: _User) -> dict[str, Any]:
        traits: dict[str, Any] = {
            "email": user.email, "name": f"{user.first_name} {user.last_name}",
            "firstName": user.first_name, "lastName": user.last_name, "plan": user.plan,
            "createdAt": user.created_at, "age": user.age, "logins": user.logins,
            "ordersCount": user.orders, "lifetimeValue": user.lifetime_value,
            "emailOptIn": user.email_opt_in, "verified": user.verified,
            "address": {"city": user.location["city"], "country": user.location["country"]},
        }
        if user.company:
            traits["company"] = dict(user.company)
        return traits

    # -- messages ------------------------------------------------------------------------
    def emit(self, s: _Session, t: int, kind: str, fields: dict[str, Any],
             extra_context: dict[str, Any] | None = None, page: dict[str, str] | None = None
             ) -> int:
        """Write one message happening at true time ``t``; return the time of the next one."""
        rng = self.rng
        context: dict[str, Any] = {"ip": s.device.ip, "locale": s.user.locale.tag,
                                   "location": dict(s.user.location),
                                   "timezone": s.user.timezone}
        if page is not None:
            context["page"] = page
        context.update(s.device.context)
        if s.campaign is not None and s.views <= 1:
            context["campaign"] = dict(s.campaign)
        context.update(extra_context or {})
        context["library"] = dict(PYTHON_LIBRARY if s.style == "python" else NODE_LIBRARY)

        original = t + s.skew - (t + s.skew) % _MS  # client clock, milliseconds
        if s.style == "python":
            sent = original + rng.randint(20_000, 600_000)  # flush within upload_interval
        else:
            sent = original + rng.randint(5, 10_000) * _MS  # flushAt 15 / flushInterval 10 s
        received = t + (sent - original) + rng.randint(25, 400) * _MS
        received -= received % _MS
        corrected = received - (sent - original)
        corrected -= corrected % _MS

        values: dict[str, Any] = {
            "integrations": {}, "type": kind, "context": context,
            "userId": s.user.user_id if s.device.logged_in else None,
            "anonymousId": s.device.anonymous_id, **fields,
        }
        if s.style == "python":
            values["timestamp"] = _iso_offset_ms(corrected)
            values["messageId"] = self.unique(self.uuid)
            message = {key: values.get(key) for key in _PYTHON_ORDER[kind]}
            message["originalTimestamp"] = _iso_offset_ms(original)
            message["sentAt"] = _iso_offset(sent)
        else:
            values["timestamp"] = _iso_z(corrected)
            values["messageId"] = self.unique(
                lambda: f"node-next-{original // _MS}-{self.uuid()}")
            values["_metadata"] = dict(NODE_METADATA)
            message = {key: _js_numbers(values[key]) for key in _NODE_ORDER[kind]
                       if values.get(key) is not None}
            message["originalTimestamp"] = _iso_z(original)
            message["sentAt"] = _iso_z(sent)
        message["receivedAt"] = _iso_z(received)
        self.out.append((corrected, len(self.out), message))
        return t + rng.randint(4_000, _MAX_GAP // _MS) * _MS

    def view(self, s: _Session, t: int, name: str, category: str | None, path: str,
             title: str, properties: dict[str, Any] | None = None) -> int:
        s.views += 1
        if s.device.kind != "web":
            screen_name = "Product Detail" if name == "Product" else name
            return self.emit(s, t, "screen", {"name": screen_name, "category": category,
                                              "properties": properties or {}})
        search = s.landing_search if not s.last_url else ""
        url = f"{SITE}{path}{search}"
        page = {"path": path, "referrer": s.last_url or s.referrer, "search": search,
                "title": title, "url": url}
        s.last_url = url
        return self.emit(s, t, "page", {"name": name, "category": category,
                                        "properties": dict(page)}, page=page)

    def product_fields(self, s: _Session, product: tuple[str, str, str, str, float]
                       ) -> dict[str, Any]:
        product_id, sku, name, category, usd = product
        currency = s.user.locale.currency
        return {"product_id": product_id, "sku": sku, "name": name, "category": category,
                "price": _money(usd * _RATES[currency], currency)}

    def identify(self, s: _Session, t: int, login: bool) -> int:
        """A login on this device (links its anonymousId) or, when already in, a traits refresh."""
        s.device.logged_in = True
        user = s.user
        if login:
            user.logins += 1
        first = not user.identified
        if first:
            user.identified = True
            if user.created_at is None:
                user.created_at = _iso_z(t)
        t = self.emit(s, t, "identify", {"traits": self.traits(user)})
        if first and self.rng.random() < 0.2:
            t = self.emit(s, t, "alias", {"previousId": s.device.anonymous_id,
                                          "userId": user.user_id})
        if first and user.company:
            company = user.company
            t = self.emit(s, t, "group", {"groupId": company["id"], "traits": {
                "name": company["name"], "industry": company["industry"],
                "employees": company["employee_count"], "plan": company["plan"]}})
        return t

    def order(self, s: _Session, t: int) -> int:
        rng, user = self.rng, s.user
        currency = user.locale.currency
        lines = [{**self.product_fields(s, product), "quantity": quantity}
                 for product, quantity in s.cart]
        subtotal = sum(line["price"] * line["quantity"] for line in lines)
        coupon = rng.choice(("WELCOME10", "TRAIL15")) if rng.random() < 0.25 else None
        rate = {None: 0.0, "WELCOME10": 0.1, "TRAIL15": 0.15}[coupon]
        discount = _money(subtotal * rate, currency)
        revenue = _money(subtotal - discount, currency)
        free_shipping = subtotal / _RATES[currency] >= 75  # over 75 USD
        shipping = _money(0.0 if free_shipping else 5.9 * _RATES[currency], currency)
        tax = _money(revenue * 0.08, currency)
        properties = {
            "order_id": self.unique(lambda: f"ORD-{self.rng.randrange(10**7, 10**8)}"),
            "checkout_id": s.cart_id, "total": _money(revenue + shipping + tax, currency),
            "revenue": revenue, "shipping": shipping, "tax": tax, "discount": discount,
            "coupon": coupon, "currency": currency,
            "products": [{**line, "position": index + 1} for index, line in enumerate(lines)],
        }
        extra = None
        if s.device.logged_in:
            extra = {"traits": {"email": user.email, "plan": user.plan}}
            user.orders += 1
            user.lifetime_value = _money(user.lifetime_value + revenue, currency)
        s.cart.clear()
        return self.emit(s, t, "track", {"event": "Order Completed", "properties": properties},
                         extra_context=extra)

    # -- sessions ------------------------------------------------------------------------
    def session(self, user: _User, device: _Device, t: int, first: bool) -> int:
        rng = self.rng
        campaign, referrer, search = None, rng.choice(_ORGANIC_REFERRERS), ""
        if rng.random() < 0.35:
            chosen, referrer = rng.choice(_CAMPAIGNS)
            campaign = dict(chosen)
            search = (f"?utm_source={campaign['source']}&utm_medium={campaign['medium']}"
                      f"&utm_campaign={campaign['name']}")
        skew = rng.randint(-1500, 1500) * _MS  # a server's clock: NTP-close
        if device.kind != "web" and rng.random() < 0.3:
            skew = rng.choice((-1, 1)) * rng.randint(30, 240) * _SECOND
        skew = max(-_MAX_SKEW, min(_MAX_SKEW, skew))
        s = _Session(user, device, "node" if rng.random() < 0.5 else "python", skew, campaign,
                     referrer, search, cart_id=f"{rng.getrandbits(64):016x}")

        t = self.view(s, t, "Home", None, "/", "PointShop | Gear for runners")
        login_after = None
        if not device.logged_in and user.identifies and rng.random() < (0.7 if first else 0.6):
            login_after = rng.randint(1, 4)
        elif device.logged_in and rng.random() < 0.25:
            if rng.random() < 0.15 and user.plan == "free":
                user.plan = "pro"
            t = self.identify(s, t, login=False)
        views = rng.randint(1, 4) if login_after is None else max(login_after, rng.randint(1, 4))
        for number in range(1, views + 1):
            product = rng.choice(_CATALOG)
            category = product[3]
            if rng.random() < 0.2:
                t = self.view(s, t, "Category", "Catalog", f"/c/{category.lower()}",
                              f"{category} | PointShop")
            fields = self.product_fields(s, product)
            slug = re.sub(r"[^a-z0-9]+", "-", product[2].lower()).strip("-")
            t = self.view(s, t, "Product", "Catalog", f"/p/{product[0].lower()}-{slug}",
                          f"{product[2]} | PointShop", {"product_id": product[0]})
            viewed = {**fields, "currency": user.locale.currency}
            if device.kind == "web":
                viewed["url"] = s.last_url
            t = self.emit(s, t, "track", {"event": "Product Viewed", "properties": viewed})
            if rng.random() < 0.35:
                quantity = rng.choices((1, 2, 3), weights=(8, 3, 1))[0]
                s.cart.append((product, quantity))
                t = self.emit(s, t, "track", {"event": "Product Added", "properties": {
                    "cart_id": s.cart_id, **fields, "quantity": quantity,
                    "currency": user.locale.currency}})
            if number == login_after:
                t = self.identify(s, t, login=True)
        if s.cart and rng.random() < 0.55 and (device.logged_in or rng.random() < 0.25):
            t = self.view(s, t, "Checkout", None, "/checkout", "Checkout | PointShop")
            t = self.order(s, t)
        return t

    def visits(self, user: _User) -> None:
        rng = self.rng
        last_start = self.end - _RESERVE
        window = max(0, last_start - self.start - _EDGE)
        t = self.start + _EDGE + int(rng.random() * 0.6 * window)
        user.devices.append(self.new_device(user))
        first = True
        while t <= last_start:
            device = user.devices[-1]
            if not first:
                if rng.random() < 0.2:
                    user.devices.append(self.new_device(user))
                    device = user.devices[-1]
                elif len(user.devices) > 1:
                    device = rng.choice(user.devices)
            t = self.session(user, device, t, first)
            first = False
            # Whole days until the next visit (a day brings one with probability visit_rate),
            # then a time of day. Comparisons only: no libm, so every platform agrees.
            days = 0
            while rng.random() >= user.visit_rate:
                days += 1
            t += max(30 * _MINUTE, days * _DAY + rng.randrange(_DAY))

    def run(self) -> list[Message]:
        for _ in range(self.spec.users):
            self.visits(self.new_user())
        self.out.sort(key=lambda item: (item[0], item[1]))
        return [message for _, _, message in self.out]


def generate(spec: TrafficSpec) -> list[Message]:
    """All messages of the scenario, sorted by ``timestamp``."""
    return _Generator(spec).run()


def encode_jsonl(messages: Iterable[Message]) -> bytes:
    """One compact JSON object per line, UTF-8 (no ``\\u`` escapes), ``\\n`` line endings."""
    return "".join(
        json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        for message in messages
    ).encode("utf-8")


def parse_start(text: str) -> datetime:
    """An ISO-8601 instant (``2026-01-01T00:00:00Z``); without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
