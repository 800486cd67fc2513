"""The digital-fragility index (IFN) per commune and EPCI: its indicators and the file loader."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from directory.api import INSEE_CODE
from directory.errors import InvalidInput
from directory.models import Territory
from maps.models import FragilityIndex

_INSERT_BATCH = 5_000

FRAGILITY_INDICATORS = {
    "no_thd_coverage_rate": "Absence de couverture très haut débit",
    "no_4g_coverage_rate": "Absence de couverture 4G",
    "poverty_rate": "Taux de pauvreté",
    "older_65_rate": "Part des plus de 65 ans",
    "nscol15p_rate": "Part des 15 ans et plus sans diplôme",
}

IFN_COLUMNS = ("name", "division", "code", *FRAGILITY_INDICATORS, "total")
IFN_DIVISIONS = {"city": "commune", "epci": "epci"}
IFN_NO_EPCI = "ZZZZZZZZZ"  # INSEE's "sans objet": the communes outside any EPCI, lumped together


def load_fragility_index(session: Session, path: Path) -> dict[str, Any]:
    """Load an IFN file (inclusion-numerique/stack `ifn-*-all-variation.csv`); its rows replace the
    loaded index of the same level (commune or EPCI)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"Le fichier {path.name} est illisible ({error}).", field="path",
                           code="invalid_fragility_file") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in IFN_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            f"Le fichier {path.name} n'est pas un fichier de l'indice de fragilité numérique : "
            f"colonnes manquantes ({', '.join(missing)}).",
            field="path", code="invalid_fragility_file",
        )
    records: dict[tuple[str, str], dict[str, Any]] = {}
    skipped = 0
    for line, record in enumerate(reader, start=2):
        division = (record["division"] or "").strip()
        level = IFN_DIVISIONS.get(division)
        code = (record["code"] or "").strip().upper()
        if code == IFN_NO_EPCI:
            skipped += 1
            continue
        valid_code = bool(INSEE_CODE.match(code)) if level == "commune" else code.isdigit() and len(code) == 9
        if level is None or not valid_code:
            raise InvalidInput(
                f"{path.name}, ligne {line} : « {division} » / « {code} » n'est ni une commune (city, code INSEE) "
                "ni un EPCI (epci, SIREN à 9 chiffres).",
                field="division", code="invalid_fragility_file",
            )
        if not (record["total"] or "").strip():
            skipped += 1
            continue
        scores = {name: _fragility_score(path, line, name, record[name]) for name in (*FRAGILITY_INDICATORS, "total")}
        records[(level, code)] = {"level": level, "code": code, "name": (record["name"] or code).strip()[:200],
                                  "source": path.name, **scores}
    levels = sorted({level for level, _ in records})
    if levels:
        session.execute(delete(FragilityIndex).where(FragilityIndex.level.in_(levels)))
    rows = list(records.values())
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(FragilityIndex), rows[start : start + _INSERT_BATCH])
    session.flush()
    known = set(session.scalars(select(Territory.code).where(Territory.level.in_(["commune", "epci"]))))
    return {
        "file": path.name,
        "by_level": {level: sum(1 for lv, _ in records if lv == level) for level in levels},
        "unknown_codes": sum(1 for _, code in records if code not in known),
        "skipped": skipped,
    }


def _fragility_score(path: Path, line: int, column: str, raw: str | None) -> float | None:
    if not (raw or "").strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 10):
        raise InvalidInput(
            f"{path.name}, ligne {line} : la valeur « {raw} » de la colonne « {column} » n'est pas un score "
            "entre 0 et 10.",
            field=column, code="invalid_fragility_file",
        )
    return value
