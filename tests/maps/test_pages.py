"""Public pages: home search and list, venue page, error reports, territories, embeddable map."""

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from directory import api
from directory.models import Role, VenueStatus
from maps.api import rebuild_cartography
from maps.models import ReportTopic, VenueReport
from tests.builders import ACTOR, PASSWORD, csrf_token_from, offset, publish_venue, sign_in


@pytest.fixture
def lyon(session):
    return api.resolve_place(session, "Lyon")


@pytest.fixture
def venues(session, lyon):
    created = {
        "near": publish_venue(session, *offset(lyon.lon, lyon.lat, 400), nom="Médiathèque du Centre",
                              services=["premiers-pas", "messagerie"], telephone="04 78 00 00 00",
                              courriels=["accueil@mediatheque-lyon.fr"], horaires="Mo-Fr 09:00-12:00; PH off",
                              date_maj=date(2020, 3, 1), source="Région Auvergne-Rhône-Alpes",
                              prise_en_charge_specifique=["Surdité"], publics_specifiquement_adresses=["Seniors"]),
        "far": publish_venue(session, *offset(lyon.lon, lyon.lat, 2_500, bearing=180), nom="Espace emploi numérique",
                             services=["emploi-et-formation"], date_maj=date.today()),
        "candidate": publish_venue(session, *offset(lyon.lon, lyon.lat, 100), nom="Candidat secret",
                                   published=False, status=VenueStatus.CANDIDATE),
    }
    session.commit()
    return created


def text_of(response):
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def listed_names(html):
    return [unescape(name) for name in re.findall(r'class="venue-name"><a href="[^"]+">([^<]+)</a>', html)]


def test_home_has_the_search_form_and_accessible_landmarks(client, venues):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<a class="skip-link" href="#contenu">' in html and '<main id="contenu"' in html
    assert 'role="search"' in html and '<label for="q">Commune, code postal ou adresse</label>' in html
    assert re.search(r'<label for="level">', html) and re.search(r'<select id="level" name="level">', html)
    assert html.count("<h1>") == 1 and 'class="folium-map"' in html
    # The map fetches venues for the visible area; nothing about them is inlined in the page.
    assert "Médiathèque du Centre" not in html and "/api/v1/map/counts" in html
    assert len(response.data) < 300_000


def test_home_search_lists_venues_by_distance(client, venues):
    html = client.get("/?q=Lyon&radius_km=5").get_data(as_text=True)
    assert listed_names(html) == ["Médiathèque du Centre", "Espace emploi numérique"]
    assert "2 lieux à moins de 5 km de Lyon" in text_of_html(html)
    distances = [float(d) for d in re.findall(r'data-distance-m="([\d.]+)"', html)]
    assert distances == sorted(distances) and distances[0] == pytest.approx(400, abs=1)
    assert "Candidat secret" not in html
    assert "400\u00a0m" in html and "2,5\u00a0km" in html


def text_of_html(html):
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"\s+", " ", html))).replace("  ", " ")


def test_home_filters_by_level_and_keeps_the_choice(client, venues):
    html = client.get("/?q=69001&radius_km=5&level=3").get_data(as_text=True)
    assert listed_names(html) == ["Espace emploi numérique"]
    assert '<option value="3" selected>' in html
    assert "<details class=\"filters\" open>" in html


def test_home_explains_bad_input_in_french(client, venues):
    response = client.get("/?q=Lyon&radius_km=500")
    assert response.status_code == 400
    assert "Le rayon « 500 » n'est pas valide" in text_of(response)
    assert 'role="alert"' in response.get_data(as_text=True)
    unknown = client.get("/?q=00000")
    assert unknown.status_code == 400 and "ne correspond à aucune commune" in text_of(unknown)


def test_home_search_by_address(client, venues, geocoder):
    html = client.get("/?q=1 place Bellecour 69002 Lyon&radius_km=5").get_data(as_text=True)
    assert "de 1 place Bellecour 69002 Lyon" in text_of_html(html)
    assert "Médiathèque du Centre" in listed_names(html)


def test_venue_page(client, venues, lyon):
    venue = venues["near"]
    response = client.get(f"/lieux/{venue.id}?lat={lyon.lat}&lon={lyon.lon}")
    assert response.status_code == 200
    page = text_of(response)
    assert "<h1>Médiathèque du Centre</h1>" in page
    assert "À 400 m du point de recherche" in page.replace("\u00a0", " ")
    assert 'href="tel:+33478000000"' in page and "accueil@mediatheque-lyon.fr" in page
    assert re.search(r"<th scope=\"row\">Lundi \d\d/\d\d</th> <td>09:00–12:00</td>", page)
    assert re.search(r"<th scope=\"row\">Samedi \d\d/\d\d</th> <td>Fermé</td>", page)
    assert "Niveau 1 : Découvrir les enjeux du numérique" in page and "Niveau 2 : Maîtriser le numérique" in page
    assert "Niveau 3" not in page
    assert "Utiliser une messagerie électronique" in page
    assert "Accueil adapté : Seniors" in page and "Prise en charge spécifique : Surdité" in page
    assert "Région Auvergne-Rhône-Alpes, mise à jour le 01/03/2020" in page
    assert "ces informations ont plus d'un an" in page
    assert "data-print" in page and f'href="/lieux/{venue.id}/signaler"' in page
    assert 'aria-label="Fil d\'Ariane"' in page and ">Rhône</a>" in page and ">Auvergne-Rhône-Alpes</a>" in page


