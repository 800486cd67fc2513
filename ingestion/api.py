"""The ingestion package's public entry point: territory loading, venue imports and geocoding for other packages."""

from __future__ import annotations

from ingestion.geocoding import GeocodeResult, geocode_one
from ingestion.import_summary import FileSummary, ImportSummary
from ingestion.publication import SCHEDULED_JOBS, publish
from ingestion.territory_copy import TERRITORIES_DIR
from ingestion.territory_load import load_territories
from ingestion.venue_import import import_venues

__all__ = [
    "TERRITORIES_DIR",
    "FileSummary",
    "GeocodeResult",
    "ImportSummary",
    "geocode_one",
    "import_venues",
    "load_territories",
    "publish",
    "SCHEDULED_JOBS",
]
