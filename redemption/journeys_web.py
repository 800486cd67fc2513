"""The journeys of an order's booklets on the web: the sponsor's page (funnel and progression as inline SVG
bars with their values in text), its CSV, and `GET /api/v1/orders/{order_id}/journeys`.

Routes join the blueprints of `redemption.web`; the sponsor's order page links here.
"""

from __future__ import annotations

from typing import Any

import marshmallow
from flask import Response, render_template
from flask_login import current_user
from marshmallow import fields

from directory import params
from directory.models import Role
from directory.params import Schema
from directory.web import request_session, role_required
from redemption import access, journeys
from redemption.errors import Unauthenticated
from redemption.web import api_bp, bp


class JourneyFilterSchema(Schema):
    distributor_id = params.Integer(description="Aiguilleur (organisation) dont on suit les carnets")
    territory = params.Text(description="Territoire de l'aiguilleur, niveau:code (ex. departement:33)")


class JourneyGroupSchema(marshmallow.Schema):
    name = fields.String()
    hidden = fields.Boolean(metadata={"description": "Groupe de moins de 10 carnets : chiffres masqués"})
    notice = fields.String()
    booklets = fields.Integer(allow_none=True)
    funnel = fields.List(fields.Dict())
    median_days_to_first_use = fields.Float(allow_none=True)
    cheques_per_booklet = fields.Dict(keys=fields.String(), values=fields.Integer())
    mean_cheques_used = fields.Float(allow_none=True)
    progression = fields.List(fields.Dict())
    venues_per_booklet = fields.Dict(keys=fields.String(), values=fields.Integer())
    redemptions = fields.Integer()
    new_venue_share = fields.Float(allow_none=True)


class JourneysSchema(marshmallow.Schema):
    order_id = fields.Integer()
    expired = fields.Boolean()
    completed_definition = fields.String()
    min_group = fields.Integer()
    filters = fields.Dict()
    overall = fields.Nested(JourneyGroupSchema)
    distributors = fields.List(fields.Nested(JourneyGroupSchema))


def _report(order_id: int, filters: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    db = request_session()
    order = access.sponsor_order(db, current_user, order_id)
    return order, journeys.order_journeys(db, order, filters.get("distributor_id"), filters.get("territory"))


@bp.get("/pass/commandes/<int:order_id>/parcours")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def order_journeys_page(order_id: int) -> str:
    filters = params.parse(JourneyFilterSchema)
    order, report = _report(order_id, filters)
    return render_template("redemption/journeys.html", order=order, report=report, filters=filters)


@bp.get("/pass/commandes/<int:order_id>/parcours.csv")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def order_journeys_csv(order_id: int) -> Response:
    order, report = _report(order_id, params.parse(JourneyFilterSchema))
    return Response(journeys.journeys_csv(report), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="parcours-commande-{order.id}.csv"'})


@api_bp.get("/orders/<int:order_id>/journeys")
@api_bp.doc(summary="Parcours des carnets d'une commande : entonnoir, pertes et causes, progression entre niveaux",
            description=journeys.COMPLETED_DEFINITION + " Les groupes de moins de 10 carnets sont masqués. "
                        "Compte connecté de commanditaire (ses commandes) ou de l'équipe APTIC.")
@api_bp.arguments(JourneyFilterSchema, location="query")
@api_bp.response(200, JourneysSchema, description="Les parcours, pour l'ensemble et par aiguilleur")
@api_bp.errors(400, 401, 403, 404, 422, codes={
    400: ["invalid_parameter"],
    422: ["invalid_territory"],
    401: ["unauthenticated"],
    403: ["forbidden"],
    404: ["unknown_order"],
})
def order_journeys_api(filters: dict[str, Any], order_id: int) -> dict[str, Any]:
    if not current_user.is_authenticated:
        raise Unauthenticated("Connectez-vous avec un compte de commanditaire ou de l'équipe APTIC.", field="session")
    return _report(order_id, filters)[1]
