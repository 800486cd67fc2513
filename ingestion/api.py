"""The ingestion package's public entry point: territories, venue imports and geocoding for other packages."""

from __future__ import annotations

from ingestion.geocoding import GeocodeResult, geocode_one, geocoder
from ingestion.import_summary import BUCKET_LABELS, BUCKETS, FileSummary, ImportSummary
from ingestion.territory_copy import TERRITORIES_DIR
from ingestion.territory_load import load_territories
from ingestion.venue_import import PLATFORM_SOURCE, import_venues

__all__ = [
    "BUCKETS",
    "BUCKET_LABELS",
    "PLATFORM_SOURCE",
    "TERRITORIES_DIR",
    "FileSummary",
    "GeocodeResult",
    "ImportSummary",
    "geocode_one",
    "geocoder",
    "import_venues",
    "load_territories",
]
