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
from pathlib import Path
from typing import Any

from ingestion import recovery
from ingestion.dates import parse_source_date as loose_date  # noqa: F401  (hub dates)
from ingestion.errors import UnknownMapping, UnreadableFile

MAPPINGS_DIR = Path(__file__).parent / "mappings"
WARNINGS_KEY = "_avertissements"  # (field, value, message) of what the mapping could not read


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
            # read (or refused, with its value in the report) by the row cleaner
            out["date_maj"] = (row.get(self.date_column) or "").strip() or None
        if self.opening_hours:
            out["horaires"], warnings = recovery.opening_hours_from_days(
                {day: row.get(column) or "" for day, column in self.opening_hours.items()})
            out[WARNINGS_KEY] = warnings
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


def opening_hours_from_days(days: dict[str, str]) -> str | None:
    """The OSM opening hours of weekday columns (see recovery.opening_hours_from_days for the warnings)."""
    return recovery.opening_hours_from_days(days)[0]
