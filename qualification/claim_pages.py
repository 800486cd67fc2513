"""Pages from open data to qualification: find an imported venue, claim it for one's structure, or (staff) invite one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from directory import api as directory_api
from directory.errors import DomainError, NotFound
from directory.models import VENUE_STATUS_LABELS, Organisation, Role, Venue
from directory.navigation import menu_entry
from directory.web import current_actor, request_session, role_required
from qualification import claims

bp = Blueprint("claims", __name__, template_folder="templates", url_prefix="/lieux-ouverts")

for _role in claims.CLAIM_ROLES:
    menu_entry(_role, "Revendiquer un lieu des données ouvertes", "qualification.claims.open_venues",
               "Retrouver votre lieu importé des données ouvertes et démarrer son dossier de qualification.", order=60)
menu_entry(Role.APTIC_STAFF, "Inviter une structure sur un lieu des données ouvertes", "qualification.claims.open_venues",
           "Proposer à une structure de qualifier un lieu importé des données ouvertes.", order=60)


def _may_browse() -> None:
    if not (current_user.has_role(Role.APTIC_STAFF) or claims.claiming_organisations(current_user)):
        abort(403)


def _venue(venue_id: int) -> Venue:
    venue = request_session().get(Venue, venue_id)
    if venue is None:
        raise NotFound("Ce lieu n'existe pas.", field="venue", code="unknown_venue")
    return venue


def _operators() -> list[Organisation]:
    return list(request_session().scalars(
        select(Organisation).where(Organisation.is_venue_operator).order_by(Organisation.name, Organisation.id)))


def render_venue(venue: Venue, status: int = 200) -> Any:
    staff = current_user.has_role(Role.APTIC_STAFF)
    return render_template(
        "qualification/open_venue.html", venue=venue, status_labels=VENUE_STATUS_LABELS,
        organisations=claims.claiming_organisations(current_user), staff=staff,
        operators=_operators() if staff else [],
    ), status


@bp.get("/")
@login_required
def open_venues() -> str:
    _may_browse()
    query = request.args.get("q", "").strip()
    venues = claims.claimable_venues(request_session(), query)
    return render_template("qualification/open_venues.html", venues=venues, query=query, limit=claims.MAX_LISTED)


@bp.get("/<int:venue_id>")
@login_required
def open_venue(venue_id: int) -> Any:
    _may_browse()
    return render_venue(_venue(venue_id))


@bp.post("/<int:venue_id>/revendication")
@login_required
def claim(venue_id: int) -> Any:
    venue = _venue(venue_id)
    organisation_id = request.form.get("organisation_id", type=int)
    organisation = next((o for o in claims.claiming_organisations(current_user) if o.id == organisation_id), None)
    if organisation is None:
        abort(403)
    try:
        application = claims.claim_venue(request_session(), current_actor(), venue, organisation)
    except DomainError as error:
        flash(error.message)
        return render_venue(venue, error.status)
    flash(f"« {venue.nom} » est dans votre dossier de qualification n° {application.id} : complétez les pièces, "
          "les coordonnées bancaires, puis déposez le dossier.")
    return redirect(url_for("qualification.application_page", application_id=application.id))


@bp.post("/<int:venue_id>/invitation")
@role_required(Role.APTIC_STAFF)
def invite(venue_id: int) -> Any:
    venue = _venue(venue_id)
    try:
        organisation = directory_api.get_organisation(request_session(), request.form.get("organisation_id", type=int) or 0)
        application = claims.claim_venue(request_session(), current_actor(), venue, organisation, invited=True)
    except DomainError as error:
        flash(error.message)
        return render_venue(venue, error.status)
    flash(f"« {organisation.name} » est invitée : le dossier n° {application.id} contient « {venue.nom} ».")
    return redirect(url_for("qualification.application_page", application_id=application.id))
