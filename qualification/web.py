"""Qualification pages: the applicant's file, and the APTIC back office (review, decisions, density)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from directory import api as directory_api
from directory import basemap, params
from directory.errors import DomainError
from directory.models import Role
from directory.navigation import menu_entry
from directory.web import current_actor, request_session, role_required
from qualification import api, claim_pages, quota_pages, recommendation_pages
from qualification.consolidation import DEFAULT_MIN_CHEQUES_PER_VENUE, density_table_with_volumes
from qualification.density_map import density_map
from qualification.density_table import COLUMNS, density_page, filter_choices
from qualification.models import (
    APPLICATION_STATUS_LABELS,
    VENUE_OUTCOME_LABELS,
    Application,
)

bp = Blueprint("qualification", __name__, template_folder="templates", url_prefix="/qualification")
bp.register_blueprint(claim_pages.bp)
bp.register_blueprint(recommendation_pages.bp)
api_bp = recommendation_pages.api_bp
bp.register_blueprint(quota_pages.bp)

menu_entry(Role.APTIC_STAFF, "Dossiers de qualification", "qualification.back_office",
           "Instruire les candidatures : pièces, coordonnées bancaires, décisions", order=10)
menu_entry(Role.APTIC_STAFF, "Densité et quotas", "qualification.density",
           "Lieux qualifiés par territoire, quotas et liste d'attente", order=20)
menu_entry(Role.VENUE_STAFF, "Mes dossiers de qualification", "qualification.my_applications",
           "Suivre ou compléter les candidatures de vos lieux", order=50)

SITE_TEXT_FIELDS = ("nom", "adresse", "code_postal", "commune", "code_insee", "horaires")


def _storage() -> Any:
    return api.upload_storage(current_app.config, current_app.instance_path)


def _is_staff() -> bool:
    return current_user.has_role(Role.APTIC_STAFF)


def _application_for_user(application_id: int) -> Application:
    application = api.get_application(request_session(), application_id)
    if not directory_api.may_see_organisation(current_user, application.organisation):
        abort(403)
    return application


def _fail(error: DomainError, application: Application) -> Any:
    flash(error.message)
    return render_application(application, error.status)


def render_application(application: Application, status: int = 200) -> Any:
    session = request_session()
    staff = _is_staff()
    return render_template(
        "qualification/application.html",
        application=application,
        staff=staff,
        status_labels=APPLICATION_STATUS_LABELS,
        outcome_labels=VENUE_OUTCOME_LABELS,
        explanation=api.status_explanation(application),
        checklist=api.checklist(application),
        documents=api.required_documents(application.organisation.legal_form),
        services=directory_api.active_services(session),
        proposals=api.proposals_under_review(session, application) if staff else [],
        decisions=api.decisions_of(session, application),
        trail=directory_api.audit_trail(session, "application", application.id),
    ), status


@bp.get("/")
@role_required(Role.APTIC_STAFF)
def back_office() -> str:
    return render_template("qualification/back_office.html", rows=api.review_queue(request_session()),
                           status_labels=APPLICATION_STATUS_LABELS,
                           outcome_labels=VENUE_OUTCOME_LABELS)


@bp.get("/mes-dossiers")
@login_required
def my_applications() -> str:
    organisation_ids = [m.organisation_id for m in current_user.memberships]
    return render_template("qualification/my_applications.html",
                           applications=api.applications_of(request_session(), organisation_ids),
                           organisations={m.organisation for m in current_user.memberships},
                           status_labels=APPLICATION_STATUS_LABELS)


@bp.post("/dossiers")
@login_required
def new_application() -> Any:
    organisation_id = request.form.get("organisation_id", type=int)
    if not any(m.organisation_id == organisation_id for m in current_user.memberships):
        abort(403)
    session = request_session()
    application = api.create_application(session, current_actor(), directory_api.get_organisation(session, organisation_id))
    flash("Dossier créé : ajoutez vos points de présence, vos pièces et vos coordonnées bancaires.")
    return redirect(url_for("qualification.application_page", application_id=application.id))


@bp.post("/dossiers/<int:application_id>/lieux")
@login_required
def add_site(application_id: int) -> Any:
    application = _application_for_user(application_id)
    fields: dict[str, Any] = {name: request.form.get(name, "") for name in SITE_TEXT_FIELDS}
    fields["services"] = request.form.getlist("services")
    for name in ("longitude", "latitude"):
        raw = request.form.get(name, "").strip().replace(",", ".")
        if raw:
            try:
                fields[name] = float(raw)
            except ValueError:
                return _fail(DomainError(f"La {name} « {raw} » n'est pas un nombre.", field=name,
                                         code=f"invalid_{name}", status=422), application)
    try:
        venue = api.add_site(request_session(), current_actor(), application, fields)
    except DomainError as error:
        return _fail(error, application)
    flash(f"Point de présence « {venue.nom} » ajouté.")
    return redirect(url_for("qualification.application_page", application_id=application.id))


@bp.get("/dossiers/<int:application_id>")
@login_required
def application_page(application_id: int) -> Any:
    return render_application(_application_for_user(application_id))


@bp.get("/dossiers/<int:application_id>/documents/<int:document_id>")
@login_required
def document_file(application_id: int, document_id: int) -> Response:
    """A supporting document, for staff and the applicant organisation only: downloaded, never shown inline."""
    application = _application_for_user(application_id)
    document = next((d for d in application.documents if d.id == document_id), None)
    path = api.document_path(_storage(), document) if document is not None else None
    if path is None or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=document.content_type, as_attachment=True,
                         download_name=document.original_name, conditional=False, etag=False, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/dossiers/<int:application_id>/documents")
@login_required
def upload_document(application_id: int) -> Any:
    application = _application_for_user(application_id)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise DomainError("Choisissez un fichier à envoyer.", field="file", code="required", status=422)
        limit = current_app.config.get("QUALIFICATION_MAX_UPLOAD_BYTES", api.MAX_DOCUMENT_BYTES)
        content = upload.stream.read(limit + 1)
        api.store_document(request_session(), current_actor(), application, request.form.get("kind", ""),
                           upload.filename, content, _storage(), max_bytes=limit)
    except DomainError as error:
        return _fail(error, application)
    flash(f"Document « {api.DOCUMENT_LABELS[request.form['kind']]} » enregistré.")
    return redirect(url_for("qualification.application_page", application_id=application.id))


@bp.post("/dossiers/<int:application_id>/banque")
@login_required
def bank_details(application_id: int) -> Any:
    application = _application_for_user(application_id)
    try:
        api.set_bank_details(request_session(), current_actor(), application, iban=request.form.get("iban", ""),
                             bic=request.form.get("bic", ""), account_holder=request.form.get("account_holder", ""))
    except DomainError as error:
        return _fail(error, application)
    flash("Coordonnées bancaires enregistrées.")
    return redirect(url_for("qualification.application_page", application_id=application.id))


@bp.post("/dossiers/<int:application_id>/depot")
@login_required
def submit(application_id: int) -> Any:
    application = _application_for_user(application_id)
    try:
        api.submit_application(request_session(), current_actor(), application)
    except DomainError as error:
        return _fail(error, application)
    flash("Dossier déposé : l'équipe APTIC va l'examiner.")
    return redirect(url_for("qualification.application_page", application_id=application.id))


@bp.post("/dossiers/<int:application_id>/instruction")
@role_required(Role.APTIC_STAFF)
def staff_action(application_id: int) -> Any:
    application = _application_for_user(application_id)
    action, reason = request.form.get("action", ""), request.form.get("reason", "")
    session, actor = request_session(), current_actor()
    try:
        if action == "complete":
            api.mark_complete(session, actor, application)
        elif action == "decide":
            for decision in api.decide(session, actor, application):
                flash(decision.sentence)
        elif action == "reject":
            api.reject_application(session, actor, application, reason)
        elif action == "return":
            api.return_to_draft(session, actor, application, reason)
        elif action == "accept_bank_holder":
            api.accept_bank_holder(session, actor, application, reason)
        else:
            raise DomainError(f"Action inconnue : « {action} ».", field="action", code="invalid_action", status=422)
    except DomainError as error:
        return _fail(error, application)
    return redirect(url_for("qualification.application_page", application_id=application.id))


class DensityQuery(params.Schema):
    """The density page's selection, all in the URL: level, filters, sort column and order, page."""

    niveau = params.Text(description="Niveau de territoire (par défaut celui de la règle)")
    region = params.Text(description="Code INSEE de la région")
    departement = params.Text(description="Code INSEE du département")
    tri = params.Text(description="Colonne de tri")
    ordre = params.Text(description="asc ou desc")
    page = params.Integer(load_default=1, metadata={"minimum": 1})


