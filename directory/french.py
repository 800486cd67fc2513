"""French for people: numbers, percentages, money, dates and plural agreement (Babel, fr_FR)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE = Locale.parse("fr_FR")
PARIS = ZoneInfo("Europe/Paris")


def number(value: int | float | Decimal | None, digits: int | None = None) -> str:
    """227196 → "227 196"; number(1.5, 1) → "1,5" (narrow no-break space between thousands)."""
    if value is None:
        return ""
    if digits is None:
        return format_decimal(value, locale=LOCALE)
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def percent(ratio: float | Decimal | None, digits: int = 1) -> str:
    """A ratio as a French percentage: 0.961 → "96,1 %"."""
    if ratio is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "\u202f%"
    return format_percent(ratio, format=pattern, locale=LOCALE)


def euros(cents: int | None) -> str:
    """Integer cents as euros: 123450 → "1 234,50 €"."""
    if cents is None:
        return ""
    return format_currency(Decimal(cents) / 100, "EUR", locale=LOCALE)


def is_singular(count: int | float) -> bool:
    """French agreement: 0 and 1 take the singular ("0 lieu", "1 lieu", "2 lieux")."""
    return LOCALE.plural_form(count) == "one"


def plural(count: int | float, singular: str, plural_form: str | None = None) -> str:
    """The word agreeing with `count`, without the number: plural(2, "lieu", "lieux") → "lieux"."""
    if is_singular(count):
        return singular
    return plural_form if plural_form is not None else singular + "s"


def count(value: int | float, singular: str, plural_form: str | None = None) -> str:
    """The number and its agreeing word: count(1, "avertissement") → "1 avertissement"."""
    return f"{number(value)} {plural(value, singular, plural_form)}"


def long_date(value: date | datetime | None) -> str:
    """3 décembre 2026."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date() if value.tzinfo else value.date()
    return format_date(value, "d MMMM y", locale=LOCALE)


def month_year(value: date) -> str:
    """août 2026."""
    return format_date(value, "LLLL y", locale=LOCALE)


def short_date(value: date | datetime | None) -> str:
    """03/12/2026."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date() if value.tzinfo else value.date()
    return format_date(value, "dd/MM/y", locale=LOCALE)


def paris_time(value: datetime | None, pattern: str = "dd/MM/y 'à' HH:mm") -> str:
    """A UTC moment shown at Paris time: "03/12/2026 à 08:05" (naive values are taken as UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return format_datetime(value, pattern, tzinfo=PARIS, locale=LOCALE)


def seconds(value: float) -> str:
    """A duration: 1.5 → "1,5 s"."""
    return f"{number(value, 1)}\u00a0s"
