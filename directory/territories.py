"""Territories: communes, départements, EPCI, régions; look-ups by code, postcode, name or point."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.db import bbox_filter, geodesic_distance_m, point_wkt
from directory.errors import InvalidInput, NotFound
from directory.models import Territory, TerritoryAlias, TerritoryLevel, TerritoryPostcode

INSEE_CODE = re.compile(r"^([013-9]\d|2[AB1-9])\d{3}$")
POSTCODE = re.compile(r"^\d{5}$")
# A point farther than this from every commune polygon is not in France (metro + DROM).
OUTSIDE_FRANCE_TOLERANCE_M = 2_000
# The column of a commune's row that holds the code of its territory of each level.
COMMUNE_CODE_OF_LEVEL = {
    TerritoryLevel.REGION: Territory.region_code,
    TerritoryLevel.DEPARTEMENT: Territory.departement_code,
    TerritoryLevel.EPCI: Territory.epci_code,
    TerritoryLevel.COMMUNE: Territory.code,
}


def normalize_name(value: str) -> str:
    """Accent-, case- and punctuation-insensitive form of a place name, for look-ups."""
    decomposed = unicodedata.normalize("NFKD", value.replace("œ", "oe").replace("Œ", "Oe"))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = re.sub(r"[^a-z0-9]+", " ", ascii_only.lower()).split()
    words = ["saint" if w == "st" else "sainte" if w == "ste" else w for w in words]
    return " ".join(words)


def name_with_preposition(territory: Territory) -> str:
    """'de Lyon', 'du Mans', 'de La Rochelle', 'des Abymes', "d'Ambérieu-en-Bugey" (from the TNCC)."""
    name = territory.name
    if territory.tncc == 1:
        return f"d'{name}"
    if territory.tncc == 2 and name.startswith("Le "):
        return f"du {name[3:]}"
    if territory.tncc == 4 and name.startswith("Les "):
        return f"des {name[4:]}"
    if territory.tncc == 6 and name.startswith("Aux "):
        return f"des {name[4:]}"
    return f"de {name}"


def territory_by_code(session: Session, level: TerritoryLevel | str, code: str) -> Territory:
    level = _territory_level(level)
    if level == TerritoryLevel.COMMUNE:
        return commune_by_code(session, code)
    territory = session.scalar(
        select(Territory).where(Territory.level == level, Territory.code == code.strip().upper())
    )
    if territory is None:
        raise NotFound(
            f"Aucun territoire de niveau « {level.value} » n'a le code « {code} ».",
            field="code",
            code="unknown_territory",
        )
    return territory


def _territory_level(level: TerritoryLevel | str) -> TerritoryLevel:
    try:
        return TerritoryLevel(level)
    except ValueError:
        allowed = ", ".join(member.value for member in TerritoryLevel)
        raise InvalidInput(
            f"Le niveau de territoire « {level} » n'existe pas (valeurs possibles : {allowed}).",
            field="level",
            code="invalid_territory_level",
        ) from None


def commune_by_code(session: Session, code: str, field: str = "code_insee") -> Territory:
    """The current commune for an INSEE code; arrondissements and former codes resolve to it."""
    code = (code or "").strip().upper()
    if not INSEE_CODE.match(code):
        raise InvalidInput(
            f"Le code INSEE « {code} » n'est pas valide : il faut 5 caractères (ex. 69123, 2A004).",
            field=field,
            code="invalid_insee_code",
        )
    commune = _commune(session, code)
    if commune is None:
        alias = session.get(TerritoryAlias, code)
        commune = _commune(session, alias.commune_code) if alias else None
    if commune is None:
        raise NotFound(
            f"Le code INSEE « {code} » ne correspond à aucune commune.",
            field=field,
            code="unknown_insee_code",
        )
    return commune


def _commune(session: Session, code: str) -> Territory | None:
    return session.scalar(
        select(Territory).where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == code)
    )


def communes_by_postcode(session: Session, postcode: str) -> list[Territory]:
    postcode = (postcode or "").strip()
    if not POSTCODE.match(postcode):
        raise InvalidInput(
            f"Le code postal « {postcode} » n'est pas valide : il faut 5 chiffres.",
            field="code_postal",
            code="invalid_postcode",
        )
    return list(
        session.scalars(
            select(Territory)
            .join(TerritoryPostcode, TerritoryPostcode.commune_id == Territory.id)
            .where(TerritoryPostcode.postcode == postcode)
            .order_by(Territory.population.desc(), Territory.code)
        )
    )


def search_communes(session: Session, name: str, limit: int = 10) -> list[Territory]:
    """Communes by name, whatever the accents and case: exact names first, then prefixes."""
    key = normalize_name(name or "")
    if not key:
        return []
    exact = select(Territory).where(
        Territory.level == TerritoryLevel.COMMUNE, Territory.search_name == key
    )
    found = list(session.scalars(exact.order_by(Territory.population.desc()).limit(limit)))
    if len(found) < limit:
        prefix = select(Territory).where(
            Territory.level == TerritoryLevel.COMMUNE,
            Territory.search_name.startswith(key, autoescape=True),
            Territory.search_name != key,
        )
        found += session.scalars(
            prefix.order_by(Territory.population.desc()).limit(limit - len(found))
        )
    return found


def commune_at(session: Session, lon: float, lat: float) -> Territory:
    """The commune that contains a point (or, on a simplified coastline, the nearest one)."""
    check_coordinates(lon, lat)
    point = func.ST_GeomFromEWKT(point_wkt(lon, lat))
    communes = select(Territory).where(Territory.level == TerritoryLevel.COMMUNE)
    containing = session.scalar(
        communes.where(
            bbox_filter(session, Territory, "geom", lon, lat, lon, lat),
            func.ST_Contains(Territory.geom, point),
        ).limit(1)
    )
    if containing is not None:
        return containing
    margin = 0.03  # degrees; wider than OUTSIDE_FRANCE_TOLERANCE_M at every French latitude
    distance = geodesic_distance_m(session, Territory.geom, point)
    nearest = session.execute(
        communes.add_columns(distance)
        .where(bbox_filter(session, Territory, "geom", lon - margin, lat - margin, lon + margin, lat + margin))
        .order_by(distance)
        .limit(1)
    ).first()
    if nearest is None or nearest[1] > OUTSIDE_FRANCE_TOLERANCE_M:
        raise InvalidInput(
            f"Le point (longitude {lon}, latitude {lat}) n'est dans aucune commune de métropole ni des "
            "départements d'outre-mer (les communes des collectivités d'outre-mer n'ont pas de contour : "
            "indiquez leur code INSEE ou leur code postal).",
            field="coordonnees",
            code="outside_france",
        )
    return nearest[0]


def check_coordinates(lon: Any, lat: Any) -> None:
    for value, name, bound in ((lat, "latitude", 90), (lon, "longitude", 180)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not -bound <= value <= bound:
            raise InvalidInput(
                f"La {name} « {value} » n'est pas valide : un nombre entre -{bound} et {bound} est attendu.",
                field=name,
                code=f"invalid_{name}",
            )
