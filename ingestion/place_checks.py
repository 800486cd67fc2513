"""A given INSEE code, point and postcode checked against each other.

The point agrees with the code when it lies in (or near) the commune — in the collectivity for
the overseas collectivities, whose communes have no outline; the postcode agrees with a place
when one of its communes is in the same département (or collectivity). When code and point
disagree, the code is kept only if the postcode backs it (the point is then dropped, to be
geocoded from the address); otherwise the commune comes from the point: a venue is never
attached to a commune its point is far from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from directory.db import geodesic_distance_m, point_wkt
from directory.french import number
from directory.geodesy import haversine_m
from directory.models import Territory, TerritoryLevel
from ingestion import overseas

if TYPE_CHECKING:
    from ingestion.places import Places

# A point this close to the commune's centre is in it, whatever the outline (checked no further).
NEAR_CENTRE_M = 10_000
# Beyond the centre radius, a point within this distance of the commune's outline still agrees.
OUTLINE_TOLERANCE_M = 2_000
Notes = list[tuple[str, Any, str]]


def _kilometres(metres: float) -> str:
    return f"{number(round(metres / 1000))} km" if metres >= 10_000 else f"{number(metres / 1000, 1)} km"


def point_agrees(places: Places, code: str, lon: float, lat: float) -> tuple[bool, float | None]:
    """Whether the point lies in or near the commune, and how far it is from the commune's centre."""
    collectivity = overseas.collectivity_of(code)
    if collectivity is not None:
        return overseas.collectivity_at(lon, lat) == collectivity, None
    _, _, centre_lon, centre_lat = places.communes[code]
    distance = haversine_m(lon, lat, centre_lon, centre_lat) if centre_lon is not None else None
    if distance is not None and distance <= NEAR_CENTRE_M:
        return True, distance
    session = places.session
    outline = session.scalar(
        select(geodesic_distance_m(session, Territory.geom, func.ST_GeomFromEWKT(point_wkt(lon, lat))))
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == code)
    )
    return outline is not None and outline <= OUTLINE_TOLERANCE_M, distance


def postcode_departements(places: Places, postcode: str) -> set[str]:
    return {places.departement(code) for code, _ in places.by_postcode.get(postcode, [])} - {None}


def check_place(places: Places, record: dict[str, Any]) -> Notes:
    """Check the record's INSEE code (already a current commune) against its point and postcode;
    fix the record and return the report lines (field, value, message)."""
    code, postcode = record["code_insee"], record["code_postal"]
    lon, lat = record["longitude"], record["latitude"]
    departements = postcode_departements(places, postcode)
    agrees, distance = point_agrees(places, code, lon, lat)
    if agrees:
        if departements and places.departement(code) not in departements:
            return [("code_postal", postcode, f"Le code postal {postcode} ne correspond pas à la commune "
                     f"{places.describe(code)}, où est aussi le point : code INSEE et point gardés.")]
        return []
    point_commune, point_departement, where = places.commune_at_point(lon, lat, postcode, record["commune"])
    far = f"à {_kilometres(distance)} du centre de la commune" if distance is not None else "loin de la commune"
    point_text = f"Le point ({lat}, {lon}) est {where}, {far} {places.describe(code)} du code INSEE"
    if places.departement(code) in departements and point_departement not in departements:
        record["latitude"] = record["longitude"] = None
        record["geocoding_score"] = None
        return [("latitude", f"{lat}, {lon}", f"{point_text} ; le code INSEE et le code postal {postcode} "
                 "concordent : point écarté (l'adresse sera géocodée).")]
    if point_commune is None:
        if point_departement is None:  # the point is nowhere in France: the code stands, without the point
            record["latitude"] = record["longitude"] = None
            return [("latitude", f"{lat}, {lon}", f"{point_text} : point écarté, code INSEE gardé.")]
        record["code_insee"] = None  # found later from the postcode and name, if they say
        return [("code_insee", code, f"{point_text} ; le code INSEE est écarté (aucune commune "
                 f"{overseas.IN_COLLECTIVITY.get(point_departement, '')} au code postal {postcode} "
                 f"et au nom « {record['commune']} »).")]
    record["code_insee"] = point_commune
    backed = "le code postal " + postcode + (" concorde avec le point" if point_departement in departements
                                              else " ne tranche pas")
    return [("code_insee", code, f"{point_text} ; {backed} : code INSEE remplacé par {places.describe(point_commune)}.")]
