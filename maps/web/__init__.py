"""Web side of the public cartography: HTML pages on `bp` ("maps"), the documented JSON API on `api_bp`."""

from __future__ import annotations

from maps.web import coverage_pages, orientation_pages  # noqa: F401  (their routes join `bp`)
from maps.web.api import api_bp
from maps.web.pages import bp

__all__ = ["api_bp", "bp"]
