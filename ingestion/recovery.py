"""What can be recovered from hand-written cells: opening hours, phones, e-mail lists.

Each function returns the value for the standard and the report lines (field, value, message) for
what it repaired or still had to drop: nothing disappears without a warning.
"""

from __future__ import annotations

import re

from directory.api import VENUE_FIELD
from directory.errors import InvalidInput

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
DAY_NAMES = {"Mo": "lundi", "Tu": "mardi", "We": "mercredi", "Th": "jeudi", "Fr": "vendredi", "Sa": "samedi",
             "Su": "dimanche"}
# 9h-12h, 9h/12h, 09:00 - 12:00, de 9h30 à 12h, 9 h - 12 h 30, 9h-12 (a time needs « h » or « : » first)
# minutes are two digits right after « h » or « : », not the hour of the next time (« 12h 13h30 »)
_MINUTES = r"(\d{2}(?!\s*[h:\d]))?"
TIME_RANGE = re.compile(
    rf"(\d{{1,2}})\s*(?:h|:)\s*{_MINUTES}\s*(?:(?:-|–|/|à|a)\s*(?:de\s+)?|\s(?=\d{{1,2}}\s*h))"
    rf"(\d{{1,2}})\s*(?:(?:h|:)\s*{_MINUTES})?",
    re.IGNORECASE,
)
CLOSED = re.compile(r"^\W*(ferm[ée]e?s?|-|/|x|non)?\W*$", re.IGNORECASE)
FILLER = re.compile(r"\b(de|et|à|a|puis|le|matin|midi)\b|[,;/\-–+&]", re.IGNORECASE)
EMAIL = re.compile(r"[^@\s:;,|/<>()\[\]]+@[^@\s;,|/<>()\[\]]+\.[A-Za-z]{2,}")
PHONE_CANDIDATE = re.compile(r"\+?\d[\d\s.\-()/]*\d")
Warnings = list[tuple[str, str, str]]


def opening_hours_from_days(days: dict[str, str]) -> tuple[str | None, Warnings]:
    """« 9h-12h et 14h-17h », « 9h/12h 13h30/18h » per weekday -> « Mo 09:00-12:00,14:00-17:00; … » (OSM),
    validated with opening-hours-py; what is not read is reported."""
    rules, warnings = [], []
    for day in DAYS:
        text = " ".join((days.get(day) or "").split())
        if not text or CLOSED.match(text):
            continue
        ranges, dropped = [], []
        for match in TIME_RANGE.finditer(text):
            h1, m1, h2, m2 = int(match[1]), int(match[2] or 0), int(match[3]), int(match[4] or 0)
            if h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2):
                ranges.append(f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}")
            else:
                dropped.append(match[0])
        rest = [word for word in FILLER.sub(" ", TIME_RANGE.sub(" ", text)).split() if len(word) > 1]
        name = DAY_NAMES[day]
        if not ranges or _overlap(ranges):
            # overlapping ranges (« 14h-19h en semaine, 9h-12h30 pendant les vacances ») are not guessed
            why = " (plages qui se chevauchent)" if ranges else ""
            warnings.append(("horaires", text, f"Horaires du {name} « {text} » non convertis{why} : ignorés."))
            continue
        if dropped or rest:
            left = [f"« {part.strip()} »" for part in dropped] + ([f"« {' '.join(rest)} »"] if rest else [])
            warnings.append(("horaires", text, f"Horaires du {name} « {text} » lus en partie "
                             f"({','.join(ranges)}) ; ignoré : {', '.join(left)}."))
        rules.append(f"{day} {','.join(ranges)}")
    value = "; ".join(rules) or None
    if value is not None:
        try:
            VENUE_FIELD["horaires"].clean(value)
        except InvalidInput as error:
            return None, [*warnings, ("horaires", value, f"{error.message} Horaires ignorés.")]
    return value, warnings


def _overlap(ranges: list[str]) -> bool:
    spans = sorted((item[:5], item[6:]) for item in ranges)
    return any(start < previous_end for (_, previous_end), (start, _) in zip(spans, spans[1:]))


def _phone(candidate: str) -> str | None:
    compact = re.sub(r"[\s.\-()/]", "", candidate)
    if re.fullmatch(r"[1-9]\d{8}", compact):  # a spreadsheet dropped the leading zero
        compact = "0" + compact
    try:
        return VENUE_FIELD["telephone"].clean(compact)
    except InvalidInput:
        return None


def _candidates(text: str) -> list[str]:
    found = []
    for match in PHONE_CANDIDATE.finditer(text):
        compact = re.sub(r"\D", "", match[0])
        if len(compact) == 20 and compact[0] == compact[10] == "0":  # two numbers side by side
            found += [compact[:10], compact[10:]]
        else:
            found += [part for part in re.split(r"\s[/-]\s|/", match[0]) if part.strip()]
    return found


def phone(text: str) -> tuple[str | None, Warnings]:
    """The phone of a cell: repaired (lost leading zero), the first of several (the standard holds one)."""
    try:
        return VENUE_FIELD["telephone"].clean(text), []
    except InvalidInput as error:
        refused = error.message
    numbers = list(dict.fromkeys(number for number in map(_phone, _candidates(text)) if number))
    if not numbers:
        return None, [("telephone", text, f"{refused.removesuffix('.')} : ignoré.")]
    kept, others = numbers[0], numbers[1:]
    compact = re.sub(r"\D", "", text)
    if re.fullmatch(r"[1-9]\d{8}", compact):
        message = f"Le numéro « {text} » a perdu son zéro initial : lu « {kept} »."
    elif others:
        message = (f"Le champ contient plusieurs numéros ; le standard n'en garde qu'un : « {kept} » gardé, "
                   + ", ".join(f"« {other} »" for other in others) + " ignoré" + ("s." if len(others) > 1 else "."))
    else:
        message = f"Numéro « {kept} » lu dans « {text} » (le reste du texte est ignoré)."
    return kept, [("telephone", text, message)]


def emails(text: str) -> tuple[list[str], Warnings]:
    """The e-mail addresses of a cell (the standard's `courriels` is a list), with what was left out."""
    found = EMAIL.findall(text)
    if not found:
        return [], [("courriels", text, f"Le courriel « {text} » n'est pas valide : ignoré.")]
    valid = []
    for address in found:
        try:
            valid.append(VENUE_FIELD["courriels"].clean(address.strip(".")))
        except InvalidInput:
            pass
    rest = " ".join(EMAIL.sub(" ", text).replace(" ou ", " ").replace(" et ", " ").split()).strip(" :;,|/-")
    warnings = []
    if len(valid) > 1 or rest:
        warnings.append(("courriels", text, f"Courriels lus dans « {text} » : {', '.join(valid)}"
                         + (f" (texte ignoré : « {rest} »)." if rest else ".")))
    return valid, warnings
