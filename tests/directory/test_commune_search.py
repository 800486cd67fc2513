"""Commune search that forgives: typos, accents, hyphens, postcodes, départements, arrondissements, homonyms."""

import pytest

from directory.commune_search import AmbiguousPlace, find_commune, parse_query, suggest_communes
from directory.errors import NotFound


@pytest.mark.parametrize(
    ("query", "code", "label"),
    [
        ("quimpr", "29232", "Quimper"),
        ("Quimper", "29232", "Quimper"),
        ("saint etienne", "42218", "Saint-Étienne"),
        ("ST-ETIENE", "42218", "Saint-Étienne"),
        ("marseile", "13055", "Marseille"),
        ("Marseille 13001", "13055", "Marseille 13001"),
        ("13001", "13055", "13001 Marseille"),
        ("Paris 15e", "75056", "Paris 15e arrondissement"),
        ("lyon 3eme arrondissement", "69123", "Lyon 3e arrondissement"),
        ("Marseille 1er", "13055", "Marseille 1er arrondissement"),
        ("Saint-Denis (93)", "93066", "Saint-Denis"),
        ("saint denis 974", "97411", "Saint-Denis"),
        ("Saint-Denis 93200", "93066", "Saint-Denis 93200"),
        ("bordaux", "33063", "Bordeaux"),
        ("nante", "44109", "Nantes"),
    ],
)
def test_typed_places_resolve_offline(session, query, code, label):
    match = find_commune(session, query)
    assert (match.commune.code, match.label) == (code, label)


def test_homonyms_are_offered_with_their_departement(session):
    with pytest.raises(AmbiguousPlace) as error:
        find_commune(session, "Saint-Denis")
    labels = [c.label for c in error.value.candidates]
    assert "Saint-Denis (93)" in labels and "Saint-Denis (974)" in labels
    assert error.value.code == "ambiguous_place" and error.value.field == "q"
    codes = {c["code_insee"] for c in error.value.details["candidats"]}
    assert {"93066", "97411"} <= codes
    # most populous first
    populations = [c.population for c in error.value.candidates]
    assert populations == sorted(populations, reverse=True)


@pytest.mark.parametrize("query", ["Trifouillis-les-Oies", "00000", "zzzz"])
def test_nothing_close_is_not_found(session, query):
    with pytest.raises(NotFound) as error:
        find_commune(session, query)
    assert error.value.code == "unknown_place"


def test_suggestions_for_a_partly_typed_name(session):
    labels = [c.label for c in suggest_communes(session, "quimp", limit=5)]
    assert labels[0] == "Quimper (29)" and "Quimperlé (29)" in labels
    assert [c.code for c in suggest_communes(session, "29000")] == ["29232"]
    both = [c.code for c in suggest_communes(session, "saint-denis", limit=5)]
    assert {"93066", "97411"} <= set(both)


def test_parse_query():
    assert parse_query("Saint-Denis (93)").departement == "93"
    assert parse_query("Marseille 13001").postcode == "13001"
    assert parse_query("Paris 15e").arrondissement == 15
    assert parse_query("Ajaccio 2A").departement == "2A"
