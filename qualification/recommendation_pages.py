"""Where one more venue helps most: the page (form, ordered list, map, CSV) and `/api/v1/recommendations`.

APTIC staff see every kind of candidate; sponsors the communes and the venues of the open data (the
waitlist is the staff's working file).
"""

from __future__ import annotations

from typing import Any

import folium
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user

from directory import basemap, params
from directory.errors import DomainError, Forbidden
from directory.models import Role
from directory.navigation import menu_entry
from directory.web import request_session, role_required
from qualification.recommendations import (
    CANDIDATE_KINDS,
    KIND_LABELS,
    MAX_COUNT,
    MAX_DISTANCE_KM,
    Recommendation,
    recommend,
    recommendation_csv,
    waitlisted_sites,
)

bp = Blueprint("recommendations", __name__, template_folder="templates", url_prefix="/recommandations")
api_bp = params.ApiBlueprint("qualification_api", __name__, url_prefix="/api/v1",
                             description="Qualification : où un lieu de plus servirait le plus d'habitants.")

menu_entry(Role.APTIC_STAFF, "Où qualifier", "qualification.recommendations.page",
           "Les sites qui rapprocheraient le plus d'habitants d'un lieu qualifié", order=25)
menu_entry(Role.APTIC_STAFF, "Liste d'attente", "qualification.recommendations.waitlist_orders",
           "Les points de présence en attente : ordre des dates et ordre qui couvre le plus d'habitants", order=26)
menu_entry(Role.SPONSOR, "Où financer un lieu", "qualification.recommendations.page",
           "Les communes et lieux qui rapprocheraient le plus d'habitants d'un lieu qualifié", order=40)

STAFF_ONLY_KINDS = ("waitlisted",)


class RecommendationQuery(params.Schema):
    """The question, for the page and the API alike."""

    level = params.Integer(load_default=2, description="Niveau du référentiel", metadata={"enum": [1, 2, 3]})
    distance_km = params.Number(load_default=10.0, description="Distance en kilomètres",
                                metadata={"exclusiveMinimum": 0, "maximum": MAX_DISTANCE_KM})
    territory = params.Text(load_default="france",
                            description="niveau:code (ex. departement:33, region:75, epci:…, commune:…) ou france")
    count = params.Integer(load_default=10, description="Nombre de sites à recommander",
                           metadata={"minimum": 1, "maximum": MAX_COUNT})
    candidates = params.TextList(values=CANDIDATE_KINDS,
                                 description="Types de candidats, répétable : " + ", ".join(CANDIDATE_KINDS)
                                             + " (par défaut tous ceux du rôle)")
    respect_quotas = params.Flag(description="Pas plus de sites qu'un territoire n'a de places sous son quota")
    exact = params.Flag(description="Solution exacte (HiGHS, 10 s au plus) au lieu de la sélection gloutonne")


def _allowed_kinds() -> tuple[str, ...]:
    if current_user.has_role(Role.APTIC_STAFF):
        return CANDIDATE_KINDS
    return tuple(kind for kind in CANDIDATE_KINDS if kind not in STAFF_ONLY_KINDS)


def _answer(query: dict[str, Any]) -> Recommendation:
    allowed = _allowed_kinds()
    kinds = query["candidates"] or list(allowed)
    if any(kind in STAFF_ONLY_KINDS and kind not in allowed for kind in kinds):
        raise Forbidden("La liste d'attente est réservée à l'équipe APTIC : choisissez les communes ou les lieux "
                        "ouverts non qualifiés.", field="candidates", code="forbidden")
    return recommend(request_session(), level=query["level"], distance_km=query["distance_km"], count=query["count"],
                     territory=query["territory"], candidates=kinds, respect_quotas=query["respect_quotas"],
                     exact_solution=query["exact"], min_cheques_per_venue=current_app.config["CONSOLIDATION_MIN_CHEQUES"])


