"""The compact copy of French territories (COG 2026) shipped with the platform, and its reader.

The copy is a folder of lzma-compressed CSV files plus a manifest and a licence note:

- ``territories.csv.xz``: ``level,code,name,tncc,population,region,departement,epci,postcodes,
  lon,lat``, one row per région, département, EPCI and commune of metropolitan France and the DROM;
  parent columns are empty on a territory's own level; ``tncc`` is the INSEE article type
  (0 to 8, decoupage-administratif's ``typeLiaison``), empty for EPCI;
- ``aliases.csv.xz``: ``alias,commune,kind``, one row per other INSEE code of a current commune;
- ``geometries.csv.xz``: ``level,code,wkt``, valid MultiPolygons in WGS84 lon/lat.
"""

from __future__ import annotations

import csv
import json
import lzma
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TERRITORIES_DIR = Path(__file__).parent / "data" / "territories-cog2026"
TERRITORY_COLUMNS = (
    "level", "code", "name", "tncc", "population", "region", "departement", "epci",
    "postcodes", "lon", "lat",
)
ALIAS_COLUMNS = ("alias", "commune", "kind")
GEOMETRY_COLUMNS = ("level", "code", "wkt")
# Values of the alias `kind` column; when a code has several targets, the earlier kind wins
# (current status over history).
ALIAS_KINDS = ("arrondissement-municipal", "commune-deleguee", "commune-associee", "ancien-code")
DATA_FILES = ("territories.csv.xz", "aliases.csv.xz", "geometries.csv.xz", "LICENCE.md")


@dataclass
class CompactCopy:
    """The shipped territories: typed rows, aliases, WKT geometries keyed by (level, code)."""

    territories: list[dict[str, Any]]
    aliases: list[dict[str, str]]
    geometries: dict[tuple[str, str], str]
    manifest: dict[str, Any]

    @property
    def vintage(self) -> str:
        return str(self.manifest["vintage"])

    def by_level(self, level: str) -> Iterator[dict[str, Any]]:
        return (row for row in self.territories if row["level"] == level)


def _read_csv_xz(path: Path) -> Iterator[list[str]]:
    with lzma.open(path, "rt", encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        yield from reader


def _optional_float(value: str) -> float | None:
    return float(value) if value else None


def read_compact_copy(data_dir: Path) -> CompactCopy:
    """Read the copy written by build_compact_copy."""
    territories = [
        {
            "level": level,
            "code": code,
            "name": name,
            "tncc": int(tncc) if tncc else None,
            "population": int(population),
            "region": region or None,
            "departement": departement or None,
            "epci": epci or None,
            "postcodes": postcodes.split(),
            "lon": _optional_float(lon),
            "lat": _optional_float(lat),
        }
        for level, code, name, tncc, population, region, departement, epci, postcodes, lon, lat
        in _read_csv_xz(data_dir / "territories.csv.xz")
    ]
    aliases = [
        dict(zip(ALIAS_COLUMNS, row, strict=True))
        for row in _read_csv_xz(data_dir / "aliases.csv.xz")
    ]
    geometries = {
        (level, code): wkt for level, code, wkt in _read_csv_xz(data_dir / "geometries.csv.xz")
    }
    manifest = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))
    return CompactCopy(territories, aliases, geometries, manifest)
