"""Opening hours in the OpenStreetMap syntax: validation, local time zone, open at a moment, the week's periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours

from directory.db import PARIS_TZ
from directory.errors import InvalidInput
from directory.models import Venue


def validate_opening_hours(value: str, field: str = "horaires") -> str:
    try:
        opening_hours.OpeningHours(value)
    except Exception:
        raise InvalidInput(
            f"Les horaires « {value} » ne suivent pas la syntaxe OpenStreetMap "
            "(ex. « Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00 »).",
            field=field,
            code="invalid_opening_hours",
        ) from None
    return value


# Opening hours are written in local time: overseas départements are not on Paris time.
DEPARTEMENT_TIMEZONES = {
    "971": ZoneInfo("America/Guadeloupe"),
    "972": ZoneInfo("America/Martinique"),
    "973": ZoneInfo("America/Cayenne"),
    "974": ZoneInfo("Indian/Reunion"),
    "976": ZoneInfo("Indian/Mayotte"),
    # overseas collectivities (ingestion.overseas)
    "975": ZoneInfo("America/Miquelon"),
    "977": ZoneInfo("America/St_Barthelemy"),
    "978": ZoneInfo("America/Marigot"),
    "986": ZoneInfo("Pacific/Wallis"),
    "987": ZoneInfo("Pacific/Tahiti"),
    "988": ZoneInfo("Pacific/Noumea"),
}


def venue_timezone(venue: Venue) -> ZoneInfo:
    code = venue.code_insee or ""
    return DEPARTEMENT_TIMEZONES.get(code[:3], PARIS_TZ)


@lru_cache(maxsize=4096)
def _parsed_hours(horaires: str, timezone: ZoneInfo) -> opening_hours.OpeningHours | None:
    try:
        return opening_hours.OpeningHours(horaires, timezone=timezone, country="FR")
    except Exception:  # imported data may carry hours the OSM grammar refuses
        return None


def venue_hours(venue: Venue) -> opening_hours.OpeningHours | None:
    if not venue.horaires:
        return None
    return _parsed_hours(venue.horaires, venue_timezone(venue))


def is_open_at(venue: Venue, moment: datetime) -> bool | None:
    """Whether the venue's OSM opening hours say open at that moment (None: unknown)."""
    hours = venue_hours(venue)
    if hours is None:
        return None
    state, _comment = hours.state(moment.astimezone(venue_timezone(venue)))
    if state == opening_hours.State.UNKNOWN:
        return None
    return state == opening_hours.State.OPEN


@dataclass(frozen=True)
class DayHours:
    day: date
    # Opening periods of that day in the venue's local time; an end at midnight reads "24:00".
    periods: list[tuple[str, str]]


def week_hours(venue: Venue, today: date) -> list[DayHours] | None:
    """The opening periods of each day of the week holding `today` (holidays applied), or None."""
    hours = venue_hours(venue)
    if hours is None:
        return None
    tz = venue_timezone(venue)
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=offset) for offset in range(7)]
    periods: dict[date, list[tuple[str, str]]] = {day: [] for day in days}
    week_start = datetime.combine(monday, time(0), tz)
    for begin, end, state, _comment in hours.intervals(week_start, week_start + timedelta(days=7)):
        if state != opening_hours.State.OPEN:
            continue
        begin, end = begin.astimezone(tz), end.astimezone(tz)
        while begin < end:
            midnight = datetime.combine(begin.date() + timedelta(days=1), time(0), tz)
            stop = min(end, midnight)
            if begin.date() in periods:
                periods[begin.date()].append((begin.strftime("%H:%M"), "24:00" if stop == midnight else stop.strftime("%H:%M")))
            begin = stop
    return [DayHours(day, periods[day]) for day in days]
