"""The public cartography's entry point for other packages and the shell: re-exports of its domain modules.

Inside `maps`, modules import each other directly; this module only gathers what others call.
"""

from __future__ import annotations

from maps.clusters import MAP_CLUSTER_THRESHOLD, map_area
from maps.coverage import (
    COVERAGE_AREA_LABELS,
    COVERAGE_AREA_LEVELS,
    COVERAGE_DISTANCES_KM,
    COVERAGE_LEVELS,
    MAX_COVERAGE_DISTANCE_KM,
    ZONE_BLANCHE_DISTANCE_KM,
    ZONE_BLANCHE_LEVEL,
    CoverageArea,
    coverage_area,
    coverage_distance_km,
    coverage_figures,
    coverage_level,
    latest_coverage_refresh,
    nearest_distances_m,
    refresh_coverage,
)
from maps.coverage_exports import (
    coverage_communes,
    coverage_csv,
    coverage_geojson,
    coverage_map,
    coverage_unit_level,
    coverage_units,
    coverage_venues,
)
from maps.fragility import FRAGILITY_INDICATORS, load_fragility_index
from maps.places import nearby_search, search_place
from maps.public import (
    TerritoryOverview,
    map_bubbles,
    open_reports,
    parse_bbox,
    public_venue,
    published_venue_counts,
    published_venues_in,
    report_venue_error,
    service_levels,
    territory_bounds,
    territory_overview,
)
from maps.rebuild import (
    REBUILD_CRON,
    REBUILD_STEPS,
    RebuildContext,
    cartography_runs,
    last_successful_rebuild,
    publishable,
    rebuild_cartography,
)
from maps.scheduling import SCHEDULED_JOBS, CatchUpCronTrigger, CatchUpJob

__all__ = [
    "COVERAGE_AREA_LABELS",
    "COVERAGE_AREA_LEVELS",
    "COVERAGE_DISTANCES_KM",
    "COVERAGE_LEVELS",
    "FRAGILITY_INDICATORS",
    "MAP_CLUSTER_THRESHOLD",
    "MAX_COVERAGE_DISTANCE_KM",
    "REBUILD_CRON",
    "REBUILD_STEPS",
    "SCHEDULED_JOBS",
    "ZONE_BLANCHE_DISTANCE_KM",
    "ZONE_BLANCHE_LEVEL",
    "CatchUpCronTrigger",
    "CatchUpJob",
    "CoverageArea",
    "RebuildContext",
    "TerritoryOverview",
    "cartography_runs",
    "coverage_area",
    "coverage_communes",
    "coverage_csv",
    "coverage_distance_km",
    "coverage_figures",
    "coverage_geojson",
    "coverage_level",
    "coverage_map",
    "coverage_unit_level",
    "coverage_units",
    "coverage_venues",
    "last_successful_rebuild",
    "latest_coverage_refresh",
    "load_fragility_index",
    "map_area",
    "map_bubbles",
    "nearby_search",
    "nearest_distances_m",
    "open_reports",
    "parse_bbox",
    "public_venue",
    "publishable",
    "published_venue_counts",
    "published_venues_in",
    "rebuild_cartography",
    "refresh_coverage",
    "report_venue_error",
    "search_place",
    "service_levels",
    "territory_bounds",
    "territory_overview",
]
