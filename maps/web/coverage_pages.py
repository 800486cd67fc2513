"""Coverage pages of a territory or zone: figures, map, CSV and GeoJSON downloads."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, render_template, url_for
from sqlalchemy.orm import Session

from directory import basemap, params
from directory.web import request_session
from maps.coverage import (
    COVERAGE_AREA_LABELS,
    COVERAGE_DISTANCES_KM,
    CoverageArea,
    coverage_area,
    coverage_figures,
    latest_coverage_refresh,
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
from maps.public import service_levels
from maps.web.inputs import CoveragePageSelection
from maps.web.pages import bp

COVERAGE_PAGE_ZONES_BLANCHES = 200


def _coverage_request(territory_level: str, code: str) -> tuple[Session, CoverageArea, int, float]:
    session = request_session()
    selection = params.parse(CoveragePageSelection)
    return session, coverage_area(session, territory_level, code), selection["level"], selection["distance_km"]


@bp.get("/couverture/<territory_level>/<code>")
def coverage_page(territory_level: str, code: str) -> str:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    distances = tuple(sorted({*COVERAGE_DISTANCES_KM, distance_km}))
    figures = coverage_figures(session, area, distances_km=distances, zone_level=selected_level,
                               zone_distance_km=distance_km)
    lead = next(item for item in figures["au_dela"]
                if item["niveau"] == selected_level and item["distance_km"] == distance_km)
    unit_level = coverage_unit_level(session, area)
    units = coverage_units(session, area, selected_level, distance_km)
    venues = coverage_venues(session, area, selected_level)
    fmap = coverage_map(units, venues, selected_level, distance_km, unit_level)
    selection = {"level": selected_level, "distance_km": f"{distance_km:g}"}
    return render_template(
        "maps/coverage.html",
        area=area,
        area_label=COVERAGE_AREA_LABELS[area.level],
        figures=figures,
        lead=lead,
        refresh=latest_coverage_refresh(session),
        map=basemap.page_parts(fmap),
        unit_level=unit_level,
        selected_level=selected_level,
        distance_km=distance_km,
        distances=distances,
        distance_choices=sorted({5, 10, 15, 20, 30, distance_km}),
        levels=service_levels(session),
        zones_shown=COVERAGE_PAGE_ZONES_BLANCHES,
        csv_url=url_for("maps.coverage_csv", territory_level=area.level, code=area.code, **selection),
        geojson_url=url_for("maps.coverage_geojson", territory_level=area.level, code=area.code, **selection),
        # The API's path names the territory's level `level`, as its query names the referential's.
        api_url=f"{url_for('maps_api.coverage', level=area.level, code=area.code)}?{urlencode(selection)}",
    )


def _download_name(area: CoverageArea, extension: str) -> str:
    code = area.code if area.level != "zone" else "zone"
    return f"couverture-{area.level}-{code.replace(':', '-').replace(',', '_')[:80]}.{extension}"


@bp.get("/couverture/<territory_level>/<code>/export.csv", endpoint="coverage_csv")
def coverage_csv_download(territory_level: str, code: str) -> Response:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    latest_coverage_refresh(session)  # a 503 rather than an empty file before the first refresh
    return Response(
        coverage_csv(coverage_communes(session, area, selected_level, distance_km)), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_download_name(area, "csv")}"'},
    )


@bp.get("/couverture/<territory_level>/<code>/export.geojson", endpoint="coverage_geojson")
def coverage_geojson_download(territory_level: str, code: str) -> Response:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    figures = coverage_figures(session, area, levels=(selected_level,), distances_km=(distance_km,),
                               zone_level=selected_level, zone_distance_km=distance_km)
    units = coverage_units(session, area, selected_level, distance_km)
    return Response(
        coverage_geojson(units, figures, selected_level, distance_km), mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="{_download_name(area, "geojson")}"'},
    )
