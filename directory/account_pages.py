"""Staff and venue pages for organisations, accounts and API keys, and one's own password.

APTIC staff manage every organisation, account and key; venue staff the API keys of the
organisations whose venues they work at. Views stay thin: the rules are in `accounts`.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from directory import accounts, organisations
from directory.errors import DomainError
from directory.models import ROLE_LABELS, Role, Venue
from directory.navigation import menu_entry
from directory.web import bp, current_actor, request_session, role_required

menu_entry(Role.APTIC_STAFF, "Organisations", "directory.organisations",
           "Commanditaires, aiguilleurs, structures porteuses de lieux", order=60)
menu_entry(Role.APTIC_STAFF, "Comptes", "directory.users", "Créer, désactiver ou réactiver un compte", order=61)
menu_entry(Role.APTIC_STAFF, "Clés d'API", "directory.api_keys", "Clés des douchettes : créer, révoquer", order=62)
menu_entry(Role.VENUE_STAFF, "Clés d'API de mes lieux", "directory.api_keys",
           "Les clés des douchettes de vos lieux : créer, révoquer", order=40)


class UserForm(FlaskForm):
    email = EmailField("Courriel", validators=[DataRequired("Indiquez le courriel.")],
                       render_kw={"autocomplete": "off"})
    full_name = StringField("Nom et prénom", validators=[DataRequired("Indiquez le nom."), Length(max=200)],
                            render_kw={"autocomplete": "off"})
    password = PasswordField(f"Mot de passe initial ({accounts.MIN_PASSWORD_LENGTH} caractères au moins)",
                             validators=[DataRequired("Indiquez un mot de passe.")],
                             render_kw={"autocomplete": "new-password"})
    organisation = SelectField("Organisation", coerce=int)
    role = SelectField("Rôle", choices=[(role.value, label) for role, label in ROLE_LABELS.items()])


class PasswordForm(FlaskForm):
    current = PasswordField("Mot de passe actuel", validators=[DataRequired("Indiquez votre mot de passe actuel.")],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(f"Nouveau mot de passe ({accounts.MIN_PASSWORD_LENGTH} caractères au moins)",
                        validators=[DataRequired("Indiquez le nouveau mot de passe.")],
                        render_kw={"autocomplete": "new-password"})


class ApiKeyForm(FlaskForm):
    label = StringField("Nom de la clé (ex. douchette de l'accueil)", validators=[Length(max=200)])
    venue = SelectField("Lieu", coerce=int)


def _field_error(form: FlaskForm, error: DomainError) -> None:
    target = getattr(form, error.field, None) if error.field else None
    (target.errors if target is not None else form.form_errors).append(error.message)


# ------------------------------------------------------------------------- organisations


@bp.get("/organisations", endpoint="organisations")
@role_required(Role.APTIC_STAFF)
def organisations_page() -> str:
    return render_template("directory/organisations.html",
                           organisations=organisations.list_organisations(request_session()))


# ----------------------------------------------------------------------------- accounts


@bp.get("/comptes")
@role_required(Role.APTIC_STAFF)
def users() -> str:
    return render_template("directory/users.html", users=accounts.list_users(request_session()),
                           role_labels=ROLE_LABELS)


@bp.route("/comptes/nouveau", methods=["GET", "POST"])
@role_required(Role.APTIC_STAFF)
def new_user() -> Any:
    session = request_session()
    form = UserForm()
    form.organisation.choices = [(o.id, o.name) for o in organisations.list_organisations(session)]
    if form.validate_on_submit():
        try:
            user = accounts.create_user(session, current_actor(), email=form.email.data, full_name=form.full_name.data,
                                        password=form.password.data)
            accounts.add_membership(session, current_actor(), user,
                                    organisations.get_organisation(session, form.organisation.data), form.role.data)
        except DomainError as error:
            _field_error(form, error)
            return render_template("directory/user_form.html", form=form), error.status
        flash(f"Compte {user.email} créé.")
        return redirect(url_for("directory.users"))
    return render_template("directory/user_form.html", form=form), 422 if form.errors else 200


def _set_active(user_id: int, active: bool) -> Any:
    session = request_session()
    user = accounts.get_user(session, user_id)
    accounts.set_active(session, current_actor(), user, active)
    flash(f"Compte {user.email} {'réactivé' if active else 'désactivé : ses sessions sont closes'}.")
    return redirect(url_for("directory.users"))


@bp.post("/comptes/<int:user_id>/desactiver")
@role_required(Role.APTIC_STAFF)
def deactivate_user(user_id: int) -> Any:
    return _set_active(user_id, False)


@bp.post("/comptes/<int:user_id>/reactiver")
@role_required(Role.APTIC_STAFF)
def reactivate_user(user_id: int) -> Any:
    return _set_active(user_id, True)


@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    form = PasswordForm()
    if form.validate_on_submit():
        if not accounts.check_password(current_user, form.current.data):
            form.current.errors.append("Mot de passe actuel incorrect.")
            return render_template("directory/password.html", form=form), 422
        try:
            accounts.set_password(request_session(), current_actor(), current_user, form.new.data)
        except DomainError as error:
            form.new.errors.append(error.message)
            return render_template("directory/password.html", form=form), error.status
        login_user(current_user._get_current_object())  # this browser stays signed in with the new session version; the others end
        flash("Mot de passe changé. Vos autres sessions sont closes.")
        return redirect(url_for("directory.account"))
    return render_template("directory/password.html", form=form), 422 if form.errors else 200


# ----------------------------------------------------------------------------- API keys


def _key_scope() -> list[int] | None:
    """None for APTIC staff (every key); otherwise the organisations whose venues the user works at."""
    return None if current_user.has_role(Role.APTIC_STAFF) else accounts.venue_operator_ids(current_user)


def _scope_venues(scope: list[int] | None) -> list[Venue]:
    query = select(Venue).where(Venue.organisation_id.is_not(None)).order_by(Venue.nom, Venue.id)
    if scope is not None:
        query = query.where(Venue.organisation_id.in_(scope))
    return list(request_session().scalars(query))


@bp.route("/cles-api", methods=["GET", "POST"])
@role_required(Role.APTIC_STAFF, Role.VENUE_STAFF)
def api_keys() -> Any:
    session = request_session()
    scope = _key_scope()
    venues = _scope_venues(scope)
    form = ApiKeyForm()
    form.venue.choices = [(v.id, f"{v.nom} — {v.commune}") for v in venues]
    token, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            venue = next(v for v in venues if v.id == form.venue.data)
            try:
                key, token = accounts.create_api_key(session, current_actor(), venue.organisation, form.label.data, venue)
            except DomainError as error:
                _field_error(form, error)
                status = error.status
            else:
                status = 201
        else:
            status = 422
    return render_template("directory/api_keys.html", form=form, token=token,
                           keys=accounts.list_api_keys(session, scope), has_venues=bool(venues)), status


@bp.post("/cles-api/<int:key_id>/revoquer")
@role_required(Role.APTIC_STAFF, Role.VENUE_STAFF)
def revoke_api_key(key_id: int) -> Any:
    session = request_session()
    key = accounts.get_api_key(session, key_id)
    scope = _key_scope()
    if scope is not None and key.organisation_id not in scope:
        abort(403)
    accounts.revoke_api_key(session, current_actor(), key)
    flash(f"Clé « {key.label} » (aptic_{key.prefix}_…) révoquée : elle est refusée dès maintenant.")
    return redirect(url_for("directory.api_keys"))
