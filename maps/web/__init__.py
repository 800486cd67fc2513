"""Web side of the public cartography: HTML pages and JSON API on the `maps` blueprint."""

from __future__ import annotations

from maps.web import api, coverage_pages  # noqa: F401  (their routes join the blueprint)
from maps.web.openapi import OPENAPI_PATHS, OPENAPI_SCHEMAS
from maps.web.pages import bp

__all__ = ["OPENAPI_PATHS", "OPENAPI_SCHEMAS", "bp"]
