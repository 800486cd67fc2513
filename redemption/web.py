"""The pass on the web: the redemption API for scanners, the venue scan page, the sponsor report."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import select

from directory import api as directory_api
from directory.errors import DomainError, Forbidden, InvalidInput
from directory.models import Role, Venue
from directory.web import csrf, current_actor, limiter, request_session, role_required
from redemption import redemptions
from redemption.booklets import get_booklet
from redemption.distribution import record_distribution
from redemption.errors import Unauthenticated
from redemption.models import ORDER_STATUS_LABELS
from redemption.orders import get_order, sponsor_orders
from redemption.reports import report_csv, sponsor_report

bp = Blueprint("redemption", __name__, template_folder="templates")

DEFAULT_FAILURES_PER_CREDENTIAL = "20 per minute"
DEFAULT_FAILURES_PER_ADDRESS = "60 per minute"


# ---------------------------------------------------------------------------- rate limits


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


def _credential_key() -> str:
    """Failed attempts are counted per API key (or signed-in user) and, separately, per address."""
    token = _bearer_token()
    if token is not None:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"anonymous:{get_remote_address()}"


def _failed(response: Response) -> bool:
    return response.status_code >= 400


def _failures_per_credential() -> str:
    return current_app.config.get("REDEMPTION_FAILURES_PER_CREDENTIAL", DEFAULT_FAILURES_PER_CREDENTIAL)


def _failures_per_address() -> str:
    return current_app.config.get("REDEMPTION_FAILURES_PER_ADDRESS", DEFAULT_FAILURES_PER_ADDRESS)


def failure_limited(view: Any) -> Any:
    view = limiter.limit(_failures_per_credential, key_func=_credential_key, deduct_when=_failed,
                         scope="redemption-credential")(view)
    return limiter.limit(_failures_per_address, deduct_when=_failed, scope="redemption-address")(view)


# ------------------------------------------------------------------------------------ API


def _staff_venues() -> list[Venue]:
    """Venues of the organisations where the signed-in user is venue staff."""
    organisation_ids = [m.organisation_id for m in current_user.memberships if m.role == Role.VENUE_STAFF]
    if not organisation_ids:
        return []
    return list(request_session().scalars(
        select(Venue).where(Venue.organisation_id.in_(organisation_ids)).order_by(Venue.nom)
    ))


def _venue_of_user(venue_id: Any) -> Venue:
    venues = _staff_venues()
    if not venues:
        raise Forbidden("Votre compte n'est rattaché à aucun lieu.", field="venue_id")
    if venue_id in (None, "") and len(venues) == 1:
        return venues[0]
    try:
        wanted = int(venue_id)
    except (TypeError, ValueError):
        raise InvalidInput("Indiquez le lieu (venue_id) où la prestation a été rendue.", field="venue_id",
                           code="required") from None
    for venue in venues:
        if venue.id == wanted:
            return venue
    raise Forbidden("Ce lieu n'est pas l'un des vôtres.", field="venue_id")


def _api_venue(body: dict[str, Any]) -> tuple[Venue, directory_api.Actor]:
    token = _bearer_token()
    if token is not None:
        found = redemptions.venue_for_api_key(request_session(), token)
        if found is None:
            raise Unauthenticated("Clé d'API inconnue, révoquée ou non rattachée à un lieu.", field="Authorization")
        key, venue = found
        return venue, directory_api.Actor(label=f"api_key:{key.prefix}")
    if current_user.is_authenticated and current_user.has_role(Role.VENUE_STAFF):
        csrf.protect()
        return _venue_of_user(body.get("venue_id")), current_actor()
    raise Unauthenticated("Authentifiez-vous avec la clé d'API du lieu (Authorization: Bearer …).",
                          field="Authorization")


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Le corps de la requête doit être un objet JSON.", field="body", code="invalid_json")
    return body


@bp.post("/api/v1/redemptions")
@csrf.exempt
@failure_limited
def create_redemption() -> tuple[dict[str, Any], int]:
    body = _json_body()
    venue, actor = _api_venue(body)
    redemption, created = redemptions.redeem(request_session(), actor, venue, body.get("codes"), body.get("service"))
    return redemptions.redemption_payload(redemption), 201 if created else 200


@bp.post("/api/v1/redemptions/<int:redemption_id>/cancel")
@csrf.exempt
@failure_limited
def cancel_redemption(redemption_id: int) -> tuple[dict[str, Any], int]:
    body = request.get_json(silent=True) or {}
    venue, actor = _api_venue(body if isinstance(body, dict) else {})
    redemption = redemptions.cancel_redemption(request_session(), actor, venue, redemption_id)
    return redemptions.redemption_payload(redemption), 200


_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
OPENAPI_SCHEMAS = {
    "RedemptionRequest": {
        "type": "object", "required": ["codes", "service"],
        "properties": {
            "codes": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"},
                      "description": "Un ou deux codes de chèques du même carnet (casse et tirets indifférents)"},
            "service": {"type": "string", "description": "Identifiant du service du référentiel (ex. premiers-pas)"},
            "venue_id": {"type": "integer", "description": "Lieu, pour un compte connecté rattaché à plusieurs lieux"},
        },
    },
    "Redemption": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "status": {"type": "string", "enum": ["redeemed", "cancelled", "reimbursed"]},
            "venue_id": {"type": "integer"}, "service": {"type": "string"}, "booklet": {"type": "string"},
            "cheques": {"type": "array", "items": {"type": "string"}}, "amount_cents": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "cancellable_until": {"type": "string", "format": "date-time"},
        },
    },
}
OPENAPI_PATHS = {
    "/api/v1/redemptions": {"post": {
        "summary": "Encaisser un ou deux chèques pour une prestation (tout ou rien)",
        "security": [{"venueApiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/RedemptionRequest"}}}},
        "responses": {
            "201": {"description": "Encaissé", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Redemption"}}}},
            "200": {"description": "Même prestation renvoyée par le même lieu dans les 10 minutes : l'encaissement d'origine"},
            "401": {"description": "unauthenticated", **_ERROR},
            "403": {"description": "not_distributed, venue_not_qualified, outside_territory, service_not_allowed", **_ERROR},
            "404": {"description": "unknown_code", **_ERROR},
            "409": {"description": "already_redeemed (date et lieu montrés au seul lieu qui l'a encaissé)", **_ERROR},
            "410": {"description": "cancelled, expired", **_ERROR},
            "422": {"description": "invalid_code, too_many_cheques, mixed_booklets, unknown_service", **_ERROR},
            "429": {"description": "rate_limited : trop d'échecs pour cette clé ou cette adresse", **_ERROR},
        },
    }},
    "/api/v1/redemptions/{redemption_id}/cancel": {"post": {
        "summary": "Annuler un encaissement de son lieu dans les 24 heures, tant qu'il n'est pas sur un relevé",
        "security": [{"venueApiKey": []}],
        "parameters": [{"name": "redemption_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {
            "200": {"description": "Annulé", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Redemption"}}}},
            "404": {"description": "unknown_redemption", **_ERROR},
            "409": {"description": "already_reimbursed, already_cancelled, cancellation_window_closed", **_ERROR},
        },
    }},
}


# ------------------------------------------------------------------------------ scan page


@bp.route("/pass/scanner", methods=["GET", "POST"])
@role_required(Role.VENUE_STAFF)
@failure_limited
def scan() -> Any:
    db = request_session()
    venues = _staff_venues()
    if not venues:
        abort(403)
    services = directory_api.active_services(db)
    result, error, status = None, None, 200
    if request.method == "POST":
        session["scan_service"] = request.form.get("service", "")
        session["scan_venue"] = request.form.get("venue_id", "")
        session["scan_two"] = bool(request.form.get("two"))
        codes = [c for c in (request.form.get("code", ""), request.form.get("code2", "")) if c.strip()]
        try:
            venue = _venue_of_user(request.form.get("venue_id"))
            redemption, created = redemptions.redeem(db, current_actor(), venue, codes, request.form.get("service"))
            result = {"redemption": redemptions.redemption_payload(redemption), "created": created}
            status = 201 if created else 200
        except DomainError as refused:
            error, status = refused, refused.status
    venue = next((v for v in venues if str(v.id) == str(session.get("scan_venue"))), venues[0])
    return render_template(
        "redemption/scan.html", venues=venues, venue=venue, services=services,
        chosen_service=session.get("scan_service", ""), two=session.get("scan_two", False),
        result=result, error=error, recent=redemptions.recent_redemptions(db, venue),
    ), status


@bp.post("/pass/encaissements/<int:redemption_id>/annuler")
@role_required(Role.VENUE_STAFF)
def scan_cancel(redemption_id: int) -> Any:
    venue = _venue_of_user(request.form.get("venue_id"))
    redemptions.cancel_redemption(request_session(), current_actor(), venue, redemption_id)
    return redirect(url_for("redemption.scan"))


# ------------------------------------------------------------------------------ distribution


@bp.route("/pass/distribution", methods=["GET", "POST"])
@role_required(Role.DISTRIBUTOR)
def distribution() -> Any:
    """A distributor records the booklet it hands over and its own pseudonym for the beneficiary."""
    db = request_session()
    organisation_ids = [m.organisation_id for m in current_user.memberships if m.role == Role.DISTRIBUTOR]
    organisations = [directory_api.get_organisation(db, organisation_id) for organisation_id in organisation_ids]
    done, error, status = None, None, 200
    if request.method == "POST":
        try:
            chosen = request.form.get("distributor_id", str(organisations[0].id))
            distributor = next((o for o in organisations if str(o.id) == chosen), None)
            if distributor is None:
                raise Forbidden("Vous n'êtes pas aiguilleur pour cette organisation.", field="distributor_id")
            booklet = get_booklet(db, request.form.get("booklet", ""))
            done = record_distribution(db, current_actor(), distributor, booklet, request.form.get("beneficiary_ref", ""))
            status = 201
        except DomainError as refused:
            error, status = refused, refused.status
    return render_template("redemption/distribution.html", organisations=organisations, done=done, error=error,
                           form=request.form), status


# --------------------------------------------------------------------------- sponsor report


def _sponsor_scope() -> list[int] | None:
    """None for APTIC staff (every order); otherwise the organisations where the user is sponsor."""
    if current_user.has_role(Role.APTIC_STAFF):
        return None
    return [m.organisation_id for m in current_user.memberships if m.role == Role.SPONSOR]


def _order_for_user(order_id: int) -> Any:
    order = get_order(request_session(), order_id)
    scope = _sponsor_scope()
    if scope is not None and order.sponsor_id not in scope:
        abort(403)
    return order


@bp.get("/pass/commandes")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def orders() -> str:
    return render_template("redemption/orders.html", orders=sponsor_orders(request_session(), _sponsor_scope()),
                           labels=ORDER_STATUS_LABELS)


@bp.get("/pass/commandes/<int:order_id>")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def order_report(order_id: int) -> str:
    order = _order_for_user(order_id)
    return render_template("redemption/report.html", order=order, report=sponsor_report(request_session(), order),
                           labels=ORDER_STATUS_LABELS)


@bp.get("/pass/commandes/<int:order_id>/rapport.csv")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def order_report_csv(order_id: int) -> Response:
    order = _order_for_user(order_id)
    body = report_csv(sponsor_report(request_session(), order))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="rapport-commande-{order.id}.csv"'})

