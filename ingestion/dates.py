"""Update dates as sources write them, and the dates the platform itself vouches for.

Sources write 2022-07-01, 2022-07-01T10:00:00Z, 5/3/2019, 25/02/2019 00:00:00, « Décembre 2019 »,
« juil-22 » or a bare year. Every one of these is read explicitly (day first, as in France): a
general parser would read 5/3/2019 as 3 May and accept free text. What no format reads is refused
and reported with its value; the record's date stays unknown.

An export must carry a date in every row (the standard requires it). For a venue whose sources
never gave one, it writes the day the platform first saw the venue, and lists that venue in a
sidecar (`<file>.meta.json`, or `metadonnees.json` of a publication folder) under
`date_maj_premiere_vue`: an import reading the sidecar keeps such dates unknown.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from directory.api import normalize_name

FRENCH_MONTHS = {
    "janv": 1, "jan": 1, "janvier": 1, "fevr": 2, "fev": 2, "fevrier": 2, "mars": 3, "mar": 3, "avr": 4, "avril": 4,
    "mai": 5, "juin": 6, "juil": 7, "juillet": 7, "aout": 8, "sept": 9, "sep": 9, "septembre": 9, "oct": 10,
    "octobre": 10, "nov": 11, "novembre": 11, "dec": 12, "decembre": 12,
}
FORMATS_TEXT = ("AAAA-MM-JJ (avec ou sans heure), JJ/MM/AAAA (avec ou sans heure), "
                "« mois AAAA », « mois-AA », AAAA")
PLACEHOLDER_DATES = {date(1970, 1, 1), date(1969, 12, 31)}
ESTIMATED_KEY = "date_maj_premiere_vue"  # {source id: ISO date} in a sidecar
SIDECAR_SUFFIX = ".meta.json"
PUBLICATION_METADATA = "metadonnees.json"

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_TIME = r"(?: \d{1,2} \d{2}(?: \d{2})?)?"


def parse_source_date(value: Any) -> date | None:
    """The date a source wrote, or None when no known format reads it (see FORMATS_TEXT)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value or "").strip()
    if not raw:
        return None
    if match := _ISO.fullmatch(raw):
        return _date(int(match[1]), int(match[2]), int(match[3]))
    text = normalize_name(raw)
    if match := re.fullmatch(r"(\d{4}) (\d{1,2}) (\d{1,2})" + _TIME, text):
        return _date(int(match[1]), int(match[2]), int(match[3]))
    if match := re.fullmatch(r"(\d{1,2}) (\d{1,2}) (\d{2}|\d{4})" + _TIME, text):
        return _date(_year(match[3]), int(match[2]), int(match[1]))
    if match := re.fullmatch(r"([a-z]+) (\d{2}|\d{4})", text):
        month = FRENCH_MONTHS.get(match[1]) or FRENCH_MONTHS.get(match[1][:4]) or FRENCH_MONTHS.get(match[1][:3])
        return _date(_year(match[2]), month, 1) if month else None
    if re.fullmatch(r"(19|20)\d{2}", text):
        return date(int(text), 1, 1)
    return None


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def estimated_dates(path: Path) -> dict[str, str]:
    """{source id: date} of the rows whose date_maj is the day the exporting platform first saw them."""
    for candidate in (path.with_name(path.name + SIDECAR_SUFFIX), path.with_name(PUBLICATION_METADATA)):
        if not candidate.is_file():
            continue
        try:
            data = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if candidate.name == PUBLICATION_METADATA:
            files = {item.get("fichier") for item in data.get("fichiers", []) if isinstance(item, dict)}
            if path.name not in files:
                continue
        found = data.get(ESTIMATED_KEY)
        if isinstance(found, dict):
            return {str(key): str(value) for key, value in found.items()}
    return {}
