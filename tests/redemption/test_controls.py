"""The control plan: a monthly sample weighted by signals, outcomes recorded, a failed control suspends; staff pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from directory.errors import InvalidInput, InvalidTransition
from directory.models import AuditEvent, VenueStatus
from redemption import controls, signals
from redemption.models import CONTROL_MACHINE, ControlStatus, Signal, SignalKind
from tests.builders import ACTOR, aptic_staff, make_order, plant_redemption, sign_in

MONTH = date(2026, 12, 1)


def a_signal(session, venue, fingerprint):
    at = datetime(2026, 11, 10, tzinfo=UTC)
    session.add(Signal(fingerprint=fingerprint, kind=SignalKind.HOURLY_VOLUME, venue_id=venue.id, period_start=at,
                       period_end=at + timedelta(hours=1), rule="règle", explanation="explication", figures={},
                       redemption_ids=[]))
    session.flush()


def test_the_sample_is_weighted_by_signals_and_stable(session, world):
    for index in range(6):
        a_signal(session, world.far_venue, f"test:{index}")
    (control,) = controls.propose_controls(session, ACTOR, MONTH, size=1)
    # the far venue weighs 7 against 1 for the two others: drawn first for this month's seed
    assert control.venue_id == world.far_venue.id and (control.weight, control.signal_count) == (7, 6)
    assert controls.propose_controls(session, ACTOR, MONTH, size=3) == [control]  # kept once proposed
    with pytest.raises(InvalidInput):
        controls.propose_controls(session, ACTOR, date(2027, 1, 1), size=0)


def test_a_failed_control_suspends_the_venue_through_the_audited_path(session, world):
    controls_of_month = controls.propose_controls(session, ACTOR, MONTH, size=3)
    first, second, third = controls_of_month
    with pytest.raises(InvalidInput):
        controls.record_outcome(session, ACTOR, first, "passed", documents_checked=False, visited=False, comment="vu")
    with pytest.raises(InvalidInput):
        controls.record_outcome(session, ACTOR, first, "passed", documents_checked=True, visited=False, comment="ok",
                                suspend=True)
    controls.record_outcome(session, ACTOR, first, "passed", documents_checked=True, visited=True, comment="Conforme")
    controls.record_outcome(session, ACTOR, second, "waived", documents_checked=False, visited=False,
                            comment="Lieu fermé pour travaux")
    controls.record_outcome(session, ACTOR, third, "failed", documents_checked=True, visited=True,
                            comment="RIB au nom d'un particulier", suspend=True)
    assert third.venue.status == VenueStatus.SUSPENDED and third.venue_suspended
    with pytest.raises(InvalidTransition):
        controls.record_outcome(session, ACTOR, third, "passed", documents_checked=True, visited=True, comment="x")
    venue_events = [e.data for e in session.scalars(select(AuditEvent).where(
        AuditEvent.target_type == "venue", AuditEvent.target_id == str(third.venue_id),
        AuditEvent.action == "venue.status_changed"))]
    assert venue_events[-1]["after"] == "suspended" and venue_events[-1]["control_id"] == third.id
    assert "RIB au nom d'un particulier" in venue_events[-1]["reason"]


@pytest.mark.parametrize(("current", "target"), [(c, t) for c in ControlStatus for t in ControlStatus])
def test_control_status_truth_table(current, target):
    allowed = current == ControlStatus.PROPOSED and target != ControlStatus.PROPOSED
    assert CONTROL_MACHINE.allows(current, target) is allowed


def test_staff_pages_mark_a_signal_and_record_a_control(client, session, world):
    order = make_order(session, world.sponsor, booklets=9)
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    for index, booklet in enumerate(order.booklets):
        booklet.distributor_id, booklet.beneficiary_ref = world.distributor.id, f"B{index}"
        booklet.distributed_at = at - timedelta(days=20)
        plant_redemption(session, world.venue, booklet, at + timedelta(minutes=5 * index))
    signals.compute_signals(session, ACTOR, at - timedelta(hours=1), at + timedelta(hours=2))
    aptic_staff(session)
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    home = client.get("/compte").get_data(as_text=True)
    assert "/pass/signaux" in home and "/pass/controles" in home
    page = client.get("/pass/signaux").get_data(as_text=True)
    assert "9 prestations le 20/11/2026 entre 11 h et 12 h" in page
    (signal,) = signals.list_signals(session)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    refused = client.post(f"/pass/signaux/{signal.id}/statut", data={"csrf_token": token, "status": "justified",
                                                                      "comment": ""})
    assert refused.status_code == 422
    done = client.post(f"/pass/signaux/{signal.id}/statut", data={"csrf_token": token, "status": "to_investigate",
                                                                   "comment": "À vérifier sur place"})
    assert done.status_code == 302
    history = client.get(f"/pass/lieux/{world.venue.id}/vigilance").get_data(as_text=True)
    assert "à instruire" in history and "À vérifier sur place" in history
    assert client.post("/pass/controles/proposition", data={"csrf_token": token, "mois": "2026-12", "size": "2"}
                       ).status_code == 302
    plan = client.get("/pass/controles?mois=2026-12").get_data(as_text=True)
    assert "Conforme" in plan and plan.count('name="result" value="failed"') == 2
    assert client.get("/pass/controles?mois=2026-13").status_code == 422
