"""Recommendations on real territories (the Lot): candidates of each kind, venues already qualified,
quotas, the exact mode, French sentences, CLI, API and page."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic.cli import cli
from directory.errors import InvalidInput, NotFound
from qualification import api as qualification_api
from qualification.models import VenueOutcome
from qualification.recommendations import recommend
from tests.builders import (
    ACTOR,
    CAHORS,
    GRAND_CAHORS,
    TOUR_DE_FAURE,
    complete_application,
    imported_venue,
    offset,
    qualified_venue,
)

LOT = "departement:46"


def test_the_first_pick_brings_the_most_people_and_says_so(session):
    cahors = imported_venue(session, CAHORS, name="Médiathèque de Cahors")
    imported_venue(session, TOUR_DE_FAURE, name="Tiers-lieu de Tour-de-Faure")
    result = recommend(session, level=1, distance_km=10, count=2, territory=LOT, candidates=["imported"])
    assert result.covered_before == 0 and result.population > 170_000
    first, second = result.picks
    assert first.candidate.venue_id == cahors.id and first.people_added > second.people_added > 0
    assert second.people_covered == first.people_added + second.people_added
    assert first.sentence.startswith("Qualifier « Médiathèque de Cahors » (Cahors (46)) ajouterait ")
    assert " habitants à moins de 10 km d'un lieu de niveau 1 ; cumul " in first.sentence
    assert first.sentence.endswith(" de la population du département.")
    assert "\u202f%" in first.sentence


def test_a_site_next_to_a_qualified_venue_adds_nobody(session):
    qualified_venue(session, CAHORS)
    imported_venue(session, CAHORS, name="Doublon de Cahors")
    result = recommend(session, level=1, distance_km=10, count=3, territory=LOT, candidates=["imported"])
    assert result.covered_before > 0 and result.candidates == 1 and result.picks == []
    # A candidate is one for the levels it offers: this one offers level 1 only.
    assert recommend(session, level=2, distance_km=10, count=3, territory=LOT, candidates=["imported"]).candidates == 0


def test_communes_as_candidates_and_the_exact_mode_never_worse(session):
    fast = recommend(session, level=2, distance_km=5, count=4, territory=LOT, candidates=["communes"])
    best = recommend(session, level=2, distance_km=5, count=4, territory=LOT, candidates=["communes"],
                     exact_solution=True, time_limit_s=20)
    assert fast.picks[0].sentence.startswith("Ouvrir un lieu à ")
    assert best.result.objective >= fast.result.objective == best.greedy_objective
    assert best.result.status in ("optimal", "time_limit")
    if best.result.status == "optimal":
        assert "optimale" in best.solver_sentence()
    else:
        assert "non prouvée optimale" in best.solver_sentence()
    assert fast.solver_sentence().startswith("Sélection gloutonne")


def test_a_full_territory_gets_no_recommendation_when_quotas_are_respected(session, storage):
    qualified_venue(session, offset(*CAHORS, 15_000, 0))
    qualification_api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, reason="Essai", quota=1)
    imported_venue(session, CAHORS, name="Médiathèque de Cahors")
    assert recommend(session, level=1, distance_km=10, count=1, territory=LOT, candidates=["imported"]).picks
    assert not recommend(session, level=1, distance_km=10, count=1, territory=LOT, candidates=["imported"],
                         respect_quotas=True).picks


def test_waitlisted_sites_are_candidates(session, storage):
    application = complete_application(session, storage)
    site = application.sites[0]
    site.outcome = VenueOutcome.WAITLISTED
    session.flush()
    result = recommend(session, level=1, distance_km=10, count=1, territory=LOT, candidates=["waitlisted"])
    assert [pick.candidate.venue_id for pick in result.picks] == [site.venue_id]
    assert result.picks[0].candidate.kind == "waitlisted"


@pytest.mark.parametrize(("arguments", "field", "code"), [
    ({"level": 4}, "level", "invalid_level"),
    ({"distance_km": 0}, "distance_km", "invalid_distance"),
    ({"distance_km": "10"}, "distance_km", "invalid_distance"),
    ({"count": 0}, "count", "invalid_count"),
    ({"candidates": ["mairies"]}, "candidates", "invalid_candidates"),
    ({"territory": "lot"}, "territory", "invalid_territory"),
])
def test_bad_queries_are_refused_naming_the_field(session, arguments, field, code):
    query = {"level": 1, "distance_km": 10, "count": 2, "territory": LOT, **arguments}
    with pytest.raises(InvalidInput) as refused:
        recommend(session, **query)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_an_unknown_territory_is_not_found(session):
    with pytest.raises(NotFound):
        recommend(session, level=1, distance_km=10, count=2, territory="departement:00")


def test_cli_prints_both_orders_the_gap_and_the_status(app, session):
    imported_venue(session, CAHORS, name="Médiathèque de Cahors")
    imported_venue(session, TOUR_DE_FAURE, name="Tiers-lieu de Tour-de-Faure")
    session.commit()
    runner = CliRunner()
    result = runner.invoke(cli, ["recommend", "--level", "1", "--distance", "10", "--territory", LOT, "--count", "2",
                                 "--candidates", "imported", "--exact"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "Ordre glouton — " in result.output and "Solution exacte — " in result.output
    assert "Écart entre les deux : 0 habitant en faveur de la solution exacte." in result.output
    assert "Solution exacte optimale (HiGHS" in result.output
    as_json = runner.invoke(cli, ["recommend", "--level", "1", "--territory", LOT, "--count", "1", "--json"],
                            obj=ScriptInfo(create_app=lambda: app))
    payload = json.loads(as_json.output)
    assert payload["greedy"]["solver"]["method"] == "greedy" and payload["greedy"]["picks"]
    refused = runner.invoke(cli, ["recommend", "--level", "1", "--territory", "departement:00"],
                            obj=ScriptInfo(create_app=lambda: app))
    assert refused.exit_code == 1 and "[unknown_territory]" in refused.output
