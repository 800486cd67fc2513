"""Paris calendar helpers: the local date of an instant, the bounds of a month, a month typed AAAA-MM."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from directory.db import PARIS_TZ
from directory.errors import InvalidInput


def paris_date(moment: datetime) -> date:
    return moment.astimezone(PARIS_TZ).date()


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Europe/Paris calendar month starts and ends."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(first, time(), PARIS_TZ).astimezone(UTC),
        datetime.combine(following, time(), PARIS_TZ).astimezone(UTC),
    )


def parse_month(value: str, field: str = "month") -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", (value or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"Le mois « {value} » n'est pas valide : format attendu AAAA-MM.", field=field, code="invalid_month")
    return date(int(match.group(1)), int(match.group(2)), 1)
