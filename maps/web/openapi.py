"""Hand-written OpenAPI paths and schemas of the cartography's JSON API (until they are generated)."""

from __future__ import annotations

from typing import Any

from directory import api
from directory.models import TerritoryLevel
from maps import api as maps_api


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


def _list_query(name: str, description: str, values: tuple[str, ...]) -> dict[str, Any]:
    return _query(name, description, {"type": "array", "items": {"type": "string", "enum": list(values)}},
                  style="form", explode=True)


def _error_responses(*statuses: int) -> dict[str, Any]:
    labels = {400: "Paramètre invalide (le champ « field » le nomme)", 404: "Introuvable"}
    return {
        str(status): {"description": labels[status],
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for status in statuses
    }


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


OPENAPI_PATHS: dict = {
    "/api/v1/venues/nearby": {"get": {
        "summary": "Lieux qualifiés APTIC autour d'un point, d'une commune, d'un code postal ou d'une adresse",
        "description": "Seuls les lieux de la cartographie publique (qualifiés, non fermés) sont renvoyés, "
                       "du plus proche au plus loin ; les distances sont en mètres sur l'ellipsoïde WGS84.",
        "tags": ["Lieux"],
        "parameters": [
            _query("lat", "Latitude WGS84 (avec lon)", {"type": "number", "minimum": -90, "maximum": 90}),
            _query("lon", "Longitude WGS84 (avec lat)", {"type": "number", "minimum": -180, "maximum": 180}),
            _query("q", "Commune, code postal ou adresse (si lat/lon absents)", {"type": "string"}),
            _query("radius_km", "Rayon en kilomètres", {"type": "number", "exclusiveMinimum": 0,
                                                          "maximum": api.NEARBY_MAX_RADIUS_KM,
                                                          "default": api.NEARBY_DEFAULT_RADIUS_KM}),
            _query("limit", "Nombre maximal de lieux", {"type": "integer", "minimum": 1, "maximum": api.NEARBY_MAX_LIMIT,
                                                        "default": api.NEARBY_DEFAULT_LIMIT}),
            _query("service", "Service du référentiel (slug) ; répétable : tous sont exigés",
                   {"type": "array", "items": {"type": "string"}}, style="form", explode=True),
            _query("level", "Niveau du référentiel (au moins un service de ce niveau)", {"type": "integer", "enum": [1, 2, 3]}),
            *(_list_query(name, f"Valeur de « {column} » exigée ; répétable", values)
              for name, (column, values) in api.NEARBY_LIST_FILTERS.items()),
            _query("open_now", "Ouvert maintenant (horaires OpenStreetMap)", {"type": "boolean"}),
            _query("open_at", "Ouvert à cette date et heure ISO 8601 (heure de Paris sans décalage)",
                   {"type": "string", "format": "date-time"}),
            _query("accepts_pass", "Accepte le pass numérique APTIC", {"type": "boolean"}),
        ],
        "responses": {"200": _json("NearbyVenues", "Collection GeoJSON des lieux, triée par distance"),
                      **_error_responses(400)},
    }},
    "/api/v1/venues/{venue_id}": {"get": {
        "summary": "Fiche d'un lieu de la cartographie publique",
        "tags": ["Lieux"],
        "parameters": [{"name": "venue_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": _json("VenueFeature", "Le lieu (Feature GeoJSON) avec ses horaires de la semaine"),
                      **_error_responses(404)},
    }},
    "/api/v1/territories/{level}/{code}": {"get": {
        "summary": "Un territoire (région, département, EPCI, commune) et son nombre de lieux qualifiés",
        "tags": ["Territoires"],
        "parameters": [
            {"name": "level", "in": "path", "required": True,
             "schema": {"type": "string", "enum": [level.value for level in TerritoryLevel]}},
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "Code INSEE (COG 2026)"},
        ],
        "responses": {"200": _json("Territory", "Le territoire"), **_error_responses(404)},
    }},
    "/api/v1/map/counts": {"get": {
        "summary": "Nombre de lieux publiés par région ou par département (bulles de la carte)",
        "tags": ["Carte"],
        "parameters": [_query("level", "Niveau des bulles", {"type": "string", "enum": ["region", "departement"],
                                                              "default": "region"})],
        "responses": {"200": {"description": "Une entrée par territoire ayant au moins un lieu"},
                      **_error_responses(400)},
    }},
    "/api/v1/map/venues": {"get": {
        "summary": "Lieux publiés dans la zone visible de la carte (GeoJSON léger)",
        "tags": ["Carte"],
        "parameters": [_query("bbox", "ouest,sud,est,nord en degrés WGS84", {"type": "string"}, required=True)],
        "responses": {"200": {"description": "Collection GeoJSON ; « tronque » vaut true au-delà de "
                                             f"{maps_api.MAP_BBOX_MAX_VENUES} lieux"},
                      **_error_responses(400)},
    }},
}

_VENUE_PROPERTIES = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "nom": {"type": "string"},
        "distance_m": {"type": "number", "description": "Distance au point de recherche, en mètres"},
        "adresse": {"type": "object"},
        "services": {"type": "array", "items": {"type": "object", "properties": {
            "slug": {"type": "string"}, "nom": {"type": "string"}, "niveau": {"type": "integer"}}}},
        "niveaux": {"type": "array", "items": {"type": "integer"}},
        "horaires": {"type": ["string", "null"], "description": "Horaires au format OpenStreetMap opening_hours"},
        "ouvert_maintenant": {"type": ["boolean", "null"], "description": "null quand les horaires sont inconnus"},
        "accepte_pass": {"type": "boolean"},
        "url": {"type": "string", "format": "uri"},
    },
}
OPENAPI_SCHEMAS: dict = {
    "VenueFeature": {
        "type": "object",
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "integer"},
            "geometry": {"type": ["object", "null"]},
            "properties": _VENUE_PROPERTIES,
        },
    },
    "NearbyVenues": {
        "type": "object",
        "properties": {
            "type": {"const": "FeatureCollection"},
            "recherche": {"type": "object", "properties": {
                "lieu": {"type": "string"}, "lon": {"type": "number"}, "lat": {"type": "number"},
                "code_insee": {"type": ["string", "null"]}, "rayon_m": {"type": "number"},
                "nombre": {"type": "integer"}}},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/VenueFeature"}},
        },
    },
    "Territory": {
        "type": "object",
        "properties": {
            "niveau": {"type": "string"}, "code": {"type": "string"}, "nom": {"type": "string"},
            "population": {"type": "integer"}, "code_region": {"type": ["string", "null"]},
            "code_departement": {"type": ["string", "null"]}, "code_epci": {"type": ["string", "null"]},
            "lieux_qualifies": {"type": "integer"}, "url": {"type": "string", "format": "uri"},
        },
    },
}


