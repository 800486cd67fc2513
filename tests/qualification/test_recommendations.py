"""Recommendations on real territories (the Lot): candidates of each kind, venues already qualified,
quotas, the exact mode, French sentences, CLI, API and page."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic.cli import cli
from directory import api as directory_api
from directory.models import Role
from directory.errors import InvalidInput, NotFound
from qualification import api as qualification_api
from qualification.models import VenueOutcome
from qualification.recommendations import recommend
from tests.builders import (
    ACTOR,
    CAHORS,
    GRAND_CAHORS,
    TOUR_DE_FAURE,
    aptic_staff,
    complete_application,
    imported_venue,
    member,
    offset,
    qualified_venue,
    sign_in,
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
    assert payload["greedy"]["solver"]["method"].startswith("greedy") and payload["greedy"]["picks"]
    refused = runner.invoke(cli, ["recommend", "--level", "1", "--territory", "departement:00"],
                            obj=ScriptInfo(create_app=lambda: app))
    assert refused.exit_code == 1 and "[unknown_territory]" in refused.output


# --- Page and API -------------------------------------------------------------------------------

def _sponsor(session):
    sponsor = directory_api.create_organisation(session, ACTOR, name="Département du Lot", legal_form="collectivite",
                                                siret="22330001300016", is_sponsor=True)
    return member(session, sponsor, Role.SPONSOR, "commanditaire@lot.fr")


def test_staff_reach_the_page_from_their_home_and_read_the_ordered_list(client, session):
    aptic_staff(session)
    imported_venue(session, CAHORS, name="Médiathèque de Cahors")
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    home = client.get("/compte").get_data(as_text=True)
    assert 'href="/qualification/recommandations/"' in home
    page = client.get("/qualification/recommandations/", query_string={
        "level": "1", "distance_km": "10", "territory": LOT, "count": "3", "candidates": "imported"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Qualifier « Médiathèque de Cahors » (Cahors (46)) ajouterait" in html and "Sélection gloutonne" in html
    assert 'pick-rank\\"\\u003e1\\u003c' in html  # the numbered marker, in the map's script
    csv = client.get("/qualification/recommandations/recommandations.csv", query_string={
        "level": "1", "territory": LOT, "count": "3", "candidates": "imported"})
    assert csv.status_code == 200 and csv.headers["Content-Disposition"].startswith("attachment;")
    assert csv.get_data(as_text=True).splitlines()[0].startswith("rank,kind,name,commune")


def test_a_bad_question_redraws_the_form_with_a_french_message(client, session):
    aptic_staff(session)
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    page = client.get("/qualification/recommandations/", query_string={"level": "1", "distance_km": "beaucoup"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "« distance_km »" in html and 'name="territory"' in html


def test_the_api_answers_json_to_staff_401_to_strangers_and_keeps_the_waitlist_from_sponsors(client, session):
    anonymous = client.get("/api/v1/recommendations", query_string={"level": "1", "territory": LOT})
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["code"] == "unauthenticated"
    _sponsor(session)
    session.commit()
    sign_in(client, "commanditaire@lot.fr")
    answer = client.get("/api/v1/recommendations", query_string={"level": "2", "distance_km": "5", "territory": LOT,
                                                                  "count": "2"})
    body = answer.get_json()
    assert answer.status_code == 200 and body["territory"]["name"] == "Lot" and len(body["picks"]) == 2
    assert {pick["kind"] for pick in body["picks"]} == {"communes"}
    refused = client.get("/api/v1/recommendations", query_string={"level": "1", "candidates": "waitlisted"})
    assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "candidates"
    bad = client.get("/api/v1/recommendations", query_string={"level": "7"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_level"


def test_the_waitlist_page_shows_the_greedy_order_next_to_the_date_order(client, session, storage):
    from datetime import UTC, datetime

    aptic_staff(session)
    early = complete_application(session, storage, point=TOUR_DE_FAURE).sites[0]
    late = complete_application(session, storage, point=CAHORS).sites[0]
    for site, day in ((early, 1), (late, 2)):
        site.outcome, site.waitlisted_at = VenueOutcome.WAITLISTED, datetime(2026, 11, day, 9, tzinfo=UTC)
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    assert 'href="/qualification/recommandations/liste-attente"' in client.get("/compte").get_data(as_text=True)
    html = client.get("/qualification/recommandations/liste-attente").get_data(as_text=True)
    rows = [row for row in html.split("<tr>")[2:]]
    assert "2 points de présence en attente" in html
    assert rows[0].startswith(f"<td>1</td><td>2</td><td>{early.venue.nom}</td>")
    assert rows[1].startswith(f"<td>2</td><td>1</td><td>{late.venue.nom}</td>")
    refused = client.get("/qualification/recommandations/liste-attente", query_string={"level": "9"})
    assert refused.status_code == 400 and "niveau" in refused.get_data(as_text=True)


def test_a_time_limited_exact_search_is_never_called_optimal():
    from qualification.covering import CoveringResult
    from qualification.recommendations import Recommendation

    def said(result):
        return Recommendation(2, 10.0, "departement", "33", "Gironde", 1_000, 500, 3, result).solver_sentence()

    stopped = said(CoveringResult([0], [100], "exact", "time_limit", 100, bound=120, gap=1 / 6, seconds=10.0))
    assert "arrêtée par sa limite de temps" in stopped and "non prouvée optimale" in stopped
    assert "écart à la borne 16,67\u202f%" in stopped
    kept = said(CoveringResult([1], [110], "exact", "time_limit", 110, seconds=10.0, greedy_fallback=True))
    assert "la sélection gloutonne, meilleure, est gardée" in kept and "écart à la borne inconnu" in kept
    assert said(CoveringResult([0], [100], "exact", "optimal", 100, 100, 0.0, 1.0)).startswith(
        "Solution exacte optimale (HiGHS, 1,0\u00a0s")
