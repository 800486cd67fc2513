"""The application status machine as a truth table: every (from, to) pair, allowed or refused."""

from itertools import product

import pytest

from directory import api as directory_api
from directory.errors import InvalidTransition
from qualification import api
from qualification.models import ApplicationStatus
from tests.builders import ACTOR, make_organisation

S = ApplicationStatus
ALLOWED = {
    (S.DRAFT, S.SUBMITTED),
    (S.SUBMITTED, S.DRAFT), (S.SUBMITTED, S.COMPLETE), (S.SUBMITTED, S.REJECTED),
    (S.COMPLETE, S.QUALIFIED), (S.COMPLETE, S.WAITLISTED), (S.COMPLETE, S.REJECTED),
    (S.WAITLISTED, S.QUALIFIED), (S.WAITLISTED, S.REJECTED),
}
PAIRS = list(product(ApplicationStatus, repeat=2))


def status_changes(session, application):
    return [event for event in directory_api.audit_trail(session, "application", application.id)
            if event.action == "application.status_changed"]


def test_the_machine_declares_exactly_the_table():
    assert {pair for pair in PAIRS if api.APPLICATION_MACHINE.allows(*pair)} == ALLOWED


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a.value}-{b.value}" for a, b in PAIRS])
def test_every_move_is_allowed_or_refused(session, current, target):
    application = api.create_application(session, ACTOR, make_organisation(session))
    application.status = current
    session.flush()
    before = len(status_changes(session, application))
    if (current, target) in ALLOWED:
        api.transition(session, ACTOR, application, target, "  Motif de l'essai. ")
        session.refresh(application)
        assert application.status == target
        (event,) = status_changes(session, application)[before:]
        assert (event.actor, event.data) == (
            ACTOR.label, {"before": current.value, "after": target.value, "reason": "Motif de l'essai."})
        assert (application.submitted_at is not None) == (target == S.SUBMITTED)
    else:
        with pytest.raises(InvalidTransition) as refused:
            api.transition(session, ACTOR, application, target, "Motif de l'essai.")
        assert refused.value.code == "invalid_transition"
        assert refused.value.message == (f"Un dossier « {api.APPLICATION_MACHINE.labels[current]} » ne peut pas "
                                         f"passer à « {api.APPLICATION_MACHINE.labels[target]} ».")
        session.refresh(application)
        assert application.status == current
        assert application.submitted_at is None
        assert len(status_changes(session, application)) == before
