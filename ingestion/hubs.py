"""Hub files that do not follow the standard, read through a declarative mapping per source.

A mapping is a TOML file in `ingestion/mappings/` (see rhinocc.toml for every key). It turns
each row of the hub's CSV into a row of the standard (v1 values, lists as lists), which then
goes through the same cleaning as any standard file.
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from directory.api import normalize_name
from ingestion.errors import UnknownMapping, UnreadableFile

MAPPINGS_DIR = Path(__file__).parent / "mappings"
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
FRENCH_MONTHS = {
    "janv": 1, "jan": 1, "fevr": 2, "fev": 2, "mars": 3, "mar": 3, "avr": 4, "mai": 5, "juin": 6,
    "juil": 7, "aout": 8, "sept": 9, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
TIME_RANGE = re.compile(
    r"(\d{1,2})\s*(?:h|:)\s*(\d{2})?\s*(?:-|–|à|a)\s*(\d{1,2})\s*(?:h|:)?\s*(\d{2})?", re.IGNORECASE
)


@dataclass(frozen=True)
class Mapping:
    name: str
    title: str
    delimiter: str
    encoding: str
    signature: tuple[str, ...]
    columns: dict[str, str | list[str]]
    date_column: str | None
    opening_hours: dict[str, str]
    flags: list[dict[str, Any]]
    values: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Mapping:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(
            name=path.stem,
            title=data["title"],
            delimiter=data.get("delimiter", ","),
            encoding=data.get("encoding", "utf-8-sig"),
            signature=tuple(data["signature"]),
            columns=data["columns"],
            date_column=data.get("date_maj", {}).get("column"),
            opening_hours=data.get("opening_hours", {}),
            flags=data.get("flags", []),
            values=data.get("values", []),
        )

    def read(self, path: Path) -> list[dict[str, Any]]:
        try:
            with path.open(encoding=self.encoding, newline="") as handle:
                source_rows = list(csv.DictReader(handle, delimiter=self.delimiter))
        except UnicodeDecodeError:
            raise UnreadableFile(f"Le fichier {path.name} n'est pas encodé en {self.encoding}.", field="fichier") from None
        return [self.to_standard(row) for row in source_rows]

    def to_standard(self, row: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for target, columns in self.columns.items():
            for column in [columns] if isinstance(columns, str) else columns:
                value = (row.get(column) or "").strip()
                if value:
                    out[target] = value
                    break
        if self.date_column:
            parsed = loose_date(row.get(self.date_column) or "")
            out["date_maj"] = parsed.isoformat() if parsed else None
        if self.opening_hours:
            out["horaires"] = opening_hours_from_days({day: row.get(column) or "" for day, column in self.opening_hours.items()})
        for flag in self.flags:
            if re.search(flag["pattern"], row.get(flag["column"]) or "", re.IGNORECASE):
                out[flag["field"]] = True
        for rule in self.values:
            raw = (row.get(rule["column"]) or "").strip()
            items = [item.strip() for item in raw.split(rule["split"])] if rule.get("split") else [raw]
            for item in items:
                for key, mapped in rule["map"].items():
                    hit = re.search(key, item, re.IGNORECASE) if rule.get("regex") else key.lower() == item.lower()
                    if item and hit:
                        out.setdefault(rule["field"], [])
                        if mapped not in out[rule["field"]]:
                            out[rule["field"]].append(mapped)
        return out


def available_mappings() -> dict[str, Mapping]:
    return {path.stem: Mapping.load(path) for path in sorted(MAPPINGS_DIR.glob("*.toml"))}


def mapping_named(name_or_path: str) -> Mapping:
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        return Mapping.load(path)
    mappings = available_mappings()
    if name_or_path not in mappings:
        raise UnknownMapping(
            f"Correspondance « {name_or_path} » inconnue (disponibles : {', '.join(mappings) or 'aucune'}).",
            field="mapping",
        )
    return mappings[name_or_path]


def mapping_for(path: Path) -> Mapping | None:
    """The mapping whose signature columns all appear in the header of a CSV, if any."""
    if path.suffix.lower() != ".csv":
        return None
    with path.open("rb") as handle:
        first_line = (handle.readline().decode("utf-8-sig", errors="replace").splitlines() or [""])[0]
    for mapping in available_mappings().values():
        try:
            header = set(next(csv.reader([first_line], delimiter=mapping.delimiter), []))
        except csv.Error:  # not a text header: read_rows says why the file cannot be read
            return None
        if set(mapping.signature) <= header:
            return mapping
    return None


def loose_date(value: str) -> date | None:
    """Dates as hubs write them: 2022-07-01, 5/3/2019, « Décembre 2019 », « juil-22 », 2018."""
    text = normalize_name(value)
    if not text:
        return None
    if match := re.fullmatch(r"(\d{4}) (\d{1,2}) (\d{1,2})", text):
        return _date(int(match[1]), int(match[2]), int(match[3]))
    if match := re.fullmatch(r"(\d{1,2}) (\d{1,2}) (\d{2,4})", text):
        return _date(_year(match[3]), int(match[2]), int(match[1]))
    if match := re.fullmatch(r"([a-z]+) (\d{2,4})", text):
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


def opening_hours_from_days(days: dict[str, str]) -> str | None:
    """« 9h-12h et 14h-17h » per weekday column -> « Mo 09:00-12:00,14:00-17:00; … » (OSM syntax)."""
    rules = []
    for day in DAYS:
        text = days.get(day, "")
        ranges = [
            f"{int(h1):02d}:{m1 or '00'}-{int(h2):02d}:{m2 or '00'}"
            for h1, m1, h2, m2 in TIME_RANGE.findall(text)
            if int(h1) < 24 and int(h2) <= 24
        ]
        if ranges:
            rules.append(f"{day} {','.join(ranges)}")
    return "; ".join(rules) or None
