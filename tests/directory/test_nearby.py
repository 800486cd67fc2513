"""Nearby search: distance order and radius on the ellipsoid, place resolution, every filter, hours."""

from datetime import UTC, datetime

import pytest

from directory import api
from directory.errors import InvalidInput, NotFound
from directory.models import VenueStatus
from tests.builders import offset, publish_venue

# Wednesday 18 November 2026, 10:30 in Paris (09:30 UTC).
WEDNESDAY_MORNING = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)


@pytest.fixture
def lyon(session):
    return api.resolve_place(session, "Lyon")


def names(result):
    return [item.venue.nom for item in result.venues]


def test_results_are_sorted_by_distance_within_the_radius(session, lyon):
    for metres, name in [(3_000, "trois"), (800, "huit-cents"), (6_000, "six"), (1_500, "quinze-cents")]:
        publish_venue(session, *offset(lyon.lon, lyon.lat, metres, bearing=metres % 360), nom=name)
    result = api.nearby_venues(session, place=lyon, radius_km=5)
    assert names(result) == ["huit-cents", "quinze-cents", "trois"]
    assert [round(item.distance_m) for item in result.venues] == pytest.approx([800, 1500, 3000], abs=1)
    assert result.radius_m == 5_000


def test_a_venue_exactly_on_the_radius_is_included(session, lyon):
    venue = publish_venue(session, *offset(lyon.lon, lyon.lat, 2_000), nom="au bord")
    measured = api.nearby_venues(session, place=lyon, radius_km=10).venues[0].distance_m
    assert measured == pytest.approx(2_000, abs=0.01)
    assert [v.venue.id for v in api.nearby_venues(session, place=lyon, radius_km=measured / 1000).venues] == [venue.id]
    assert api.nearby_venues(session, place=lyon, radius_km=(measured - 0.05) / 1000).venues == []


def test_limit_keeps_the_nearest(session, lyon):
    for metres in (400, 300, 200, 100):
        publish_venue(session, *offset(lyon.lon, lyon.lat, metres), nom=f"{metres} m")
    assert names(api.nearby_venues(session, place=lyon, limit=2)) == ["100 m", "200 m"]


def test_only_the_published_cartography_is_searched(session, lyon):
    publish_venue(session, *offset(lyon.lon, lyon.lat, 100), nom="candidat", published=False, status=VenueStatus.CANDIDATE)
    publish_venue(session, *offset(lyon.lon, lyon.lat, 200), nom="pas encore publié", published=False)
    publish_venue(session, *offset(lyon.lon, lyon.lat, 300), nom="publié")
    assert names(api.nearby_venues(session, place=lyon)) == ["publié"]


def test_the_radius_is_measured_in_metres_at_any_latitude(session):
    """In Guadeloupe (16° N) a degree of longitude is ~107 km, in Lille (50.6° N) ~71 km."""
    for place_name, postcode in (("Les Abymes", "97139"), ("Lille", "59000")):
        place = api.resolve_place(session, place_name)
        publish_venue(session, *offset(place.lon, place.lat, 4_900), nom=f"dedans {place_name}", code_postal=postcode)
        publish_venue(session, *offset(place.lon, place.lat, 5_100, bearing=270), nom=f"dehors {place_name}", code_postal=postcode)
        assert names(api.nearby_venues(session, place=place, radius_km=5)) == [f"dedans {place_name}"]


def test_overseas_and_corsica(session):
    reunion = api.resolve_place(session, "97400")
    assert reunion.label == "97400 Saint-Denis" and reunion.commune_code == "97411"
    ajaccio = api.resolve_place(session, "ajaccio")
    assert ajaccio.commune_code == "2A004"
    publish_venue(session, *offset(reunion.lon, reunion.lat, 500), nom="Case numérique", code_postal="97400")
    publish_venue(session, *offset(ajaccio.lon, ajaccio.lat, 700), nom="Médiathèque d'Ajaccio", code_postal="20000")
    found = api.nearby_venues(session, place=reunion, radius_km=20)
    assert names(found) == ["Case numérique"] and found.venues[0].venue.code_insee == "97411"
    assert names(api.nearby_venues(session, place=ajaccio, radius_km=20)) == ["Médiathèque d'Ajaccio"]


