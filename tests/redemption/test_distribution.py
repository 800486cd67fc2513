"""Distribution under the sponsor's authority, one booklet per person per vintage, undoing a hand-out."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aptic import create_app
from directory import api as directory_api
from directory.db import make_engine, utcnow
from directory.errors import DomainError
from directory.models import AuditEvent, Role
from redemption import api
from redemption.beneficiaries import Beneficiary, normalise_name, platform_key, read_beneficiary
from redemption.models import BeneficiaryClaim, Booklet
from tests.builders import (
    ACTOR,
    BENEFICIARY_KEY,
    PASSWORD,
    allow,
    csrf_token_from,
    hand_out,
    make_order,
    make_venue,
    member,
    person,
    sign_in,
)

MARIE = Beneficiary("Dupont-Lefèvre", "Marie-Hélène", date(1950, 7, 14))


def _second_distributor(session):
    return directory_api.create_organisation(session, ACTOR, name="Maison France Services de Pessac",
                                             legal_form="collectivite", rna="W333180001", code_insee="33318",
                                             is_distributor=True)


def _refusal(call) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value


# --- the pseudonym ------------------------------------------------------------------------------

def test_the_pseudonym_ignores_case_accents_hyphens_and_spaces_and_depends_on_the_key():
    assert normalise_name("  Dupont-Lefèvre ") == normalise_name("DUPONT  lefevre") == "dupont lefevre"
    assert normalise_name("Cœur d’Alène") == normalise_name("COEUR D'ALENE") == "coeur d alene"
    spellings = [MARIE, Beneficiary("DUPONT LEFEVRE", "marie helene", date(1950, 7, 14)),
                 read_beneficiary(" dupont - lefèvre", "Marie  Hélène", "14/07/1950")]
    assert len({b.pseudonym(BENEFICIARY_KEY) for b in spellings}) == 1
    assert len(MARIE.pseudonym(BENEFICIARY_KEY)) == 64
    assert MARIE.pseudonym(b"another key") != MARIE.pseudonym(BENEFICIARY_KEY)
    assert Beneficiary("Dupont-Lefèvre", "Marie-Hélène", date(1950, 7, 15)).pseudonym(BENEFICIARY_KEY) != \
        MARIE.pseudonym(BENEFICIARY_KEY)
    assert "Dupont" not in repr(MARIE) and "1950" not in str(MARIE)
    # The key: the setting, or derived from the secret key (never the secret key itself).
    assert platform_key({"BENEFICIARY_KEY": "k1", "SECRET_KEY": "s"}) == b"k1"
    assert platform_key({"BENEFICIARY_KEY": "", "SECRET_KEY": "s"}) not in (b"s", platform_key({"SECRET_KEY": "t"}))


@pytest.mark.parametrize(("fields", "field", "code"), [
    (("", "Marie", "1950-07-14"), "nom", "required"),
    (("Dupont", " ", "1950-07-14"), "prenom", "required"),
    (("Dupont", "Marie", ""), "date_naissance", "required"),
    (("Dupont", "Marie", "14 juillet"), "date_naissance", "invalid_date"),
    (("Dupont", "Marie", "2999-01-01"), "date_naissance", "invalid_date"),
    (("1234", "Marie", "1950-07-14"), "nom", "invalid_name"),
    (("x" * 101, "Marie", "1950-07-14"), "nom", "invalid_name"),
])
def test_identity_fields_are_checked_with_french_messages(fields, field, code):
    refused = _refusal(lambda: read_beneficiary(*fields))
    assert (refused.field, refused.code, refused.status) == (field, code, 422)


# --- the sponsor's allowance --------------------------------------------------------------------

@pytest.mark.parametrize(("allowance", "sequence", "allowed"), [
    (None, 1, False),          # the sponsor allowed nobody
    ("other", 1, False),       # it allowed another distributor only
    ((None, None), 1, True),   # the whole order
    ((None, None), 3, True),
    ((2, 3), 2, True),         # a range, both ends included
    ((2, 3), 3, True),
    ((2, 3), 1, False),        # outside the range
])
def test_allowance_truth_table(session, world, allowance, sequence, allowed):
    other = _second_distributor(session)
    if allowance == "other":
        allow(session, world.order, other)
    elif allowance is not None:
        allow(session, world.order, world.distributor, *allowance)
    booklet = world.booklet(sequence - 1)
    call = lambda: api.record_distribution(session, ACTOR, world.distributor, booklet, MARIE, BENEFICIARY_KEY)  # noqa: E731
    if allowed:
        assert call().distributor_id == world.distributor.id
    else:
        refused = _refusal(call)
        assert (refused.code, refused.status) == ("distributor_not_allowed", 403)
        assert booklet.distributed_at is None


def test_ranges_are_checked_and_never_overlap(session, world):
    other = _second_distributor(session)
    allow(session, world.order, world.distributor, "1", f"{world.order.id:05d}-00002")
    for first, last, code in [(2, 3, "range_overlaps"), (3, 2, "invalid_range"), (1, None, "invalid_range"),
                              (0, 1, "invalid_range"), (3, 4, "invalid_range"), ("99999-00003", 3, "invalid_range")]:
        assert _refusal(lambda: allow(session, world.order, other, first, last)).code == code
    assert allow(session, world.order, other, 3, 3).covers(3)
    # Re-allowing replaces the range; withdrawing leaves booklets handed out as they are.
    hand_out(session, world.distributor, world.booklet(0), MARIE)
    api.revoke_distributor(session, ACTOR, world.order, world.distributor)
    assert world.booklet(0).distributor_id == world.distributor.id
    assert _refusal(lambda: api.record_distribution(session, ACTOR, world.distributor, world.booklet(1), person("x"),
                                                    BENEFICIARY_KEY)).code == "distributor_not_allowed"
    assert _refusal(lambda: api.allow_distributor(session, ACTOR, world.order, world.operator)).code == "not_a_distributor"


# --- one booklet per person per vintage, over HTTP ----------------------------------------------

def _distributor_client(app, session, organisation, email):
    member(session, organisation, Role.DISTRIBUTOR, email)
    client = app.test_client()
    sign_in(client, email)
    return client, csrf_token_from(client.get("/pass/distribution").get_data(as_text=True))


def _hand_out(client, token, booklet, nom, prenom, born):
    return client.post("/pass/distribution", data={"csrf_token": token, "booklet": booklet.number, "nom": nom,
                                                   "prenom": prenom, "date_naissance": born})


def test_over_http_not_allowed_is_403_and_the_same_person_elsewhere_in_the_vintage_is_409(app, session, world):
    pessac = _second_distributor(session)
    second_sponsor = api.create_sponsor(session, ACTOR, name="Bordeaux Métropole", legal_form="collectivite",
                                        siret="24330031600011", code_insee="33063")
    same_vintage = make_order(session, second_sponsor, booklets=2, vintage=world.order.vintage, expires_on=None)
    this_year = date.today().year
    other_vintage = this_year if world.order.vintage != this_year else this_year + 1
    next_vintage = make_order(session, second_sponsor, booklets=1, vintage=other_vintage, expires_on=None)
    allow(session, world.order, world.distributor)
    ccas, ccas_token = _distributor_client(app, session, world.distributor, "ccas@bordeaux.fr")
    mfs, mfs_token = _distributor_client(app, session, pessac, "accueil@mfs-pessac.fr")

    # Pessac was not allowed on the Gironde's order: 403, nothing recorded.
    refused = _hand_out(mfs, mfs_token, world.booklet(1), "Dupont-Lefèvre", "Marie-Hélène", "1950-07-14")
    assert refused.status_code == 403 and 'data-code="distributor_not_allowed"' in refused.get_data(as_text=True)
    assert world.booklet(1).distributed_at is None

    first = _hand_out(ccas, ccas_token, world.booklet(0), "Dupont-Lefèvre", "Marie-Hélène", "1950-07-14")
    assert first.status_code == 201
    allow(session, same_vintage, pessac)
    allow(session, next_vintage, pessac)
    # The same person, spelt otherwise, at a second distributor, another sponsor's order of the same vintage.
    second = _hand_out(mfs, mfs_token, same_vintage.booklets[0], "DUPONT LEFEVRE", "marie helene", "1950-07-14")
    html = second.get_data(as_text=True)
    assert second.status_code == 409 and 'data-code="beneficiary_already_served"' in html
    assert f"millésime {world.order.vintage}" in html and "« CCAS de Bordeaux »" in html
    assert "dupont" not in html.lower() and "hélène" not in html.lower() and "helene" not in html.lower()
    assert same_vintage.booklets[0].distributed_at is None
    # Another person at the same distributor is fine, and so is the same person in another vintage.
    assert _hand_out(mfs, mfs_token, same_vintage.booklets[1], "Dupont", "Marie", "1950-07-14").status_code == 201
    assert _hand_out(mfs, mfs_token, next_vintage.booklets[0], "Dupont-Lefèvre", "Marie-Hélène",
                     "1950-07-14").status_code == 201
    # Nothing identifying is stored: not in the booklet, the claims or the audit trail.
    stored = " ".join(str(v) for v in session.scalars(select(AuditEvent.data))) + " ".join(
        f"{b.beneficiary_ref}" for b in session.scalars(select(Booklet)))
    assert "dupont" not in stored.lower() and "1950" not in stored
    pseudonyms = set(session.scalars(select(BeneficiaryClaim.pseudonym)))
    assert MARIE.pseudonym(platform_key(app.config)) in pseudonyms and len(pseudonyms) == 2


def test_the_distribution_form_is_rate_limited(app, session, world):
    app.config["DISTRIBUTION_RATE_LIMIT"] = "3 per minute"
    allow(session, world.order, world.distributor)
    client, token = _distributor_client(app, session, world.distributor, "ccas@bordeaux.fr")
    statuses = [_hand_out(client, token, world.booklet(i % 3), "Martin", f"Personne {i}", "1960-01-01").status_code
                for i in range(5)]
    assert statuses[:3] == [201, 201, 201] and statuses[3:] == [429, 429]
    assert client.get("/pass/distribution").status_code == 200  # reading the form is not counted


# --- undoing a hand-out -------------------------------------------------------------------------

def test_undo_within_24_hours_frees_the_person_and_is_audited(session, world):
    booklet = hand_out(session, world.distributor, world.booklet(0), MARIE)
    other = _second_distributor(session)
    assert _refusal(lambda: api.undo_distribution(session, ACTOR, other, booklet)).code == "not_your_distribution"
    api.undo_distribution(session, ACTOR, world.distributor, booklet, "erreur de carnet",
                          now=booklet.distributed_at + timedelta(hours=23, minutes=59))
    assert (booklet.distributed_at, booklet.distributor_id, booklet.beneficiary_ref) == (None, None, None)
    assert session.scalar(select(BeneficiaryClaim).where(BeneficiaryClaim.booklet_id == booklet.id)) is None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "booklet.distribution_undone"))
    assert event.data["reason"] == "erreur de carnet" and event.target_id == str(booklet.id)
    # The person may now be served with another booklet; the undone booklet may go to someone else.
    hand_out(session, world.distributor, world.booklet(1), MARIE)
    hand_out(session, world.distributor, booklet, person("autre"))
    assert _refusal(lambda: api.undo_distribution(session, ACTOR, world.distributor, world.booklet(2))).code == \
        "booklet_not_distributed"


def test_undo_is_refused_after_24_hours_or_once_a_cheque_is_used(session, world):
    late = hand_out(session, world.distributor, world.booklet(0), MARIE)
    refused = _refusal(lambda: api.undo_distribution(session, ACTOR, world.distributor, late,
                                                     now=late.distributed_at + timedelta(hours=24, seconds=1)))
    assert (refused.code, refused.status) == ("undo_window_closed", 409) and "24 heures" in refused.message
    used = hand_out(session, world.distributor, world.booklet(1), person("B"))
    redemption, _ = api.redeem(session, ACTOR, world.venue, [used.cheques[0].code], "premiers-pas")
    refused = _refusal(lambda: api.undo_distribution(session, ACTOR, world.distributor, used))
    assert (refused.code, refused.status) == ("booklet_in_use", 409)
    # A cancelled redemption gives the cheque back: the hand-out may then be undone.
    api.cancel_redemption(session, ACTOR, world.venue, redemption.id)
    api.undo_distribution(session, ACTOR, world.distributor, used)
    assert used.distributed_at is None


def test_what_it_handed_out_shows_the_undo_button_where_allowed(app, session, world):
    fresh = hand_out(session, world.distributor, world.booklet(0), MARIE)
    old = hand_out(session, world.distributor, world.booklet(1), person("B"))
    old.distributed_at = utcnow() - timedelta(days=2)
    session.flush()
    client, token = _distributor_client(app, session, world.distributor, "ccas@bordeaux.fr")
    html = client.get("/pass/distribution/remises").get_data(as_text=True)
    assert html.count('data-action="undo"') == 1 and 'data-code="undo_window_closed"' in html
    assert client.get("/compte").get_data(as_text=True).count("/pass/distribution/remises") >= 1
    late = client.post(f"/pass/distribution/remises/{old.id}/annuler", data={"csrf_token": token})
    assert late.status_code == 409 and 'data-code="undo_window_closed"' in late.get_data(as_text=True)
    done = client.post(f"/pass/distribution/remises/{fresh.id}/annuler", data={"csrf_token": token, "reason": "erreur"})
    assert done.status_code == 302
    session.refresh(fresh)
    assert fresh.distributed_at is None


# --- the sponsor's page, staff's right-to-redeem page ---------------------------------------------

def test_a_sponsor_allows_a_distributor_from_its_order_page(app, session, world):
    member(session, world.sponsor, Role.SPONSOR, "pass@gironde.fr")
    client = app.test_client()
    sign_in(client, "pass@gironde.fr")
    page = client.get(f"/pass/commandes/{world.order.id}").get_data(as_text=True)
    assert 'id="aiguilleurs"' in page and "CCAS de Bordeaux" in page
    token = csrf_token_from(page)
    response = client.post(f"/pass/commandes/{world.order.id}/aiguilleurs",
                           data={"csrf_token": token, "distributor_id": world.distributor.id, "first": "2", "last": "3"})
    assert response.status_code == 302
    (allowance,) = api.order_allowances(session, world.order)
    assert (allowance.first_sequence, allowance.last_sequence) == (2, 3)
    bad = client.post(f"/pass/commandes/{world.order.id}/aiguilleurs",
                      data={"csrf_token": token, "distributor_id": world.distributor.id, "first": "3", "last": "9"},
                      headers={"Accept": "application/json"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_range"


def test_staff_mark_a_venue_distribution_only_with_a_reason(app, session, world):
    from tests.builders import aptic_staff

    aptic_staff(session)
    client = app.test_client()
    sign_in(client, "equipe@aptic-exemple.fr")
    assert "/pass/droit-d-encaisser" in client.get("/compte").get_data(as_text=True)
    page = client.get("/pass/droit-d-encaisser?q=Bordeaux").get_data(as_text=True)
    assert f'data-venue="{world.venue.id}"' in page
    token = csrf_token_from(page)
    form = {"csrf_token": token, "kind": "venue", "id": world.venue.id, "distribution_only": "true"}
    missing = client.post("/pass/droit-d-encaisser", data=form)
    assert missing.status_code == 422 and 'data-code="required"' in missing.get_data(as_text=True)
    assert client.post("/pass/droit-d-encaisser", data={**form, "reason": "Maison France Services"}).status_code == 302
    session.refresh(world.venue)
    assert world.venue.distribution_only
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "venue.redemption_right_changed"))
    assert event.data == {"distribution_only": True, "reason": "Maison France Services"}
    hand_out(session, world.distributor, world.booklet(0), MARIE)
    refused = _refusal(lambda: api.redeem(session, ACTOR, world.venue, [world.codes(0)[0]], "premiers-pas"))
    assert refused.code == "venue_cannot_redeem"
    assert "Distribution seulement" in client.get("/pass/droit-d-encaisser").get_data(as_text=True)
    api.change_redemption_right(session, ACTOR, "venue", world.venue.id, False, "erreur de typologie")
    assert not world.venue.distribution_only


# --- the race ------------------------------------------------------------------------------------

def test_two_concurrent_distributions_to_the_same_person_exactly_one_succeeds(committed_database_url):
    engine = make_engine(committed_database_url)
    with Session(engine) as session:
        sponsor = api.create_sponsor(session, ACTOR, name="Département", legal_form="collectivite",
                                     siret="22330001300016", code_insee="33063")
        other_sponsor = api.create_sponsor(session, ACTOR, name="Métropole", legal_form="collectivite",
                                           siret="24330031600011", code_insee="33063")
        operator = directory_api.create_organisation(session, ACTOR, name="Réseau", legal_form="association",
                                                     rna="W332000555", is_venue_operator=True)
        make_venue(session, operator, "EPN", "33063", "33000", "Bordeaux", ["premiers-pas"])
        orders = [make_order(session, sponsor, booklets=1), make_order(session, other_sponsor, booklets=1)]
        distributors, numbers = [], []
        for index, order in enumerate(orders):
            distributor = directory_api.create_organisation(
                session, ACTOR, name=f"Aiguilleur {index}", legal_form="association", rna=f"W33400{index}001",
                is_distributor=True)
            allow(session, order, distributor)
            member(session, distributor, Role.DISTRIBUTOR, f"aiguilleur{index}@exemple.fr")
            distributors.append(distributor.id)
            numbers.append(order.booklets[0].number)
        assert orders[0].vintage == orders[1].vintage
        session.commit()

    app = create_app({"DATABASE_URL": committed_database_url, "TESTING": True, "SECRET_KEY": "test",
                      "SERVER_NAME": "aptic.test", "DISTRIBUTION_RATE_LIMIT": "1000 per minute"})
    clients = []
    for index in range(2):
        client = app.test_client()
        sign_in(client, f"aiguilleur{index}@exemple.fr", PASSWORD)
        clients.append((client, csrf_token_from(client.get("/pass/distribution").get_data(as_text=True))))
    statuses: Counter = Counter()
    codes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def distribute(index: int) -> None:
        client, token = clients[index]
        start.wait()
        response = client.post("/pass/distribution", data={
            "csrf_token": token, "booklet": numbers[index], "nom": ["Dupont", "DUPONT"][index],
            "prenom": ["Hélène", "helene"][index], "date_naissance": "1950-07-14"})
        with lock:
            statuses[response.status_code] += 1
            html = response.get_data(as_text=True)
            codes.extend(code for code in ("beneficiary_already_served",) if f'data-code="{code}"' in html)

    workers = [threading.Thread(target=distribute, args=(index,)) for index in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses == Counter({201: 1, 409: 1}) and codes == ["beneficiary_already_served"]
    with engine.connect() as connection:
        claims = connection.execute(select(BeneficiaryClaim.booklet_id, BeneficiaryClaim.distributor_id)).all()
        handed = connection.execute(select(Booklet.id).where(Booklet.distributed_at.is_not(None))).all()
    assert len(claims) == 1 and len(handed) == 1 and claims[0][1] in distributors
    engine.dispose()
