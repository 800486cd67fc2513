"""Suspicious redemptions: each rule on planted data, nothing on clean data; marking a signal; the nightly job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from directory import api as directory_api
from directory.errors import InvalidInput, InvalidTransition
from directory.models import AuditEvent
from redemption import signals
from redemption.models import SIGNAL_MACHINE, Signal, SignalKind, SignalStatus
from redemption.signals import SignalSettings
from tests.builders import ACTOR, bearer, make_order, plant_redemption, set_venue_point

# A Friday, Paris winter time (UTC+1): 10:00 UTC is 11:00 in Paris.
DAY = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
END = DAY + timedelta(days=1)
QUIET = SignalSettings(concentration_min=10_000, quick_min=10_000)  # the venue-profile rules off


def found(session, settings=QUIET, start=DAY - timedelta(hours=10), end=END):
    result = signals.compute_signals(session, ACTOR, start, end, settings)
    listed = signals.list_signals(session, status=None)
    assert result.created == len(listed)
    return listed


def booklets(session, world, count, distributor=None, at=None):
    order = make_order(session, world.sponsor, booklets=count)
    for booklet in order.booklets:
        booklet.distributor_id = (distributor or world.distributor).id
        booklet.beneficiary_ref = f"BEN-{booklet.id}"
        booklet.distributed_at = at or DAY - timedelta(days=30)
    session.flush()
    return order.booklets


def test_clean_redemptions_give_no_signal(session, world):
    world.venue.horaires = "Mo-Sa 09:00-18:00"
    set_venue_point(session, world.venue, -0.5792, 44.8378)
    set_venue_point(session, world.other_venue, -0.6469, 44.8386)
    for index, booklet in enumerate(booklets(session, world, 12)):
        # one or two services an hour, in opening hours; a booklet used at two nearby venues the same day
        plant_redemption(session, world.venue, booklet, DAY + timedelta(minutes=40 * index))
        if index % 3 == 0:
            plant_redemption(session, world.other_venue, booklet, DAY + timedelta(minutes=40 * index + 20),
                             service="demarches-en-ligne")
    assert [s.explanation for s in found(session, SignalSettings(concentration_min=5))] == []


def test_more_per_hour_than_staff_could_serve(session, world):
    for index, booklet in enumerate(booklets(session, world, 9)):
        plant_redemption(session, world.venue, booklet, DAY + timedelta(minutes=5 * index))
    (signal,) = found(session, SignalSettings(max_per_hour=8, concentration_min=10_000, quick_min=10_000))
    assert signal.kind == SignalKind.HOURLY_VOLUME and signal.venue_id == world.venue.id
    assert signal.figures["redemptions"] == 9 and len(signal.redemption_ids) == 9
    assert "9 prestations le 20/11/2026 entre 11 h et 12 h" in signal.explanation
    assert signal.status == SignalStatus.OPEN


def test_a_day_far_above_the_venue_usual_volume(session, world):
    booklet_list = booklets(session, world, 60)
    for day in range(1, 29):  # a usual volume: one every other day over the baseline
        plant_redemption(session, world.venue, booklet_list[day], DAY - timedelta(days=2 * day))
    for index in range(16):  # then sixteen in one day, two an hour
        plant_redemption(session, world.venue, booklet_list[30 + index], DAY - timedelta(hours=1) + timedelta(minutes=30 * index))
    kinds = [s.kind for s in found(session, SignalSettings(unusual_min_day=15, concentration_min=10_000, quick_min=10_000),
                                   start=DAY - timedelta(hours=2))]
    assert kinds == [SignalKind.UNUSUAL_VOLUME]
    (signal,) = signals.list_signals(session)
    assert signal.figures == {"redemptions": 16, "usual_per_day": 0.5, "baseline_days": 56, "factor": 4.0}
    assert "contre 0,5 par jour" in signal.explanation


def test_redemptions_outside_opening_hours(session, world):
    world.venue.horaires = "Mo-Fr 09:00-17:00"
    booklet_list = booklets(session, world, 3)
    plant_redemption(session, world.venue, booklet_list[0], DAY)  # 11:00 in Paris: open
    plant_redemption(session, world.venue, booklet_list[1], DAY.replace(hour=16, minute=20))  # 17:20: within the grace
    late = plant_redemption(session, world.venue, booklet_list[2], DAY.replace(hour=21, minute=14))  # 22:14
    (signal,) = found(session)
    assert signal.kind == SignalKind.OUTSIDE_HOURS and signal.redemption_ids == [late.id]
    assert "hors de ses horaires d'ouverture (« Mo-Fr 09:00-17:00 ») : 22 h 14" in signal.explanation


def test_one_booklet_in_venues_far_apart_the_same_day(session, world):
    set_venue_point(session, world.venue, -0.5792, 44.8378)  # Bordeaux
    set_venue_point(session, world.other_venue, -0.6469, 44.8386)  # Mérignac, 5 km away
    set_venue_point(session, world.far_venue, 4.8357, 45.7640)  # Lyon
    near, far = booklets(session, world, 2)
    plant_redemption(session, world.venue, near, DAY)
    plant_redemption(session, world.other_venue, near, DAY + timedelta(hours=2))
    plant_redemption(session, world.venue, far, DAY)
    plant_redemption(session, world.far_venue, far, DAY + timedelta(hours=3))
    (signal,) = found(session)
    assert signal.kind == SignalKind.FAR_APART and signal.booklet_id == far.id
    assert 430 < signal.figures["distance_km"] < 440
    assert f"Le carnet n° {far.number} a été encaissé le 20/11/2026" in signal.explanation


def test_a_burst_of_refused_scans_on_one_key(client, session, world):
    for index in range(6):
        response = client.post("/api/v1/redemptions", json={"codes": [f"XXXX{index}"], "service": "premiers-pas"},
                               headers=bearer(world))
        assert response.status_code == 422
    now = datetime.now(UTC)
    listed = found(session, SignalSettings(refusals_per_hour=6, concentration_min=10_000, quick_min=10_000),
                   start=now - timedelta(hours=2), end=now + timedelta(minutes=1))
    bursts = [s for s in listed if s.kind == SignalKind.REFUSAL_BURST]
    assert len(bursts) in (1, 2)  # two if the hour turned during the scans
    assert sum(s.figures["refusals"] for s in bursts) == 6 or bursts[0].figures["refusals"] >= 6
    assert bursts[0].venue_id == world.venue.id and bursts[0].figures["codes"] == {"invalid_code": 6}


def test_a_venue_living_off_one_distributor_or_just_after_distribution(session, world):
    other_distributor = directory_api.create_organisation(
        session, ACTOR, name="CCAS de Mérignac", legal_form="etablissement_public", rna="W332000777",
        code_insee="33281", is_distributor=True)
    settings = SignalSettings(concentration_min=6, quick_min=4, quick_share=0.5)
    for index, booklet in enumerate(booklets(session, world, 6)):
        plant_redemption(session, world.venue, booklet, DAY - timedelta(days=10 + index))
    for index, booklet in enumerate(booklets(session, world, 8, distributor=other_distributor)):
        plant_redemption(session, world.other_venue, booklet, DAY - timedelta(days=10 + index))
    # four booklets redeemed at the far venue minutes after they were handed out
    for index, booklet in enumerate(booklets(session, world, 4, at=DAY - timedelta(days=3))):
        plant_redemption(session, world.far_venue, booklet, DAY - timedelta(days=3) + timedelta(minutes=5 + index))
    listed = found(session, settings)
    by_kind = {s.kind: s for s in listed}
    assert set(by_kind) == {SignalKind.DISTRIBUTOR_CONCENTRATION, SignalKind.QUICK_AFTER_DISTRIBUTION}
    concentration = by_kind[SignalKind.DISTRIBUTOR_CONCENTRATION]
    # the other venue lives off the CCAS de Mérignac (8 of 18 redemptions overall): Bordeaux's CCAS is the main one
    assert concentration.venue_id == world.other_venue.id and concentration.figures["share"] == 1.0
    assert "« CCAS de Mérignac »" in concentration.explanation
    quick = by_kind[SignalKind.QUICK_AFTER_DISTRIBUTION]
    assert quick.venue_id == world.far_venue.id and quick.figures["quick"] == 4


def test_computing_again_keeps_one_signal_and_marking_is_audited(session, world):
    for index, booklet in enumerate(booklets(session, world, 9)):
        plant_redemption(session, world.venue, booklet, DAY + timedelta(minutes=5 * index))
    settings = SignalSettings(max_per_hour=8, concentration_min=10_000, quick_min=10_000)
    (signal,) = found(session, settings)
    again = signals.compute_signals(session, ACTOR, DAY - timedelta(hours=1), END, settings)
    assert (again.created, again.updated) == (0, 0)
    with pytest.raises(InvalidInput):
        signals.mark_signal(session, ACTOR, signal, "justified", "  ")
    signals.mark_signal(session, ACTOR, signal, "to_investigate", "Neuf prestations en une heure : à vérifier")
    signals.mark_signal(session, ACTOR, signal, "justified", "Atelier collectif de neuf personnes")
    assert signal.status == SignalStatus.JUSTIFIED and signal.comment == "Atelier collectif de neuf personnes"
    with pytest.raises(InvalidTransition):
        signals.mark_signal(session, ACTOR, signal, "to_investigate", "encore")
    trail = [e.data for e in session.scalars(select(AuditEvent).where(AuditEvent.target_type == "signal"))]
    assert [d.get("after") for d in trail] == [None, "to_investigate", "justified"]
    assert trail[-1]["reason"] == "Atelier collectif de neuf personnes"
    assert signals.compute_signals(session, ACTOR, DAY - timedelta(hours=1), END, settings).created == 0


@pytest.mark.parametrize(("current", "target", "allowed"), [
    (current, target, (current, target) in {(SignalStatus.OPEN, SignalStatus.JUSTIFIED),
                                            (SignalStatus.OPEN, SignalStatus.TO_INVESTIGATE),
                                            (SignalStatus.TO_INVESTIGATE, SignalStatus.JUSTIFIED)})
    for current in SignalStatus for target in SignalStatus
])
def test_signal_status_truth_table(current, target, allowed):
    assert SIGNAL_MACHINE.allows(current, target) is allowed


def test_settings_come_from_the_environment():
    settings = SignalSettings.from_environ({"APTIC_SIGNAL_MAX_PER_HOUR": "12", "APTIC_SIGNAL_FAR_APART_KM": "25.5"})
    assert (settings.max_per_hour, settings.far_apart_km, settings.quick_minutes) == (12, 25.5, 15)


def test_the_nightly_job_is_declared():
    from redemption.api import SCHEDULED_JOBS

    assert any(job.id == "redemption.signals" and job.cron == {"hour": 3, "minute": 15} for job in SCHEDULED_JOBS)


def test_signals_are_stored_once_per_fingerprint(session, world):
    assert session.scalar(select(Signal.id)) is None