def test_search_from_coordinates(session, lyon):
    publish_venue(session, *offset(lyon.lon, lyon.lat, 250), nom="proche")
    result = api.nearby_venues(session, lon=lyon.lon, lat=lyon.lat, radius_km=1)
    assert names(result) == ["proche"]
    with pytest.raises(InvalidInput) as error:
        api.nearby_venues(session, lon=4.8, lat=95.0)
    assert error.value.field == "latitude"


@pytest.mark.parametrize(
    ("query", "code", "label"),
    [
        ("Lyon", "69123", "Lyon"),
        ("  SAINT-ETIENNE ", "42218", "Saint-Étienne"),
        ("st etienne", "42218", "Saint-Étienne"),
        ("69001", "69123", "69001 Lyon"),
        ("13001", "13055", "13001 Marseille"),
    ],
)
def test_place_names_and_postcodes_resolve_offline(session, query, code, label):
    place = api.resolve_place(session, query)
    assert (place.commune_code, place.label) == (code, label)
    assert -180 <= place.lon <= 180 and -90 <= place.lat <= 90


@pytest.mark.parametrize(("query", "code"), [("Trifouillis-les-Oies", "unknown_place"), ("00000", "unknown_place"), ("", "required")])
def test_unknown_places_are_refused(session, query, code):
    with pytest.raises((NotFound, InvalidInput)) as error:
        api.nearby_venues(session, q=query)
    assert error.value.code == code and error.value.field == "q"


FILTERED = [
    ({"service": ["messagerie"]}, "cible", {"services": ["premiers-pas", "messagerie"]}),
    ({"service": ["premiers-pas", "messagerie"]}, "cible", {"services": ["premiers-pas", "messagerie"]}),
    ({"level": 3}, "cible", {"services": ["emploi-et-formation"]}),
    ({"fees": ["Payant"]}, "cible", {"frais_a_charge": ["Gratuit", "Payant"]}),
    ({"support": ["À distance"]}, "cible", {"modalites_accompagnement": ["À distance"]}),
    ({"public": ["Seniors"]}, "cible", {"publics_specifiquement_adresses": ["Seniors", "Jeunes"]}),
    ({"care": ["Surdité"]}, "cible", {"prise_en_charge_specifique": ["Surdité"]}),
    ({"accepts_pass": True}, "cible", {"accepts_pass": True}),
]


@pytest.mark.parametrize(("filters", "expected", "target_fields"), FILTERED)
def test_every_filter_narrows_the_results(session, lyon, filters, expected, target_fields):
    publish_venue(session, *offset(lyon.lon, lyon.lat, 100), nom="autre", accepts_pass=False)
    publish_venue(session, *offset(lyon.lon, lyon.lat, 200), nom="cible", **target_fields)
    assert names(api.nearby_venues(session, place=lyon)) == ["autre", "cible"]
    assert names(api.nearby_venues(session, place=lyon, **filters)) == [expected]


OPENING_CASES = [
    # hours, moment (UTC), open?
    ("Mo-Fr 09:00-12:00", datetime(2026, 11, 18, 9, 30, tzinfo=UTC), True),  # Wednesday 10:30 Paris
    ("Mo-Fr 09:00-12:00", datetime(2026, 11, 18, 11, 30, tzinfo=UTC), False),  # 12:30 Paris
    ("Mo-Fr 09:00-12:00", datetime(2026, 11, 22, 9, 30, tzinfo=UTC), False),  # a Sunday: closed day
    ("Mo-Fr 09:00-12:00; PH off", datetime(2026, 7, 14, 8, 30, tzinfo=UTC), False),  # 14 July, public holiday
    ("Mo-Fr 09:00-12:00; PH off", datetime(2026, 7, 15, 8, 30, tzinfo=UTC), True),
    ("Fr 22:00-02:00", datetime(2026, 11, 21, 0, 30, tzinfo=UTC), True),  # Saturday 01:30, past midnight
    ("Fr 22:00-02:00", datetime(2026, 11, 21, 1, 30, tzinfo=UTC), False),  # Saturday 02:30
    ("Mo-Su 00:00-24:00", datetime(2026, 11, 18, 23, 0, tzinfo=UTC), True),  # midnight in Paris
    ("Mo-Fr 09:00-12:00", datetime(2026, 3, 30, 7, 30, tzinfo=UTC), True),  # 09:30 summer time
]


