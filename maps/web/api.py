"""JSON API of the public cartography: nearby search, venue and territory records, map data, coverage."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, url_for

from directory import params
from directory.db import utcnow
from directory.http_cache import cacheable_json
from directory.models import TerritoryLevel
from directory.web import limit_anonymous, request_session
from maps.coverage import (
    COVERAGE_AREA_LEVELS,
    COVERAGE_DISTANCES_KM,
    COVERAGE_LEVELS,
    ZONE_BLANCHE_DISTANCE_KM,
    ZONE_BLANCHE_LEVEL,
    coverage_area,
    coverage_figures,
)
from maps.places import nearby_search
from maps.clusters import MAP_CLUSTER_THRESHOLD, MAP_MAX_CELLS, map_area
from maps.public import map_bubbles, public_venue, requested_territory, territory_overview
from maps.suggestions import place_suggestions
from maps.web.inputs import CoverageSelection, MapArea, MapCounts, NearbySearch, PlaceQuery
from maps.web.serialise import (
    CoverageSchema,
    MapBubblesSchema,
    MapAreaSchema,
    NearbyVenuesSchema,
    PlaceSuggestionsSchema,
    TerritorySchema,
    VenueFeatureSchema,
    map_area_collection,
    nearby_collection,
    suggestion_collection,
    territory_record,
    venue_feature,
)

api_bp = params.ApiBlueprint("maps_api", __name__, url_prefix="/api/v1",
                             description="Cartographie publique : lieux qualifiés, territoires, carte, couverture.")

TERRITORY_PATH = [
    {"in": "path", "name": "level", "schema": {"type": "string", "enum": [level.value for level in TerritoryLevel]}},
    {"in": "path", "name": "code", "schema": {"type": "string"}, "description": "Code INSEE (COG 2026)"},
]
COVERAGE_PATH = [
    {"in": "path", "name": "level", "schema": {"type": "string", "enum": list(COVERAGE_AREA_LEVELS)},
     "description": "Niveau du territoire ; « france » avec le code FR ; « zone » pour une zone personnalisée"},
    {"in": "path", "name": "code", "schema": {"type": "string"},
     "description": "Code INSEE (COG 2026), SIREN de l'EPCI, FR, ou pour une zone une liste niveau:code séparée "
                    "par des virgules (ex. departement:33,commune:17300)"},
]
MAP_CACHE_SECONDS = 300


def _cached(payload: dict[str, Any]) -> Response:
    """The map's data may be cached for a few minutes (with an ETag): it changes with the weekly rebuild."""
    return cacheable_json(payload, max_age=MAP_CACHE_SECONDS)


@api_bp.route("/venues/nearby", tags=["Lieux"])
@api_bp.doc(summary="Lieux qualifiés APTIC autour d'un point, d'une commune, d'un code postal ou d'une adresse",
            description="Seuls les lieux de la cartographie publique (qualifiés, non fermés) sont renvoyés, du plus "
                        "proche au plus loin ; les distances sont en mètres sur l'ellipsoïde WGS84.")
@api_bp.arguments(NearbySearch, location="query")
@api_bp.response(200, NearbyVenuesSchema, description="Collection GeoJSON des lieux, triée par distance")
@api_bp.errors(400, 429, codes={
    429: ["rate_limited"],
    400: ["required", "invalid_parameter", "invalid_latitude", "invalid_longitude", "unknown_place", "ambiguous_place",
          "invalid_radius", "invalid_limit", "invalid_offset", "invalid_level", "unknown_service",
          "invalid_filter_value", "invalid_open_at"],
})
def nearby(search: dict[str, Any]) -> Response:
    return jsonify(nearby_collection(nearby_search(
        request_session(), **search, before_geocoding=limit_anonymous("geocoding", "GEOCODING_RATE_LIMIT"))))


@api_bp.route("/adresses", tags=["Lieux"])
@api_bp.doc(summary="Suggestions pour la recherche : communes (hors ligne, fautes tolérées) puis adresses",
            description="Les communes viennent des territoires de la plateforme, avec leur département "
                        "(« Saint-Denis (93) »). Les adresses viennent du service d'adresses configuré, mis en "
                        "cache ; ses appels sont limités par client. Quand il ne répond pas, seules les communes "
                        "sont proposées et « avertissement » le dit (jamais d'erreur 5xx).")
@api_bp.arguments(PlaceQuery, location="query")
@api_bp.response(200, PlaceSuggestionsSchema, description="Les suggestions, les meilleures d'abord")
@api_bp.errors(400, 429, codes={400: ["invalid_parameter"], 429: ["rate_limited"]})
def place_suggestions_view(query: dict[str, Any]) -> Response:
    found = place_suggestions(request_session(), query["q"] or "", geocoder_url=current_app.config["GEOCODER_URL"],
                              before_geocoding=limit_anonymous("autocomplete", "AUTOCOMPLETE_RATE_LIMIT"))
    response = jsonify(suggestion_collection(found))
    response.cache_control.private = True
    response.cache_control.max_age = 300
    return response


