"""The pass on the web: the redemption API for scanners, the venue scan page, distribution, the sponsor report,
the venues' monthly statements."""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import marshmallow
from flask import (
    Blueprint,
    Response,
    abort,
    after_this_request,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse as parse_limit
from marshmallow import fields, pre_load

from directory import api as directory_api
from directory.api import Actor
from directory.errors import DomainError, Forbidden
from directory.models import Role, Venue
from directory.navigation import menu_entry
from directory import params
from directory.params import ApiBlueprint, JsonBody, Schema
from directory.web import count_anonymous_failure, csrf, current_actor, limiter, request_session, role_required
from redemption import access, allowances, distribution_pages, invoices, printing, redemptions
from redemption import codes as cheque_codes
from redemption.beneficiaries import platform_key, read_beneficiary
from redemption.booklets import get_booklet
from redemption.covers import public_base_url
from redemption.distribution import record_distribution
from redemption.errors import Unauthenticated
from redemption.models import ORDER_STATUS_LABELS, RedemptionStatus
from redemption.orders import get_order, sponsor_orders
from redemption.months import parse_month
from redemption.reports import report_csv, sponsor_report
from redemption.statements import latest_closed_month, statement_venues, venue_statements

bp = Blueprint("redemption", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/pass")
bp.register_blueprint(distribution_pages.bp)

DEFAULT_FAILURES_PER_CREDENTIAL = "20 per minute"
DEFAULT_FAILURES_PER_ADDRESS = "60 per minute"
CREDENTIAL_SCOPE = "redemption-credential"


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


def _failures_per_credential() -> str:
    return current_app.config.get("REDEMPTION_FAILURES_PER_CREDENTIAL", DEFAULT_FAILURES_PER_CREDENTIAL)


def _failures_per_address() -> str:
    return current_app.config.get("REDEMPTION_FAILURES_PER_ADDRESS", DEFAULT_FAILURES_PER_ADDRESS)


def failure_limited(view: Any) -> Any:
    """Failures counted per API key or signed-in user; refused credentials also per address (`_api_venue`).

    The scan is the hot path: one read of the counter before the view, one increment after a failure
    only (flask-limiter's decorator would also read the window again for its headers on every answer)."""
    @functools.wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if not limiter.enabled:
            return view(*args, **kwargs)
        limit, credential = parse_limit(_failures_per_credential()), _credential_key()
        if not limiter.limiter.test(limit, credential, CREDENTIAL_SCOPE):
            abort(429)

        @after_this_request
        def count_failure(response: Response) -> Response:
            if response.status_code >= 400:
                limiter.limiter.hit(limit, credential, CREDENTIAL_SCOPE)
            return response

        return view(*args, **kwargs)
    return counted


# ------------------------------------------------------------------------------------ API


api_bp = ApiBlueprint("redemption_api", __name__, url_prefix="/api/v1",
                      description="Pass numérique : encaissement des chèques par les lieux qualifiés.")


class AsSent(fields.Raw):
    """A body value handed to the domain untouched: it checks it and refuses with its own stable codes."""

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> Any:
        return value


def _venue_choice() -> AsSent:
    return AsSent(metadata={"type": "integer", "description": "Lieu, pour un compte connecté rattaché à plusieurs lieux"})


class RedemptionRequestSchema(JsonBody):
    codes = AsSent(required=True, metadata={
        "type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"},
        "description": "Un ou deux codes de chèques du même carnet (casse et tirets indifférents)"})
    service = AsSent(required=True, metadata={
        "type": "string", "description": "Identifiant du service du référentiel (ex. premiers-pas)"})
    venue_id = _venue_choice()
    idempotency_key = AsSent(metadata={
        "type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$",
        "description": "Nom de la prestation choisi par le client (8 à 64 caractères) : la renvoyer, même des heures "
                       "plus tard (scan en file d'attente hors ligne), rend l'encaissement d'origine (200)"})


class CancellationRequestSchema(Schema):
    venue_id = _venue_choice()

    @pre_load
    def ignore_other_bodies(self, body: Any, **kwargs: Any) -> Any:
        return body if isinstance(body, dict) else {}


class RedemptionSchema(marshmallow.Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": [status.value for status in RedemptionStatus]})
    venue_id = fields.Integer()
    service = fields.String()
    booklet = fields.String()
    vintage = fields.Integer(metadata={"description": "Millésime des chèques"})
    cheques = fields.List(fields.String())
    amount_cents = fields.Integer()
    created_at = fields.String(metadata={"format": "date-time"})
    cancellable_until = fields.String(metadata={"format": "date-time"})


def _api_venue(body: dict[str, Any]) -> tuple[Venue, Actor]:
    """A scanner's API key, or venue staff signed in on the site (then with a CSRF token)."""
    token = _bearer_token()
    if token is not None:
        try:
            return access.venue_of_api_key(request_session(), token)
        except Unauthenticated:
            count_anonymous_failure("redemption-address", _failures_per_address())
            raise
    if current_user.is_authenticated and current_user.has_role(Role.VENUE_STAFF):
        csrf.protect()
        return access.staff_venue(request_session(), current_user, body.get("venue_id")), current_actor()
    count_anonymous_failure("redemption-address", _failures_per_address())
    raise Unauthenticated("Authentifiez-vous avec la clé d'API du lieu (Authorization: Bearer …).",
                          field="Authorization")


@api_bp.post("/redemptions")
@failure_limited
@csrf.exempt
@api_bp.doc(summary="Encaisser un ou deux chèques pour une prestation (tout ou rien)",
            security=[{"venueApiKey": []}])
@api_bp.arguments(RedemptionRequestSchema, location="json")
@api_bp.response(201, RedemptionSchema, description="Encaissé")
@api_bp.alt_response(200, schema=RedemptionSchema, success=True, description=(
    "Même prestation renvoyée par le même lieu dans les 10 minutes : l'encaissement d'origine"))
@api_bp.errors(400, 401, 403, 404, 409, 410, 422, 429, codes={
    400: ["csrf_failed"],
    401: ["unauthenticated"],
    403: ["not_distributed", "venue_not_qualified", "venue_cannot_redeem", "outside_territory", "service_not_allowed",
          "forbidden"],
    404: ["unknown_code"],
    409: ["already_redeemed", "service_limit_reached", "idempotency_key_reused"],
    410: ["cancelled", "expired"],
    422: ["invalid_json", "invalid_code", "too_many_cheques", "mixed_booklets", "unknown_service", "required",
          "invalid_idempotency_key"],
    429: ["rate_limited"],
})
def create_redemption(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    venue, actor = _api_venue(body)
    try:
        redemption, created = redemptions.redeem(request_session(), actor, venue, body.get("codes"), body.get("service"),
                                                 idempotency_key=body.get("idempotency_key"))
    except DomainError as refused:
        vigilance_web.count_refusal(venue, actor, refused.code)  # bursts of refusals on one key are a signal
        raise
    return redemptions.redemption_payload(redemption), 201 if created else 200


@api_bp.post("/redemptions/<int:redemption_id>/cancel")
@failure_limited
@csrf.exempt
@api_bp.doc(summary="Annuler un encaissement de son lieu dans les 24 heures, tant qu'il n'est pas sur un relevé",
            security=[{"venueApiKey": []}])
@api_bp.arguments(CancellationRequestSchema, location="json", required=False)
@api_bp.response(200, RedemptionSchema, description="Annulé")
@api_bp.errors(400, 401, 403, 404, 409, 422, 429, codes={
    400: ["csrf_failed"],
    401: ["unauthenticated"],
    403: ["forbidden"],
    404: ["unknown_redemption"],
    409: ["already_reimbursed", "already_cancelled", "cancellation_window_closed"],
    422: ["required"],
    429: ["rate_limited"],
})
def cancel_redemption(body: dict[str, Any], redemption_id: int) -> tuple[dict[str, Any], int]:
    venue, actor = _api_venue(body)
    redemption = redemptions.cancel_redemption(request_session(), actor, venue, redemption_id)
    return redemptions.redemption_payload(redemption), 200


# ----------------------------------------------------------------- distributors allowed on an order


class AllowanceRequestSchema(JsonBody):
    first = AsSent(metadata={"type": ["integer", "string", "null"],
                             "description": "Premier carnet de la plage (rang ou numéro) ; sans plage : toute la commande"})
    last = AsSent(metadata={"type": ["integer", "string", "null"], "description": "Dernier carnet de la plage"})


class AllowanceSchema(marshmallow.Schema):
    order = fields.Integer()
    distributor_id = fields.Integer()
    distributor = fields.String()
    first = fields.Integer(allow_none=True)
    last = fields.Integer(allow_none=True)


class AllowanceListSchema(marshmallow.Schema):
    order = fields.Integer()
    distributors = fields.List(fields.Nested(AllowanceSchema))


def _allowance_payload(allowance: Any) -> dict[str, Any]:
    return {"order": allowance.order_id, "distributor_id": allowance.distributor_id,
            "distributor": allowance.distributor.name, "first": allowance.first_sequence, "last": allowance.last_sequence}


def _api_sponsor_order(order_id: int, writes: bool) -> tuple[Any, Actor]:
    """An order of the sponsor whose API key is sent, or of the signed-in sponsor (CSRF token for writes)."""
    db = request_session()
    token = _bearer_token()
    if token is not None:
        key = directory_api.authenticate_api_key(db, token)
        if key is None:
            count_anonymous_failure("redemption-address", _failures_per_address())
            raise Unauthenticated("Clé d'API inconnue ou révoquée.", field="Authorization")
        order = get_order(db, order_id)
        if order.sponsor_id != key.organisation_id:
            raise Forbidden("Cette commande n'est pas celle de l'organisation de la clé.", field="order_id")
        return order, Actor(label=f"api_key:{key.prefix}")
    if current_user.is_authenticated:
        if writes and current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        return access.sponsor_order(db, current_user, order_id), current_actor()
    count_anonymous_failure("redemption-address", _failures_per_address())
    raise Unauthenticated("Authentifiez-vous avec la clé d'API du commanditaire (Authorization: Bearer …).",
                          field="Authorization")


ALLOWANCE_ERRORS = {401: ["unauthenticated"], 403: ["forbidden"], 404: ["unknown_order", "unknown_organisation"],
                    429: ["rate_limited"]}


@api_bp.get("/orders/<int:order_id>/distributors")
@failure_limited
@api_bp.doc(summary="Aiguilleurs autorisés à remettre les carnets d'une commande", security=[{"organisationApiKey": []}])
@api_bp.response(200, AllowanceListSchema)
@api_bp.errors(401, 403, 404, 429, codes=ALLOWANCE_ERRORS)
def list_allowances(order_id: int) -> dict[str, Any]:
    order, _ = _api_sponsor_order(order_id, writes=False)
    return {"order": order.id,
            "distributors": [_allowance_payload(a) for a in allowances.order_allowances(request_session(), order)]}


@api_bp.put("/orders/<int:order_id>/distributors/<int:distributor_id>")
@failure_limited
@csrf.exempt
@api_bp.doc(summary="Autoriser un aiguilleur sur une commande (toute la commande ou une plage de carnets)",
            security=[{"organisationApiKey": []}])
@api_bp.arguments(AllowanceRequestSchema, location="json", required=False)
@api_bp.response(200, AllowanceSchema, description="Autorisé")
@api_bp.errors(400, 401, 403, 404, 409, 422, 429, codes={
    **ALLOWANCE_ERRORS, 400: ["csrf_failed"], 409: ["range_overlaps", "order_closed"],
    422: ["invalid_json", "invalid_range", "not_a_distributor"]})
def put_allowance(body: dict[str, Any], order_id: int, distributor_id: int) -> dict[str, Any]:
    order, actor = _api_sponsor_order(order_id, writes=True)
    distributor = directory_api.get_organisation(request_session(), distributor_id)
    allowance = allowances.allow_distributor(request_session(), actor, order, distributor, body.get("first"),
                                             body.get("last"))
    return _allowance_payload(allowance)


@api_bp.post("/orders/<int:order_id>/distributors/<int:distributor_id>/revoke")
@failure_limited
@csrf.exempt
@api_bp.doc(summary="Retirer un aiguilleur d'une commande (les carnets remis le restent)",
            security=[{"organisationApiKey": []}])
@api_bp.response(200, AllowanceListSchema, description="Retiré : les aiguilleurs qui restent")
@api_bp.errors(400, 401, 403, 404, 429, codes={
    **ALLOWANCE_ERRORS, 400: ["csrf_failed"], 404: ["unknown_order", "unknown_organisation", "unknown_allowance"]})
def delete_allowance(order_id: int, distributor_id: int) -> dict[str, Any]:
    order, actor = _api_sponsor_order(order_id, writes=True)
    db = request_session()
    allowances.revoke_distributor(db, actor, order, directory_api.get_organisation(db, distributor_id))
    return {"order": order.id, "distributors": [_allowance_payload(a) for a in allowances.order_allowances(db, order)]}


# ------------------------------------------------------------------------------ scan page


@bp.route("/pass/scanner", methods=["GET", "POST"])
@role_required(Role.VENUE_STAFF)
@failure_limited
def scan() -> Any:
    db = request_session()
    venues = access.staff_venues(db, current_user)
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
            venue = access.chosen_venue(venues, request.form.get("venue_id"))
            redemption, created = redemptions.redeem(db, current_actor(), venue, codes, request.form.get("service"))
            result = {"redemption": redemptions.redemption_payload(redemption), "created": created,
                      "at": redemption.created_at}
            status = 201 if created else 200
        except DomainError as refused:
            error, status = refused, refused.status
    repeat_at = _repeated_here_at(result, error)
    venue = next((v for v in venues if str(v.id) == str(session.get("scan_venue"))), venues[0])
    return render_template(
        "redemption/scan.html", venues=venues, venue=venue, services=services,
        chosen_service=session.get("scan_service", ""), two=session.get("scan_two", False),
        result=result, error=error, repeat_at=repeat_at, recent=redemptions.recent_redemptions(db, venue),
        code_alphabet=cheque_codes.ALPHABET, code_length=cheque_codes.LENGTH,
    ), status


@bp.get("/pass/scanner-sw.js")
def scan_service_worker() -> Response:
    """The scan page's service worker, served from /pass/ so that its scope covers the scan page."""
    response = send_from_directory(bp.static_folder, "scan-sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _repeated_here_at(result: dict[str, Any] | None, error: DomainError | None) -> datetime | None:
    """When a scan repeats one this venue already cashed (a retry, or the cheque again): when that was."""
    if result is not None and not result["created"]:
        return result["at"]
    if error is not None and error.code == "already_redeemed" and error.details.get("redeemed_at"):
        return datetime.fromisoformat(error.details["redeemed_at"])
    return None


@bp.post("/pass/encaissements/<int:redemption_id>/annuler")
@role_required(Role.VENUE_STAFF)
def scan_cancel(redemption_id: int) -> Any:
    db = request_session()
    venue = access.staff_venue(db, current_user, request.form.get("venue_id"))
    redemptions.cancel_redemption(db, current_actor(), venue, redemption_id)
    return redirect(url_for("redemption.scan"))


# ------------------------------------------------------------------------------ distribution


DEFAULT_DISTRIBUTION_LIMIT = "10 per minute;200 per day"


def _distribution_limit() -> str:
    return current_app.config.get("DISTRIBUTION_RATE_LIMIT", DEFAULT_DISTRIBUTION_LIMIT)


@bp.route("/pass/distribution", methods=["GET", "POST"])
@role_required(Role.DISTRIBUTOR)
@limiter.limit(_distribution_limit, key_func=_credential_key, methods=["POST"], scope="distribution")
def distribution() -> Any:
    """A distributor records the booklet it hands over; the person's identity becomes a keyed pseudonym."""
    db = request_session()
    organisations = access.distributor_organisations(db, current_user)
    done, error, status = None, None, 200
    if request.method == "POST":
        try:
            distributor = access.acting_distributor(organisations, request.form.get("distributor_id"))
            booklet = get_booklet(db, request.form.get("booklet", ""))
            beneficiary = read_beneficiary(request.form.get("nom"), request.form.get("prenom"),
                                           request.form.get("date_naissance"))
            done = record_distribution(db, current_actor(), distributor, booklet, beneficiary,
                                       platform_key(current_app.config))
            status = 201
        except DomainError as refused:
            error, status = refused, refused.status
    # The identity typed is never sent back: after a refusal only the booklet number is kept in the form.
    return render_template("redemption/distribution.html", organisations=organisations, done=done, error=error,
                           booklet_number="" if done else request.form.get("booklet", "")), status


# --------------------------------------------------------------------------- sponsor report


@bp.get("/pass/commandes")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def orders() -> str:
    listed = sponsor_orders(request_session(), access.sponsor_scope(current_user))
    return render_template("redemption/orders.html", orders=listed, labels=ORDER_STATUS_LABELS)


@bp.get("/pass/commandes/<int:order_id>")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def order_report(order_id: int) -> str:
    db = request_session()
    order = access.sponsor_order(db, current_user, order_id)
    return render_template("redemption/report.html", order=order, report=sponsor_report(db, order),
                           labels=ORDER_STATUS_LABELS, can_print=current_user.has_role(Role.APTIC_STAFF),
                           allowances=allowances.order_allowances(db, order),
                           distributors=allowances.distributor_choices(db))


@bp.get("/pass/commandes/<int:order_id>/rapport.csv")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def order_report_csv(order_id: int) -> Response:
    order = access.sponsor_order(request_session(), current_user, order_id)
    body = report_csv(sponsor_report(request_session(), order))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="rapport-commande-{order.id}.csv"'})


@bp.get("/pass/commandes/<int:order_id>/carnets.pdf")
@role_required(Role.APTIC_STAFF)
def order_booklets_pdf(order_id: int) -> Response:
    """The booklets to print, streamed as they are rendered (memory stays flat whatever the order's size)."""
    db = request_session()
    order = access.sponsor_order(db, current_user, order_id)  # staff only: any order
    printing.check_printable(order)
    base_url = public_base_url(current_app.config)
    sessions = current_app.extensions["aptic.db"].sessionmaker

    def pages() -> Iterator[bytes]:
        # The request's session is closed once the view returns: the stream reads through a session of its own,
        # closed when the response is. No request context is kept (stream_with_context would leave it pushed
        # for the next requests of the thread if a client dropped the response unread).
        with sessions() as stream_db:
            yield from printing.order_pdf(stream_db, get_order(stream_db, order_id), base_url)

    return Response(pages(), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="carnets-commande-{order.id}.pdf"'})


# ------------------------------------------------------------------------------ statements


menu_entry(Role.SPONSOR, "Mes commandes et leurs rapports", "redemption.orders",
           "Carnets commandés, remis, utilisés et perdus, par commande ; export CSV", order=10)
menu_entry(Role.APTIC_STAFF, "Commandes des commanditaires", "redemption.orders",
           "Toutes les commandes et leurs rapports", order=40)
menu_entry(Role.DISTRIBUTOR, "Remettre un carnet", "redemption.distribution",
           "Enregistrer la remise d'un carnet à un bénéficiaire (un carnet par personne et par millésime)", order=10)
menu_entry(Role.VENUE_STAFF, "Scanner des chèques", "redemption.scan",
           "Encaisser les chèques d'une prestation avec la douchette", order=10)
menu_entry(Role.VENUE_STAFF, "Relevés mensuels", "redemption.statements",
           "Chèques remboursés, commission, forfait et montant versé, mois par mois", order=30)
menu_entry(Role.APTIC_STAFF, "Relevés des lieux", "redemption.statements",
           "Les relevés mensuels de tous les lieux, avec leurs factures", order=60)


STATEMENTS_PER_PAGE = 500


class StatementFilterSchema(Schema):
    venue_id = params.Integer(description="Lieu")
    month = params.Text(description="Mois AAAA-MM")


@bp.get("/pass/releves")
@role_required(Role.VENUE_STAFF, Role.APTIC_STAFF)
def statements() -> str:
    db = request_session()
    scope = access.statement_venue_scope(db, current_user)
    filters = params.parse(StatementFilterSchema)
    month = parse_month(filters["month"]) if filters["month"] else None
    if scope is None and month is None and filters["venue_id"] is None:
        month = latest_closed_month(db)  # every venue has a statement a month: staff start from the last one
    listed = venue_statements(db, scope, venue_id=filters["venue_id"], month=month, limit=STATEMENTS_PER_PAGE)
    venues = statement_venues(db, scope)
    return render_template("redemption/statements.html", statements=listed, venues=venues, staff=scope is None,
                           chosen_venue=filters["venue_id"], chosen_month=month.strftime("%Y-%m") if month else "",
                           month=month, limit=STATEMENTS_PER_PAGE)


def _statement_document(statement_id: int) -> tuple[Any, dict[str, Any]]:
    statement = access.visible_statement(request_session(), current_user, statement_id)
    return statement, invoices.invoice(statement, invoices.Issuer.from_config(current_app.config))


@bp.get("/pass/releves/<int:statement_id>")
@role_required(Role.VENUE_STAFF, Role.APTIC_STAFF)
def statement_detail(statement_id: int) -> str:
    statement, document = _statement_document(statement_id)
    return render_template("redemption/statement.html", statement=statement, document=document,
                           settlement=invoices.settlement_label(document),
                           redemptions=invoices.statement_redemptions(request_session(), statement))


@bp.get("/pass/releves/<int:statement_id>/releve.pdf")
@role_required(Role.VENUE_STAFF, Role.APTIC_STAFF)
def statement_pdf(statement_id: int) -> Response:
    statement, _ = _statement_document(statement_id)
    out = io.BytesIO()
    invoices.statements_pdf([statement], invoices.Issuer.from_config(current_app.config), out)
    return Response(out.getvalue(), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="releve-{statement.number}.pdf"'})


@bp.get("/pass/releves/<int:statement_id>/releve.csv")
@role_required(Role.VENUE_STAFF, Role.APTIC_STAFF)
def statement_csv(statement_id: int) -> Response:
    statement, _ = _statement_document(statement_id)
    body = invoices.statement_csv(request_session(), statement, invoices.Issuer.from_config(current_app.config))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="releve-{statement.number}.csv"'})


# State co-funding pages and API (calls, applications, follow-up) join these blueprints from their own module.
from redemption import cofunding_web  # noqa: E402,F401
# Vigilance (signals, controls) and journeys register their routes on the blueprints above.
from redemption import journeys_web, vigilance_web  # noqa: E402
