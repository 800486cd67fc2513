"""HTML pages of the public cartography: search, venue page, territories, embed, error reports, rebuild runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import api
from directory.db import geodesic_distance_m, point_wkt, utcnow
from directory.errors import DomainError, InvalidInput, NotFound
from directory.models import Role, Territory, TerritoryLevel, Venue
from directory.web import limiter, request_session, role_required
from maps import api as maps_api
from maps.models import REPORT_TOPIC_LABELS, RUN_STATUS_LABELS, ReportTopic
from maps.rendering import venue_map
from maps.web.inputs import _arg_float, run_nearby_search

# Import name "maps": templates and static files live at the package's root, not in maps/web/.
bp = Blueprint("maps", "maps", template_folder="templates", static_folder="static",
               static_url_path="/static/maps")

RADIUS_CHOICES_KM = (1, 2, 5, 10, 20, 50)
DATA_AGE_WARNING = timedelta(days=365)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


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
