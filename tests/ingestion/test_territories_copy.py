"""The shipped compact copy of the COG 2026 territories: figures, aliases, geometries, centres."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely

from ingestion import territory_copy, territory_sources
from ingestion.territory_build import build_compact_copy
from ingestion.territory_copy import TERRITORIES_DIR as COPY_DIR
from ingestion.territory_copy import CompactCopy, read_compact_copy

CANTAL_WITHOUT_OUTLINE = {"15031", "15035", "15047", "15171"}
ISLANDS_WITHOUT_EPCI = {"22016", "29083", "29155", "85113"}
EXPECTED_COUNTS = {"region": 18, "departement": 101, "epci": 1255, "commune": 34875}
FRANCE_POPULATION = 68_350_798
# Within this many degrees means within 1 km in any direction (a degree of longitude is shorter).
ONE_KM_IN_DEGREES = 1000 / 111_320


@pytest.fixture(scope="module")
def copy() -> CompactCopy:
    return read_compact_copy(COPY_DIR)


@pytest.fixture(scope="module")
def communes(copy: CompactCopy) -> dict[str, dict]:
    return {row["code"]: row for row in copy.by_level("commune")}


@pytest.fixture(scope="module")
def shapes(copy: CompactCopy) -> dict[tuple[str, str], shapely.Geometry]:
    keys = list(copy.geometries)
    wkts = np.array([copy.geometries[key] for key in keys], dtype=object)
    return dict(zip(keys, shapely.from_wkt(wkts), strict=True))


def test_counts_per_level(copy: CompactCopy) -> None:
    assert Counter(row["level"] for row in copy.territories) == EXPECTED_COUNTS
    assert copy.manifest["counts"] == EXPECTED_COUNTS
    assert copy.vintage == "COG 2026"


def test_populations_are_consistent_sums(copy: CompactCopy, communes: dict[str, dict]) -> None:
    assert communes["75056"]["population"] == 2_103_778
    for level in ("commune", "departement", "region"):
        assert sum(row["population"] for row in copy.by_level(level)) == FRANCE_POPULATION
    island_population = sum(communes[code]["population"] for code in ISLANDS_WITHOUT_EPCI)
    epci_total = sum(row["population"] for row in copy.by_level("epci"))
    assert epci_total == FRANCE_POPULATION - island_population
    assert copy.manifest["population_total"] == FRANCE_POPULATION


def test_rows_are_typed_and_linked(copy: CompactCopy, communes: dict[str, dict]) -> None:
    codes = {level: {row["code"] for row in copy.by_level(level)} for level in EXPECTED_COUNTS}
    for row in communes.values():
        assert row["region"] in codes["region"] and row["departement"] in codes["departement"]
        assert row["epci"] in codes["epci"] or row["code"] in ISLANDS_WITHOUT_EPCI
        assert row["postcodes"] and all(len(p) == 5 and p.isdigit() for p in row["postcodes"])
        assert row["tncc"] in range(9)
    assert {code for code, row in communes.items() if row["epci"] is None} == ISLANDS_WITHOUT_EPCI
    for row in copy.by_level("epci"):
        assert row["tncc"] is None
        assert row["region"] in codes["region"] and row["departement"] in codes["departement"]
    assert communes["01001"]["name"] == "L'Abergement-Clémenciat"
    assert communes["01001"]["tncc"] == 5
    lyon_metropole = next(row for row in copy.by_level("epci") if row["code"] == "200046977")
    assert (lyon_metropole["region"], lyon_metropole["departement"]) == ("84", "69")


def test_aliases_point_to_current_communes(copy: CompactCopy, communes: dict[str, dict]) -> None:
    aliases = {row["alias"]: row for row in copy.aliases}
    assert len(aliases) == len(copy.aliases)
    assert aliases["75101"] == {
        "alias": "75101", "commune": "75056", "kind": "arrondissement-municipal"
    }
    assert aliases["69381"]["commune"] == "69123"
    assert aliases["13201"]["commune"] == "13055"
    assert not set(aliases) & set(communes)
    assert all(row["commune"] in communes for row in copy.aliases)
    assert {row["kind"] for row in copy.aliases} == set(territory_copy.ALIAS_KINDS)


def test_cantal_communes_have_neither_geometry_nor_centre(
    copy: CompactCopy, communes: dict[str, dict]
) -> None:
    without_geometry = {code for code in communes if ("commune", code) not in copy.geometries}
    assert without_geometry == CANTAL_WITHOUT_OUTLINE
    assert {code for code, row in communes.items() if row["lon"] is None} == CANTAL_WITHOUT_OUTLINE
    for level in ("region", "departement", "epci"):
        assert all(row["lon"] is not None for row in copy.by_level(level))


def test_geometries_are_valid_multipolygons(
    copy: CompactCopy, shapes: dict[tuple[str, str], shapely.Geometry]
) -> None:
    geometries = np.array(list(shapes.values()))
    assert set(shapely.get_type_id(geometries)) == {shapely.GeometryType.MULTIPOLYGON}
    assert shapely.is_valid(geometries).all()
    assert not shapely.is_empty(geometries).any()
    territory_keys = {(row["level"], row["code"]) for row in copy.territories}
    assert set(shapes) <= territory_keys
    assert len(shapes) == len(territory_keys) - len(CANTAL_WITHOUT_OUTLINE)


def test_commune_centres_lie_in_their_own_polygon(
    communes: dict[str, dict], shapes: dict[tuple[str, str], shapely.Geometry]
) -> None:
    located = [row for row in communes.values() if row["lon"] is not None]
    points = shapely.points([(row["lon"], row["lat"]) for row in located])
    polygons = np.array([shapes[("commune", row["code"])] for row in located])
    near = shapely.dwithin(polygons, points, ONE_KM_IN_DEGREES)
    assert near.mean() >= 0.99


def test_manifest_records_sources_accuracy_and_size(copy: CompactCopy) -> None:
    hashes = {source["package"]: source["sha256"] for source in copy.manifest["sources"]}
    assert hashes == {
        territory_sources.NPM_PACKAGE: territory_sources.NPM_SHA256,
        territory_sources.PYPI_PACKAGE: territory_sources.PYPI_SHA256,
    }
    assert copy.manifest["accuracy"]["identical_share"]["area"]["commune"] >= 0.995
    assert sum(path.stat().st_size for path in COPY_DIR.iterdir()) <= 12_000_000
    assert (COPY_DIR / "LICENCE.md").is_file()


def test_matches_generated_test_data(
    shared_data: Path, copy: CompactCopy, communes: dict[str, dict]
) -> None:
    generated = shared_data / "territories" / "generated-cog2026"
    with (generated / "communes.csv").open(encoding="utf-8", newline="") as stream:
        reference = {row["code"]: row for row in csv.DictReader(stream)}
    assert reference.keys() == communes.keys()
    for code, expected in reference.items():
        row = communes[code]
        assert (row["name"], row["departement"], row["region"], row["epci"] or "") == (
            expected["nom"], expected["departement"], expected["region"], expected["epci"]
        ), code
        assert row["population"] == int(expected["population"]), code
        assert row["postcodes"] == expected["codes_postaux"].split(), code
    layers = {
        "commune": "communes", "epci": "epci", "departement": "departements", "region": "regions"
    }
    for level, name in layers.items():
        layer = json.loads((generated / f"{name}.geojson").read_text(encoding="utf-8"))
        shipped = {code for shipped_level, code in copy.geometries if shipped_level == level}
        assert {feature["properties"]["code"] for feature in layer["features"]} == shipped, level


def test_build_from_registry_artefacts(tmp_path: Path, copy: CompactCopy) -> None:
    """Rebuilds the copy from cached registry artefacts; never downloads them."""
    sources = os.environ.get("APTIC_TERRITORY_SOURCES")
    if not sources:
        pytest.skip("APTIC_TERRITORY_SOURCES non défini : reconstruction de la copie non testée")
    tarball = Path(sources) / territory_sources.NPM_TARBALL
    wheel = Path(sources) / territory_sources.PYPI_WHEEL
    if not (tarball.is_file() and wheel.is_file()):
        pytest.skip(f"paquets sources absents de {sources} : reconstruction de la copie non testée")

    steps: list[str] = []
    summary = build_compact_copy(tarball, wheel, tmp_path, progress=steps.append)

    assert summary["counts"] == EXPECTED_COUNTS
    assert summary["population_total"] == FRANCE_POPULATION
    assert summary["accuracy"]["area"]["commune"] >= 0.995
    assert sum(summary["sizes"].values()) <= 12_000_000
    assert steps[-1] == "terminé"
    rebuilt = read_compact_copy(tmp_path)
    assert rebuilt.territories == copy.territories
    assert rebuilt.aliases == copy.aliases
    assert rebuilt.geometries.keys() == copy.geometries.keys()
