"""Search that forgives, over HTTP: typos, homonyms, arrondissements, geocoder down, autocomplete, paging."""

import re
import socket
from html import unescape

import pytest

from directory import api
from maps.suggestions import ADDRESS_CACHE
from tests.builders import offset, publish_venue


def closed_port_url() -> str:
    """An address where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def text_of(response):
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


@pytest.fixture(autouse=True)
def fresh_cache():
    ADDRESS_CACHE.clear()
    yield
    ADDRESS_CACHE.clear()


@pytest.fixture
def quimper(session):
    place = api.resolve_place(session, "Quimper")
    publish_venue(session, *offset(place.lon, place.lat, 500), nom="Médiathèque de Quimper", code_postal="29000",
                  commune="Quimper")
    session.commit()
    return place


@pytest.fixture
def many_in_lyon(session):
    lyon = api.resolve_place(session, "Lyon")
    for index in range(37):
        publish_venue(session, *offset(lyon.lon, lyon.lat, 100 + 50 * index, bearing=index * 10),
                      nom=f"Lieu {index + 1:02d}")
    session.commit()
    return lyon


def test_a_typo_finds_the_commune(client, quimper):
    answer = client.get("/api/v1/venues/nearby?q=quimpr").get_json()
    assert answer["recherche"]["code_insee"] == "29232" and answer["recherche"]["lieu"] == "Quimper"
    assert [f["properties"]["nom"] for f in answer["features"]] == ["Médiathèque de Quimper"]
    page = client.get("/?q=quimpr")
    assert page.status_code == 200 and "1 lieu à moins de 10 km de Quimper" in text_of(page)


def test_homonyms_are_offered_not_picked(client):
    page = client.get("/?q=Saint-Denis&radius_km=5")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Saint-Denis (93)" in html and "Saint-Denis (974)" in html
    links = dict((unescape(label), unescape(href)) for href, label in re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', html))
    assert "radius_km=5" in links["Saint-Denis (93)"] and "Saint-Denis+%2893%29" in links["Saint-Denis (93)"]
    chosen = client.get(links["Saint-Denis (93)"])
    assert chosen.status_code == 200 and "à moins de 5 km de Saint-Denis" in text_of(chosen)

    api_answer = client.get("/api/v1/venues/nearby?q=Saint-Denis")
    assert api_answer.status_code == 400
    error = api_answer.get_json()["error"]
    assert error["code"] == "ambiguous_place" and error["field"] == "q"
    codes = {c["code_insee"]: c["libelle"] for c in error["details"]["candidats"]}
    assert codes["93066"] == "Saint-Denis (93)" and codes["97411"] == "Saint-Denis (974)"
    by_code = client.get("/api/v1/venues/nearby?commune=93066").get_json()
    assert by_code["recherche"]["code_insee"] == "93066"


@pytest.mark.parametrize(("query", "label"), [("Marseille 13001", "Marseille 13001"),
                                              ("Paris 15e", "Paris 15e arrondissement"),
                                              ("lyon 3eme", "Lyon 3e arrondissement")])
def test_arrondissements_are_understood(client, query, label):
    response = client.get("/api/v1/venues/nearby", query_string={"q": query})
    assert response.status_code == 200 and response.get_json()["recherche"]["lieu"] == label


def test_geocoder_down_falls_back_to_the_commune_part(app, client, quimper):
    app.config["GEOCODER_URL"] = closed_port_url()
    page = client.get("/?q=12 rue Kéréon 29000 Quimper")
    assert page.status_code == 200
    text = text_of(page)
    assert "La recherche par adresse ne répond pas pour le moment" in text and "Médiathèque de Quimper" in text
    assert "127.0.0.1" not in page.get_data(as_text=True) and "Errno" not in text
    answer = client.get("/api/v1/venues/nearby?q=12 rue Kéréon, Quimper")
    assert answer.status_code == 200
    assert answer.get_json()["recherche"]["code_insee"] == "29232"
    assert "ne répond pas" in answer.get_json()["recherche"]["avertissement"]
    nowhere = client.get("/api/v1/venues/nearby?q=12 rue de nulle part")
    assert nowhere.status_code == 400 and nowhere.get_json()["error"]["code"] == "unknown_place"
    assert "127.0.0.1" not in nowhere.get_data(as_text=True)
    suggestions = client.get("/api/v1/adresses?q=12 rue Ker")
    assert suggestions.status_code == 200 and "ne répond pas" in suggestions.get_json()["avertissement"]


def test_autocomplete_offers_communes_then_addresses(client, geocoder):
    communes = client.get("/api/v1/adresses?q=quimp").get_json()
    assert communes["suggestions"][0] == {"type": "commune", "libelle": "Quimper (29)", "code_insee": "29232",
                                          "detail": "29000", "lon": pytest.approx(-4.1, abs=0.1),
                                          "lat": pytest.approx(48.0, abs=0.1)}
    assert geocoder.requests == []  # a commune name never reaches the geocoder
    addresses = client.get("/api/v1/adresses?q=1 place Bell").get_json()
    assert addresses["suggestions"][0]["type"] == "adresse"
    assert addresses["suggestions"][0]["libelle"] == "1 place Bellecour 69002 Lyon"
    client.get("/api/v1/adresses?q=1 place Bell")
    assert len(geocoder.requests) == 1  # the second answer came from the cache
    assert client.get("/api/v1/adresses?q=a").get_json()["suggestions"] == []


def test_autocomplete_geocoder_calls_are_limited_per_client(app, client, geocoder):
    app.config["AUTOCOMPLETE_RATE_LIMIT"] = "2 per minute"
    assert [client.get(f"/api/v1/adresses?q=1 place Bel{c}").status_code for c in "abc"] == [200, 200, 429]
    assert client.get("/api/v1/adresses?q=quimp").status_code == 200  # communes are offline, not counted
    assert client.get("/api/v1/adresses?q=1 place Beld", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200


def test_paging_with_offset_limit_and_voir_plus(client, many_in_lyon):
    first = client.get("/api/v1/venues/nearby?q=Lyon&limit=20").get_json()["recherche"]
    assert (first["nombre"], first["total"], first["offset"], first["suivant"]) == (20, 37, 0, 20)
    last = client.get("/api/v1/venues/nearby?q=Lyon&limit=20&offset=20").get_json()
    assert (last["recherche"]["nombre"], last["recherche"]["suivant"]) == (17, None)
    assert last["features"][0]["properties"]["nom"] == "Lieu 21"
    bad = client.get("/api/v1/venues/nearby?q=Lyon&offset=-1")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_offset"

    page = client.get("/?q=Lyon&level=1")
    text = text_of(page)
    assert "20 premiers lieux sur 37 à moins de 10 km de Lyon" in text
    more = re.search(r'<a href="([^"]+)" class="button-link">Voir plus de lieux</a>', page.get_data(as_text=True))
    url = unescape(more.group(1))
    assert "q=Lyon" in url and "level=1" in url and "limit=40" in url and url.endswith("#lieu-21")
    everything = client.get(url.split("#")[0])
    assert "37 lieux à moins de 10 km de Lyon" in text_of(everything)
    assert 'id="lieu-21"' in everything.get_data(as_text=True) and "Voir plus de lieux" not in everything.get_data(as_text=True)
    second = client.get("/?q=Lyon&offset=20")
    assert "Lieux 21 à 37 sur 37" in text_of(second) and "Revenir aux lieux les plus proches" in text_of(second)


def test_a_point_with_a_name_keeps_the_name(client, many_in_lyon):
    lyon = many_in_lyon
    answer = client.get(f"/api/v1/venues/nearby?lat={lyon.lat}&lon={lyon.lon}&q=votre position&limit=1").get_json()
    assert answer["recherche"]["lieu"] == "votre position"
    page = client.get(f"/?lat={lyon.lat}&lon={lyon.lon}&q=votre position")
    assert "à moins de 10 km de votre position" in text_of(page)
    assert 'id="near-me" hidden' in page.get_data(as_text=True)  # search.js reveals it where geolocation exists


def test_a_commune_named_like_a_street_stays_offline(session, geocoder):
    from maps.places import search_place

    assert search_place(session, "Lieu-Saint-Amand").commune_code == "59348"
    assert geocoder.requests == []


def test_a_page_beyond_the_last_says_so(client, many_in_lyon):
    page = client.get("/?q=Lyon&offset=100")
    assert page.status_code == 200
    assert "Plus aucun lieu après le 100 e (37 lieux en tout)" in text_of(page)
    assert "Revenir aux lieux les plus proches" in text_of(page)
