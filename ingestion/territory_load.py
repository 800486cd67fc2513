"""Load the shipped territory copy into the territory, postcode and former-code tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from directory.api import normalize_name
from directory.db import SRID
from directory.models import Territory, TerritoryAlias, TerritoryLevel, TerritoryPostcode
from ingestion.overseas import OVERSEAS_DIR, read_overseas
from ingestion.territory_copy import TERRITORIES_DIR, read_compact_copy

INSERT_BATCH = 2_000


def load_territories(
    session: Session,
    data_dir: Path = TERRITORIES_DIR,
    *,
    force: bool = False,
    progress: Callable[[str, int], None] | None = None,
    overseas_dir: Path | None = OVERSEAS_DIR,
) -> dict[str, Any]:
    """Replace the territories with the shipped copy (and the communes of the overseas
    collectivities, ingestion.overseas); a copy already loaded is left as it is.

    Other tables refer to territories by (level, code), never by row id, so a reload is safe.
    """
    copy = read_compact_copy(data_dir)
    if overseas_dir is not None:
        copy.territories.extend(read_overseas(overseas_dir))
    vintage = copy.vintage
    expected = len(copy.territories)
    loaded = session.scalar(select(func.count()).select_from(Territory).where(Territory.vintage == vintage))
    if loaded == expected and not force:
        return {"vintage": vintage, "changed": False, "territories": loaded}

    session.execute(delete(TerritoryPostcode))
    session.execute(delete(TerritoryAlias))
    session.execute(delete(Territory))
    rows = []
    for item in copy.territories:
        centre = (
            f"SRID={SRID};POINT({item['lon']} {item['lat']})" if item["lon"] is not None else None
        )
        wkt = copy.geometries.get((item["level"], item["code"]))
        rows.append({
            "level": TerritoryLevel(item["level"]),
            "code": item["code"],
            "name": item["name"],
            "search_name": normalize_name(item["name"]),
            "tncc": item["tncc"] or 0,
            "population": item["population"],
            "region_code": item["region"] or None,
            "departement_code": item["departement"] or None,
            "epci_code": item["epci"] or None,
            "centre": centre,
            "geom": f"SRID={SRID};{wkt}" if wkt else None,
            "vintage": vintage,
        })
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(Territory), rows[start : start + INSERT_BATCH])
        if progress:
            progress("territoires", min(start + INSERT_BATCH, len(rows)))

    commune_ids = dict(
        session.execute(
            select(Territory.code, Territory.id).where(Territory.level == TerritoryLevel.COMMUNE)
        ).all()
    )
    postcodes = [
        {"commune_id": commune_ids[item["code"]], "postcode": postcode}
        for item in copy.territories
        if item["level"] == TerritoryLevel.COMMUNE.value
        for postcode in dict.fromkeys(item["postcodes"])
    ]
    for start in range(0, len(postcodes), INSERT_BATCH * 5):
        session.execute(insert(TerritoryPostcode), postcodes[start : start + INSERT_BATCH * 5])
    aliases = [
        {"alias": a["alias"], "commune_code": a["commune"], "kind": a["kind"]}
        for a in copy.aliases
        if a["alias"] not in commune_ids and a["commune"] in commune_ids
    ]
    unique_aliases = list({a["alias"]: a for a in aliases}.values())
    for start in range(0, len(unique_aliases), INSERT_BATCH * 5):
        session.execute(insert(TerritoryAlias), unique_aliases[start : start + INSERT_BATCH * 5])
    session.flush()
    counts = dict(
        session.execute(select(Territory.level, func.count()).group_by(Territory.level)).all()
    )
    return {
        "vintage": vintage,
        "changed": True,
        "territories": len(rows),
        "by_level": {level.value: count for level, count in counts.items()},
        "postcodes": len(postcodes),
        "aliases": len(unique_aliases),
    }
