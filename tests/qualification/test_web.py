"""Back office and applicant pages."""

import io
import re
from html import unescape

from directory import api as directory_api
from directory.models import Role
from qualification import api
from qualification.models import ApplicationStatus
from tests.builders import (
    ACTOR,
    PASSWORD,
    PDF,
    complete_application,
    csrf_token_from,
    make_organisation,
    qualified_venue,
    sign_in,
    site_fields,
)


def _user(session, organisation, role, email):
    user = directory_api.create_user(session, ACTOR, email=email, full_name="Personne", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, organisation, role)
    return user


def _staff(session):
    aptic = directory_api.create_organisation(session, ACTOR, name="APTIC", legal_form="cooperative",
                                              siret="82023445800017", is_aptic=True)
    return _user(session, aptic, Role.APTIC_STAFF, "equipe@aptic-exemple.fr")


def test_the_applicant_sees_where_the_file_stands_and_uploads_a_document(client, session):
    organisation = make_organisation(session, "association")
    _user(session, organisation, Role.VENUE_STAFF, "lieu@exemple.fr")
    application = api.create_application(session, ACTOR, organisation)
    api.add_site(session, ACTOR, application, site_fields(name="Médiathèque de Cahors"))
    session.commit()
    assert sign_in(client, "lieu@exemple.fr").status_code == 302
    page = unescape(client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True))
    assert "Statut : Brouillon." in page
    assert "Document à déposer : Statuts certifiés conformes." in page
    assert "Médiathèque de Cahors" in page
    token = csrf_token_from(page)
    response = client.post(f"/qualification/dossiers/{application.id}/documents", data={
        "csrf_token": token, "kind": "statutes", "file": (io.BytesIO(PDF), "statuts.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    page = unescape(client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True))
    assert "Statuts certifiés conformes : fourni" in page
    refused = client.post(f"/qualification/dossiers/{application.id}/documents", data={
        "csrf_token": token, "kind": "rib", "file": (io.BytesIO(b"<script>alert(1)</script>"), "rib.pdf")},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "ni un PDF, ni une image JPEG ou PNG" in unescape(refused.get_data(as_text=True))
    bad_iban = client.post(f"/qualification/dossiers/{application.id}/banque", data={
        "csrf_token": token, "iban": "FR76 1234", "bic": "AGRIFRPP", "account_holder": "Asso"})
    assert bad_iban.status_code == 422 and "IBAN" in unescape(bad_iban.get_data(as_text=True))
    assert client.get("/qualification/").status_code == 403  # the back office is for APTIC staff
    assert client.get("/qualification/densite").status_code == 403


def test_someone_else_cannot_read_the_file(client, session):
    application = api.create_application(session, ACTOR, make_organisation(session))
    _user(session, make_organisation(session), Role.VENUE_STAFF, "autre@exemple.fr")
    session.commit()
    assert sign_in(client, "autre@exemple.fr").status_code == 302
    assert client.get(f"/qualification/dossiers/{application.id}").status_code == 403


def test_staff_review_the_proposed_decision_and_decide(client, session, storage, app):
    app.config["QUALIFICATION_UPLOAD_DIR"] = str(storage)
    _staff(session)
    qualified_venue(session)
    application = complete_application(session, storage)
    session.commit()
    assert sign_in(client, "equipe@aptic-exemple.fr").status_code == 302
    listing = unescape(client.get("/qualification/").get_data(as_text=True))
    assert f"n° {application.id}" in listing and "Qualifié — CA du Grand Cahors (1 / 2)" in listing
    page = unescape(client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True))
    assert "Qualifié : CA du Grand Cahors (42\u202f325 habitants) compte 1 lieu qualifié pour un quota de 2" in page
    response = client.post(f"/qualification/dossiers/{application.id}/instruction",
                           data={"csrf_token": csrf_token_from(page), "action": "decide"})
    assert response.status_code == 302
    session.expire_all()
    assert api.get_application(session, application.id).status == ApplicationStatus.QUALIFIED
    refused = client.post(f"/qualification/dossiers/{application.id}/instruction",
                          data={"csrf_token": csrf_token_from(page), "action": "reject", "reason": "x"})
    assert refused.status_code == 409 and "ne peut pas passer" in unescape(refused.get_data(as_text=True))


def test_a_waitlisted_file_shows_what_qualifying_it_would_change(client, session, storage):
    _staff(session)
    api.set_override(session, ACTOR, level="epci", code="200023737", quota=1, reason="Test.")
    qualified_venue(session)
    application = complete_application(session, storage)
    api.decide(session, ACTOR, application)
    session.commit()
    assert sign_in(client, "equipe@aptic-exemple.fr").status_code == 302
    page = unescape(client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True))
    assert "Ce que changerait sa qualification" in page
    assert "1 / 1 → 2 / 1" in page and "Habitants gagnant un lieu de même niveau à moins de 10 km" in page


def test_density_page_has_the_table_and_the_choropleth(client, session):
    _staff(session)
    qualified_venue(session)
    session.commit()
    assert sign_in(client, "equipe@aptic-exemple.fr").status_code == 302
    page = unescape(client.get("/qualification/densite?niveau=departement").get_data(as_text=True))
    assert "101 territoires" in page and "Lieux pour 10 000 hab." in page
    # The page carries the figures; the outlines come from the boundaries endpoint, for the zoom.
    assert "apticChoropleth" in page and '"departement:46"' in page and "coordinates" not in page
    assert "Usage du quota" in page and "<td>Lot</td>" in page


def _table_codes(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"<tr><td>([0-9AB]+)</td>", body)


def test_density_table_sorts_filters_and_pages_in_the_url(client, session):
    _staff(session)
    qualified_venue(session)
    session.commit()
    assert sign_in(client, "equipe@aptic-exemple.fr").status_code == 302
    first = unescape(client.get("/qualification/densite?niveau=departement").get_data(as_text=True))
    assert _table_codes(first)[:3] == ["01", "02", "03"] and len(_table_codes(first)) == 50
    assert "101 territoires, 1 à 50 affichés (page 1 sur 3)" in first and 'aria-current="page"' in first
    assert 'aria-sort="ascending"' in first and first.count("aria-sort=") == 1 and '<th scope="col"' in first
    third = unescape(client.get("/qualification/densite?niveau=departement&page=3").get_data(as_text=True))
    assert len(_table_codes(third)) == 1 and "101 à 101 affichés (page 3 sur 3)" in third
    by_venues = unescape(client.get("/qualification/densite?niveau=departement&tri=lieux&ordre=desc")
                         .get_data(as_text=True))
    assert _table_codes(by_venues)[0] == "46" and 'aria-sort="descending"' in by_venues
    assert "page=2" in by_venues and "tri=lieux" in by_venues.split('rel="next"')[0].rsplit("href=", 1)[1]
    occitanie = unescape(client.get("/qualification/densite?niveau=departement&region=76&tri=population&ordre=desc")
                         .get_data(as_text=True))
    codes = _table_codes(occitanie)
    assert len(codes) == 13 and codes[0] == "31" and "13 territoires sur 101" in occitanie
    lot = unescape(client.get("/qualification/densite?niveau=epci&departement=46").get_data(as_text=True))
    assert 0 < len(_table_codes(lot)) < 20 and "Retirer les filtres" in lot
    for query, code in (("tri=nimporte", "invalid_sort"), ("ordre=haut", "invalid_sort_order"),
                        ("region=99", "unknown_territory"), ("page=zero", "invalid_parameter")):
        refused = client.get(f"/qualification/densite?{query}", headers={"Accept": "application/json"})
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == code, query


def test_the_applicant_creates_a_file_adds_a_site_and_submits(client, session):
    organisation = make_organisation(session, "entreprise")
    _user(session, organisation, Role.VENUE_STAFF, "gerant@exemple.fr")
    session.commit()
    assert sign_in(client, "gerant@exemple.fr").status_code == 302
    page = client.get("/qualification/mes-dossiers").get_data(as_text=True)
    response = client.post("/qualification/dossiers", data={"csrf_token": csrf_token_from(page), "organisation_id": organisation.id})
    assert response.status_code == 302
    url = response.location
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    site = {"csrf_token": token, "nom": "Espace numérique de Cahors", "adresse": "5 rue Wilson", "code_postal": "46000",
            "commune": "Cahors", "longitude": "1,44062", "latitude": "44.44683", "services": ["premiers-pas", "messagerie"],
            "horaires": "du lundi au vendredi"}
    refused = client.post(f"{url}/lieux", data=site)
    assert refused.status_code == 422 and "syntaxe OpenStreetMap" in unescape(refused.get_data(as_text=True))
    assert client.post(f"{url}/lieux", data={**site, "horaires": "Mo-Fr 09:00-17:00"}).status_code == 302
    page = unescape(client.get(url).get_data(as_text=True))
    assert "Espace numérique de Cahors" in page and "1, 2" in page  # its levels
    assert client.post(f"{url}/depot", data={"csrf_token": token}).status_code == 302
    page = unescape(client.get(url).get_data(as_text=True))
    assert "Statut : Déposé, en cours d'examen." in page
    assert "Document à déposer : Pièce d'identité du représentant légal." in page
    other = make_organisation(session)
    session.commit()
    assert client.post("/qualification/dossiers", data={"csrf_token": token, "organisation_id": other.id}).status_code == 403
