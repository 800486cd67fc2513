"""Nearby search: distance order and radius on the ellipsoid, place resolution, every filter, hours, paging
and totals in a dense place checked against a brute-force reference."""

import math
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from directory import api, factories, nearby
from directory.db import point_wkt
from directory.errors import InvalidInput, NotFound
from directory.models import Venue, VenueStatus
from tests.builders import GEOD, offset, publish_venue

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


# --- The nearest-first search against a brute-force reference, in a dense place ----------------------

CROWD_RADIUS_M = 5_000


@pytest.fixture
def crowd(session, lyon):
    """Synthetic venues (of every status, varied services, fields and hours) over France, 360 of them moved
    around Lyon: a dense cluster, some 1.5 m inside or outside a 5 km radius, groups at the very same point."""
    ids = factories.generate_venues(session, 900, seed=19)
    rng = random.Random(19)
    points = [offset(lyon.lon, lyon.lat, 6_000 * math.sqrt(rng.random()), rng.uniform(0, 360)) for _ in range(320)]
    # 1.5 m inside and outside, a few cm apart (backends measure the same distance to a few µm).
    points += [offset(lyon.lon, lyon.lat, CROWD_RADIUS_M + side * (1.5 + i / 20), rng.uniform(0, 360))
               for i in range(10) for side in (-1, 1)]
    points += [point for point in rng.sample(points, 10) for _ in range(2)]  # ties: three venues per point
    session.execute(update(Venue), [{"id": i, "location": point_wkt(*p)} for i, p in zip(ids, points, strict=False)])
    session.expire_all()
    return lyon


def reference(session, place, radius_m, service=(), level=None, fees=(), accepts_pass=False, open_at=None):
    """Every published venue measured in Python on the ellipsoid, filtered, nearest first then by id."""
    rows = session.execute(
        select(Venue, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .where(Venue.published)
        .options(selectinload(Venue.services))
    ).all()
    found = []
    for venue, lon, lat in rows:
        distance = GEOD.inv(place.lon, place.lat, lon, lat)[2]
        slugs = {s.slug for s in venue.services}
        if (
            distance <= radius_m
            and slugs >= set(service)
            and (level is None or any(s.level_number == level for s in venue.services))
            and set(venue.frais_a_charge) >= set(fees)
            and (venue.accepts_pass or not accepts_pass)
            and (open_at is None or api.is_open_at(venue, open_at) is True)
        ):
            found.append((distance, venue.id))
    return sorted(found)


def assert_page(result, expected, offset, limit):
    page = expected[offset:offset + limit]
    assert [item.venue.id for item in result.venues] == [venue_id for _, venue_id in page]
    assert [item.distance_m for item in result.venues] == pytest.approx([d for d, _ in page], abs=0.01)


SEARCHES = [
    {},
    {"service": ["messagerie"]},
    {"level": 3, "fees": ["Gratuit"]},
    {"accepts_pass": True},
    {"open_at": WEDNESDAY_MORNING},
    {"open_at": WEDNESDAY_MORNING, "service": ["premiers-pas"]},
]


@pytest.mark.parametrize("filters", SEARCHES)
def test_every_page_is_the_brute_force_order(session, crowd, monkeypatch, filters):
    monkeypatch.setattr(nearby, "NEARBY_TOTAL_STEP", 1_000)  # the whole crowd counted: totals exact
    expected = reference(session, crowd, CROWD_RADIUS_M, **filters)
    assert len(expected) > 40, "the cluster must hold several pages"
    for start, limit in [(0, 20), (20, 20), (37, 50), (len(expected) - 7, 20), (len(expected) + 5, 20)]:
        result = api.nearby_venues(session, place=crowd, radius_km=CROWD_RADIUS_M / 1000, offset=start, limit=limit,
                                   now=WEDNESDAY_MORNING, **filters)
        assert_page(result, expected, start, limit)
        assert (result.total, result.total_exact) == (len(expected), True)


def test_the_radius_is_kept_to_the_metre_in_the_crowd(session, crowd):
    edge = [d for d, _ in reference(session, crowd, 7_000) if abs(d - CROWD_RADIUS_M) < 2]
    assert min(edge) < CROWD_RADIUS_M < max(edge)  # published venues 1.5 m inside and outside
    expected = reference(session, crowd, CROWD_RADIUS_M)
    last_page = api.nearby_venues(session, place=crowd, radius_km=5, offset=len(expected) - 15, limit=20)
    assert_page(last_page, expected, len(expected) - 15, 20)


def test_ties_keep_the_id_order(session, crowd):
    expected = reference(session, crowd, CROWD_RADIUS_M)
    tied = [(d, i) for (d, i), (following, _) in zip(expected, expected[1:], strict=False) if d == following]
    assert tied, "some venues share a point"
    result = api.nearby_venues(session, place=crowd, radius_km=5, limit=200)
    assert_page(result, expected, 0, 200)


@pytest.mark.parametrize("filters", [{}, {"open_at": WEDNESDAY_MORNING}])
def test_totals_are_exact_up_to_the_cap_then_say_more_than(session, crowd, monkeypatch, filters):
    monkeypatch.setattr(nearby, "NEARBY_TOTAL_STEP", 30)
    expected = reference(session, crowd, CROWD_RADIUS_M, **filters)
    assert len(expected) > 90

    def search(start, limit=20):
        return api.nearby_venues(session, place=crowd, radius_km=5, offset=start, limit=limit, **filters)

    first = search(0)
    assert_page(first, expected, 0, 20)
    assert (first.total, first.total_exact, first.next_offset) == (30, False, 20)
    second = search(20)  # the page reaches 40: counted up to 60
    assert_page(second, expected, 20, 20)
    assert (second.total, second.total_exact, second.next_offset) == (60, False, 40)
    deep = search(len(expected) - 25)
    assert_page(deep, expected, len(expected) - 25, 20)
    assert (deep.total, deep.total_exact) == (len(expected), True)
    assert search(len(expected) - 5).next_offset is None
    beyond = search(len(expected) + 3)
    assert (beyond.venues, beyond.total, beyond.total_exact) == ([], len(expected), True)