def test_recent_data_is_not_flagged(client, venues):
    assert "plus d'un an" not in text_of(client.get(f"/lieux/{venues['far'].id}"))


def test_candidates_have_no_public_page(client, venues):
    assert client.get(f"/lieux/{venues['candidate'].id}").status_code == 404
    assert client.get("/lieux/999999").status_code == 404


def test_report_an_error_is_stored_for_staff(client, session, venues):
    venue = venues["near"]
    form_page = client.get(f"/lieux/{venue.id}/signaler")
    assert form_page.status_code == 200
    token = csrf_token_from(form_page.get_data(as_text=True))
    refused = client.post(f"/lieux/{venue.id}/signaler", data={"csrf_token": token, "topic": "horaires", "message": " "})
    assert refused.status_code == 422 and "Décrivez l'erreur constatée." in text_of(refused)
    assert session.scalar(select(VenueReport)) is None
    sent = client.post(f"/lieux/{venue.id}/signaler", data={
        "csrf_token": token, "topic": "horaires", "message": "Fermé le mercredi depuis septembre.",
        "contact_email": "Lecteur@Exemple.fr",
    })
    assert sent.status_code == 302 and sent.location.endswith(f"/lieux/{venue.id}")
    report = session.scalar(select(VenueReport))
    assert (report.venue_id, report.topic, report.contact_email) == (venue.id, ReportTopic.HOURS, "lecteur@exemple.fr")
    assert "votre signalement a été transmis" in text_of(client.get(f"/lieux/{venue.id}"))

    aptic = api.create_organisation(session, ACTOR, name="APTIC", legal_form="cooperative",
                                    siret="82023445800017", is_aptic=True)
    user = api.create_user(session, ACTOR, email="equipe@aptic-exemple.fr", full_name="Équipe", password=PASSWORD)
    api.add_membership(session, ACTOR, user, aptic, Role.APTIC_STAFF)
    session.commit()
    assert client.get("/signalements").status_code == 302
    sign_in(client, "equipe@aptic-exemple.fr")
    staff_page = text_of(client.get("/signalements"))
    assert "Fermé le mercredi depuis septembre." in staff_page and "Les horaires" in staff_page


def test_report_without_csrf_token_is_refused(client, session, venues):
    response = client.post(f"/lieux/{venues['near'].id}/signaler", data={"topic": "autre", "message": "x"})
    assert response.status_code == 400 and session.scalar(select(VenueReport)) is None


def test_territory_pages_go_from_region_to_venues(client, venues):
    regions = text_of(client.get("/territoires"))
    assert '<a href="/territoires/region/84">Auvergne-Rhône-Alpes</a> <span class="count">2 lieux</span>' in regions
    region = text_of(client.get("/territoires/region/84"))
    assert '<a href="/territoires/departement/69">Rhône</a>' in region and "2 lieux qualifiés APTIC" in region
    departement = text_of(client.get("/territoires/departement/69"))
    assert '<a href="/territoires/commune/69123">Lyon</a>' in departement
    commune = client.get("/territoires/commune/69123").get_data(as_text=True)
    assert sorted(listed_names(commune)) == ["Espace emploi numérique", "Médiathèque du Centre"]
    empty = text_of(client.get("/territoires/commune/01001"))
    assert "Aucun lieu qualifié APTIC dans la commune" in empty
    assert client.get("/territoires/departement/00").status_code == 404


def test_embeddable_map(client, venues):
    response = client.get("/embed?territoire=69")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Lieux qualifiés APTIC : Rhône" in html and 'class="folium-map"' in html
    assert "fitBounds" in html and sorted(listed_names(html)) == ["Espace emploi numérique", "Médiathèque du Centre"]
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "Lieux qualifiés APTIC : Auvergne-Rhône-Alpes" in client.get("/embed?territoire=84&niveau=region").get_data(as_text=True)
    assert "Lieux qualifiés APTIC : Lyon" in client.get("/embed?territoire=69123").get_data(as_text=True)
    assert client.get("/embed?territoire=ZZ").status_code == 404
    assert client.get("/embed").status_code == 200


def test_the_public_home_is_the_brand_link(client):
    assert 'class="brand" href="/"' in client.get("/territoires").get_data(as_text=True)


def test_territory_page_links_to_its_coverage(client, venues):
    page = client.get("/territoires/departement/69").get_data(as_text=True)
    assert 'href="/couverture/departement/69"' in page


def test_rebuild_history_is_for_aptic_staff_only(client, session, venues):
    rebuild_cartography(session, ACTOR, trigger="test")
    aptic = api.create_organisation(session, ACTOR, name="APTIC", legal_form="cooperative",
                                    siret="82023445800017", is_aptic=True)
    user = api.create_user(session, ACTOR, email="equipe@aptic-exemple.fr", full_name="Équipe", password=PASSWORD)
    api.add_membership(session, ACTOR, user, aptic, Role.APTIC_STAFF)
    session.commit()
    assert client.get("/cartographie/reconstructions").status_code == 302
    sign_in(client, "equipe@aptic-exemple.fr")
    page = text_of(client.get("/cartographie/reconstructions"))
    assert "Réussie" in page and f"test ({ACTOR.label})" in page and "publish" in page
