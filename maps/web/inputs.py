"""Declared inputs of the cartography's pages and JSON API: each query string parsed and documented once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow

from directory import api, params
from directory.boundaries import MAX_ZOOM, MIN_ZOOM, clean_zoom
from maps.clusters import MAP_MAX_CELLS
from maps.coverage import MAX_COVERAGE_DISTANCE_KM, ZONE_BLANCHE_LEVEL, coverage_distance_km, coverage_level
from maps.orientation import NEEDS, SKILLS, WHEN
from maps.public import parse_bbox

COVERAGE_PAGE_LEVEL = ZONE_BLANCHE_LEVEL
COVERAGE_PAGE_DISTANCE_KM = 10.0


def _standard_values(parameter: str) -> params.TextList:
    column, values = api.NEARBY_LIST_FILTERS[parameter]
    return params.TextList(description=f"Valeur de « {column} » exigée ; répétable", values=values)


class NearbySearch(params.Schema):
    """The nearby search, of the API and of the home page."""

    lat = params.Number(description="Latitude WGS84 (avec lon)", metadata={"minimum": -90, "maximum": 90})
    lon = params.Number(description="Longitude WGS84 (avec lat)", metadata={"minimum": -180, "maximum": 180})
    q = params.Text(description="Commune (fautes de frappe tolérées ; « Saint-Denis (93) » pour un homonyme), "
                                "code postal, « Marseille 13001 », « Paris 15e » ou adresse ; avec lat/lon, le nom "
                                "du point")
    commune = params.Text(description="Code INSEE de la commune choisie parmi les homonymes (prioritaire sur q)")
    radius_km = params.Number(
        description="Rayon en kilomètres",
        metadata={"exclusiveMinimum": 0, "maximum": api.NEARBY_MAX_RADIUS_KM, "default": api.NEARBY_DEFAULT_RADIUS_KM},
    )
    limit = params.Integer(
        description="Nombre maximal de lieux",
        metadata={"minimum": 1, "maximum": api.NEARBY_MAX_LIMIT, "default": api.NEARBY_DEFAULT_LIMIT},
    )
    offset = params.Integer(
        description="Nombre de lieux à sauter (les plus proches) : la page suivante commence à « recherche.suivant »",
        metadata={"minimum": 0, "maximum": api.NEARBY_MAX_OFFSET, "default": 0},
    )
    service = params.TextList(description="Service du référentiel (slug) ; répétable : tous sont exigés")
    level = params.Integer(description="Niveau du référentiel (au moins un service de ce niveau)",
                           metadata={"enum": [1, 2, 3]})
    fees = _standard_values("fees")
    support = _standard_values("support")
    public = _standard_values("public")
    care = _standard_values("care")
    open_now = params.Flag(description="Ouvert maintenant (horaires OpenStreetMap)")
    open_at = params.LocalDateTime(description="Ouvert à cette date et heure ISO 8601 (heure de Paris sans décalage)")
    accepts_pass = params.Flag(description="Accepte le pass numérique APTIC")


class PlaceQuery(params.Schema):
    """The autocomplete of the search box."""

    q = params.Text(description="Début d'une commune, d'un code postal ou d'une adresse (2 caractères au moins ; "
                                "au-delà de 200, le texte est coupé)")


class OrientationAnswers(params.Schema):
    """The answers of the orientation flow (nothing about the person: what they want, what they can do, where, when)."""

    besoin = params.TextList(description="Ce que la personne veut faire ; répétable", values=list(NEEDS))
    sait = params.Text(description="Ce qu'elle sait déjà faire", metadata={"enum": list(SKILLS)})
    q = params.Text(description="Commune, code postal ou adresse")
    lat = params.Number(metadata={"minimum": -90, "maximum": 90})
    lon = params.Number(metadata={"minimum": -180, "maximum": 180})
    commune = params.Text(description="Code INSEE d'une commune choisie parmi les homonymes")
    quand = params.Text(load_default="", description="Quand elle peut y aller", metadata={"enum": list(WHEN)})
    care = _standard_values("care")


class SearchPoint(params.Schema):
    """The searched point a venue page was opened from, to show how far the venue is."""

    lat = params.Number()
    lon = params.Number()


class EmbedArea(params.Schema):
    """The territory of an embedded map: an INSEE code and, when ambiguous, its level."""

    territoire = params.Text()
    niveau = params.Text()
    # Printed on the pass booklets' covers (redemption/covers.py): only the venues where its cheques are taken.
    accepte_pass = params.Flag(description="Seulement les lieux qui acceptent le pass numérique APTIC")


class MapCounts(params.Schema):
    level = params.Text(load_default="region", description="Niveau des bulles",
                        metadata={"enum": ["region", "departement"]})


# The coverage's and the map's own checks (and error codes) stay the domain's: these fields call them,
# and the domain's InvalidInput passes through marshmallow untouched.


class CoverageLevel(params.Integer):
    """A level of the referential, 1 to 3 (`invalid_service_level` otherwise)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        return coverage_level(value)


class CoverageDistance(params.Number):
    """Kilometres, above 0 and at most 200 (`invalid_distance` otherwise)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> float:
        return coverage_distance_km(value)


class BoundingBox(params.Text):
    """`ouest,sud,est,nord` in degrees, required; absent, blank or bad, it is refused with `invalid_bbox`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=True, load_default=marshmallow.missing, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> tuple[float, float, float, float]:
        return parse_bbox("" if value is marshmallow.missing else str(value))


class MapZoom(params.Integer):
    """The map's zoom, optional, checked as the boundaries' one (`invalid_zoom`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        return clean_zoom(value)


class MapArea(params.Schema):
    bbox = BoundingBox(description="ouest,sud,est,nord en degrés WGS84")
    zoom = MapZoom(description="Zoom de la carte : la maille des groupes fait alors 64 pixels (un quart de tuile) ; "
                               f"sans zoom, la plus fine qui donne au plus {MAP_MAX_CELLS} mailles dans le cadre",
                   metadata={"minimum": MIN_ZOOM, "maximum": MAX_ZOOM})
    accepte_pass = params.Flag(description="Seulement les lieux où les chèques du pass sont encaissés")


class CoverageSelection(params.Schema):
    """The coverage API: without a level or a distance, every level or the usual distances."""

    level = CoverageLevel(description="Niveau du référentiel (par défaut : les trois)", metadata={"enum": [1, 2, 3]})
    distance_km = CoverageDistance(description="Distance en kilomètres (par défaut : 5, 10 et 20)",
                                   metadata={"exclusiveMinimum": 0, "maximum": MAX_COVERAGE_DISTANCE_KM})


class CoveragePageSelection(params.Schema):
    """The coverage pages and downloads show one level within one distance."""

    level = CoverageLevel(load_default=COVERAGE_PAGE_LEVEL)
    distance_km = CoverageDistance(load_default=COVERAGE_PAGE_DISTANCE_KM)
