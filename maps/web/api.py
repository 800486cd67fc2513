"""JSON API of the public cartography: nearby search, venue and territory records, map data, coverage."""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from directory import api
from directory.db import utcnow
from directory.errors import InvalidInput
from directory.web import request_session
from maps import api as maps_api
from maps.web.coverage_pages import _coverage_request
from maps.web.inputs import _bad_parameter, run_nearby_search
from maps.web.pages import bp
from maps.web.serialise import _feature, nearby_collection, venue_properties


@bp.get("/api/v1/venues/nearby")
def api_nearby() -> Response:
    return jsonify(nearby_collection(run_nearby_search(request_session())))


@bp.get("/api/v1/venues/<int:venue_id>")
def api_venue(venue_id: int) -> Response:
    session = request_session()
    venue = maps_api.public_venue(session, venue_id)
    now = utcnow()
    lon, lat = api.venue_coordinates(venue) or (None, None)
    properties = venue_properties(venue, api.is_open_at(venue, now))
    week = api.week_hours(venue, now.astimezone(api.venue_timezone(venue)).date())
    properties["semaine"] = (
        [{"jour": day.day.isoformat(), "periodes": [list(p) for p in day.periods]} for day in week] if week else None
    )
    feature = _feature(lon, lat, properties) if lon is not None else {
        "type": "Feature", "id": venue.id, "geometry": None, "properties": properties,
    }
    return jsonify(feature)


@bp.get("/api/v1/territories/<level>/<code>")
def api_territory(level: str, code: str) -> Response:
    session = request_session()
    try:
        territory = api.territory_by_code(session, level, code)
    except InvalidInput as error:
        error.status = 400
        raise
    overview = maps_api.territory_overview(session, territory)
    return jsonify({
        "niveau": territory.level.value,
        "code": territory.code,
        "nom": territory.name,
        "population": territory.population,
        "code_region": territory.region_code,
        "code_departement": territory.departement_code,
        "code_epci": territory.epci_code,
        "lieux_qualifies": overview.venue_count,
        "url": url_for("maps.territory_page", level=territory.level.value, code=territory.code, _external=True),
    })


@bp.get("/api/v1/map/counts")
def api_map_counts() -> Response:
    level = request.args.get("level", "region")
    try:
        bubbles = maps_api.map_bubbles(request_session(), level)
    except InvalidInput as error:
        error.status = 400
        raise
    except ValueError:
        raise _bad_parameter("level", f"Le niveau « {level} » n'existe pas : « region » ou « departement ».") from None
    response = jsonify({"niveau": level, "territoires": bubbles})
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/api/v1/map/venues")
def api_map_venues() -> Response:
    try:
        bbox = maps_api.parse_bbox(request.args.get("bbox", ""))
    except InvalidInput as error:
        error.status = 400
        raise
    venues, truncated = maps_api.venues_in_bbox(request_session(), bbox)
    prefix = url_for("maps.venue_page", venue_id=0)[:-1]
    response = jsonify({
        "type": "FeatureCollection",
        "tronque": truncated,
        "features": [
            {
                "type": "Feature",
                "id": v["id"],
                "geometry": {"type": "Point", "coordinates": [round(v["lon"], 6), round(v["lat"], 6)]},
                "properties": {"id": v["id"], "nom": v["nom"], "commune": v["commune"], "url": f"{prefix}{v['id']}"},
            }
            for v in venues
        ],
    })
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/api/v1/territories/<territory_level>/<code>/coverage")
def api_coverage(territory_level: str, code: str) -> Response:
    session, area, selected_level, distance_km = _coverage_request(territory_level, code)
    figures = maps_api.coverage_figures(
        session, area,
        levels=(selected_level,) if selected_level else maps_api.COVERAGE_LEVELS,
        distances_km=(distance_km,) if distance_km else maps_api.COVERAGE_DISTANCES_KM,
    )
    figures["url"] = url_for("maps.coverage_page", territory_level=area.level, code=area.code, _external=True)
    return jsonify(figures)
