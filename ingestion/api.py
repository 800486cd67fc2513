"""The ingestion package's public entry point: territory loading, venue imports and geocoding for other packages."""

from __future__ import annotations

from ingestion.errors import GeocoderUnavailable
from ingestion.geocoding import AddressSuggestion, GeocodeResult, geocode_one, suggest_addresses
from ingestion.import_summary import FileSummary, ImportSummary
from ingestion.publication import SCHEDULED_JOBS, publish
from ingestion.territory_copy import TERRITORIES_DIR
from ingestion.territory_load import load_territories
from ingestion.venue_import import import_venues

__all__ = [
    "TERRITORIES_DIR",
    "AddressSuggestion",
    "FileSummary",
    "GeocoderUnavailable",
    "GeocodeResult",
    "ImportSummary",
    "geocode_one",
    "import_venues",
    "load_territories",
    "suggest_addresses",
    "publish",
    "SCHEDULED_JOBS",
]
