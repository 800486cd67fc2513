"""HTML pages of the public cartography: search, venue page, territories, embed, error reports, rebuild runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from directory import api, params
from directory.db import utcnow
from directory.errors import DomainError, InvalidInput
from directory.models import Role, TerritoryLevel
from directory.navigation import menu_entry
from directory.web import limit_anonymous, limiter, request_session, role_required
from maps.models import REPORT_TOPIC_LABELS, RUN_STATUS_LABELS, ReportTopic
from maps.places import nearby_search
from maps.public import (
    commune_of,
    distance_to_venue_m,
    embed_territory,
    open_reports,
    public_venue,
    published_venues_in,
    regions_with_counts,
    report_venue_error,
    service_levels,
    territory_bounds,
    territory_overview,
)
from maps.rebuild import cartography_runs
from maps.rendering import venue_map
from maps.web.inputs import EmbedArea, NearbySearch, SearchPoint

# Import name "maps": templates and static files live at the package's root, not in maps/web/.
bp = Blueprint("maps", "maps", template_folder="templates", static_folder="static",
               static_url_path="/static/maps")

RADIUS_CHOICES_KM = (1, 2, 5, 10, 20, 50)
# How many more venues "Voir plus" shows.
RESULTS_STEP = 20
DATA_AGE_WARNING = timedelta(days=365)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


menu_entry(Role.SPONSOR, "Couverture des territoires", "maps.territories",
           "Qui peut être accompagné, où sont les manques : choisissez un territoire puis sa couverture", order=20)
menu_entry(Role.APTIC_STAFF, "Signalements du public", "maps.reports", "Erreurs signalées sur les fiches des lieux", order=30)
menu_entry(Role.APTIC_STAFF, "Historique des reconstructions", "maps.rebuild_runs",
           "Les reconstructions hebdomadaires de la cartographie et leurs rapports", order=35)


@bp.app_template_filter("distance")
def format_distance(metres: float | None) -> str:
    if metres is None:
        return ""
    if metres < 1_000:
        return f"{round(metres / 10) * 10:.0f}\u00a0m"
    return f"{metres / 1000:.1f}\u00a0km".replace(".", ",")


def _search_context(session: Session) -> dict[str, Any]:
    return {
        "services": api.active_services(session),
        "levels": service_levels(session),
        "radius_choices": RADIUS_CHOICES_KM,
        "list_filters": {
            name: values for name, (_column, values) in api.NEARBY_LIST_FILTERS.items()
        },
        "args": request.args,
    }


def _map_urls(accepting_pass: bool = False) -> dict[str, str]:
    venues = url_for("maps_api.map_venues", **({"accepte_pass": "1"} if accepting_pass else {}))
    return {"counts_url": url_for("maps_api.map_counts"), "venues_url": venues}


# ---------------------------------------------------------------------------------- public pages


def search_url(**changes: Any) -> str:
    """The home search of the current request with some parameters changed (None removes one)."""
    query = MultiDict(request.args)
    for name, value in changes.items():
        query.poplist(name)
        if value is not None:
            query[name] = value
    return url_for("maps.home") + ("?" + urlencode(list(query.items(multi=True))) if query else "")


def _more_url(result: api.NearbyResult) -> str | None:
    """"Voir plus": the same search showing RESULTS_STEP more venues (then the next page beyond the maximum)."""
    if result.next_offset is None:
        return None
    shown = len(result.venues)
    anchor = f"#lieu-{result.offset + shown + 1}"
    if result.offset == 0 and shown + RESULTS_STEP <= api.NEARBY_MAX_LIMIT:
        return search_url(limit=str(shown + RESULTS_STEP)) + anchor
    return search_url(offset=str(result.next_offset)) + anchor


@bp.get("/")
def home() -> Any:
    session = request_session()
    context = _search_context(session)
    result, error, candidates = None, None, []
    searched = any(request.args.get(name, "").strip() for name in ("q", "lat", "lon", "commune"))
    if searched:
        try:
            result = nearby_search(session, **params.parse(NearbySearch),
                                   before_geocoding=limit_anonymous("geocoding", "GEOCODING_RATE_LIMIT"))
        except api.AmbiguousPlace as exc:
            # Homonyms are a choice to offer, not a mistake: each one is a link to its own search.
            candidates = [(c.label, search_url(q=c.label, commune=None, offset=None, limit=None))
                          for c in exc.candidates]
            error = exc
        except DomainError as exc:
            error = exc
    if result is not None:
        rendered = venue_map(**_map_urls(), centre=(result.place.lat, result.place.lon), radius_m=result.radius_m)
    else:
        rendered = venue_map(**_map_urls())
    status = 200 if error is None or candidates else error.status
    return render_template(
        "maps/home.html", result=result, error=error, candidates=candidates, map=rendered,
        more_url=_more_url(result) if result is not None else None,
        first_url=search_url(offset=None) if result is not None and result.offset else None,
        suggestions_url=url_for("maps_api.place_suggestions_view"), **context,
    ), status


@bp.get("/lieux/<int:venue_id>")
def venue_page(venue_id: int) -> str:
    session = request_session()
    venue = public_venue(session, venue_id)
    point = params.parse(SearchPoint)
    now = utcnow()
    grouped: dict[int, list[Any]] = {}
    for service in venue.services:
        grouped.setdefault(service.level_number, []).append(service)
    commune = commune_of(session, venue)
    overview = territory_overview(session, commune) if commune is not None else None
    today = now.astimezone(api.venue_timezone(venue)).date()
    location = to_shape(venue.location) if venue.location is not None else None
    rendered = venue_map(**_map_urls(), centre=(location.y, location.x), centre_label="Ce lieu") if location else None
    return render_template(
        "maps/venue.html",
        venue=venue,
        map=rendered,
        distance=distance_to_venue_m(session, venue, point["lon"], point["lat"]),
        open_now=api.is_open_at(venue, now),
        week=api.week_hours(venue, today),
        today=today,
        weekdays=WEEKDAYS,
        levels=service_levels(session),
        grouped=grouped,
        commune=commune,
        parents=overview.parents if overview else [],
        stale=venue.date_maj is not None and today - venue.date_maj > DATA_AGE_WARNING,
        back_query={key: request.args[key] for key in ("lat", "lon") if key in request.args},
    )


@bp.route("/lieux/<int:venue_id>/signaler", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def report_error(venue_id: int) -> Any:
    session = request_session()
    venue = public_venue(session, venue_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            report_venue_error(
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
    return render_template("maps/reports.html", reports=open_reports(request_session()),
                           topics=REPORT_TOPIC_LABELS, ReportTopic=ReportTopic)


@bp.get("/cartographie/reconstructions")
@role_required(Role.APTIC_STAFF)
def rebuild_runs() -> str:
    return render_template("maps/rebuild_runs.html", runs=cartography_runs(request_session()),
                           labels=RUN_STATUS_LABELS)


@bp.get("/territoires")
def territories() -> str:
    return render_template("maps/territories.html", regions=regions_with_counts(request_session()))


@bp.get("/territoires/<level>/<code>")
def territory_page(level: str, code: str) -> str:
    session = request_session()
    territory = api.territory_by_code(session, level, code)
    overview = territory_overview(session, territory)
    venues = published_venues_in(session, territory) if territory.level == TerritoryLevel.COMMUNE else []
    return render_template("maps/territory.html", overview=overview, venues=venues, TerritoryLevel=TerritoryLevel)


@bp.get("/embed")
def embed() -> Response:
    session = request_session()
    area = params.parse(EmbedArea)
    territory = embed_territory(session, area["territoire"], area["niveau"])
    bounds = territory_bounds(territory) if territory is not None else None
    venues = published_venues_in(session, territory, limit=200, accepting_pass=area["accepte_pass"]) \
        if territory is not None else []
    rendered = venue_map(**_map_urls(area["accepte_pass"]), bounds=bounds)
    response = Response(render_template("maps/embed.html", territory=territory, venues=venues, map=rendered,
                                        accepting_pass=area["accepte_pass"]))
    # Partners show this page in an iframe on their own sites.
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response
