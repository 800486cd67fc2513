"""The venue scan page: a handheld scanner types the code and Enter; big feedback, remembered service."""

import re

from sqlalchemy import select

from directory import api as directory_api
from directory.models import Role
from redemption import codes
from redemption.models import Redemption
from tests.builders import ACTOR, PASSWORD, allow, csrf_token_from, distribute, sign_in, venue_user


def scan(client, venue, code, service="premiers-pas", code2="", two=False):
    token = csrf_token_from(client.get("/pass/scanner").get_data(as_text=True))
    data = {"csrf_token": token, "venue_id": venue.id, "service": service, "code": code, "code2": code2}
    if two:
        data["two"] = "1"
    return client.post("/pass/scanner", data=data)


def test_scan_page_accepts_refuses_and_remembers_the_service(client, session, world):
    distribute(session, world, 0)
    venue_user(session, world)
    assert client.get("/pass/scanner").status_code == 302  # sign-in first
    sign_in(client, "accueil@mediatheque-bordeaux.fr")
    page = client.get("/pass/scanner")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "autofocus" in html and 'name="code2"' in html
    assert "Médiathèque de Mérignac" in html  # the operator has two venues: a choice

    code = world.codes(0)[0]
    accepted = scan(client, world.venue, codes.grouped(code).lower(), service="demarches-en-ligne")
    html = accepted.get_data(as_text=True)
    assert accepted.status_code == 201 and "Chèque accepté" in html and "10,00" in html
    assert 'value="demarches-en-ligne" selected' in html  # remembered for the next scans
    assert "Scans du jour" in html and "Annuler" in html

    refused = scan(client, world.venue, code, service="demarches-en-ligne")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Déjà encaissé ici le " in html  # retry, same venue: orange, not green
    assert 'class="scan-result repeated"' in html and 'class="scan-result ok"' not in html
    assert re.search(r"Déjà encaissé ici le \d\d/\d\d/\d{4} à \d\d:\d\d", html)
    later = scan(client, world.venue, code, code2=world.codes(0)[4], two=True)  # the cheque again, another delivery
    assert later.status_code == 409 and "Déjà encaissé ici le " in later.get_data(as_text=True)
    assert 'data-code="already_redeemed"' in later.get_data(as_text=True)
    no_service = scan(client, world.venue, world.codes(0)[3], service="")
    assert no_service.status_code == 422 and 'aria-invalid="true"' in no_service.get_data(as_text=True)
    assert "Indiquez le service rendu" in no_service.get_data(as_text=True)
    refused = scan(client, world.venue, codes.new_code())
    assert refused.status_code == 404
    assert 'data-code="unknown_code"' in refused.get_data(as_text=True) and "Chèque refusé" in refused.get_data(as_text=True)
    typo = scan(client, world.venue, "ABCDE")
    assert typo.status_code == 422 and "clé de contrôle" in typo.get_data(as_text=True)

    pair = scan(client, world.venue, world.codes(0)[1], code2=world.codes(0)[2], two=True)
    assert pair.status_code == 201 and "20,00" in pair.get_data(as_text=True)
    assert 'id="two" name="two" value="1" checked' in pair.get_data(as_text=True)


def test_scan_page_cancel_and_foreign_venue(client, session, world):
    distribute(session, world, 0)
    venue_user(session, world)
    sign_in(client, "accueil@mediatheque-bordeaux.fr")
    assert scan(client, world.venue, world.codes(0)[0]).status_code == 201
    redemption = session.scalar(select(Redemption))
    token = csrf_token_from(client.get("/pass/scanner").get_data(as_text=True))
    response = client.post(f"/pass/encaissements/{redemption.id}/annuler",
                           data={"csrf_token": token, "venue_id": world.venue.id})
    assert response.status_code == 302
    session.refresh(redemption)
    assert redemption.status.value == "cancelled"
    foreign = scan(client, world.far_venue, world.codes(0)[0])
    assert foreign.status_code == 403


def test_scan_page_is_for_venue_staff_only(client, session, world):
    user = directory_api.create_user(session, ACTOR, email="ccas@bordeaux.fr", full_name="Aiguilleur", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, world.distributor, Role.DISTRIBUTOR)
    sign_in(client, "ccas@bordeaux.fr")
    assert client.get("/pass/scanner").status_code == 403


def test_a_distributor_records_a_handover_on_the_web(client, session, world):
    user = directory_api.create_user(session, ACTOR, email="ccas@bordeaux.fr", full_name="Aiguilleur", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, world.distributor, Role.DISTRIBUTOR)
    allow(session, world.order, world.distributor)
    sign_in(client, "ccas@bordeaux.fr")
    token = csrf_token_from(client.get("/pass/distribution").get_data(as_text=True))
    number = world.booklet(0).number
    marie = {"nom": "Dupont", "prenom": "Marie", "date_naissance": "1950-07-14"}
    done = client.post("/pass/distribution", data={"csrf_token": token, "booklet": number, **marie})
    assert done.status_code == 201 and f"Carnet n° {number} remis" in done.get_data(as_text=True)
    session.refresh(world.booklet(0))
    assert world.booklet(0).distributor_id == world.distributor.id and "Dupont" not in done.get_data(as_text=True)
    again = client.post("/pass/distribution", data={"csrf_token": token, "booklet": number, **marie, "prenom": "Jean"})
    assert again.status_code == 409 and 'data-code="already_distributed"' in again.get_data(as_text=True)
    unnamed = client.post("/pass/distribution", data={"csrf_token": token, "booklet": world.booklet(1).number,
                                                      **marie, "nom": " "})
    assert unnamed.status_code == 422 and 'data-code="required"' in unnamed.get_data(as_text=True)
    session.refresh(world.booklet(1))
    assert world.booklet(1).distributed_at is None