@api_bp.route("/venues/<int:venue_id>", tags=["Lieux"])
@api_bp.doc(summary="Fiche d'un lieu de la cartographie publique")
@api_bp.response(200, VenueFeatureSchema, description="Le lieu (Feature GeoJSON) avec ses horaires de la semaine")
@api_bp.errors(404, codes={404: ["unknown_venue"]})
def venue(venue_id: int) -> Response:
    return jsonify(venue_feature(public_venue(request_session(), venue_id), utcnow()))


@api_bp.route("/territories/<level>/<code>", tags=["Territoires"], parameters=TERRITORY_PATH)
@api_bp.doc(summary="Un territoire (région, département, EPCI, commune) et son nombre de lieux qualifiés")
@api_bp.response(200, TerritorySchema, description="Le territoire")
@api_bp.errors(400, 404, codes={400: ["invalid_territory_level", "invalid_insee_code"],
                                404: ["unknown_territory", "unknown_insee_code"]})
def territory(level: str, code: str) -> Response:
    session = request_session()
    return jsonify(territory_record(territory_overview(session, requested_territory(session, level, code))))


@api_bp.route("/map/counts", tags=["Carte"])
@api_bp.doc(summary="Nombre de lieux publiés par région ou par département (bulles de la carte)")
@api_bp.arguments(MapCounts, location="query")
@api_bp.response(200, MapBubblesSchema, description="Une entrée par territoire ayant au moins un lieu")
@api_bp.errors(400, codes={400: ["invalid_parameter", "invalid_bubble_level"]})
def map_counts(query: dict[str, Any]) -> Response:
    return _cached({"niveau": query["level"], "territoires": map_bubbles(request_session(), query["level"])})


@api_bp.route("/map/venues", tags=["Carte"])
@api_bp.doc(summary="Lieux publiés dans la zone visible de la carte, ou leurs groupes (GeoJSON léger)",
            description=f"Jusqu'à {MAP_CLUSTER_THRESHOLD} lieux dans le cadre, chacun est renvoyé (« contenu » : "
                        "« lieux »). Au-delà, les lieux sont comptés par maille d'une grille fixe (« contenu » : "
                        f"« groupes », au plus {MAP_MAX_CELLS} mailles dans le cadre) : chaque groupe est placé à la "
                        "position moyenne de ses lieux, avec leur nombre et leur emprise ; un lieu seul dans sa maille "
                        "reste un lieu. La réponse reste ainsi légère quelle que soit la zone.")
@api_bp.arguments(MapArea, location="query")
@api_bp.response(200, MapAreaSchema, description="Collection GeoJSON des lieux ou des groupes de la zone")
@api_bp.errors(400, codes={400: ["invalid_bbox", "invalid_zoom", "invalid_parameter"]})
def map_venues(query: dict[str, Any]) -> Response:
    return _cached(map_area_collection(map_area(request_session(), query["bbox"], query["zoom"],
                                                accepting_pass=query["accepte_pass"])))


@api_bp.route("/territories/<level>/<code>/coverage", tags=["Territoires"], parameters=COVERAGE_PATH)
@api_bp.doc(summary="Couverture territoriale : population à proximité d'un lieu publié, zones blanches, densité",
            description="Chiffres de la dernière reconstruction hebdomadaire de la cartographie. La population d'une "
                        "commune est placée à son centre (mairie) ; les distances sont mesurées sur l'ellipsoïde "
                        "WGS84. « au_dela » : pour chaque niveau et distance, communes et habitants plus loin "
                        "(avec la phrase de la page). Zones blanches : communes à plus de `distance_km` de tout lieu "
                        f"de niveau `level` (sans sélection : {ZONE_BLANCHE_DISTANCE_KM} km, niveau "
                        f"{ZONE_BLANCHE_LEVEL}).")
@api_bp.arguments(CoverageSelection, location="query")
@api_bp.response(200, CoverageSchema, description="Les chiffres de couverture du territoire")
@api_bp.errors(400, 404, 503, codes={400: ["invalid_service_level", "invalid_distance", "invalid_area"],
                                     404: ["unknown_territory", "unknown_territory_level"],
                                     503: ["coverage_not_computed"]})
def coverage(selection: dict[str, Any], level: str, code: str) -> Response:
    session = request_session()
    area = coverage_area(session, level, code)
    figures = coverage_figures(
        session, area,
        levels=(selection["level"],) if selection["level"] else COVERAGE_LEVELS,
        distances_km=(selection["distance_km"],) if selection["distance_km"] else COVERAGE_DISTANCES_KM,
        zone_level=selection["level"] or ZONE_BLANCHE_LEVEL,
        zone_distance_km=selection["distance_km"] or ZONE_BLANCHE_DISTANCE_KM,
    )
    figures["url"] = url_for("maps.coverage_page", territory_level=area.level, code=area.code, _external=True)
    return jsonify(figures)