# Beyond this many territories, the map colours those of the current page only (the commune level).
DENSITY_MAP_MAX_TERRITORIES = 3_000


@bp.get("/densite")
@role_required(Role.APTIC_STAFF)
def density() -> str:
    session = request_session()
    query = params.parse(DensityQuery)
    rows = density_table_with_volumes(session, query["niveau"] or None,
                                      current_app.config.get("CONSOLIDATION_MIN_CHEQUES", DEFAULT_MIN_CHEQUES_PER_VENUE))
    policy = api.current_policy(session)
    table = density_page(session, rows, sort=query["tri"] or "code", order=query["ordre"] or "asc",
                         region=query["region"], departement=query["departement"], page=query["page"])
    # Island communes that are their own territory come first in the rows: the level is the others'.
    level = next((row.level for row in rows if row.level != "commune"), rows[0].level if rows else policy.level)
    selection = {"niveau": query["niveau"] or None, "region": table.region, "departement": table.departement,
                 "tri": table.sort if table.sort != "code" else None, "ordre": table.order if table.order != "asc" else None}
    mapped = rows if len(rows) <= DENSITY_MAP_MAX_TERRITORIES else table.rows

    def link(**changes: Any) -> str:
        """This page's URL with some of its selection changed (the page back to 1 unless given)."""
        wanted = {**selection, "page": None, **changes}
        return url_for("qualification.density", **{k: v for k, v in wanted.items() if v not in (None, "", 1)})

    return render_template("qualification/density.html", table=table, level=level, levels=api.QUOTA_LEVELS,
                           policy=policy, columns=COLUMNS, selection=selection, link=link,
                           choices=filter_choices(session, table.region), mapped_all=mapped is rows,
                           map=basemap.page_parts(density_map(mapped)))
