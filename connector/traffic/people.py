"""The shoppers and their devices: who they are, what they own, what their traits say.

Only Faker providers that never read the clock are used (names, company, places, ipv4,
domains); user agents come from the templates in catalog.py.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from .catalog import (
    ANDROID_MODELS,
    APP,
    INDUSTRIES,
    IOS_MODELS,
    LOCALE_WEIGHTS,
    LOCALES,
    RATES,
    WEB_AGENTS,
    Locale,
    money,
)
from .randomness import Draws
from .timeline import DAY, iso_z


@dataclass
class Device:
    anonymous_id: str
    kind: Literal["web", "ios", "android"]
    ip: str
    context: dict[str, Any]  # userAgent (web) or app/device/os/network/screen (mobile)
    logged_in: bool = False


@dataclass
class User:
    locale: Locale
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
    devices: list[Device] = field(default_factory=list)
    identified: bool = False
    logins: int = 0
    orders: int = 0
    lifetime_value: float = 0.0


def new_user(draws: Draws, start: int) -> User:
    """A shopper; one in five never identifies, some were customers before ``start``."""
    rng = draws.rng
    locale = rng.choices(LOCALES, weights=LOCALE_WEIGHTS)[0]
    fake = draws.faker(locale)
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
        company = {"id": draws.unique(lambda: f"cmp_{rng.getrandbits(40):010x}"),
                   "name": fake.company(), "industry": rng.choice(INDUSTRIES),
                   "employee_count": rng.choice((8, 25, 60, 140, 420, 1800, 5200)),
                   "plan": "business"}
    existing = rng.random() < 0.4
    user = User(
        locale=locale,
        user_id=draws.unique(lambda: f"usr_{rng.getrandbits(48):012x}"),
        first_name=first, last_name=last, email=email,
        plan="business" if company else rng.choices(("free", "pro"), weights=(3, 2))[0],
        created_at=(iso_z(start - rng.randint(20 * DAY, 900 * DAY)) if existing else None),
        age=rng.randint(18, 74), email_opt_in=rng.random() < 0.55,
        verified=existing or rng.random() < 0.5,
        location={"city": city, "country": locale.country, "latitude": float(lat),
                  "longitude": float(lng)},
        timezone=timezone, company=company, identifies=rng.random() < 0.8,
        mobile=rng.random() < 0.2, visit_rate=rng.uniform(0.03, 0.15),
    )
    if existing:
        user.orders = rng.randint(1, 6)
        spent = user.orders * rng.uniform(30, 160) * RATES[locale.currency]
        user.lifetime_value = money(spent, locale.currency)
    return user


def new_device(draws: Draws, user: User) -> Device:
    """A browser or a phone with the shop's app, with a fresh anonymousId."""
    rng = draws.rng
    fake = draws.faker(user.locale)
    anonymous_id = draws.unique(draws.uuid)
    ip = fake.ipv4_public()
    mobile = user.mobile != (rng.random() < 0.1)  # now and then the other kind
    if not mobile:
        # Faker's own user agents are decades old (and its Firefox ones read dates), so
        # the agent comes from current templates.
        template = rng.choices([t for _, t in WEB_AGENTS],
                               weights=[w for w, _ in WEB_AGENTS])[0]
        agent = template.format(v=rng.randint(120, 131), m=rng.randint(0, 6))
        return Device(anonymous_id, "web", ip, {"userAgent": agent})
    if rng.random() < 0.55:
        model, name = rng.choice(IOS_MODELS)
        hardware = {"id": draws.uuid().upper(), "advertisingId": draws.uuid().upper(),
                    "adTrackingEnabled": rng.random() < 0.3, "manufacturer": "Apple",
                    "model": model, "name": name, "type": "ios"}
        system = {"name": "iOS", "version": rng.choice(("17.5.1", "18.1", "18.2.1"))}
        screen: dict[str, float] = {"width": 393, "height": 852, "density": 3}
        kind: Literal["ios", "android"] = "ios"
    else:
        maker, model, name = rng.choice(ANDROID_MODELS)
        hardware = {"id": f"{rng.getrandbits(64):016x}", "advertisingId": draws.uuid(),
                    "adTrackingEnabled": rng.random() < 0.6, "manufacturer": maker,
                    "model": model, "name": name, "type": "android"}
        system = {"name": "Android", "version": rng.choice(("13", "14", "15"))}
        screen = {"width": 412, "height": 915, "density": 2.625}
        kind = "android"
    wifi = rng.random() < 0.6
    network = {"wifi": wifi, "cellular": not wifi, "carrier": rng.choice(user.locale.carriers)}
    context = {"app": dict(APP), "device": hardware, "os": system, "network": network,
               "screen": screen}
    return Device(anonymous_id, kind, ip, context)


def traits(user: User) -> dict[str, Any]:
    """The traits of an identify: the user as they stand now."""
    values: dict[str, Any] = {
        "email": user.email, "name": f"{user.first_name} {user.last_name}",
        "firstName": user.first_name, "lastName": user.last_name, "plan": user.plan,
        "createdAt": user.created_at, "age": user.age, "logins": user.logins,
        "ordersCount": user.orders, "lifetimeValue": user.lifetime_value,
        "emailOptIn": user.email_opt_in, "verified": user.verified,
        "address": {"city": user.location["city"], "country": user.location["country"]},
    }
    if user.company:
        values["company"] = dict(user.company)
    return values
