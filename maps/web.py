"""Public pages and JSON API of the cartography."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("maps", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/maps")

# OpenAPI path items of this blueprint's JSON API, merged by aptic.web into /api/v1/openapi.json.
OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}
