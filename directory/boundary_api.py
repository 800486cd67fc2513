"""The boundaries endpoint every map draws its own outlines from (see directory/boundaries.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow
from flask import Response
from marshmallow import Schema, fields, validate

from directory import boundaries, params
from directory.http_cache import cacheable_json
from directory.models import TerritoryLevel

api_bp = params.ApiBlueprint("directory_api", __name__, url_prefix="/api/v1",
                             description="Contours des territoires pour les cartes.")
# Territories change once a year: a day in caches, revalidated with the ETag.
BOUNDARY_MAX_AGE = 24 * 3600


class Zoom(params.Integer):
    """The map's zoom, required, 0 to 18 (`invalid_zoom` otherwise)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=True, load_default=marshmallow.missing, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> int:
        return boundaries.clean_zoom("" if value is marshmallow.missing else value)


class Box(params.Text):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> tuple[float, float, float, float]:
        return boundaries.clean_bbox(value)


class Codes(params.Text):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> tuple:
        return boundaries.clean_codes(value)


class BoundaryQuery(params.Schema):
    zoom = Zoom(description="Niveau de zoom de la carte (0 à 18) : il fixe la simplification et l'arrondi",
                metadata={"minimum": boundaries.MIN_ZOOM, "maximum": boundaries.MAX_ZOOM})
    bbox = Box(description="ouest,sud,est,nord en degrés WGS84 (élargi à la grille des tuiles du zoom)")
    level = params.Text(description="Niveau des contours (par défaut : communes à partir du zoom "
                                    f"{boundaries.COMMUNE_MIN_ZOOM} avec une bbox, départements sinon)",
                        metadata={"enum": [level.value for level in TerritoryLevel]})
    codes = Codes(description=f"Seulement ces territoires (au plus {boundaries.MAX_CODES} codes, séparés par des virgules)")


class BoundariesSchema(Schema):
    type = fields.String(validate=validate.OneOf(["FeatureCollection"]))
    niveau = fields.String()
    zoom = fields.Integer()
    tronque = fields.Boolean(metadata={"description": f"Vrai quand plus de {boundaries.MAX_COMMUNES} communes "
                                                      "étaient demandées : aucune n'est alors envoyée"})
    features = fields.List(fields.Dict(), metadata={"description": "Contour simplifié, code, nom et niveau"})


@api_bp.route("/map/boundaries", tags=["Carte"])
@api_bp.doc(summary="Contours des départements (ou des communes au zoom rapproché), simplifiés pour le zoom",
            description="GeoJSON léger des limites administratives (COG 2026, IGN ADMIN EXPRESS), dessiné sous "
                        "chaque carte de la plateforme : la carte reste lisible sans fond de carte. Réponse "
                        "cachable (Cache-Control, ETag : 304 si inchangée).")
@api_bp.arguments(BoundaryQuery, location="query")
@api_bp.response(200, BoundariesSchema, description="Collection GeoJSON des contours",
                 content_type="application/geo+json")
@api_bp.errors(400, codes={400: ["invalid_parameter", "invalid_zoom", "invalid_bbox", "invalid_codes",
                                 "invalid_territory_level"]})
def map_boundaries(query: dict[str, Any]) -> Response:
    from directory.web import request_session

    collection = boundaries.boundary_collection(
        request_session(), zoom=query["zoom"], bbox=query["bbox"], level=query["level"], codes=query["codes"] or ())
    return cacheable_json(collection, max_age=BOUNDARY_MAX_AGE, mimetype="application/geo+json")
