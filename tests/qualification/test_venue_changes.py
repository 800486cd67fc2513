"""Venue status changes after qualification: a suspension applies now, a dequalification or closure waits for the rebuild."""

import pytest

from directory import api as directory_api
from directory.errors import InvalidTransition
from directory.models import VenueStatus
from qualification import api
from tests.builders import ACTOR, qualified_venue, site_fields


def test_suspension_is_immediate_closure_waits_for_the_rebuild(session):
    venue = qualified_venue(session)
    assert api.change_venue_status(session, ACTOR, venue, "suspended", "Travaux.") is None
    assert venue.status == VenueStatus.SUSPENDED
    pending = api.change_venue_status(session, ACTOR, venue, "closed", "Fermeture définitive.")
    assert (pending.venue_id, pending.target_status, pending.reason) == (venue.id, VenueStatus.CLOSED, "Fermeture définitive.")
    assert venue.status == VenueStatus.SUSPENDED
    assert api.apply_pending_changes(session, ACTOR) == {"applied": [venue.id], "ignored": []}
    assert venue.status == VenueStatus.CLOSED


def test_a_scheduled_change_is_refused_as_the_venue_machine_refuses_it(session):
    candidate = directory_api.create_venue(session, ACTOR, site_fields())
    with pytest.raises(InvalidTransition) as scheduled:
        api.change_venue_status(session, ACTOR, candidate, "dequalified", "Essai.")
    with pytest.raises(InvalidTransition) as immediate:
        directory_api.set_venue_status(session, ACTOR, candidate, "dequalified", "Essai.")
    assert scheduled.value.message == immediate.value.message
    assert candidate.status == VenueStatus.CANDIDATE
    assert api.apply_pending_changes(session, ACTOR) == {"applied": [], "ignored": []}
