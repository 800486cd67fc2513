"""The public JSON API: nearby search as GeoJSON, venue and territory records, map data, errors."""

from datetime import date

import pytest

from directory import api
from directory.models import VenueStatus
from tests.builders import offset, publish_venue


@pytest.fixture
def lyon(session):
    return api.resolve_place(session, "Lyon")


@pytest.fixture
def venues(session, lyon):
    """Three published venues around Lyon's centre and a candidate nearer than all of them."""
    created = {
        "candidat": publish_venue(session, *offset(lyon.lon, lyon.lat, 50), nom="Candidat", published=False,
                                  status=VenueStatus.CANDIDATE),
        "loin": publish_venue(session, *offset(lyon.lon, lyon.lat, 3_000, bearing=180), nom="Loin", horaires="24/7",
                              services=["premiers-pas", "emploi-et-formation"], frais_a_charge=["Gratuit", "Payant"]),
        "proche": publish_venue(session, *offset(lyon.lon, lyon.lat, 300), nom="Proche", horaires="off",
                                accepts_pass=False, modalites_accompagnement=["À distance"]),
        "milieu": publish_venue(session, *offset(lyon.lon, lyon.lat, 1_200, bearing=200), nom="Milieu", horaires=None,
                                services=["messagerie"], date_maj=date(2020, 1, 1)),
    }
    session.commit()
    return created


def feature_names(answer):
    return [feature["properties"]["nom"] for feature in answer["features"]]


def test_nearby_answers_geojson_sorted_by_distance(client, venues):
    response = client.get("/api/v1/venues/nearby?q=Lyon&radius_km=5")
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["type"] == "FeatureCollection"
    assert feature_names(answer) == ["Proche", "Milieu", "Loin"]
    distances = [f["properties"]["distance_m"] for f in answer["features"]]
    assert distances == sorted(distances) and distances[0] == pytest.approx(300, abs=1)
    assert answer["recherche"]["lieu"] == "Lyon" and answer["recherche"]["rayon_m"] == 5000
    far = answer["features"][2]
    assert far["id"] == venues["loin"].id and far["geometry"]["type"] == "Point"
    properties = far["properties"]
    assert properties["ouvert_maintenant"] is True
    assert properties["niveaux"] == [1, 3]
    assert {"slug": "emploi-et-formation", "nom": "Chercher un emploi, se former, créer son activité en ligne",
            "niveau": 3} in properties["services"]
    assert properties["adresse"]["code_insee"] == "69123" and properties["horaires"] == "24/7"
    assert properties["url"].endswith(f"/lieux/{venues['loin'].id}")
    assert [f["properties"]["ouvert_maintenant"] for f in answer["features"][:2]] == [False, None]


def test_nearby_from_coordinates_radius_and_limit(client, venues, lyon):
    answer = client.get(f"/api/v1/venues/nearby?lat={lyon.lat}&lon={lyon.lon}&radius_km=1.5&limit=1").get_json()
    assert feature_names(answer) == ["Proche"]
    answer = client.get(f"/api/v1/venues/nearby?lat={lyon.lat}&lon={lyon.lon}&radius_km=1,5").get_json()
    assert feature_names(answer) == ["Proche", "Milieu"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=3", ["Loin"]),
        ("service=messagerie", ["Milieu"]),
        ("service=premiers-pas,emploi-et-formation", ["Loin"]),
        ("fees=Payant", ["Loin"]),
        ("support=%C3%80%20distance", ["Proche"]),
        ("open_now=true", ["Loin"]),
        ("accepts_pass=true", ["Milieu", "Loin"]),
        ("open_at=2026-11-18T10:00", ["Loin"]),
        ("fees=Gratuit&fees=Payant", ["Loin"]),
    ],
)
def test_nearby_filters(client, venues, query, expected):
    assert feature_names(client.get(f"/api/v1/venues/nearby?q=69001&{query}").get_json()) == expected


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("", "q", "required"),
        ("q=Lyon&radius_km=abc", "radius_km", "invalid_parameter"),
        ("q=Lyon&radius_km=0", "radius_km", "invalid_radius"),
        ("q=Lyon&radius_km=nan", "radius_km", "invalid_parameter"),
        ("q=Lyon&limit=deux", "limit", "invalid_parameter"),
        ("q=Lyon&limit=1000", "limit", "invalid_limit"),
        ("q=Lyon&level=4", "level", "invalid_level"),
        ("q=Lyon&service=cuisine", "service", "unknown_service"),
        ("q=Lyon&fees=Cher", "fees", "invalid_filter_value"),
        ("q=Lyon&care=Aucune", "care", "invalid_filter_value"),
        ("q=Lyon&open_now=peut-etre", "open_now", "invalid_parameter"),
        ("q=Lyon&open_at=demain", "open_at", "invalid_parameter"),
        ("lat=45.7", "lon", "invalid_parameter"),
        ("lat=95&lon=4", "latitude", "invalid_latitude"),
        ("q=00000", "q", "unknown_place"),
    ],
)
def test_nearby_bad_parameters_get_a_400_naming_them(client, query, field, code):
    response = client.get(f"/api/v1/venues/nearby?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"] and error["message"][0].isupper()