OPENAPI_PATHS.update({
    "/api/v1/territories/{level}/{code}/coverage": {"get": {
        "summary": "Couverture territoriale : population à proximité d'un lieu publié, zones blanches, densité",
        "description": "Chiffres de la dernière reconstruction hebdomadaire de la cartographie. La population d'une "
                       "commune est placée à son centre (mairie) ; les distances sont mesurées sur l'ellipsoïde "
                       f"WGS84. Zones blanches : communes à plus de {maps_api.ZONE_BLANCHE_DISTANCE_KM} km de tout "
                       f"lieu de niveau {maps_api.ZONE_BLANCHE_LEVEL}.",
        "tags": ["Territoires"],
        "parameters": [
            {"name": "level", "in": "path", "required": True,
             "schema": {"type": "string", "enum": list(maps_api.COVERAGE_AREA_LEVELS)},
             "description": "Niveau du territoire ; « france » avec le code FR ; « zone » pour une zone personnalisée"},
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "Code INSEE (COG 2026), SIREN de l'EPCI, FR, ou pour une zone une liste niveau:code "
                            "séparée par des virgules (ex. departement:33,commune:17300)"},
            _query("level", "Niveau du référentiel (par défaut : les trois)", {"type": "integer", "enum": [1, 2, 3]}),
            _query("distance_km", "Distance en kilomètres (par défaut : 5, 10 et 20)",
                   {"type": "number", "exclusiveMinimum": 0, "maximum": maps_api.MAX_COVERAGE_DISTANCE_KM}),
        ],
        "responses": {"200": _json("Coverage", "Les chiffres de couverture du territoire"),
                      **_error_responses(400, 404),
                      "503": {"description": "Chiffres pas encore calculés",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    }},
})
OPENAPI_SCHEMAS.update({
    "Coverage": {
        "type": "object",
        "properties": {
            "territoire": {"type": "object", "properties": {
                "niveau": {"type": "string"}, "code": {"type": "string"}, "nom": {"type": "string"}}},
            "calcule_le": {"type": "string", "format": "date-time"},
            "communes": {"type": "integer"},
            "population": {"type": "integer"},
            "population_sans_centre": {"type": "integer", "description": "Communes sans point central connu"},
            "lieux": {"type": "object", "properties": {
                "total": {"type": "integer"},
                "par_niveau": {"type": "object", "additionalProperties": {"type": "integer"}}}},
            "acces": {"type": "array", "items": {"type": "object", "properties": {
                "niveau": {"type": "integer"}, "distance_km": {"type": "number"}, "population": {"type": "integer"},
                "part": {"type": ["number", "null"], "description": "Entre 0 et 1"}}}},
            "zones_blanches": {"type": "object", "properties": {
                "definition": {"type": "string"}, "communes": {"type": "integer"}, "population": {"type": "integer"},
                "part": {"type": ["number", "null"]},
                "liste": {"type": "array", "items": {"type": "object", "properties": {
                    "code": {"type": "string"}, "nom": {"type": "string"}, "population": {"type": "integer"},
                    "distance_km": {"type": ["number", "null"]}, "indice_fragilite": {"type": ["number", "null"]}}}}}},
            "densite": {"type": "object", "properties": {
                "lieux_pour_10000": {"type": ["number", "null"]},
                "accessibilite_e2sfca": {"type": ["number", "null"],
                                         "description": "Lieux qualifiés accessibles pour 10 000 habitants (E2SFCA), "
                                                        "moyenne des communes pondérée par la population"},
                "comparaisons": {"type": "array", "items": {"type": "object", "properties": {
                    "niveau": {"type": "string"}, "code": {"type": "string"}, "nom": {"type": "string"},
                    "lieux": {"type": "integer"}, "population": {"type": "integer"},
                    "lieux_pour_10000": {"type": ["number", "null"]},
                    "accessibilite_e2sfca": {"type": ["number", "null"]}}}}}},
            "fragilite_numerique": {"type": ["object", "null"],
                                    "description": "Indice de fragilité numérique (1 faible à 10 forte), s'il est chargé"},
            "url": {"type": "string", "format": "uri"},
        },
    },
})
