"""State co-funding: shares of a covered order, the envelope, eligibility on submission, the decision table."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from directory.audit import audit_trail
from directory.errors import DomainError, InvalidTransition
from redemption import api, applications, calls, shares
from redemption.cofunding_models import APPLICATION_MACHINE, ApplicationStatus, CofundingApplication
from tests.builders import ACTOR, authority, cofunding_application, complete_file, make_call

NEXT_YEAR = date.today() + timedelta(days=365)


def draft_order(session, sponsor, face_value_cents: int):
    """A draft order worth exactly `face_value_cents` (a whole number of euros): no cheques are created yet."""
    if face_value_cents % 100_000 == 0:
        booklets, cheques, value = face_value_cents // 100_000, 10, 10_000
    else:
        booklets, cheques, value = face_value_cents // 100, 1, 100
    return api.create_order(session, ACTOR, sponsor, booklets=booklets, cheques_per_booklet=cheques,
                            cheque_value_cents=value, territories=["departement:33"], expires_on=NEXT_YEAR,
                            minimum_exception="commande de test")


def test_an_accepted_50_percent_application_covering_200000_euros(session):
    """Done when: 200,000 € ordered → 100,000 € from the State, 100,000 € from the sponsor, 100,000 € committed."""
    call = make_call(session)
    gironde = authority(session, "Département de la Gironde")
    order = draft_order(session, gironde, 20_000_000)
    application = cofunding_application(session, call, gironde, "departement", orders=[order])

    assert applications.accept(session, ACTOR, application) == 10_000_000
    assert application.status == ApplicationStatus.ACCEPTED and application.granted_cents == 10_000_000
    assert (order.face_value_cents, order.funder_share_cents, order.sponsor_share_cents) == (
        20_000_000, 10_000_000, 10_000_000)
    assert order.fee_cents == 800_000  # APTIC's 4 %, paid by the sponsor on top of its share
    assert shares.of_order(order).sponsor_total_cents == 10_800_000
    assert (call.committed_cents, call.remaining_cents) == (10_000_000, 1_490_000_000)
    assert api.order_summary(order)["funder_share_cents"] == 10_000_000
    moves = [e.data for e in audit_trail(session, "cofunding_application", application.id)
             if e.action == "cofunding_application.status_changed"]
    assert [(m["before"], m["after"]) for m in moves] == [("draft", "submitted"), ("submitted", "accepted")]
    assert moves[-1]["granted_cents"] == 10_000_000 and moves[-1]["committed_cents"] == 10_000_000


@pytest.mark.parametrize("face_value, share_bp, funder", [
    (20_000_000, 5_000, 10_000_000),
    (10_010, 3_333, 3_336),  # 3 336,333 cents: rounded down
    (999, 5_000, 499),  # 499,5 cents: rounded down, the sponsor pays the odd cent
    (100, 10_000, 100),
    (100, 1, 0),
])
def test_the_funder_share_is_rounded_down_and_the_shares_add_up(face_value, share_bp, funder):
    computed = shares.compute(face_value, 0, share_bp)
    assert computed.funder_cents == funder
    assert computed.funder_cents + computed.sponsor_cents == face_value


def test_the_database_refuses_shares_that_do_not_add_up_and_an_overspent_envelope(session):
    call = make_call(session, envelope_cents=1_000)
    order = draft_order(session, authority(session, "Département"), 100_000)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.execute(text("UPDATE pass_order SET sponsor_share_cents = 1 WHERE id = :id"), {"id": order.id})
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.execute(text("UPDATE cofunding_call SET committed_cents = 1001 WHERE id = :id"), {"id": call.id})


def test_a_commune_applying_alone_is_refused_naming_the_rule(session):
    call = make_call(session)
    commune = authority(session, "Ville de Bègles")
    application = cofunding_application(session, call, commune, "commune", orders=[draft_order(session, commune, 2_000_000)],
                                        submit=False)
    with pytest.raises(DomainError) as refused:
        applications.submit(session, ACTOR, application)
    assert (refused.value.code, refused.value.status, refused.value.field) == ("commune_alone", 422, "members")
    assert "Une commune ne peut pas candidater seule" in refused.value.message
    assert "groupement d'au moins 2" in refused.value.message
    assert application.status == ApplicationStatus.DRAFT


def test_a_group_of_communes_ordering_9999_euros_is_refused_and_10000_euros_accepted(session):
    call = make_call(session)
    begles, talence = authority(session, "Ville de Bègles"), authority(session, "Ville de Talence")
    short = draft_order(session, begles, 999_900)
    application = cofunding_application(session, call, begles, "commune", partners=[(talence, "commune")],
                                        orders=[short], submit=False)
    with pytest.raises(DomainError) as refused:
        applications.submit(session, ACTOR, application)
    assert refused.value.code == "group_order_below_minimum"
    assert "au moins 10\u202f000,00\xa0€" in refused.value.message and "9\u202f999,00\xa0€" in refused.value.message
    assert "règle de l'appel à projets" in refused.value.message
    applications.cover_order(session, ACTOR, application, draft_order(session, talence, 100))
    applications.submit(session, ACTOR, application)
    assert application.status == ApplicationStatus.SUBMITTED


@pytest.mark.parametrize("kind, partners, publics, code", [
    ("autre", [], (500, 500), "applicant_not_eligible"),
    ("departement", [], (700, 300), "publics_split_unbalanced"),
])
def test_other_rules_checked_on_submission(session, kind, partners, publics, code):
    call = make_call(session)
    lead = authority(session, "Candidat")
    application = cofunding_application(session, call, lead, kind, orders=[draft_order(session, lead, 2_000_000)],
                                        submit=False)
    complete_file(session, application, publics=publics)
    with pytest.raises(DomainError) as refused:
        applications.submit(session, ACTOR, application)
    assert refused.value.code == code and 400 <= refused.value.status < 500


def test_an_association_declaring_itself_a_departement_is_refused(session):
    call = make_call(session)
    association = api.create_sponsor(session, ACTOR, name="Association Emmaüs", legal_form="association",
                                     rna="W332000777")
    application = cofunding_application(session, call, association, "departement",
                                        orders=[draft_order(session, association, 2_000_000)], submit=False)
    with pytest.raises(DomainError) as refused:
        applications.submit(session, ACTOR, application)
    assert refused.value.code == "applicant_not_eligible" and "forme juridique" in refused.value.message


def test_a_closed_call_an_empty_file_and_no_order_are_refused(session):
    call = make_call(session, opens_on=date.today() - timedelta(days=60), closes_on=date.today() - timedelta(days=1))
    lead = authority(session, "Département")
    application = applications.create_application(session, ACTOR, call, lead, "departement")
    errors = [error.code for error in applications.eligibility_errors(session, application)]
    assert errors == ["call_not_open"] + ["section_missing"] * 6 + ["no_order_covered"]
    with pytest.raises(DomainError) as refused:
        applications.submit(session, ACTOR, application)
    assert refused.value.code == "call_not_open" and len(refused.value.details["all"]) == 8


def test_an_acceptance_beyond_the_envelope_is_refused_and_changes_nothing(session):
    call = make_call(session, envelope_cents=15_000_000)
    first, second = authority(session, "Département A"), authority(session, "Département B")
    a = cofunding_application(session, call, first, orders=[draft_order(session, first, 20_000_000)])
    b = cofunding_application(session, call, second, orders=[draft_order(session, second, 20_000_000)])
    applications.accept(session, ACTOR, a)
    with pytest.raises(DomainError) as refused:
        applications.accept(session, ACTOR, b)
    assert refused.value.code == "envelope_exceeded" and refused.value.status == 409
    assert "il reste 50\u202f000,00\xa0€" in refused.value.message
    session.rollback()


def test_a_refusal_needs_its_reason_and_keeps_the_sponsor_paying_everything(session):
    call = make_call(session)
    lead = authority(session, "Département")
    order = draft_order(session, lead, 2_000_000)
    application = cofunding_application(session, call, lead, orders=[order])
    with pytest.raises(DomainError) as refused:
        applications.refuse(session, ACTOR, application, " ")
    assert (refused.value.code, refused.value.field) == ("required", "reason")
    applications.refuse(session, ACTOR, application, "Dossier hors du périmètre des publics prioritaires")
    assert application.decision_reason.startswith("Dossier hors")
    assert (order.funder_share_cents, order.sponsor_share_cents, call.committed_cents) == (0, 2_000_000, 0)
    # the refused application frees its order for another application
    other = cofunding_application(session, call, lead, orders=[order])
    assert order.application_id == other.id


def test_an_order_is_covered_by_one_application_of_its_own_sponsors(session):
    call = make_call(session)
    lead, stranger = authority(session, "Département"), authority(session, "Région")
    order = draft_order(session, lead, 2_000_000)
    cofunding_application(session, call, lead, orders=[order], submit=False)
    second = applications.create_application(session, ACTOR, call, lead, "departement")
    with pytest.raises(DomainError) as refused:
        applications.cover_order(session, ACTOR, second, order)
    assert refused.value.code == "order_already_covered"
    theirs = applications.create_application(session, ACTOR, call, stranger, "region")
    with pytest.raises(DomainError) as refused:
        applications.cover_order(session, ACTOR, theirs, order)
    assert refused.value.code == "order_not_of_applicant"


APPLICATION_MOVES = {
    (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED),
    (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED),
    (ApplicationStatus.SUBMITTED, ApplicationStatus.REFUSED),
}


@pytest.mark.parametrize("current, target", list(product(ApplicationStatus, repeat=2)),
                         ids=lambda status: status.value)
def test_application_truth_table(current, target):
    record = CofundingApplication(id=1, status=current)
    assert APPLICATION_MACHINE.allows(current, target) == ((current, target) in APPLICATION_MOVES)
    if (current, target) not in APPLICATION_MOVES:
        with pytest.raises(InvalidTransition):
            APPLICATION_MACHINE.check(record, target)


def test_calls_are_checked_and_closed_by_staff(session):
    with pytest.raises(DomainError) as refused:
        make_call(session, share_bp=12_000)
    assert refused.value.code == "invalid_share"
    with pytest.raises(DomainError) as refused:
        make_call(session, eligible_kinds=["commune", "canton"])
    assert (refused.value.field, refused.value.code) == ("eligible_kinds", "invalid_choice")
    call = make_call(session)
    assert call.funder == "État" and call.share_bp == 5_000 and "commune" in call.eligible_kinds
    assert calls.call_sentence(call).startswith("État : 50\u202f% des chèques commandés, enveloppe de 15\u202f000\u202f000,00\xa0€")
    calls.close_call(session, ACTOR, call)
    assert not calls.accepts_applications(call)
    with pytest.raises(InvalidTransition):
        calls.close_call(session, ACTOR, call)
