"""Accounts on the web: sign-in, sign-out, the account page, organisations; and the shared web
extensions (login manager, CSRF, rate limiter) every blueprint uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse as parse_limit
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from directory import accounts, organisations
from directory.audit import Actor, audit_trail
from directory.errors import DomainError
from directory.models import ROLE_LABELS, LegalForm, Role, User
from directory.navigation import entries_for

bp = Blueprint("directory", __name__, template_folder="templates")
login_manager = LoginManager()
login_manager.login_view = "directory.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def count_anonymous_failure(scope: str, limit: str) -> None:
    """One more failed unauthenticated attempt from this address (behind the trusted proxies, the
    client's own); beyond `limit` the answer is 429. Called only once a credential was refused, so
    a valid key or session never shares this bucket and cannot be locked out by someone else's failures."""
    if limiter.enabled and not limiter.limiter.hit(parse_limit(limit), scope, get_remote_address()):
        abort(429)


def limit_anonymous(scope: str, setting: str) -> Callable[[], None]:
    """A hook counting one use of a costly service (the geocoder) by an anonymous visitor, per address,
    against the limit in `setting`; beyond it the answer is 429. Signed-in users are not counted."""
    def count_use() -> None:
        if limiter.enabled and not current_user.is_authenticated and not limiter.limiter.hit(
                parse_limit(current_app.config[setting]), scope, get_remote_address()):
            abort(429)
    return count_use


def request_session() -> Session:
    """The unit of work of the current request (opened by the shell's database extension)."""
    return current_app.extensions["aptic.db"].request_session()


def current_actor() -> Actor:
    if current_user.is_authenticated:
        return Actor.of_user(current_user)
    return Actor(label=f"anonymous:{request.remote_addr}")


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    return accounts.active_user(request_session(), session_id)


def role_required(*roles: Role) -> Callable:
    """Only signed-in users holding one of these roles (in any organisation) get through."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(current_user.has_role(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


class LoginForm(FlaskForm):
    email = EmailField("Courriel", validators=[DataRequired("Indiquez votre courriel."), Email("Courriel invalide.")],
                       render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("Mot de passe", validators=[DataRequired("Indiquez votre mot de passe.")],
                             render_kw={"autocomplete": "current-password"})


class OrganisationForm(FlaskForm):
    name = StringField("Nom", validators=[DataRequired("Indiquez le nom."), Length(max=300)])
    legal_form = SelectField(
        "Forme juridique",
        choices=[
            (LegalForm.ASSOCIATION.value, "Association"),
            (LegalForm.COMPANY.value, "Entreprise"),
            (LegalForm.LOCAL_AUTHORITY.value, "Collectivité territoriale"),
            (LegalForm.PUBLIC_BODY.value, "Établissement public"),
            (LegalForm.COOPERATIVE.value, "Coopérative (SCOP, SCIC)"),
            (LegalForm.OTHER.value, "Autre"),
        ],
    )
    siret = StringField("SIRET (14 chiffres)")
    rna = StringField("Numéro RNA (associations sans SIRET)")
    code_insee = StringField("Code INSEE de la commune du siège")
    is_sponsor = BooleanField("Commanditaire (achète des pass)")
    is_distributor = BooleanField("Aiguilleur (distribue des pass)")
    is_venue_operator = BooleanField("Gère des lieux de médiation numérique")


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/"):
        return target
    return url_for("directory.account")


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"], deduct_when=lambda r: r.status_code != 302)
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.sign_in(request_session(), form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("Courriel ou mot de passe incorrect.")
        return render_template("directory/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("directory/login.html", form=form), status


@bp.post("/deconnexion")
@login_required
def logout() -> Any:
    # A copy of the cookie taken before signing out must not open anything either.
    accounts.end_sessions(request_session(), current_actor(), current_user, "signed_out")
    logout_user()
    flash("Vous êtes déconnecté.")
    return redirect(url_for("maps.home"))


@bp.get("/compte")
@login_required
def account() -> str:
    sections = [(membership, entries_for(membership.role)) for membership in current_user.memberships]
    return render_template("directory/account.html", user=current_user, role_labels=ROLE_LABELS, sections=sections)


@bp.route("/organisations/nouvelle", methods=["GET", "POST"])
@role_required(Role.APTIC_STAFF)
def new_organisation() -> Any:
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = organisations.create_organisation(
                request_session(),
                current_actor(),
                name=form.name.data,
                legal_form=form.legal_form.data,
                siret=form.siret.data or None,
                rna=form.rna.data or None,
                code_insee=form.code_insee.data or None,
                is_sponsor=form.is_sponsor.data,
                is_distributor=form.is_distributor.data,
                is_venue_operator=form.is_venue_operator.data,
            )
        except DomainError as error:
            target = getattr(form, error.field, None) if error.field else None
            (target.errors if target is not None else form.form_errors).append(error.message)
            g.form_error_code = error.code
            return render_template("directory/organisation_form.html", form=form), error.status
        flash(f"Organisation « {organisation.name} » créée.")
        return redirect(url_for("directory.organisation", organisation_id=organisation.id))
    status = 422 if form.errors else 200
    return render_template("directory/organisation_form.html", form=form), status


@bp.get("/organisations/<int:organisation_id>")
@login_required
def organisation(organisation_id: int) -> str:
    organisation = organisations.get_organisation(request_session(), organisation_id)
    if not accounts.may_see_organisation(current_user, organisation):
        abort(403)
    trail = audit_trail(request_session(), "organisation", organisation.id)
    members = (accounts.list_users(request_session(), [organisation.id])
               if current_user.has_role(Role.APTIC_STAFF) else [])
    return render_template("directory/organisation.html", organisation=organisation, trail=trail, members=members)


from directory import account_pages  # noqa: E402,F401 - its views join this blueprint
from directory.boundary_api import api_bp  # noqa: E402,F401 - the boundaries every map draws, in the JSON API
