"""Public pages and JSON API of the cartography."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import api
from directory.db import PARIS_TZ, geodesic_distance_m, point_wkt, utcnow
from directory.errors import DomainError, InvalidInput, NotFound
from directory.models import Role, Territory, TerritoryLevel, Venue
from directory.web import limiter, request_session, role_required
from ingestion import api as ingestion_api  # maps may read every package (DESIGN.md)
from maps import api as maps_api
from maps.models import REPORT_TOPIC_LABELS, RUN_STATUS_LABELS, ReportTopic
from maps.rendering import page_parts, venue_map

bp = Blueprint("maps", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/maps")

RADIUS_CHOICES_KM = (1, 2, 5, 10, 20, 50)
DATA_AGE_WARNING = timedelta(days=365)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
TRUE_VALUES = {"1", "true", "oui", "on", "yes"}
FALSE_VALUES = {"0", "false", "non", "off", "no", ""}


# ---------------------------------------------------------------------------- request parsing


def _bad_parameter(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, field=name, code="invalid_parameter", status=400)


def _arg_float(name: str) -> float | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise _bad_parameter(name, f"Le paramètre « {name} » doit être un nombre (reçu « {raw} »).") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _bad_parameter(name, f"Le paramètre « {name} » doit être un nombre fini (reçu « {raw} »).")
    return value


def _arg_int(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad_parameter(name, f"Le paramètre « {name} » doit être un nombre entier (reçu « {raw} »).") from None


def _arg_bool(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in TRUE_VALUES:
        return True
    if raw in FALSE_VALUES:
        return False
    raise _bad_parameter(name, f"Le paramètre « {name} » vaut « true » ou « false » (reçu « {raw} »).")


def _arg_list(name: str) -> list[str]:
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def _arg_datetime(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _bad_parameter(
            name, f"Le paramètre « {name} » doit être une date et heure ISO 8601, ex. 2026-11-23T14:30 (reçu « {raw} »)."
        ) from None
    # A time without offset is a time in France (metropolitan), as people read it.
    return value if value.tzinfo else value.replace(tzinfo=PARIS_TZ)


def search_place(session: Session, query: str) -> api.Place:
    """A commune name or postcode, offline; otherwise an address through the geocoder."""
    try:
        return api.resolve_place(session, query)
    except NotFound:
        if api.POSTCODE.match(query.strip()):
            raise
        found = ingestion_api.geocode_one(session, query)
        if found is None:
            raise NotFound(
                f"Aucune commune, aucun code postal ni aucune adresse ne correspond à « {query.strip()} ».",
                field="q", code="unknown_place",
            ) from None
        return api.Place(label=found.label, lon=found.lon, lat=found.lat, commune_code=found.citycode)


def nearby_arguments(session: Session) -> dict[str, Any]:
    """The keyword arguments of `directory.api.nearby_venues` from the query string."""
    lat, lon = _arg_float("lat"), _arg_float("lon")
    query = request.args.get("q", "").strip()
    arguments: dict[str, Any] = {}
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            missing = "lat" if lat is None else "lon"
            raise _bad_parameter(missing, f"Indiquez « lat » et « lon » ensemble (« {missing} » manque).")
        arguments.update(lat=lat, lon=lon)
    elif query:
        arguments["place"] = search_place(session, query)
    else:
        raise InvalidInput("Indiquez une commune, un code postal, une adresse, ou « lat » et « lon ».",
                           field="q", code="required", status=400)
    radius = _arg_float("radius_km")
    limit = _arg_int("limit")
    if radius is not None:
        arguments["radius_km"] = radius
    if limit is not None:
        arguments["limit"] = limit
    arguments.update(
        service=_arg_list("service"),
        level=_arg_int("level"),
        fees=_arg_list("fees"),
        support=_arg_list("support"),
        public=_arg_list("public"),
        care=_arg_list("care"),
        open_now=_arg_bool("open_now"),
        open_at=_arg_datetime("open_at"),
        accepts_pass=_arg_bool("accepts_pass"),
    )
    return arguments


def run_nearby_search(session: Session) -> api.NearbyResult:
    try:
        return api.nearby_venues(session, **nearby_arguments(session))
    except (InvalidInput, NotFound) as error:
        error.status = 400  # every error here is about a query parameter
        raise


# ------------------------------------------------------------------------------ serialisation


def venue_properties(venue: Venue, open_now: bool | None) -> dict[str, Any]:
    return {
        "id": venue.id,
        "nom": venue.nom,
        "adresse": {
            "adresse": venue.adresse,
            "complement_adresse": venue.complement_adresse,
            "code_postal": venue.code_postal,
            "commune": venue.commune,
            "code_insee": venue.code_insee,
        },
        "services": [{"slug": s.slug, "nom": s.label, "niveau": s.level_number} for s in venue.services],
        "niveaux": venue.levels,
        "horaires": venue.horaires,
        "ouvert_maintenant": open_now,
        "accepte_pass": venue.accepts_pass,
        "telephone": venue.telephone,
        "courriels": venue.courriels,
        "site_web": venue.site_web,
        "prise_rdv": venue.prise_rdv,
        "frais_a_charge": venue.frais_a_charge,
        "modalites_accompagnement": venue.modalites_accompagnement,
        "modalites_acces": venue.modalites_acces,
        "publics_specifiquement_adresses": venue.publics_specifiquement_adresses,
        "prise_en_charge_specifique": venue.prise_en_charge_specifique,
        "fiche_acces_libre": venue.fiche_acces_libre,
        "source": venue.source,
        "date_maj": venue.date_maj.isoformat() if venue.date_maj else None,
        "url": url_for("maps.venue_page", venue_id=venue.id, _external=True),
    }


def _feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": properties["id"],
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": properties,
    }


def nearby_collection(result: api.NearbyResult) -> dict[str, Any]:
    features = []
    for item in result.venues:
        properties = {"distance_m": round(item.distance_m, 1), **venue_properties(item.venue, item.open_now)}
        properties = {"id": properties.pop("id"), "nom": properties.pop("nom"), **properties}
        features.append(_feature(item.lon, item.lat, properties))
    return {
        "type": "FeatureCollection",
        "recherche": {
            "lieu": result.place.label,
            "lon": result.place.lon,
            "lat": result.place.lat,
            "code_insee": result.place.commune_code,
            "rayon_m": result.radius_m,
            "nombre": len(features),
        },
        "features": features,
    }


# -------------------------------------------------------------------------------- template help


@bp.app_template_filter("distance")
def format_distance(metres: float | None) -> str:
    if metres is None:
        return ""
    if metres < 1_000:
        return f"{round(metres / 10) * 10:.0f}\u00a0m"
    return f"{metres / 1000:.1f}\u00a0km".replace(".", ",")


@bp.app_template_filter("thousands")
def format_thousands(number: int | None) -> str:
    return "" if number is None else f"{number:,}".replace(",", "\u202f")


def _search_context(session: Session) -> dict[str, Any]:
    return {
        "services": api.active_services(session),
        "levels": maps_api.service_levels(session),
        "radius_choices": RADIUS_CHOICES_KM,
        "list_filters": {
            name: values for name, (_column, values) in api.NEARBY_LIST_FILTERS.items()
        },
        "args": request.args,
    }


def _map_urls() -> dict[str, str]:
    return {"counts_url": url_for("maps.api_map_counts"), "venues_url": url_for("maps.api_map_venues")}


# ---------------------------------------------------------------------------------- public pages


@bp.get("/")
def home() -> Any:
    session = request_session()
    context = _search_context(session)
    result, error = None, None
    searched = any(request.args.get(name, "").strip() for name in ("q", "lat", "lon"))
    if searched:
        try:
            result = run_nearby_search(session)
        except DomainError as exc:
            error = exc
    if result is not None:
        rendered = venue_map(**_map_urls(), centre=(result.place.lat, result.place.lon), radius_m=result.radius_m)
    else:
        rendered = venue_map(**_map_urls())
    status = error.status if error is not None else 200
    return render_template("maps/home.html", result=result, error=error, map=rendered, **context), status


@bp.get("/lieux/<int:venue_id>")
def venue_page(venue_id: int) -> str:
    session = request_session()
    venue = maps_api.public_venue(session, venue_id)
    lat, lon = _arg_float("lat"), _arg_float("lon")
    distance = None
    if lat is not None and lon is not None and venue.location is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
        point = select(geodesic_distance_m(session, Venue.location, _point(lon, lat))).where(Venue.id == venue.id)
        distance = session.scalar(point)
    now = utcnow()
    levels = maps_api.service_levels(session)
    grouped: dict[int, list[Any]] = {}
    for service in venue.services:
        grouped.setdefault(service.level_number, []).append(service)
    commune = _commune_of(session, venue)
    overview = maps_api.territory_overview(session, commune) if commune is not None else None
    today = now.astimezone(api.venue_timezone(venue)).date()
    return render_template(
        "maps/venue.html",
        venue=venue,
        distance=distance,
        open_now=api.is_open_at(venue, now),
        week=api.week_hours(venue, today),
        today=today,
        weekdays=WEEKDAYS,
        levels=levels,
        grouped=grouped,
        commune=commune,
        parents=overview.parents if overview else [],
        stale=venue.date_maj is not None and today - venue.date_maj > DATA_AGE_WARNING,
        back_query={key: request.args[key] for key in ("lat", "lon") if key in request.args},
    )


def _point(lon: float, lat: float) -> Any:
    return func.ST_GeomFromEWKT(point_wkt(lon, lat))


def _commune_of(session: Session, venue: Venue) -> Territory | None:
    if not venue.code_insee:
        return None
    return session.scalar(
        select(Territory).where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == venue.code_insee)
    )


@bp.route("/lieux/<int:venue_id>/signaler", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def report_error(venue_id: int) -> Any:
    session = request_session()
    venue = maps_api.public_venue(session, venue_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            maps_api.report_venue_error(
                session, venue,
                topic=request.form.get("topic", ""),
                message=request.form.get("message", ""),
                contact_email=request.form.get("contact_email"),
            )
        except InvalidInput as error:
            errors[error.field or "message"] = error.message
        else:
            flash("Merci : votre signalement a été transmis à l'équipe APTIC, qui va vérifier la fiche.")
            return redirect(url_for("maps.venue_page", venue_id=venue.id))
    status = 422 if errors else 200
    return render_template(
        "maps/report.html", venue=venue, topics=REPORT_TOPIC_LABELS, errors=errors, form=request.form,
    ), status


@bp.get("/signalements")
@role_required(Role.APTIC_STAFF)
def reports() -> str:
    return render_template("maps/reports.html", reports=maps_api.open_reports(request_session()),
                           topics=REPORT_TOPIC_LABELS, ReportTopic=ReportTopic)


@bp.get("/cartographie/reconstructions")
@role_required(Role.APTIC_STAFF)
def rebuild_runs() -> str:
    return render_template("maps/rebuild_runs.html", runs=maps_api.cartography_runs(request_session()),
                           labels=RUN_STATUS_LABELS)


@bp.get("/territoires")
def territories() -> str:
    session = request_session()
    counts = maps_api.published_venue_counts(session, TerritoryLevel.REGION)
    regions = session.scalars(select(Territory).where(Territory.level == TerritoryLevel.REGION).order_by(Territory.name))
    return render_template("maps/territories.html", regions=[(r, counts.get(r.code, 0)) for r in regions])


@bp.get("/territoires/<level>/<code>")
def territory_page(level: str, code: str) -> str:
    session = request_session()
    territory = api.territory_by_code(session, level, code)
    overview = maps_api.territory_overview(session, territory)
    venues = maps_api.published_venues_in(session, territory) if territory.level == TerritoryLevel.COMMUNE else []
    return render_template("maps/territory.html", overview=overview, venues=venues, TerritoryLevel=TerritoryLevel)


def embed_territory(session: Session) -> Territory | None:
    """`territoire` is an INSEE code; 2–3 characters name a département unless `niveau=region`."""
    code = request.args.get("territoire", "").strip().upper()
    if not code:
        return None
    level = request.args.get("niveau", "").strip()
    if not level:
        level = {5: TerritoryLevel.COMMUNE, 9: TerritoryLevel.EPCI}.get(len(code), TerritoryLevel.DEPARTEMENT)
    try:
        return api.territory_by_code(session, level, code)
    except InvalidInput as error:
        error.field = "niveau" if error.field == "level" else "territoire"
        error.status = 400
        raise
    except NotFound as error:
        error.field = "territoire"
        raise


@bp.get("/embed")
def embed() -> Response:
    session = request_session()
    territory = embed_territory(session)
    bounds = maps_api.territory_bounds(territory) if territory is not None else None
    venues = maps_api.published_venues_in(session, territory, limit=200) if territory is not None else []
    rendered = venue_map(**_map_urls(), bounds=bounds)
    response = Response(render_template("maps/embed.html", territory=territory, venues=venues, map=rendered))
    # Partners show this page in an iframe on their own sites.
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response


# ------------------------------------------------------------------------------------- JSON API


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


# ------------------------------------------------------------------------------------- OpenAPI


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


def _list_query(name: str, description: str, values: tuple[str, ...]) -> dict[str, Any]:
    return _query(name, description, {"type": "array", "items": {"type": "string", "enum": list(values)}},
                  style="form", explode=True)


def _error_responses(*statuses: int) -> dict[str, Any]:
    labels = {400: "Paramètre invalide (le champ « field » le nomme)", 404: "Introuvable"}
    return {
        str(status): {"description": labels[status],
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for status in statuses
    }


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


OPENAPI_PATHS: dict = {
    "/api/v1/venues/nearby": {"get": {
        "summary": "Lieux qualifiés APTIC autour d'un point, d'une commune, d'un code postal ou d'une adresse",
        "description": "Seuls les lieux de la cartographie publique (qualifiés, non fermés) sont renvoyés, "
                       "du plus proche au plus loin ; les distances sont en mètres sur l'ellipsoïde WGS84.",
        "tags": ["Lieux"],
        "parameters": [
            _query("lat", "Latitude WGS84 (avec lon)", {"type": "number", "minimum": -90, "maximum": 90}),
            _query("lon", "Longitude WGS84 (avec lat)", {"type": "number", "minimum": -180, "maximum": 180}),
            _query("q", "Commune, code postal ou adresse (si lat/lon absents)", {"type": "string"}),
            _query("radius_km", "Rayon en kilomètres", {"type": "number", "exclusiveMinimum": 0,
                                                          "maximum": api.NEARBY_MAX_RADIUS_KM,
                                                          "default": api.NEARBY_DEFAULT_RADIUS_KM}),
            _query("limit", "Nombre maximal de lieux", {"type": "integer", "minimum": 1, "maximum": api.NEARBY_MAX_LIMIT,
                                                        "default": api.NEARBY_DEFAULT_LIMIT}),
            _query("service", "Service du référentiel (slug) ; répétable : tous sont exigés",
                   {"type": "array", "items": {"type": "string"}}, style="form", explode=True),
            _query("level", "Niveau du référentiel (au moins un service de ce niveau)", {"type": "integer", "enum": [1, 2, 3]}),
            *(_list_query(name, f"Valeur de « {column} » exigée ; répétable", values)
              for name, (column, values) in api.NEARBY_LIST_FILTERS.items()),
            _query("open_now", "Ouvert maintenant (horaires OpenStreetMap)", {"type": "boolean"}),
            _query("open_at", "Ouvert à cette date et heure ISO 8601 (heure de Paris sans décalage)",
                   {"type": "string", "format": "date-time"}),
            _query("accepts_pass", "Accepte le pass numérique APTIC", {"type": "boolean"}),
        ],
        "responses": {"200": _json("NearbyVenues", "Collection GeoJSON des lieux, triée par distance"),
                      **_error_responses(400)},
    }},
    "/api/v1/venues/{venue_id}": {"get": {
        "summary": "Fiche d'un lieu de la cartographie publique",
        "tags": ["Lieux"],
        "parameters": [{"name": "venue_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": _json("VenueFeature", "Le lieu (Feature GeoJSON) avec ses horaires de la semaine"),
                      **_error_responses(404)},
    }},
    "/api/v1/territories/{level}/{code}": {"get": {
        "summary": "Un territoire (région, département, EPCI, commune) et son nombre de lieux qualifiés",
        "tags": ["Territoires"],
        "parameters": [
            {"name": "level", "in": "path", "required": True,
             "schema": {"type": "string", "enum": [level.value for level in TerritoryLevel]}},
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "Code INSEE (COG 2026)"},
        ],
        "responses": {"200": _json("Territory", "Le territoire"), **_error_responses(404)},
    }},
    "/api/v1/map/counts": {"get": {
        "summary": "Nombre de lieux publiés par région ou par département (bulles de la carte)",
        "tags": ["Carte"],
        "parameters": [_query("level", "Niveau des bulles", {"type": "string", "enum": ["region", "departement"],
                                                              "default": "region"})],
        "responses": {"200": {"description": "Une entrée par territoire ayant au moins un lieu"},
                      **_error_responses(400)},
    }},
    "/api/v1/map/venues": {"get": {
        "summary": "Lieux publiés dans la zone visible de la carte (GeoJSON léger)",
        "tags": ["Carte"],
        "parameters": [_query("bbox", "ouest,sud,est,nord en degrés WGS84", {"type": "string"}, required=True)],
        "responses": {"200": {"description": "Collection GeoJSON ; « tronque » vaut true au-delà de "
                                             f"{maps_api.MAP_BBOX_MAX_VENUES} lieux"},
                      **_error_responses(400)},
    }},
}

_VENUE_PROPERTIES = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "nom": {"type": "string"},
        "distance_m": {"type": "number", "description": "Distance au point de recherche, en mètres"},
        "adresse": {"type": "object"},
        "services": {"type": "array", "items": {"type": "object", "properties": {
            "slug": {"type": "string"}, "nom": {"type": "string"}, "niveau": {"type": "integer"}}}},
        "niveaux": {"type": "array", "items": {"type": "integer"}},
        "horaires": {"type": ["string", "null"], "description": "Horaires au format OpenStreetMap opening_hours"},
        "ouvert_maintenant": {"type": ["boolean", "null"], "description": "null quand les horaires sont inconnus"},
        "accepte_pass": {"type": "boolean"},
        "url": {"type": "string", "format": "uri"},
    },
}
OPENAPI_SCHEMAS: dict = {
    "VenueFeature": {
        "type": "object",
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "integer"},
            "geometry": {"type": ["object", "null"]},
            "properties": _VENUE_PROPERTIES,
        },
    },
    "NearbyVenues": {
        "type": "object",
        "properties": {
            "type": {"const": "FeatureCollection"},
            "recherche": {"type": "object", "properties": {
                "lieu": {"type": "string"}, "lon": {"type": "number"}, "lat": {"type": "number"},
                "code_insee": {"type": ["string", "null"]}, "rayon_m": {"type": "number"},
                "nombre": {"type": "integer"}}},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/VenueFeature"}},
        },
    },
    "Territory": {
        "type": "object",
        "properties": {
            "niveau": {"type": "string"}, "code": {"type": "string"}, "nom": {"type": "string"},
            "population": {"type": "integer"}, "code_region": {"type": ["string", "null"]},
            "code_departement": {"type": ["string", "null"]}, "code_epci": {"type": ["string", "null"]},
            "lieux_qualifies": {"type": "integer"}, "url": {"type": "string", "format": "uri"},
        },
    },
}


# Coverage pages and API


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


OPENAPI_PATHS.update({
    "/api/v1/territories/{level}/{code}/coverage": {"get": {
        "summary": "Couverture territoriale : population à proximité d'un lieu publié, zones blanches, densité",
        "description": "Chiffres de la dernière reconstruction hebdomadaire de la cartographie. La population d'une "
                       "commune est placée à son centre (mairie) ; les distances sont mesurées sur l'ellipsoïde "
                       f"WGS84. Zones blanches : communes à plus de {maps_api.ZONE_BLANCHE_DISTANCE_KM} km de tout "
                       f"lieu de niveau {maps_api.ZONE_BLANCHE_LEVEL}.",
        "tags": ["Territoires"],
        "parameters": [
            {"name": "level", "in": "path", "required": True,
             "schema": {"type": "string", "enum": list(maps_api.COVERAGE_AREA_LEVELS)},
             "description": "Niveau du territoire ; « france » avec le code FR ; « zone » pour une zone personnalisée"},
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "Code INSEE (COG 2026), SIREN de l'EPCI, FR, ou pour une zone une liste niveau:code "
                            "séparée par des virgules (ex. departement:33,commune:17300)"},
            _query("level", "Niveau du référentiel (par défaut : les trois)", {"type": "integer", "enum": [1, 2, 3]}),
            _query("distance_km", "Distance en kilomètres (par défaut : 5, 10 et 20)",
                   {"type": "number", "exclusiveMinimum": 0, "maximum": maps_api.MAX_COVERAGE_DISTANCE_KM}),
        ],
        "responses": {"200": _json("Coverage", "Les chiffres de couverture du territoire"),
                      **_error_responses(400, 404),
                      "503": {"description": "Chiffres pas encore calculés",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    }},
})
OPENAPI_SCHEMAS.update({
    "Coverage": {
        "type": "object",
        "properties": {
            "territoire": {"type": "object", "properties": {
                "niveau": {"type": "string"}, "code": {"type": "string"}, "nom": {"type": "string"}}},
            "calcule_le": {"type": "string", "format": "date-time"},
            "communes": {"type": "integer"},
            "population": {"type": "integer"},
            "population_sans_centre": {"type": "integer", "description": "Communes sans point central connu"},
            "lieux": {"type": "object", "properties": {
                "total": {"type": "integer"},
                "par_niveau": {"type": "object", "additionalProperties": {"type": "integer"}}}},
            "acces": {"type": "array", "items": {"type": "object", "properties": {
                "niveau": {"type": "integer"}, "distance_km": {"type": "number"}, "population": {"type": "integer"},
                "part": {"type": ["number", "null"], "description": "Entre 0 et 1"}}}},
            "zones_blanches": {"type": "object", "properties": {
                "definition": {"type": "string"}, "communes": {"type": "integer"}, "population": {"type": "integer"},
                "part": {"type": ["number", "null"]},
                "liste": {"type": "array", "items": {"type": "object", "properties": {
                    "code": {"type": "string"}, "nom": {"type": "string"}, "population": {"type": "integer"},
                    "distance_km": {"type": ["number", "null"]}, "indice_fragilite": {"type": ["number", "null"]}}}}}},
            "densite": {"type": "object", "properties": {
                "lieux_pour_10000": {"type": ["number", "null"]},
                "accessibilite_e2sfca": {"type": ["number", "null"],
                                         "description": "Lieux qualifiés accessibles pour 10 000 habitants (E2SFCA), "
                                                        "moyenne des communes pondérée par la population"},
                "comparaisons": {"type": "array", "items": {"type": "object", "properties": {
                    "niveau": {"type": "string"}, "code": {"type": "string"}, "nom": {"type": "string"},
                    "lieux": {"type": "integer"}, "population": {"type": "integer"},
                    "lieux_pour_10000": {"type": ["number", "null"]},
                    "accessibilite_e2sfca": {"type": ["number", "null"]}}}}}},
            "fragilite_numerique": {"type": ["object", "null"],
                                    "description": "Indice de fragilité numérique (1 faible à 10 forte), s'il est chargé"},
            "url": {"type": "string", "format": "uri"},
        },
    },
})
