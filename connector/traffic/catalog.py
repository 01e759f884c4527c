"""The shop the shoppers visit: locales, products, campaigns, devices and user agents.

Fixed tables, not Faker providers, wherever Faker would read the clock or change between
releases in ways that matter here (prices, agents, device models).
"""

from __future__ import annotations

from dataclasses import dataclass

SITE = "https://shop.example.com"

# (product_id, sku, name, category, price in USD)
Product = tuple[str, str, str, str, float]


@dataclass(frozen=True)
class Locale:
    faker: str
    country_code: str
    country: str
    currency: str
    tag: str
    carriers: tuple[str, ...]


LOCALES = (
    Locale("en_US", "US", "United States", "USD", "en-US", ("T-Mobile", "Verizon", "AT&T")),
    Locale("en_GB", "GB", "United Kingdom", "GBP", "en-GB", ("EE", "Vodafone UK", "O2 - UK")),
    Locale("fr_FR", "FR", "France", "EUR", "fr-FR", ("Orange F", "SFR", "Free")),
    Locale("de_DE", "DE", "Germany", "EUR", "de-DE", ("Telekom.de", "Vodafone.de", "o2-de")),
    Locale("es_ES", "ES", "Spain", "EUR", "es-ES", ("Movistar", "Orange", "Vodafone ES")),
    Locale("pt_BR", "BR", "Brazil", "BRL", "pt-BR", ("VIVO", "Claro BR", "TIM")),
    Locale("ja_JP", "JP", "Japan", "JPY", "ja-JP", ("NTT DOCOMO", "au", "SoftBank")),
)
LOCALE_WEIGHTS = (50, 10, 10, 10, 6, 7, 7)
RATES = {"USD": 1.0, "GBP": 0.79, "EUR": 0.92, "BRL": 5.1, "JPY": 150.0}

CATALOG: tuple[Product, ...] = (
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
CAMPAIGNS: tuple[tuple[dict[str, str], str], ...] = (
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
ORGANIC_REFERRERS = ("", "", "https://www.google.com/", "https://duckduckgo.com/")
IOS_MODELS = (("iPhone15,2", "iPhone 14 Pro"), ("iPhone16,1", "iPhone 15 Pro"),
              ("iPhone14,5", "iPhone 13"))
ANDROID_MODELS = (("samsung", "SM-S911B", "Galaxy S23"), ("Google", "Pixel 8", "Pixel 8"),
                  ("OnePlus", "CPH2449", "OnePlus 11"))
INDUSTRIES = ("Retail", "Sports & Fitness", "Healthcare", "Software", "Logistics", "Education")
WEB_AGENTS = (  # (weight, template); {v} is a browser major version
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
APP = {"name": "PointShop", "version": "4.12.0", "build": "4120",
       "namespace": "com.example.pointshop"}


def money(amount: float, currency: str) -> float:
    """An amount in ``currency``: whole yen (an int), else cents."""
    return round(amount) if currency == "JPY" else round(amount, 2)
