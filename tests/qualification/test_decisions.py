"""Decisions by quota, their records, the waitlist order, promotion and over-quota flags."""

from datetime import timedelta

import pytest

from directory.models import VenueStatus
from qualification import api
from qualification.models import ApplicationStatus, VenueOutcome
from tests.builders import (
    ACTOR,
    CAHORS,
    GRAND_CAHORS,
    TOUR_DE_FAURE,
    complete_application,
    offset,
    qualified_venue,
)


def test_a_complete_application_under_quota_is_qualified_with_its_figures(session, storage):
    qualified_venue(session)
    application = complete_application(session, storage, offset(*CAHORS, 8_000, bearing=0))
    (decision,) = api.decide(session, ACTOR, application)
    assert application.status == ApplicationStatus.QUALIFIED
    venue = application.sites[0].venue
    assert venue.status == VenueStatus.QUALIFIED
    assert venue.published is False  # it appears on the public map at the next weekly rebuild
    assert (decision.outcome, decision.rule) == (VenueOutcome.QUALIFIED, "under_quota")
    assert (decision.territory_level, decision.territory_code, decision.territory_name) == ("epci", GRAND_CAHORS, "CA du Grand Cahors")
    assert (decision.population, decision.qualified_before, decision.quota) == (42_325, 1, 2)
    assert decision.accessibility_after > decision.accessibility_before > 0
    assert decision.sentence.startswith("Qualifié : CA du Grand Cahors (42\u202f325 habitants) compte 1 lieu qualifié "
                                        "pour un quota de 2")
    assert "ce lieu porte le nombre à 2" in decision.sentence


def test_in_a_full_territory_the_application_is_waitlisted(session, storage):
    qualified_venue(session)
    qualified_venue(session, offset(*CAHORS, 2_000))
    application = complete_application(session, storage, offset(*CAHORS, 8_000, bearing=0))
    (decision,) = api.decide(session, ACTOR, application)
    assert application.status == ApplicationStatus.WAITLISTED
    assert application.sites[0].venue.status == VenueStatus.CANDIDATE
    assert (decision.outcome, decision.rule, decision.qualified_before, decision.quota) == (VenueOutcome.WAITLISTED, "quota_reached", 2, 2)
    assert decision.sentence.startswith("Mis en liste d'attente : CA du Grand Cahors")
    assert "le quota est atteint" in decision.sentence


def test_several_sites_of_one_application_take_the_places_in_turn(session, storage):
    application = complete_application(session, storage, sites=3)
    decisions = api.decide(session, ACTOR, application)
    assert [d.outcome for d in decisions] == [VenueOutcome.QUALIFIED, VenueOutcome.QUALIFIED, VenueOutcome.WAITLISTED]
    assert [d.qualified_before for d in decisions] == [0, 1, 2]
    assert application.status == ApplicationStatus.QUALIFIED


def test_waitlist_order_is_population_gaining_access_then_date(session, storage):
    qualified_venue(session, services=("premiers-pas", "messagerie"))
    qualified_venue(session, offset(*CAHORS, 1_000), services=("premiers-pas",))
    # Same level as the venues in Cahors, 3 km away: few gain access.
    early_but_useless = complete_application(session, storage, offset(*CAHORS, 3_000, bearing=0))
    # 20 km east of Cahors, far from every qualified venue: its neighbours gain access.
    useful = complete_application(session, storage, TOUR_DE_FAURE)
    # Same place, same gain, waitlisted after the first one.
    late_but_useless = complete_application(session, storage, offset(*CAHORS, 3_000, bearing=0))
    for application in (early_but_useless, useful, late_but_useless):
        api.decide(session, ACTOR, application)
    late_site = late_but_useless.sites[0]
    late_site.waitlisted_at = early_but_useless.sites[0].waitlisted_at + timedelta(minutes=5)
    ranked = api.waitlist(session)
    assert [site.application_id for site, _ in ranked] == [useful.id, early_but_useless.id, late_but_useless.id]
    assert ranked[0][1] > ranked[1][1] == ranked[2][1]


def test_promotion_when_a_place_opens_and_flags_instead_of_dequalifying(session, storage):
    qualified_venue(session)
    qualified_venue(session, offset(*CAHORS, 2_000))
    waiting = complete_application(session, storage, TOUR_DE_FAURE)
    api.decide(session, ACTOR, waiting)
    assert api.enforce_quotas(session, ACTOR)["promoted"] == []  # still full
    api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, quota=3, reason="Extension du réseau.")
    result = api.enforce_quotas(session, ACTOR)
    site = waiting.sites[0]
    assert result["promoted"] == [site.venue_id]
    assert site.outcome == VenueOutcome.QUALIFIED and site.venue.status == VenueStatus.QUALIFIED
    assert waiting.status == ApplicationStatus.QUALIFIED
    promotion = api.decisions_of(session, waiting)[-1]
    assert (promotion.rule, promotion.qualified_before, promotion.quota) == ("waitlist_promotion", 2, 3)
    assert "Qualifié depuis la liste d'attente" in promotion.sentence
    # Lowering the quota never dequalifies: the territory is flagged over quota.
    api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, quota=1, reason="Recentrage.")
    result = api.enforce_quotas(session, ACTOR)
    assert site.venue.status == VenueStatus.QUALIFIED
    (flag,) = [f for f in result["flagged"] if f["code"] == GRAND_CAHORS]
    assert (flag["qualified"], flag["quota"], flag["over_quota"]) == (3, 1, True)


def test_a_proposal_changes_nothing(session, storage):
    application = complete_application(session, storage)
    (proposal,) = api.proposals(session, application)
    assert proposal.outcome == VenueOutcome.QUALIFIED and proposal.population_gain > 0
    assert application.status == ApplicationStatus.COMPLETE
    assert application.sites[0].venue.status == VenueStatus.CANDIDATE
    assert api.decisions_of(session, application) == []


@pytest.mark.parametrize("target", ["dequalified", "closed"])
def test_dequalifications_and_closures_wait_for_the_rebuild(session, target):
    venue = qualified_venue(session)
    api.schedule_venue_change(session, ACTOR, venue, target, "Activité arrêtée.")
    assert venue.status == VenueStatus.QUALIFIED
    assert api.apply_pending_changes(session, ACTOR) == {"applied": [venue.id], "ignored": []}
    assert venue.status == VenueStatus(target)
    assert api.apply_pending_changes(session, ACTOR) == {"applied": [], "ignored": []}
