"""State co-funding on the web: calls for projects, applications, decisions, follow-up (page, CSV, JSON API).

Routes join the pass blueprints of `redemption.web` (which imports this module at its end). APTIC staff
act for the funder: they create and close calls and decide applications; sponsors apply and follow their
own applications.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow
from flask import Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import fields
from sqlalchemy import select

from directory import api as directory_api
from directory import params
from directory.errors import DomainError, Forbidden, InvalidInput
from directory.models import Organisation, Role
from directory.navigation import menu_entry
from directory.web import csrf, current_actor, request_session, role_required
from redemption import access, applications, calls
from redemption.cofunding_followup import follow_up, follow_up_csv
from redemption.cofunding_models import (
    APPLICATION_STATUS_LABELS,
    AUTHORITY_KIND_LABELS,
    CALL_STATUS_LABELS,
    FILE_SECTION_LABELS,
    ApplicationStatus,
    AuthorityKind,
    CofundingApplication,
    CofundingCall,
)
from redemption.errors import Unauthenticated
from redemption.orders import sponsor_orders
from redemption.web import AsSent, api_bp, bp

MAX_PARTNERS = 5

menu_entry(Role.SPONSOR, "Appels à projets et cofinancement", "redemption.cofunding_calls",
           "Candidater aux appels à projets de l'État, suivre ses candidatures et l'enveloppe", order=15)
menu_entry(Role.APTIC_STAFF, "Appels à projets (cofinancement)", "redemption.cofunding_calls",
           "Créer et clore les appels, instruire les candidatures, suivre les enveloppes", order=45)


# ------------------------------------------------------------------------------ who sees what


def _scope() -> list[int] | None:
    """None for APTIC staff (everything); otherwise the organisations where the user is sponsor."""
    return access.sponsor_scope(current_user)


def _visible_application(application_id: int) -> CofundingApplication:
    application = applications.get_application(request_session(), application_id)
    scope = _scope()
    if scope is not None and not applications.member_ids(application) & set(scope):
        raise Forbidden("Cette candidature n'est pas l'une des vôtres.", field="application")
    return application


def _sponsor_organisations() -> list[Organisation]:
    scope = _scope() or []
    return [directory_api.get_organisation(request_session(), organisation_id) for organisation_id in scope]


def _applications_of(call: CofundingCall) -> list[CofundingApplication]:
    scope = _scope()
    return [a for a in call.applications if scope is None or applications.member_ids(a) & set(scope)]


# ------------------------------------------------------------------------------------ pages


def _date(field: str) -> date:
    raw = request.form.get(field, "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"La date « {field} » est attendue au format AAAA-MM-JJ (reçu « {raw} »).", field=field,
                           code="invalid_date") from None


def _int(field: str, default: int | None = None) -> int:
    raw = request.form.get(field, "").strip().replace("\u202f", "").replace(" ", "")
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"Le champ « {field} » doit être un nombre entier (reçu « {raw} »).", field=field,
                           code="invalid_number") from None


def _euros_to_cents(field: str) -> int:
    raw = request.form.get(field, "").strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        return round(float(raw) * 100) if raw else 0
    except ValueError:
        raise InvalidInput(f"Le montant « {field} » doit être un nombre d'euros (reçu « {raw} »).", field=field,
                           code="invalid_number") from None


@bp.route("/pass/appels", methods=["GET", "POST"])
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def cofunding_calls() -> Any:
    db = request_session()
    error, status = None, 200
    if request.method == "POST":
        if _scope() is not None:
            raise Forbidden("Seule l'équipe APTIC crée les appels à projets.")
        try:
            call = calls.create_call(
                db, current_actor(), name=request.form.get("name", ""), funder=request.form.get("funder"),
                share_bp=_int("share_bp", 5_000), envelope_cents=_euros_to_cents("envelope_euros"),
                opens_on=_date("opens_on"), closes_on=_date("closes_on"),
                eligible_kinds=request.form.getlist("eligible_kinds") or None,
                required_sections=request.form.getlist("required_sections") or None)
            return redirect(url_for("redemption.cofunding_call", call_id=call.id))
        except DomainError as refused:
            error, status = refused, refused.status
    scope = _scope()
    mine = [a for call in calls.list_calls(db) for a in call.applications
            if scope is None or applications.member_ids(a) & set(scope)]
    return render_template("redemption/cofunding_calls.html", calls=calls.list_calls(db), staff=scope is None,
                           mine=mine, sentence=calls.call_sentence, error=error, form=request.form,
                           kinds=AUTHORITY_KIND_LABELS, sections=FILE_SECTION_LABELS,
                           labels=APPLICATION_STATUS_LABELS), status


@bp.get("/pass/appels/<int:call_id>")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def cofunding_call(call_id: int) -> str:
    db = request_session()
    call = calls.get_call(db, call_id)
    scope = _scope()
    return render_template(
        "redemption/cofunding_call.html", call=call, staff=scope is None, sentence=calls.call_sentence(call),
        report=follow_up(db, call, scope), listed=_applications_of(call), labels=APPLICATION_STATUS_LABELS,
        call_labels=CALL_STATUS_LABELS, open=calls.accepts_applications(call), organisations=_sponsor_organisations(),
        kinds=AUTHORITY_KIND_LABELS, max_partners=MAX_PARTNERS, partners=list(db.scalars(
            select(Organisation).where(Organisation.is_sponsor).order_by(Organisation.name))) if scope is not None else [])


@bp.get("/pass/appels/<int:call_id>/suivi.csv")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def cofunding_call_csv(call_id: int) -> Response:
    call = calls.get_call(request_session(), call_id)
    body = follow_up_csv(follow_up(request_session(), call, _scope()))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="suivi-appel-{call.id}.csv"'})


@bp.post("/pass/appels/<int:call_id>/cloture")
@role_required(Role.APTIC_STAFF)
def cofunding_close_call(call_id: int) -> Any:
    call = calls.close_call(request_session(), current_actor(), calls.get_call(request_session(), call_id))
    return redirect(url_for("redemption.cofunding_call", call_id=call.id))


@bp.post("/pass/appels/<int:call_id>/candidatures")
@role_required(Role.SPONSOR)
def cofunding_apply(call_id: int) -> Any:
    db = request_session()
    call = calls.get_call(db, call_id)
    organisations = {o.id: o for o in _sponsor_organisations()}
    lead = organisations.get(_int("lead_id", next(iter(organisations), 0)))
    if lead is None:
        raise Forbidden("Vous ne pouvez candidater qu'au nom d'une organisation dont vous êtes commanditaire.",
                        field="lead_id")
    partners = []
    for index in range(MAX_PARTNERS):
        partner_id = request.form.get(f"partner_{index}", "").strip()
        if partner_id:
            partner = directory_api.get_organisation(db, _int(f"partner_{index}"))
            partners.append((partner, request.form.get(f"partner_kind_{index}", "")))
    application = applications.create_application(db, current_actor(), call, lead, request.form.get("lead_kind", ""),
                                                  partners)
    return redirect(url_for("redemption.cofunding_application", application_id=application.id))


def _apply_form(application: CofundingApplication) -> None:
    db = request_session()
    form = request.form
    applications.update_file(
        db, current_actor(), application, priority_publics=_int("priority_publics", 0),
        precarity_publics=_int("precarity_publics", 0), how_to_reach=form.get("how_to_reach", ""),
        area=[part.strip() for part in form.get("area", "").replace("\n", ",").split(",") if part.strip()],
        structuring=form.get("structuring", ""), european_funds=form.get("european_funds", ""),
        partners=form.get("partners", ""), budget_cents=_euros_to_cents("budget_euros"),
        budget_notes=form.get("budget_notes", ""))
    for raw in form.getlist("orders"):
        order_id = int(raw) if raw.isdigit() else 0
        order = access.sponsor_order(db, current_user, order_id)
        if order.application_id != application.id:
            applications.cover_order(db, current_actor(), application, order)


@bp.route("/pass/candidatures/<int:application_id>", methods=["GET", "POST"])
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def cofunding_application(application_id: int) -> Any:
    db = request_session()
    application = _visible_application(application_id)
    error, status = None, 200
    if request.method == "POST":
        if _scope() is None:
            raise Forbidden("Le dossier est rempli par le candidat.")
        try:
            _apply_form(application)
            return redirect(url_for("redemption.cofunding_application", application_id=application.id))
        except DomainError as refused:
            error, status = refused, refused.status
    members = sorted(applications.member_ids(application))
    candidates = [o for o in sponsor_orders(db, members) if o.application_id in (None, application.id)
                  or o.application.status == ApplicationStatus.REFUSED]
    return render_template(
        "redemption/cofunding_application.html", application=application, staff=_scope() is None,
        covered=applications.covered_orders(db, application), candidates=candidates, error=error,
        labels=APPLICATION_STATUS_LABELS, kinds=AUTHORITY_KIND_LABELS, sections=FILE_SECTION_LABELS,
        checks=applications.eligibility_errors(db, application)
        if application.status == ApplicationStatus.DRAFT else []), status


@bp.post("/pass/candidatures/<int:application_id>/depot")
@role_required(Role.SPONSOR)
def cofunding_submit(application_id: int) -> Any:
    application = _visible_application(application_id)
    applications.submit(request_session(), current_actor(), application)
    return redirect(url_for("redemption.cofunding_application", application_id=application.id))


def _decide(application: CofundingApplication, decision: Any, reason: Any) -> None:
    if decision == "accept":
        applications.accept(request_session(), current_actor(), application, reason if isinstance(reason, str) else None)
    elif decision == "refuse":
        applications.refuse(request_session(), current_actor(), application, reason if isinstance(reason, str) else "")
    else:
        raise InvalidInput("La décision vaut « accept » ou « refuse ».", field="decision", code="invalid_decision")


@bp.post("/pass/candidatures/<int:application_id>/decision")
@role_required(Role.APTIC_STAFF)
def cofunding_decide(application_id: int) -> Any:
    application = applications.get_application(request_session(), application_id)
    _decide(application, request.form.get("decision"), request.form.get("reason"))
    return redirect(url_for("redemption.cofunding_application", application_id=application.id))


# -------------------------------------------------------------------------------------- API


def _api_scope() -> list[int] | None:
    """A signed-in sponsor (its organisations) or APTIC staff (None); others are refused."""
    if not current_user.is_authenticated:
        raise Unauthenticated("Connectez-vous avec un compte commanditaire ou de l'équipe APTIC.", field="session")
    if not (current_user.has_role(Role.APTIC_STAFF) or current_user.has_role(Role.SPONSOR)):
        raise Forbidden("Vous n'avez pas les droits nécessaires.")
    return _scope()


class CallSchema(marshmallow.Schema):
    id = fields.Integer()
    name = fields.String()
    funder = fields.String()
    share_bp = fields.Integer(metadata={"description": "Part du financeur en points de base (5 000 = 50 %)"})
    envelope_cents = fields.Integer()
    committed_cents = fields.Integer()
    remaining_cents = fields.Integer()
    opens_on = fields.String(metadata={"format": "date"})
    closes_on = fields.String(metadata={"format": "date"})
    eligible_kinds = fields.List(fields.String(metadata={"enum": [kind.value for kind in AuthorityKind]}))
    required_sections = fields.List(fields.String())
    status = fields.String(metadata={"enum": ["open", "closed"]})


class CallListSchema(marshmallow.Schema):
    calls = fields.List(fields.Nested(CallSchema))


class CallFilterSchema(params.Schema):
    status = params.Text(description="open ou closed")


class FollowUpSchema(marshmallow.Schema):
    call = fields.Nested(CallSchema)
    scope = fields.String(metadata={"enum": ["all", "sponsor"]})
    totals = fields.Dict(metadata={"description": "Enveloppe, vendu, engagé, émis, distribué, encaissé (centimes), "
                                                  "taux encaissé ÷ vendu"})
    by_sponsor = fields.List(fields.Dict())
    by_departement = fields.List(fields.Dict())


class ApplicationSchema(marshmallow.Schema):
    id = fields.Integer()
    call_id = fields.Integer()
    status = fields.String(metadata={"enum": [status.value for status in ApplicationStatus]})
    lead_id = fields.Integer()
    members = fields.List(fields.Dict())
    priority_publics = fields.Integer()
    precarity_publics = fields.Integer()
    how_to_reach = fields.String()
    area = fields.List(fields.Dict())
    structuring = fields.String()
    european_funds = fields.String()
    partners = fields.String()
    budget_cents = fields.Integer()
    budget_notes = fields.String()
    granted_cents = fields.Integer()
    decision_reason = fields.String(allow_none=True)
    orders = fields.List(fields.Dict(), metadata={"description": "Commandes couvertes et leurs parts (centimes)"})


class DecisionSchema(params.JsonBody):
    decision = AsSent(required=True, metadata={"type": "string", "enum": ["accept", "refuse"]})
    reason = AsSent(metadata={"type": "string", "description": "Motif (obligatoire pour un refus)"})


@api_bp.get("/cofunding/calls")
@api_bp.doc(summary="Appels à projets de cofinancement (État) et leur enveloppe")
@api_bp.arguments(CallFilterSchema, location="query")
@api_bp.response(200, CallListSchema)
@api_bp.errors(400, codes={400: ["invalid_parameter"]})
def api_cofunding_calls(filters: dict[str, Any]) -> dict[str, Any]:
    listed = calls.list_calls(request_session())
    if filters.get("status"):
        listed = [call for call in listed if call.status.value == filters["status"]]
    return {"calls": [calls.call_summary(call) for call in listed]}


@api_bp.get("/cofunding/calls/<int:call_id>/follow-up")
@api_bp.doc(summary="Suivi d'un appel : enveloppe, engagé, émis, distribué, encaissé, par commanditaire et département")
@api_bp.response(200, FollowUpSchema)
@api_bp.errors(401, 403, 404, codes={401: ["unauthenticated"], 403: ["forbidden"], 404: ["unknown_call"]})
def api_cofunding_follow_up(call_id: int) -> dict[str, Any]:
    scope = _api_scope()
    return follow_up(request_session(), calls.get_call(request_session(), call_id), scope)


@api_bp.get("/cofunding/applications/<int:application_id>")
@api_bp.doc(summary="Une candidature, son dossier, ses commandes couvertes et leurs parts")
@api_bp.response(200, ApplicationSchema)
@api_bp.errors(401, 403, 404, codes={401: ["unauthenticated"], 403: ["forbidden"], 404: ["unknown_application"]})
def api_cofunding_application(application_id: int) -> dict[str, Any]:
    _api_scope()
    return applications.application_payload(request_session(), _visible_application(application_id))


@api_bp.post("/cofunding/applications/<int:application_id>/decision")
@csrf.exempt
@api_bp.doc(summary="Retenir (l'enveloppe est engagée) ou refuser, avec son motif, une candidature déposée")
@api_bp.arguments(DecisionSchema, location="json")
@api_bp.response(200, ApplicationSchema)
@api_bp.errors(400, 401, 403, 404, 409, 422, codes={
    400: ["csrf_failed"], 401: ["unauthenticated"], 403: ["forbidden"], 404: ["unknown_application"],
    409: ["invalid_transition", "envelope_exceeded"], 422: ["invalid_json", "invalid_decision", "required"]})
def api_cofunding_decide(body: dict[str, Any], application_id: int) -> dict[str, Any]:
    if _api_scope() is not None:
        raise Forbidden("Seule l'équipe APTIC décide des candidatures.")
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # a signed-in browser session: the page's CSRF token in X-CSRFToken
    application = applications.get_application(request_session(), application_id)
    _decide(application, body.get("decision"), body.get("reason"))
    return applications.application_payload(request_session(), application)
