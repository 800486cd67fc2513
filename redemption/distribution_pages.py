"""Pages around distribution: what a distributor handed out (and undoing it), the distributors a sponsor
allows on an order, and staff's "distribution seulement" switch for organisations and venues.

A blueprint nested in the pass's own (`redemption.distributing.*`); the distribution form itself is
`redemption.distribution` in redemption.web.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from directory import api as directory_api
from directory import params
from directory.errors import DomainError, Forbidden, InvalidInput, NotFound
from directory.models import Role
from directory.navigation import menu_entry
from directory.params import Schema
from directory.web import current_actor, request_session, role_required
from redemption import access, allowances, distribution, redeeming_rights

bp = Blueprint("distributing", __name__, template_folder="templates")


# ------------------------------------------------------------------- what a distributor handed out


class UndoForm(Schema):
    reason = params.Text(description="Motif de l'annulation (facultatif)")


def _handed_out(status: int = 200, error: DomainError | None = None) -> tuple[str, int]:
    db = request_session()
    organisations = access.distributor_organisations(db, current_user)
    rows = distribution.handed_out(db, organisations)
    return render_template("redemption/handed_out.html", rows=rows, error=error,
                           limit=distribution.HISTORY_LIMIT), status


@bp.get("/pass/distribution/remises")
@role_required(Role.DISTRIBUTOR)
def handed_out_page() -> Any:
    return _handed_out()


@bp.post("/pass/distribution/remises/<int:booklet_id>/annuler")
@role_required(Role.DISTRIBUTOR)
def undo(booklet_id: int) -> Any:
    db = request_session()
    booklet = distribution.booklet_by_id(db, booklet_id)
    if booklet is None:
        raise NotFound(f"Le carnet n° {booklet_id} n'existe pas.", field="booklet", code="unknown_booklet")
    organisations = access.distributor_organisations(db, current_user)
    mine = next((o for o in organisations if o.id == booklet.distributor_id), None)
    form = params.parse(UndoForm, location="form")
    try:
        if mine is None:
            raise Forbidden(f"Le carnet n° {booklet.number} n'a pas été remis par votre organisation : vous ne pouvez "
                            "pas annuler sa remise.", field="booklet", code="not_your_distribution")
        distribution.undo_distribution(db, current_actor(), mine, booklet, form["reason"] or "")
    except DomainError as refused:
        return _handed_out(refused.status, refused)
    flash(f"La remise du carnet n° {booklet.number} est annulée : le carnet peut être remis à nouveau.")
    return redirect(url_for("redemption.distributing.handed_out_page"))


# ------------------------------------------------------------------- sponsors allow distributors


class AllowanceForm(Schema):
    distributor_id = params.Integer(description="Organisation aiguilleur")
    first = params.Text(description="Premier carnet de la plage (rang ou numéro)")
    last = params.Text(description="Dernier carnet de la plage (rang ou numéro)")


@bp.post("/pass/commandes/<int:order_id>/aiguilleurs")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def allow(order_id: int) -> Any:
    db = request_session()
    order = access.sponsor_order(db, current_user, order_id)
    form = params.parse(AllowanceForm, location="form")
    if form["distributor_id"] is None:
        raise InvalidInput("Choisissez l'aiguilleur à autoriser.", field="distributor_id", code="required")
    distributor = directory_api.get_organisation(db, form["distributor_id"])
    allowances.allow_distributor(db, current_actor(), order, distributor, form["first"], form["last"])
    flash(f"« {distributor.name} » peut remettre les carnets de la commande n° {order.id}.")
    return redirect(url_for("redemption.order_report", order_id=order.id) + "#aiguilleurs")


@bp.post("/pass/commandes/<int:order_id>/aiguilleurs/<int:distributor_id>/retirer")
@role_required(Role.SPONSOR, Role.APTIC_STAFF)
def revoke(order_id: int, distributor_id: int) -> Any:
    db = request_session()
    order = access.sponsor_order(db, current_user, order_id)
    distributor = directory_api.get_organisation(db, distributor_id)
    allowances.revoke_distributor(db, current_actor(), order, distributor)
    flash(f"« {distributor.name} » ne peut plus remettre les carnets de la commande n° {order.id}.")
    return redirect(url_for("redemption.order_report", order_id=order.id) + "#aiguilleurs")


# ------------------------------------------------------------------- staff: the right to redeem


class RightsFilter(Schema):
    q = params.Text(description="Nom d'organisation, de lieu ou commune")


class RightForm(Schema):
    kind = params.Text(description="organisation ou venue")
    id = params.Integer(description="Numéro de l'organisation ou du lieu")
    distribution_only = params.Flag(description="Distribution seulement (ne peut pas encaisser)")
    reason = params.Text(description="Motif")


@bp.route("/pass/droit-d-encaisser", methods=["GET", "POST"])
@role_required(Role.APTIC_STAFF)
def redeeming_right() -> Any:
    db = request_session()
    error, status = None, 200
    if request.method == "POST":
        form = params.parse(RightForm, location="form")
        try:
            record, changed = redeeming_rights.change_redemption_right(
                db, current_actor(), form["kind"], form["id"], form["distribution_only"], form["reason"])
        except DomainError as refused:
            error, status = refused, refused.status
        else:
            name = getattr(record, "name", None) or getattr(record, "nom", "")
            state = "en distribution seulement" if record.distribution_only else "autorisé à encaisser"
            flash(f"« {name} » est {state}." if changed else f"« {name} » était déjà {state}.")
            return redirect(url_for("redemption.distributing.redeeming_right", q=request.args.get("q") or None))
    query = params.parse(RightsFilter)["q"] or ""
    found = redeeming_rights.search(db, query)
    return render_template("redemption/redeeming_right.html", found=found, query=query, error=error,
                           limit=redeeming_rights.SEARCH_LIMIT), status


menu_entry(Role.DISTRIBUTOR, "Carnets que j'ai remis", "redemption.distributing.handed_out_page",
           "Les remises de votre organisation ; annuler une remise dans les 24 heures", order=20)
menu_entry(Role.APTIC_STAFF, "Droit d'encaisser", "redemption.distributing.redeeming_right",
           "Organisations et lieux en « distribution seulement » (France Services…), avec motif", order=45)
