"""Staff pages for the quota rule and per-territory overrides: set or clear them from a form, with a reason
(the same domain calls as `aptic qualification quota …`, audited)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from directory import french
from directory.errors import DomainError
from directory.models import Role
from directory.navigation import menu_entry
from directory.web import current_actor, request_session, role_required
from qualification import api

bp = Blueprint("quotas", __name__, template_folder="templates", url_prefix="/quotas")

menu_entry(Role.APTIC_STAFF, "Règle de quota et quotas fixés à la main", "qualification.quotas.quotas",
           "Changer la règle nationale, fixer ou retirer le quota d'un territoire, avec un motif", order=25)

LEVEL_LABELS = {"region": "Région", "departement": "Département", "epci": "EPCI", "commune": "Commune"}


def _page(error: DomainError | None = None, form: dict[str, Any] | None = None, status: int = 200) -> Any:
    session = request_session()
    return render_template("qualification/quotas.html", policy=api.current_policy(session),
                           overrides=api.list_overrides(session), levels=api.QUOTA_LEVELS, level_labels=LEVEL_LABELS,
                           error=error, form=form or {}), status


def _done(message: str) -> Any:
    flash(message)
    return redirect(url_for("qualification.quotas.quotas"))


@bp.get("/")
@role_required(Role.APTIC_STAFF)
def quotas() -> Any:
    return _page()


@bp.post("/regle")
@role_required(Role.APTIC_STAFF)
def set_policy() -> Any:
    form = request.form
    try:
        policy = api.set_policy(request_session(), current_actor(), level=form.get("level", ""),
                                ratio=form.get("ratio", ""), reason=form.get("reason", ""))
    except DomainError as error:
        return _page(error, {"form": "policy", **form}, error.status)
    return _done(f"Règle enregistrée : quota par {LEVEL_LABELS[policy.level].lower()}, un lieu par tranche de "
                 f"{french.number(policy.ratio)} habitants. Elle s'applique aux prochaines décisions et à la prochaine reconstruction.")


@bp.post("/territoires")
@role_required(Role.APTIC_STAFF)
def set_override() -> Any:
    form = request.form
    try:
        row = api.set_override(request_session(), current_actor(), level=form.get("level", ""),
                               code=form.get("code", ""), ratio=form.get("ratio", ""), quota=form.get("quota", ""),
                               reason=form.get("reason", ""))
    except DomainError as error:
        return _page(error, {"form": "override", **form}, error.status)
    fixed = f"quota fixé à {row.quota}" if row.quota is not None else f"un lieu par tranche de {french.number(row.ratio)} habitants"
    return _done(f"{LEVEL_LABELS[row.level]} {row.code} : {fixed}.")


@bp.post("/territoires/retirer")
@role_required(Role.APTIC_STAFF)
def clear_override() -> Any:
    form = request.form
    try:
        api.clear_override(request_session(), current_actor(), level=form.get("level", ""), code=form.get("code", ""),
                           reason=form.get("reason", ""))
    except DomainError as error:
        return _page(error, {"form": f"clear:{form.get('level', '')}:{form.get('code', '')}", **form}, error.status)
    return _done(f"{LEVEL_LABELS.get(form.get('level', ''), '')} {form.get('code', '')} : le quota suit de nouveau "
                 "la règle nationale.")
