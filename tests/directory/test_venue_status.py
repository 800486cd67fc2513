"""The venue status machine as a truth table: every (from, to) pair of statuses, allowed or refused."""

from itertools import product

import pytest

from directory import api
from directory.errors import InvalidInput, InvalidTransition
from directory.models import VenueStatus
from tests.builders import ACTOR

S = VenueStatus
ALLOWED = {
    (S.CANDIDATE, S.QUALIFIED), (S.CANDIDATE, S.CLOSED),
    (S.QUALIFIED, S.SUSPENDED), (S.QUALIFIED, S.DEQUALIFIED), (S.QUALIFIED, S.CLOSED),
    (S.SUSPENDED, S.QUALIFIED), (S.SUSPENDED, S.DEQUALIFIED), (S.SUSPENDED, S.CLOSED),
    (S.DEQUALIFIED, S.CANDIDATE), (S.DEQUALIFIED, S.CLOSED),
    (S.CLOSED, S.CANDIDATE), (S.CLOSED, S.QUALIFIED), (S.CLOSED, S.SUSPENDED), (S.CLOSED, S.DEQUALIFIED),
}


def venue_in(session, status):
    venue = api.create_venue(session, ACTOR, {
        "nom": "Espace numérique", "adresse": "1 place Bellecour", "code_postal": "69002", "commune": "Lyon",
        "code_insee": "69123",
    })
    venue.status = status
    session.flush()
    return venue


def status_events(session, venue):
    return [e for e in api.audit_trail(session, "venue", venue.id) if e.action == "venue.status_changed"]


@pytest.mark.parametrize(("current", "target"), list(product(VenueStatus, VenueStatus)), ids=lambda s: s.value)
def test_every_move_is_allowed_or_refused(session, current, target):
    venue = venue_in(session, current)
    stamped = venue.status_changed_at
    if (current, target) in ALLOWED:
        api.set_venue_status(session, ACTOR, venue, target.value, "  Décision du comité  ")
        assert venue.status == target
        assert venue.status_changed_at >= stamped
        [event] = status_events(session, venue)
        assert event.data == {"before": current.value, "after": target.value, "reason": "Décision du comité"}
    else:
        with pytest.raises(InvalidTransition) as error:
            api.set_venue_status(session, ACTOR, venue, target, "Décision du comité")
        assert (error.value.status, error.value.code, error.value.field) == (409, "invalid_transition", "status")
        assert venue.status == current
        assert status_events(session, venue) == []


def test_the_table_is_the_one_the_machine_applies():
    assert {(a, b) for a, b in product(VenueStatus, VenueStatus) if api.VENUE_STATUS_MACHINE.allows(a, b)} == ALLOWED


def test_a_refusal_names_both_statuses_in_french(session):
    venue = venue_in(session, S.CANDIDATE)
    with pytest.raises(InvalidTransition) as error:
        api.set_venue_status(session, ACTOR, venue, S.SUSPENDED, "motif")
    assert error.value.message == "Un lieu au statut « Candidat » ne peut pas passer au statut « Suspendu »."


def test_an_unknown_status_is_refused_before_the_reason_is_checked(session):
    venue = venue_in(session, S.CANDIDATE)
    with pytest.raises(InvalidInput) as error:
        api.set_venue_status(session, ACTOR, venue, "vanished", "")
    assert (error.value.field, error.value.code) == ("status", "invalid_status")
    with pytest.raises(InvalidInput) as error:
        api.set_venue_status(session, ACTOR, venue, S.QUALIFIED, "  ")
    assert (error.value.field, error.value.code) == ("reason", "required")
    assert venue.status == S.CANDIDATE and status_events(session, venue) == []
