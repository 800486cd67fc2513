"""Coverage pages of a territory or zone: figures, map, CSV and GeoJSON downloads."""

from __future__ import annotations

from flask import Response, render_template, request, url_for
from sqlalchemy.orm import Session

from directory.web import request_session
from maps import api as maps_api
from maps.rendering import page_parts
from maps.web.pages import bp

COVERAGE_DEFAULT_LEVEL = maps_api.ZONE_BLANCHE_LEVEL
COVERAGE_DEFAULT_DISTANCE_KM = 10.0
COVERAGE_PAGE_ZONES_BLANCHES = 200


def _coverage_request(territory_level: str, code: str) -> tuple[Session, maps_api.CoverageArea, int | None, float | None]:
    session = request_session()
    selected_level, distance_km = maps_api.parse_coverage_selection(
        request.args.get("level"), request.args.get("distance_km")
    )
    return session, maps_api.coverage_area(session, territory_level, code), selected_level, distance_km


@bp.get("/couverture/<territory_level>/<code>")
def coverage_page(territory_level: str, code: str) -> str:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    selected_level = selected_level or COVERAGE_DEFAULT_LEVEL
    distance_km = distance_km or COVERAGE_DEFAULT_DISTANCE_KM
    distances = tuple(sorted({*maps_api.COVERAGE_DISTANCES_KM, distance_km}))
    figures = maps_api.coverage_figures(session, area, distances_km=distances)
    unit_level = maps_api.coverage_unit_level(session, area)
    units = maps_api.coverage_units(session, area, selected_level, distance_km)
    venues = maps_api.coverage_venues(session, area, selected_level)
    fmap = maps_api.coverage_map(units, venues, selected_level, distance_km, unit_level)
    selection = {"level": selected_level, "distance_km": f"{distance_km:g}"}
    return render_template(
        "maps/coverage.html",
        area=area,
        area_label=maps_api.COVERAGE_AREA_LABELS[area.level],
        figures=figures,
        refresh=maps_api.latest_coverage_refresh(session),
        map=page_parts(fmap),
        unit_level=unit_level,
        selected_level=selected_level,
        distance_km=distance_km,
        distances=distances,
        distance_choices=sorted({5, 10, 15, 20, 30, distance_km}),
        levels=maps_api.service_levels(session),
        zones_shown=COVERAGE_PAGE_ZONES_BLANCHES,
        csv_url=url_for("maps.coverage_csv", territory_level=area.level, code=area.code, **selection),
        geojson_url=url_for("maps.coverage_geojson", territory_level=area.level, code=area.code, **selection),
        api_url=url_for("maps.api_coverage", territory_level=area.level, code=area.code, **selection),
    )


def _download_name(area: maps_api.CoverageArea, extension: str) -> str:
    code = area.code if area.level != "zone" else "zone"
    return f"couverture-{area.level}-{code.replace(':', '-').replace(',', '_')[:80]}.{extension}"


@bp.get("/couverture/<territory_level>/<code>/export.csv")
def coverage_csv(territory_level: str, code: str) -> Response:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    maps_api.latest_coverage_refresh(session)  # a 503 rather than an empty file before the first refresh
    communes = maps_api.coverage_communes(
        session, area, selected_level or COVERAGE_DEFAULT_LEVEL, distance_km or COVERAGE_DEFAULT_DISTANCE_KM
    )
    return Response(
        maps_api.coverage_csv(communes), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_download_name(area, "csv")}"'},
    )


@bp.get("/couverture/<territory_level>/<code>/export.geojson")
def coverage_geojson(territory_level: str, code: str) -> Response:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    selected_level = selected_level or COVERAGE_DEFAULT_LEVEL
    distance_km = distance_km or COVERAGE_DEFAULT_DISTANCE_KM
    figures = maps_api.coverage_figures(session, area, levels=(selected_level,), distances_km=(distance_km,))
    units = maps_api.coverage_units(session, area, selected_level, distance_km)
    return Response(
        maps_api.coverage_geojson(units, figures, selected_level, distance_km), mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="{_download_name(area, "geojson")}"'},
    )
