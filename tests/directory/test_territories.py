"""COG 2026 territories: the expected figures and the look-ups other code relies on."""

import pytest
from sqlalchemy import func, select

from directory import api
from directory.errors import InvalidInput, NotFound
from directory.models import Territory, TerritoryLevel


def test_counts_per_level(session):
    counts = dict(session.execute(select(Territory.level, func.count()).group_by(Territory.level)).all())
    assert counts == {
        TerritoryLevel.REGION: 18,
        TerritoryLevel.DEPARTEMENT: 101,
        TerritoryLevel.EPCI: 1255,
        TerritoryLevel.COMMUNE: 34875 + 88,  # and the communes of the six overseas collectivities (ingestion.overseas)
    }


def test_populations(session):
    assert api.commune_by_code(session, "75056").population == 2_103_778
    communes_total = session.scalar(
        select(func.sum(Territory.population)).where(Territory.level == TerritoryLevel.COMMUNE,
                                                     Territory.region_code.is_not(None))
    )
    regions_total = session.scalar(
        select(func.sum(Territory.population)).where(Territory.level == TerritoryLevel.REGION)
    )
    assert communes_total == regions_total == 68_350_798


def test_names_carry_their_article_and_parents(session):
    commune = api.commune_by_code(session, "01001")
    assert commune.name == "L'Abergement-Clémenciat"
    assert (commune.departement_code, commune.region_code) == ("01", "84")
    assert commune.epci_code is not None
    lyon = api.commune_by_code(session, "69123")
    assert api.territory_by_code(session, "departement", lyon.departement_code).name == "Rhône"
    assert api.territory_by_code(session, "region", "84").name == "Auvergne-Rhône-Alpes"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("75101", "75056"), ("75120", "75056"), ("69381", "69123"), ("13201", "13055"), ("2A004", "2A004"),
     ("2a004", "2A004"), ("97411", "97411")],
)
def test_commune_by_code_resolves_arrondissements(session, code, expected):
    assert api.commune_by_code(session, code).code == expected


def test_an_invalid_insee_code_is_refused_in_french(session):
    with pytest.raises(InvalidInput) as error:
        api.commune_by_code(session, "7510")
    assert error.value.code == "invalid_insee_code"
    assert error.value.field == "code_insee"
    assert "7510" in error.value.message and "n'est pas valide" in error.value.message


def test_an_unknown_insee_code_is_not_found(session):
    with pytest.raises(NotFound) as error:
        api.commune_by_code(session, "99999")
    assert error.value.code == "unknown_insee_code"
    assert "ne correspond à aucune commune" in error.value.message


def test_communes_by_postcode(session):
    assert [c.code for c in api.communes_by_postcode(session, "69001")] == ["69123"]
    assert [c.code for c in api.communes_by_postcode(session, "75015")] == ["75056"]
    assert "13055" in [c.code for c in api.communes_by_postcode(session, "13001")]
    shared = api.communes_by_postcode(session, "01400")
    assert len(shared) > 1 and shared == sorted(shared, key=lambda c: -c.population)
    with pytest.raises(InvalidInput) as error:
        api.communes_by_postcode(session, "7500")
    assert error.value.field == "code_postal"


@pytest.mark.parametrize(
    ("query", "expected"),
    [("saint-étienne", "42218"), ("SAINT ETIENNE", "42218"), ("st etienne", "42218"), ("lyon", "69123"),
     ("le mans", "72181"), ("Besancon", "25056"), ("l'abergement clemenciat", "01001")],
)
def test_search_communes_by_name_without_accents_or_case(session, query, expected):
    assert api.search_communes(session, query)[0].code == expected


def test_search_by_prefix_ranks_by_population(session):
    results = api.search_communes(session, "marseil", limit=3)
    assert results[0].code == "13055"


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [(2.2945, 48.8584, "75056"), (4.8320, 45.7578, "69123"), (8.7369, 41.9192, "2A004"),
     (55.4504, -20.8789, "97411"), (-61.5050, 16.2710, "97101"), (5.3698, 43.2965, "13055")],
)
def test_commune_containing_a_point(session, lon, lat, expected):
    assert api.commune_at(session, lon, lat).code == expected


@pytest.mark.parametrize(("lon", "lat"), [(-20.0, 45.0), (4.3517, 50.8503), (13.4050, 52.5200)])
def test_a_point_outside_france_is_refused(session, lon, lat):
    with pytest.raises(InvalidInput) as error:
        api.commune_at(session, lon, lat)
    assert error.value.code == "outside_france"
    assert "aucune commune de métropole" in error.value.message


def test_invalid_coordinates_name_the_field(session):
    with pytest.raises(InvalidInput) as error:
        api.commune_at(session, 2.35, 123.0)
    assert error.value.field == "latitude"


def test_communes_without_geometry_in_the_source_are_kept_without_geometry(session):
    for code in ("15031", "15035", "15047", "15171"):
        commune = api.commune_by_code(session, code)
        assert commune.geom is None and commune.centre is None
        assert commune.population > 0


def test_name_with_preposition(session):
    def phrase(code):
        return api.name_with_preposition(api.commune_by_code(session, code))

    assert phrase("69123") == "de Lyon"
    assert phrase("72181") == "du Mans"
    assert phrase("17300") == "de La Rochelle"
    assert phrase("97101") == "des Abymes"
    assert phrase("01004") == "d'Ambérieu-en-Bugey"