def _pick_map(recommendation: Recommendation) -> dict[str, Any] | None:
    if not recommendation.picks:
        return None
    points = [(pick.candidate.lat, pick.candidate.lon) for pick in recommendation.picks]
    fmap = basemap.base_map(points[0], 9)
    for pick, point in zip(recommendation.picks, points, strict=True):
        folium.Marker(point, icon=folium.DivIcon(html=f'<span class="pick-rank">{pick.rank}</span>',
                                                 icon_size=(28, 28), icon_anchor=(14, 14))).add_to(fmap)
    south, west = min(p[0] for p in points), min(p[1] for p in points)
    north, east = max(p[0] for p in points), max(p[1] for p in points)
    fmap.fit_bounds([[south - 0.05, west - 0.05], [north + 0.05, east + 0.05]])
    return basemap.page_parts(fmap)


@bp.get("/", endpoint="page")
@role_required(Role.APTIC_STAFF, Role.SPONSOR)
def recommendations_page() -> Any:
    kinds = _allowed_kinds()
    context: dict[str, Any] = {"kinds": kinds, "kind_labels": KIND_LABELS, "args": request.args,
                               "recommendation": None, "map": None, "error": None}
    status = 200
    if request.args:
        try:
            query = params.parse(RecommendationQuery)
            context["recommendation"] = _answer(query)
            context["map"] = _pick_map(context["recommendation"])
            context["csv_url"] = url_for(".csv_download", **request.args.to_dict(flat=False))
        except DomainError as error:
            context["error"], status = error, error.status
    return render_template("qualification/recommendations.html", **context), status


class WaitlistQuery(params.Schema):
    level = params.Integer(load_default=1, metadata={"enum": [1, 2, 3]})
    distance_km = params.Number(load_default=10.0)


@bp.get("/liste-attente", endpoint="waitlist_orders")
@role_required(Role.APTIC_STAFF)
def waitlist_orders() -> Any:
    """The waitlist in date order next to the greedy covering order of the same sites."""
    session = request_session()
    error, greedy_rank, recommendation = None, {}, None
    sites = waitlisted_sites(session)
    try:
        query = params.parse(WaitlistQuery)
        if sites:
            recommendation = recommend(session, level=query["level"], distance_km=query["distance_km"],
                                       count=min(len(sites), MAX_COUNT), candidates=["waitlisted"])
            greedy_rank = {pick.candidate.venue_id: pick for pick in recommendation.picks}
    except DomainError as failure:
        error = failure
    return render_template("qualification/waitlist_orders.html", sites=sites, greedy_rank=greedy_rank,
                           recommendation=recommendation, error=error, args=request.args), error.status if error else 200


@bp.get("/recommandations.csv", endpoint="csv_download")
@role_required(Role.APTIC_STAFF, Role.SPONSOR)
def recommendations_csv() -> Response:
    recommendation = _answer(params.parse(RecommendationQuery))
    name = f"recommandations-niveau{recommendation.level}-{recommendation.territory_level}-{recommendation.territory_code}"
    return Response(recommendation_csv(recommendation), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@api_bp.route("/recommendations", tags=["Qualification"])
@api_bp.doc(summary="Où un lieu de plus rapprocherait le plus d'habitants d'un lieu qualifié d'un niveau",
            description="Couverture maximale : les sites candidats qui, ensemble, placent le plus d'habitants à moins "
                        "de la distance d'un lieu qualifié proposant un service du niveau. Population des communes "
                        "placée à leur centre (mairie), distances sur la sphère. Réservé à l'équipe APTIC (tous les "
                        "candidats) et aux commanditaires (communes et lieux de l'open data) connectés.")
@api_bp.arguments(RecommendationQuery, location="query")
@api_bp.response(200, description="La sélection ordonnée, ses chiffres et le statut du solveur")
@api_bp.errors(400, 401, 403, 404, 422, codes={
    400: ["invalid_parameter", "invalid_level", "invalid_distance", "invalid_count", "invalid_candidates",
          "invalid_territory"],
    401: ["unauthenticated"], 403: ["forbidden"], 404: ["unknown_territory"],
    422: ["too_many_candidates_for_exact"],
})
def recommendations_api(query: dict[str, Any]) -> Response:
    # A session cookie, as on the page; the API answers 401/403 itself rather than redirect to the sign-in page.
    if not current_user.is_authenticated:
        abort(401)
    if not (current_user.has_role(Role.APTIC_STAFF) or current_user.has_role(Role.SPONSOR)):
        abort(403)
    return jsonify(_answer(query).as_dict())
