"""Staff pages of the vigilance: open signals and their marking, the monthly control plan, a venue's history.

Routes join the pass blueprint of `redemption.web`; handlers parse, call `signals` / `controls`, render.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, redirect, render_template, request, url_for

from directory import api as directory_api
from directory import params
from directory.api import Actor
from directory.db import utcnow
from directory.models import Role, Venue
from directory.navigation import menu_entry
from directory.params import Schema
from directory.web import current_actor, request_session, role_required
from redemption import controls, signals
from redemption.models import (
    CONTROL_STATUS_LABELS,
    SIGNAL_KIND_LABELS,
    SIGNAL_MACHINE,
    SIGNAL_STATUS_LABELS,
    ControlStatus,
    SignalStatus,
)
from redemption.months import paris_date, parse_month
from redemption.web import bp

menu_entry(Role.APTIC_STAFF, "Signaux des encaissements", "redemption.signals_page",
           "Encaissements suspects, expliqués : à justifier ou à instruire", order=62)
menu_entry(Role.APTIC_STAFF, "Plan de contrôle des lieux", "redemption.controls_page",
           "L'échantillon du mois, pondéré par les signaux, et le résultat des contrôles", order=64)


def count_refusal(venue: Venue, actor: Actor, code: str) -> None:
    """Keep a refused scan of a scanner key in its own unit of work: the request's is rolled back."""
    if not actor.label.startswith("api_key:"):
        return
    venue_id = venue.id  # read before the rollback expires it
    request_session().rollback()  # releases SQLite's write lock before the second connection writes
    with current_app.extensions["aptic.db"].unit_of_work() as session:
        signals.record_refusal(session, venue_id, actor, code)


class SignalFilterSchema(Schema):
    statut = params.Text(description="Statut : open, justified, to_investigate (vide : tous)")
    type = params.Text(description="Type de signal")
    lieu = params.Integer(description="Lieu")


@bp.get("/pass/signaux")
@role_required(Role.APTIC_STAFF)
def signals_page() -> str:
    filters = params.parse(SignalFilterSchema)
    status = filters["statut"] if filters["statut"] is not None else SignalStatus.OPEN.value
    listed = signals.list_signals(request_session(), status=status or None, venue_id=filters["lieu"],
                                  kind=filters["type"] or None)
    return render_template("redemption/signals.html", signals=listed, status=status, kind=filters["type"] or "",
                           kinds=SIGNAL_KIND_LABELS, statuses=SIGNAL_STATUS_LABELS, machine=SIGNAL_MACHINE,
                           computed=request.args.get("calcul"))


@bp.post("/pass/signaux/calcul")
@role_required(Role.APTIC_STAFF)
def compute_signals_now() -> Any:
    result = signals.compute_signals(request_session(), current_actor())
    return redirect(url_for("redemption.signals_page", calcul=f"{result.created}-{result.updated}"))


@bp.post("/pass/signaux/<int:signal_id>/statut")
@role_required(Role.APTIC_STAFF)
def mark_signal(signal_id: int) -> Any:
    db = request_session()
    signal = signals.get_signal(db, signal_id)
    signals.mark_signal(db, current_actor(), signal, request.form.get("status", ""), request.form.get("comment"))
    back = request.form.get("back")
    if back == "venue" and signal.venue_id:
        return redirect(url_for("redemption.venue_vigilance", venue_id=signal.venue_id))
    return redirect(url_for("redemption.signals_page"))


class MonthSchema(Schema):
    mois = params.Text(description="Mois AAAA-MM")


def _chosen_month(raw: str | None) -> date:
    return parse_month(raw, field="mois") if raw else paris_date(utcnow()).replace(day=1)


@bp.get("/pass/controles")
@role_required(Role.APTIC_STAFF)
def controls_page() -> str:
    month = _chosen_month(params.parse(MonthSchema)["mois"])
    return render_template("redemption/controls.html", month=month, controls=controls.month_controls(request_session(), month),
                           labels=CONTROL_STATUS_LABELS, proposed=ControlStatus.PROPOSED,
                           default_size=controls.sample_size())


@bp.post("/pass/controles/proposition")
@role_required(Role.APTIC_STAFF)
def propose_controls() -> Any:
    month = _chosen_month(request.form.get("mois"))
    size = request.form.get("size") or None
    if size is not None and not size.isdigit():
        size = "0"
    controls.propose_controls(request_session(), current_actor(), month, int(size) if size else None)
    return redirect(url_for("redemption.controls_page", mois=f"{month:%Y-%m}"))


@bp.post("/pass/controles/<int:control_id>/resultat")
@role_required(Role.APTIC_STAFF)
def control_outcome(control_id: int) -> Any:
    db = request_session()
    control = controls.get_control(db, control_id)
    controls.record_outcome(db, current_actor(), control, request.form.get("result", ""),
                            documents_checked=bool(request.form.get("documents_checked")),
                            visited=bool(request.form.get("visited")), comment=request.form.get("comment"),
                            suspend=bool(request.form.get("suspend")))
    return redirect(url_for("redemption.controls_page", mois=f"{control.month:%Y-%m}"))


@bp.get("/pass/lieux/<int:venue_id>/vigilance")
@role_required(Role.APTIC_STAFF)
def venue_vigilance(venue_id: int) -> str:
    db = request_session()
    venue = directory_api.get_venue(db, venue_id)
    return render_template("redemption/venue_vigilance.html", venue=venue,
                           signals=signals.list_signals(db, status=None, venue_id=venue.id),
                           controls=controls.venue_controls(db, venue.id), control_labels=CONTROL_STATUS_LABELS,
                           kinds=SIGNAL_KIND_LABELS, statuses=SIGNAL_STATUS_LABELS, machine=SIGNAL_MACHINE)