def test_an_address_is_geocoded_when_it_is_no_place_name(client, venues, geocoder):
    answer = client.get("/api/v1/venues/nearby?q=1 place Bellecour 69002 Lyon&radius_km=5").get_json()
    assert answer["recherche"]["lieu"] == "1 place Bellecour 69002 Lyon"
    assert answer["recherche"]["lat"] == pytest.approx(45.757814)
    assert feature_names(answer) and set(feature_names(answer)) <= {"Proche", "Milieu", "Loin"}
    unknown = client.get("/api/v1/venues/nearby?q=rue introuvable de nulle part")
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_place"
    assert [kind for kind, _ in geocoder.requests] == ["search", "search"]


def test_venue_record(client, venues):
    response = client.get(f"/api/v1/venues/{venues['loin'].id}")
    assert response.status_code == 200
    feature = response.get_json()
    assert feature["type"] == "Feature" and feature["properties"]["nom"] == "Loin"
    week = feature["properties"]["semaine"]
    assert len(week) == 7 and week[0]["periodes"] == [["00:00", "24:00"]]
    assert date.fromisoformat(week[0]["jour"]).weekday() == 0
    assert client.get(f"/api/v1/venues/{venues['milieu'].id}").get_json()["properties"]["semaine"] is None


def test_candidates_and_unknown_venues_are_not_found(client, venues):
    for venue_id in (venues["candidat"].id, 999_999):
        response = client.get(f"/api/v1/venues/{venue_id}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "unknown_venue"


def test_territory_record(client, venues):
    answer = client.get("/api/v1/territories/departement/69").get_json()
    assert answer["nom"] == "Rhône" and answer["code_region"] == "84"
    assert answer["lieux_qualifies"] == 3 and answer["population"] > 1_000_000
    commune = client.get("/api/v1/territories/commune/69123").get_json()
    assert (commune["code_departement"], commune["code_epci"], commune["lieux_qualifies"]) == ("69", "200046977", 3)
    region = client.get("/api/v1/territories/region/84").get_json()
    assert region["lieux_qualifies"] == 3 and region["code_region"] is None
    assert client.get("/api/v1/territories/departement/99").status_code == 404
    bad = client.get("/api/v1/territories/canton/69")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "level"


def test_map_bubbles_per_region_and_departement(client, venues):
    regions = client.get("/api/v1/map/counts?level=region").get_json()["territoires"]
    assert [(r["code"], r["nom"], r["lieux"]) for r in regions] == [("84", "Auvergne-Rhône-Alpes", 3)]
    departements = client.get("/api/v1/map/counts?level=departement").get_json()["territoires"]
    assert [(d["code"], d["lieux"]) for d in departements] == [("69", 3)]
    assert client.get("/api/v1/map/counts?level=commune").status_code == 400
    assert client.get("/api/v1/map/counts?level=canton").status_code == 400


def test_map_venues_of_the_visible_area(client, venues, lyon):
    bbox = f"{lyon.lon - 0.02},{lyon.lat - 0.02},{lyon.lon + 0.02},{lyon.lat + 0.02}"
    answer = client.get(f"/api/v1/map/venues?bbox={bbox}").get_json()
    assert sorted(f["properties"]["nom"] for f in answer["features"]) == ["Milieu", "Proche"]
    assert (answer["contenu"], answer["total"], answer["maille_deg"]) == ("lieux", 2, None)
    feature = next(f for f in answer["features"] if f["properties"]["nom"] == "Proche")
    assert feature["properties"]["url"] == f"/lieux/{venues['proche'].id}"
    for bad in ("", "1,2,3", "a,b,c,d", "5,45,4,46", "0,-95,1,1"):
        response = client.get(f"/api/v1/map/venues?bbox={bad}")
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "bbox"


def test_openapi_describes_the_public_api(client):
    document = client.get("/api/v1/openapi.json").get_json()
    nearby = document["paths"]["/api/v1/venues/nearby"]["get"]
    assert {p["name"] for p in nearby["parameters"]} >= {
        "lat", "lon", "q", "radius_km", "service", "level", "limit", "fees", "support", "public", "care",
        "open_now", "open_at", "accepts_pass",
    }
    assert "/api/v1/territories/{level}/{code}" in document["paths"]
    assert "NearbyVenues" in document["components"]["schemas"]


def test_anonymous_address_searches_are_limited_per_visitor_not_commune_searches(app, client, venues, geocoder):
    app.config["GEOCODING_RATE_LIMIT"] = "2 per minute"
    address = "/api/v1/venues/nearby?q=1 place Bellecour 69002 Lyon&radius_km=5"
    assert [client.get(address).status_code for _ in range(2)] == [200, 200]
    refused = client.get(address)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    # a commune name never reaches the geocoder, so it is not counted; the page shares the allowance
    assert client.get("/api/v1/venues/nearby?q=Lyon").status_code == 200
    assert client.get("/?q=1 place Bellecour 69002 Lyon").status_code == 429
    # a second visitor (another address) has its own allowance; repeated answers came from the cache
    assert client.get(address, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert [kind for kind, _ in geocoder.requests] == ["search"]