@pytest.mark.parametrize(("hours", "moment", "is_open"), OPENING_CASES)
def test_open_at_follows_the_osm_opening_hours_in_paris_time(session, lyon, hours, moment, is_open):
    publish_venue(session, *offset(lyon.lon, lyon.lat, 100), nom="lieu", horaires=hours)
    assert names(api.nearby_venues(session, place=lyon, open_at=moment)) == (["lieu"] if is_open else [])
    assert api.nearby_venues(session, place=lyon, now=moment).venues[0].open_now is is_open


def test_open_now_uses_the_time_of_the_search_and_skips_unknown_hours(session, lyon):
    publish_venue(session, *offset(lyon.lon, lyon.lat, 100), nom="ouvert", horaires="We 10:00-11:00")
    publish_venue(session, *offset(lyon.lon, lyon.lat, 200), nom="fermé", horaires="Th 10:00-11:00")
    publish_venue(session, *offset(lyon.lon, lyon.lat, 300), nom="horaires inconnus", horaires=None)
    everything = api.nearby_venues(session, place=lyon, now=WEDNESDAY_MORNING)
    assert [v.open_now for v in everything.venues] == [True, False, None]
    assert names(api.nearby_venues(session, place=lyon, open_now=True, now=WEDNESDAY_MORNING)) == ["ouvert"]


def test_overseas_hours_are_read_in_local_time(session):
    reunion = api.resolve_place(session, "97400")
    publish_venue(session, *offset(reunion.lon, reunion.lat, 100), nom="Case", code_postal="97400", horaires="Mo-Fr 09:00-12:00")
    # 06:30 UTC is 10:30 in Réunion (UTC+4) but 07:30 in Paris.
    moment = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)
    assert names(api.nearby_venues(session, place=reunion, open_at=moment)) == ["Case"]


def test_the_open_filter_still_honours_the_limit(session, lyon):
    for metres in (100, 200, 300):
        publish_venue(session, *offset(lyon.lon, lyon.lat, metres), nom=f"{metres}", horaires="We 10:00-11:00")
    result = api.nearby_venues(session, place=lyon, open_now=True, now=WEDNESDAY_MORNING, limit=2)
    assert names(result) == ["100", "200"]


@pytest.mark.parametrize(
    ("arguments", "field", "code"),
    [
        ({"radius_km": 0}, "radius_km", "invalid_radius"),
        ({"radius_km": 101}, "radius_km", "invalid_radius"),
        ({"limit": 0}, "limit", "invalid_limit"),
        ({"limit": 201}, "limit", "invalid_limit"),
        ({"level": 4}, "level", "invalid_level"),
        ({"service": ["cuisine"]}, "service", "unknown_service"),
        ({"fees": ["Cher"]}, "fees", "invalid_filter_value"),
        ({"support": ["Par pigeon"]}, "support", "invalid_filter_value"),
        ({"public": ["Chats"]}, "public", "invalid_filter_value"),
        ({"care": ["Aucune"]}, "care", "invalid_filter_value"),
        ({"open_at": datetime(2026, 11, 18, 10, 0)}, "open_at", "invalid_open_at"),
    ],
)
def test_bad_arguments_name_the_parameter(session, lyon, arguments, field, code):
    with pytest.raises(InvalidInput) as error:
        api.nearby_venues(session, place=lyon, **arguments)
    assert (error.value.field, error.value.code) == (field, code)
    assert error.value.message
