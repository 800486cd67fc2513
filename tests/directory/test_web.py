"""Sign-in, CSRF, roles and French errors on the web pages."""

from html import unescape

import pytest
from sqlalchemy import func, select

from directory import api
from directory.models import Organisation, Role
from tests.builders import ACTOR, PASSWORD, csrf_token_from, sign_in


@pytest.fixture
def staff(session):
    aptic = api.create_organisation(
        session, ACTOR, name="APTIC", legal_form="cooperative", siret="82023445800017", is_aptic=True
    )
    user = api.create_user(session, ACTOR, email="staff@aptic.fr", full_name="Équipe", password=PASSWORD)
    api.add_membership(session, ACTOR, user, aptic, Role.APTIC_STAFF)
    session.commit()
    return user


def test_sign_in_and_out(client, staff):
    response = sign_in(client, "staff@aptic.fr")
    assert response.status_code == 302 and response.location.endswith("/compte")
    page = client.get("/compte").get_data(as_text=True)
    assert "staff@aptic.fr" in page and "Équipe APTIC" in page
    token = csrf_token_from(page)
    assert client.post("/deconnexion", data={"csrf_token": token}).status_code == 302
    assert client.get("/compte").status_code == 302


def test_wrong_password_is_refused_in_french(client, staff):
    response = sign_in(client, "staff@aptic.fr", "not the password")
    assert response.status_code == 401
    assert "Courriel ou mot de passe incorrect." in unescape(response.get_data(as_text=True))


def test_a_form_without_csrf_token_is_refused(client, staff):
    response = client.post("/connexion", data={"email": "staff@aptic.fr", "password": PASSWORD},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_repeated_failed_sign_ins_are_rate_limited(client, staff):
    statuses = [sign_in(client, "staff@aptic.fr", "bad password").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_create_an_organisation_from_the_back_office(client, staff, session):
    sign_in(client, "staff@aptic.fr")
    token = csrf_token_from(client.get("/organisations/nouvelle").get_data(as_text=True))
    response = client.post("/organisations/nouvelle", data={
        "csrf_token": token, "name": "CCAS de Bordeaux", "legal_form": "etablissement_public",
        "siret": "26330040200017", "code_insee": "33063", "is_distributor": "y",
    })
    assert response.status_code == 302
    organisation = session.scalars(select(Organisation).where(Organisation.siret == "26330040200017")).one()
    page = client.get(response.location).get_data(as_text=True)
    assert "CCAS de Bordeaux" in page and "organisation.created" in page
    assert organisation.is_distributor and not organisation.is_sponsor


def test_an_invalid_siret_in_the_form_gets_a_french_message_and_changes_nothing(client, staff, session):
    sign_in(client, "staff@aptic.fr")
    before = session.scalar(select(func.count()).select_from(Organisation))
    token = csrf_token_from(client.get("/organisations/nouvelle").get_data(as_text=True))
    response = client.post("/organisations/nouvelle", data={
        "csrf_token": token, "name": "Erreur", "legal_form": "association", "siret": "12345678901234",
        "is_sponsor": "y",
    })
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    assert "sa clé de contrôle (Luhn) est fausse" in page
    assert 'id="siret-error"' in page and 'aria-invalid="true"' in page
    assert session.scalar(select(func.count()).select_from(Organisation)) == before


def test_the_back_office_is_for_aptic_staff_only(client, session):
    sponsor = api.create_organisation(session, ACTOR, name="CAF", legal_form="etablissement_public",
                                      siret="77562386100041", is_sponsor=True)
    user = api.create_user(session, ACTOR, email="caf@example.fr", full_name="CAF", password=PASSWORD)
    api.add_membership(session, ACTOR, user, sponsor, Role.SPONSOR)
    session.commit()
    assert client.get("/organisations/nouvelle").status_code == 302
    sign_in(client, "caf@example.fr")
    response = client.get("/organisations/nouvelle")
    assert response.status_code == 403
    assert "Vous n'avez pas les droits nécessaires." in unescape(response.get_data(as_text=True))


def test_unknown_pages_answer_in_french(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert "Cette page n'existe pas." in unescape(response.get_data(as_text=True))
    api_response = client.get("/api/v1/nulle-part")
    assert api_response.status_code == 404
    assert api_response.get_json() == {"error": {"code": "not_found", "message": "Cette page n'existe pas."}}


def test_pages_are_french_and_accessible_landmarks(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert 'href="#contenu"' in page and '<main id="contenu"' in page
    assert 'role="banner"' in page and 'role="contentinfo"' in page
