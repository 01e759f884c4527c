"""The shoppers' visits, in true time: sessions of views, cart additions, logins and orders.

Each call of the scenario becomes one message through the client shape of its session
(clients.py); the time it happens at is true time, the client's clock is skewed from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .catalog import CAMPAIGNS, CATALOG, ORGANIC_REFERRERS, RATES, SITE, Product, money
from .clients import Style, flush_delay, library, message_id, on_the_wire
from .people import Device, User, new_device, new_user, traits
from .randomness import Draws
from .spec import Message, TrafficSpec
from .timeline import DAY, HOUR, MINUTE, MS, SECOND, epoch_us, iso_z

# Every client/server time of a message stays inside [start, start + days): sessions start at
# least EDGE after start and at least RESERVE before the end, a session lasts at most
# 30 * MAX_GAP, and clock skew plus delivery delay stay well under EDGE.
EDGE = 15 * MINUTE
RESERVE = 2 * HOUR
MAX_GAP = 150 * SECOND  # 30 messages per session at most -> 75 minutes
MAX_SKEW = 4 * MINUTE


@dataclass
class Session:
    user: User
    device: Device
    style: Style
    skew: int  # client clock minus true time, microseconds
    campaign: dict[str, str] | None
    referrer: str
    landing_search: str
    cart: list[tuple[Product, int]] = field(default_factory=list)
    cart_id: str = ""
    last_url: str = ""
    views: int = 0  # page/screen calls so far; campaign context only on the landing one


class Scenario:
    """One run: every draw is made in a fixed order from ``draws``, so the output is the seed's."""

    def __init__(self, spec: TrafficSpec) -> None:
        self.spec = spec
        self.draws = Draws(spec.seed)
        self.rng = self.draws.rng
        self.start = epoch_us(spec.start)
        self.end = self.start + spec.days * DAY
        # (corrected timestamp, emission order, message): the order breaks timestamp ties
        self.out: list[tuple[int, int, Message]] = []

    # -- messages ------------------------------------------------------------------------
    def emit(self, s: Session, t: int, kind: str, fields: dict[str, Any],
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
        context["library"] = library(s.style)

        original = t + s.skew - (t + s.skew) % MS  # client clock, milliseconds
        sent = original + flush_delay(s.style, rng)
        received = t + (sent - original) + rng.randint(25, 400) * MS
        received -= received % MS
        corrected = received - (sent - original)
        corrected -= corrected % MS

        values: dict[str, Any] = {
            "integrations": {}, "type": kind, "context": context,
            "userId": s.user.user_id if s.device.logged_in else None,
            "anonymousId": s.device.anonymous_id, **fields,
        }
        values["messageId"] = self.draws.unique(
            lambda: message_id(s.style, original, self.draws.uuid))
        message = on_the_wire(s.style, kind, values, original=original, sent=sent,
                              received=received, corrected=corrected)
        self.out.append((corrected, len(self.out), message))
        return t + rng.randint(4_000, MAX_GAP // MS) * MS

    def view(self, s: Session, t: int, name: str, category: str | None, path: str,
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

    def product_fields(self, s: Session, product: Product) -> dict[str, Any]:
        product_id, sku, name, category, usd = product
        currency = s.user.locale.currency
        return {"product_id": product_id, "sku": sku, "name": name, "category": category,
                "price": money(usd * RATES[currency], currency)}

    def identify(self, s: Session, t: int, login: bool) -> int:
        """A login on this device (links its anonymousId) or, when already in, a traits refresh."""
        s.device.logged_in = True
        user = s.user
        if login:
            user.logins += 1
        first = not user.identified
        if first:
            user.identified = True
            if user.created_at is None:
                user.created_at = iso_z(t)
        t = self.emit(s, t, "identify", {"traits": traits(user)})
        if first and self.rng.random() < 0.2:
            t = self.emit(s, t, "alias", {"previousId": s.device.anonymous_id,
                                          "userId": user.user_id})
        if first and user.company:
            company = user.company
            t = self.emit(s, t, "group", {"groupId": company["id"], "traits": {
                "name": company["name"], "industry": company["industry"],
                "employees": company["employee_count"], "plan": company["plan"]}})
        return t

    def order(self, s: Session, t: int) -> int:
        rng, user = self.rng, s.user
        currency = user.locale.currency
        lines = [{**self.product_fields(s, product), "quantity": quantity}
                 for product, quantity in s.cart]
        subtotal = sum(line["price"] * line["quantity"] for line in lines)
        coupon = rng.choice(("WELCOME10", "TRAIL15")) if rng.random() < 0.25 else None
        rate = {None: 0.0, "WELCOME10": 0.1, "TRAIL15": 0.15}[coupon]
        discount = money(subtotal * rate, currency)
        revenue = money(subtotal - discount, currency)
        free_shipping = subtotal / RATES[currency] >= 75  # over 75 USD
        shipping = money(0.0 if free_shipping else 5.9 * RATES[currency], currency)
        tax = money(revenue * 0.08, currency)
        properties = {
            "order_id": self.draws.unique(lambda: f"ORD-{rng.randrange(10**7, 10**8)}"),
            "checkout_id": s.cart_id, "total": money(revenue + shipping + tax, currency),
            "revenue": revenue, "shipping": shipping, "tax": tax, "discount": discount,
            "coupon": coupon, "currency": currency,
            "products": [{**line, "position": index + 1} for index, line in enumerate(lines)],
        }
        extra = None
        if s.device.logged_in:
            extra = {"traits": {"email": user.email, "plan": user.plan}}
            user.orders += 1
            user.lifetime_value = money(user.lifetime_value + revenue, currency)
        s.cart.clear()
        return self.emit(s, t, "track", {"event": "Order Completed", "properties": properties},
                         extra_context=extra)

    # -- sessions ------------------------------------------------------------------------
    def session(self, user: User, device: Device, t: int, first: bool) -> int:
        rng = self.rng
        campaign, referrer, search = None, rng.choice(ORGANIC_REFERRERS), ""
        if rng.random() < 0.35:
            chosen, referrer = rng.choice(CAMPAIGNS)
            campaign = dict(chosen)
            search = (f"?utm_source={campaign['source']}&utm_medium={campaign['medium']}"
                      f"&utm_campaign={campaign['name']}")
        skew = rng.randint(-1500, 1500) * MS  # a server's clock: NTP-close
        if device.kind != "web" and rng.random() < 0.3:
            skew = rng.choice((-1, 1)) * rng.randint(30, 240) * SECOND
        skew = max(-MAX_SKEW, min(MAX_SKEW, skew))
        s = Session(user, device, "node" if rng.random() < 0.5 else "python", skew, campaign,
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
            product = rng.choice(CATALOG)
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

    def visits(self, user: User) -> None:
        rng = self.rng
        last_start = self.end - RESERVE
        window = max(0, last_start - self.start - EDGE)
        t = self.start + EDGE + int(rng.random() * 0.6 * window)
        user.devices.append(new_device(self.draws, user))
        first = True
        while t <= last_start:
            device = user.devices[-1]
            if not first:
                if rng.random() < 0.2:
                    user.devices.append(new_device(self.draws, user))
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
            t += max(30 * MINUTE, days * DAY + rng.randrange(DAY))

    def run(self) -> list[Message]:
        for _ in range(self.spec.users):
            self.visits(new_user(self.draws, self.start))
        self.out.sort(key=lambda item: (item[0], item[1]))
        return [message for _, _, message in self.out]
