"""Territorial coverage: figures per territory, page, exports, API, fragility index, CLI."""

from __future__ import annotations

from html import unescape

import csv
import io
import json

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import func, select

from aptic.cli import cli
from directory import api, factories, french
from directory.db import geodesic_distance_m
from directory.models import Service, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from maps import api as maps_api
from qualification.api import commune_accessibility
from tests.builders import ACTOR, offset

WGS84 = Geod(ellps="WGS84")
LEVEL_SERVICES = {1: "premiers-pas", 2: "messagerie", 3: "emploi-et-formation"}
# Four communes of Lozère (population of the COG 2026): Mende, Marvejols, Florac Trois Rivières,
# Gorges du Tarn Causses.
MENDE, MARVEJOLS, FLORAC, GORGES = "48095", "48092", "48061", "48146"
ZONE = f"commune:{MENDE},commune:{MARVEJOLS},commune:{FLORAC},commune:{GORGES}"


def centre(session, code):
    return session.execute(
        select(func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == code)
    ).one()


def population(session, code):
    return session.scalar(select(Territory.population).where(Territory.level == TerritoryLevel.COMMUNE,
                                                             Territory.code == code))


def published_venue(session, lon, lat, levels, name):
    venue = api.create_venue(session, ACTOR, {
        "nom": name, "adresse": "1 place de la Mairie", "code_postal": "48000", "commune": "Lozère",
        "longitude": lon, "latitude": lat, "services": [LEVEL_SERVICES[level] for level in levels],
    })
    venue.status = VenueStatus.QUALIFIED
    venue.published = True
    session.flush()
    return venue


@pytest.fixture
def lozere(session):
    """A level-1/2 venue at Mende's centre, a level-1/2/3 venue 3 km east of Marvejols' centre
    (in Montrodat), and an unpublished level-3 venue at Florac that must count for nothing."""
    mende = centre(session, MENDE)
    east_lon, east_lat = offset(*centre(session, MARVEJOLS), 3_000)
    venues = {
        "mende": published_venue(session, *mende, [1, 2], "Médiathèque de Mende"),
        "montrodat": published_venue(session, east_lon, east_lat, [1, 2, 3], "Espace numérique de Montrodat"),
    }
    hidden = published_venue(session, *centre(session, FLORAC), [1, 2, 3], "Candidat de Florac")
    hidden.published = False
    hidden.status = VenueStatus.CANDIDATE
    session.flush()
    summary = maps_api.refresh_coverage(session)
    session.commit()
    assert summary["venues"] == 2
    return venues


def figures_of(session, level, code, **kwargs):
    return maps_api.coverage_figures(session, maps_api.coverage_area(session, level, code), **kwargs)


def access(figures):
    return {(item["niveau"], item["distance_km"]): item["population"] for item in figures["acces"]}


def test_hand_computed_area(session, lozere):
    pop = {code: population(session, code) for code in (MENDE, MARVEJOLS, FLORAC, GORGES)}
    figures = figures_of(session, "zone", ZONE)

    assert figures["communes"] == 4 and figures["population"] == sum(pop.values())
    # Mende: 0 km from its venue; Marvejols: 3 km from Montrodat's; Gorges du Tarn Causses: 18.3 km
    # from Mende (21.5 km from Montrodat); Florac: 22.8 km from Mende, 32.9 km from Montrodat.
    near = pop[MENDE] + pop[MARVEJOLS]
    assert access(figures) == {
        (1, 5): near, (1, 10): near, (1, 20): near + pop[GORGES],
        (2, 5): near, (2, 10): near, (2, 20): near + pop[GORGES],
        (3, 5): pop[MARVEJOLS], (3, 10): pop[MARVEJOLS], (3, 20): pop[MARVEJOLS] + pop[MENDE],
    }
    assert figures["lieux"] == {"total": 1, "par_niveau": {"1": 1, "2": 1, "3": 0}}
    blanches = figures["zones_blanches"]
    assert [(c["code"], c["population"]) for c in blanches["liste"]] == [(FLORAC, pop[FLORAC])]
    assert blanches["population"] == pop[FLORAC] and blanches["liste"][0]["distance_km"] == pytest.approx(22.8, abs=0.1)
    assert figures["densite"]["lieux_pour_10000"] == round(10_000 / figures["population"], 2)
    scores = commune_accessibility(session)  # the qualification's E2SFCA, served from the coverage table
    weighted = sum(scores[code] * people for code, people in pop.items()) / sum(pop.values())
    assert scores[MENDE] > 0 and figures["densite"]["accessibilite_e2sfca"] == pytest.approx(weighted, abs=1e-3)

    communes = {c["code"]: c for c in maps_api.coverage_communes(
        session, maps_api.coverage_area(session, "zone", ZONE), 3, 15)}
    assert communes[MARVEJOLS]["distance_level3_km"] == pytest.approx(3.0, abs=0.01)
    assert communes[MENDE]["distance_level2_km"] == 0
    assert communes[MENDE]["covered"] and not communes[GORGES]["covered"]


def test_stored_distances_match_geodesic_distances_of_the_database(session, lozere):
    """Every commune of Lozère: the stored distance is the database's own ellipsoidal distance to
    the nearest venue of the level, computed pairwise."""
    expected = {}
    for level in (1, 3):
        offering = select(VenueService.venue_id).join(Service, Service.id == VenueService.service_id).where(
            Service.level_number == level)
        rows = session.execute(
            select(Territory.code, func.min(geodesic_distance_m(session, Territory.centre, Venue.location)))
            .join(Venue, Venue.published & Venue.id.in_(offering))
            .where(Territory.level == TerritoryLevel.COMMUNE, Territory.departement_code == "48")
            .group_by(Territory.code)
        ).all()
        expected[level] = dict(rows)
    area = maps_api.coverage_area(session, "departement", "48")
    communes = maps_api.coverage_communes(session, area, 2, 10)
    assert len(communes) == len(expected[1]) > 100
    for commune in communes:
        for level in (1, 3):
            assert commune[f"distance_level{level}_km"] == pytest.approx(expected[level][commune["code"]] / 1000, abs=0.01)


def test_custom_area_counts_each_commune_once(session, lozere):
    departement = figures_of(session, "departement", "48")
    overlapping = figures_of(session, "zone", f"departement:48,commune:{MENDE},epci:{epci_of(session, MENDE)}")
    assert overlapping["population"] == departement["population"]
    assert access(overlapping) == access(departement)
    assert departement["densite"]["comparaisons"][0]["niveau"] == "region"
    assert [c["niveau"] for c in figures_of(session, "commune", MENDE)["densite"]["comparaisons"]] == [
        "departement", "region", "france"]


def epci_of(session, code):
    return session.scalar(select(Territory.epci_code).where(Territory.level == TerritoryLevel.COMMUNE,
                                                            Territory.code == code))


def test_real_departement_against_brute_force(session):
    """Gironde with synthetic venues spread over France: every figure recomputed pairwise."""
    factories.generate_venues(session, 600, seed=11)
    maps_api.refresh_coverage(session)
    figures = figures_of(session, "departement", "33")

    gironde = session.scalar(select(Territory).where(Territory.level == TerritoryLevel.DEPARTEMENT,
                                                     Territory.code == "33"))
    communes = session.execute(
        select(Territory.code, Territory.population, func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.departement_code == "33")
    ).all()
    assert figures["territoire"] == {"niveau": "departement", "code": "33", "nom": "Gironde"}
    assert figures["population"] == gironde.population == sum(c[1] for c in communes)
    assert figures["communes"] == len(communes) == 534

    lon = np.array([c[2] for c in communes])
    lat = np.array([c[3] for c in communes])
    people = np.array([c[1] for c in communes])
    for level in (1, 2, 3):
        venues = session.execute(
            select(func.ST_X(Venue.location), func.ST_Y(Venue.location)).where(
                Venue.published, Venue.id.in_(select(VenueService.venue_id).join(Service).where(
                    Service.level_number == level)))
        ).all()
        vlon = np.array([v[0] for v in venues])
        vlat = np.array([v[1] for v in venues])
        _, _, pairwise = WGS84.inv(*np.broadcast_arrays(lon[:, None], lat[:, None], vlon[None, :], vlat[None, :]))
        nearest = pairwise.min(axis=1)
        for distance in (5, 10, 20):
            assert access(figures)[(level, distance)] == int(people[nearest <= distance * 1000].sum())
        if level == 2:
            blanches = {c["code"] for c in figures["zones_blanches"]["liste"]}
            assert blanches == {c[0] for c, d in zip(communes, nearest, strict=True) if d > 20_000}
        in_gironde = session.scalar(
            select(func.count(func.distinct(Venue.id))).join(VenueService).join(Service)
            .where(Venue.published, Service.level_number == level, Venue.code_insee.in_([c[0] for c in communes]))
        )
        assert figures["lieux"]["par_niveau"][str(level)] == in_gironde
    published = session.scalar(select(func.count()).select_from(Venue).where(Venue.published))
    france = figures["densite"]["comparaisons"][-1]
    assert france["niveau"] == "france" and france["lieux"] == published
    assert [c["code"] for c in figures["densite"]["comparaisons"]] == ["75", "FR"]


def test_figures_come_from_the_last_refresh(session, lozere):
    before = figures_of(session, "commune", FLORAC)
    assert before["zones_blanches"]["communes"] == 1
    florac = session.scalar(select(Venue).where(Venue.nom == "Candidat de Florac"))
    florac.published = True
    session.flush()
    assert figures_of(session, "commune", FLORAC) == before
    maps_api.refresh_coverage(session)
    after = figures_of(session, "commune", FLORAC)
    assert after["zones_blanches"]["communes"] == 0 and after["lieux"]["total"] == 1


def test_api_answers_the_figures_with_selection(client, session, lozere):
    answer = client.get(f"/api/v1/territories/zone/{ZONE}/coverage?level=3&distance_km=15").get_json()
    assert [(a["niveau"], a["distance_km"]) for a in answer["acces"]] == [(3, 15)]
    assert answer["acces"][0]["population"] == population(session, MARVEJOLS) + population(session, MENDE)
    assert answer["url"].endswith(f"/couverture/zone/{ZONE}")
    full = client.get("/api/v1/territories/departement/48/coverage").get_json()
    assert len(full["acces"]) == 9 and full["territoire"]["nom"] == "Lozère"
    france = client.get("/api/v1/territories/france/FR/coverage?distance_km=7,5").get_json()
    assert france["acces"][0]["distance_km"] == 7.5 and france["densite"]["comparaisons"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("level=4", "level"), ("level=deux", "level"), ("distance_km=abc", "distance_km"),
    ("distance_km=0", "distance_km"), ("distance_km=-3", "distance_km"), ("distance_km=500", "distance_km"),
    ("distance_km=nan", "distance_km"),
])
def test_api_rejects_bad_parameters(client, lozere, query, field):
    response = client.get(f"/api/v1/territories/departement/48/coverage?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field and f"« {field} »" in error["message"]


@pytest.mark.parametrize("path", [
    "departement/99", "departement/2C", "commune/99999", "commune/ABCDE", "canton/48", "france/DE", "epci/123",
    "zone/departement:99", "zone/pays:FR",
])
def test_api_unknown_territories(client, lozere, path):
    response = client.get(f"/api/v1/territories/{path}/coverage")
    assert response.status_code in (400, 404)
    assert response.status_code == (400 if path == "zone/pays:FR" else 404)
    assert response.get_json()["error"]["message"]


def test_api_before_any_refresh_says_so(client):
    response = client.get("/api/v1/territories/departement/48/coverage")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "coverage_not_computed"


def test_openapi_documents_the_coverage_path(client):
    document = client.get("/api/v1/openapi.json").get_json()
    path = document["paths"]["/api/v1/territories/{level}/{code}/coverage"]
    assert {(p["name"], p["in"]) for p in path["parameters"] + path["get"]["parameters"]} == {
        ("level", "path"), ("code", "path"), ("level", "query"), ("distance_km", "query")}
    assert "Coverage" in document["components"]["schemas"]


def test_page_shows_figures_map_and_zones_blanches(client, lozere):
    response = client.get(f"/couverture/zone/{ZONE}?level=2&distance_km=20")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Couverture territoriale" in html and "Florac Trois Rivières" in html
    assert "Part de la population \\u00e0 moins de 20 km d\\u0027un lieu de niveau 2 (%)" in html  # the legend
    assert "Médiathèque de Mende" in html  # the venue on top of the choropleth
    assert "Candidat de Florac" not in html
    assert '<option value="20" selected>' in html and "data-print" in html
    assert f"/couverture/zone/{ZONE}/export.csv?level=2&amp;distance_km=20" in html
    assert client.get("/couverture/departement/48?distance_km=loin").status_code == 400
    assert client.get("/couverture/region/76").status_code == 200
    assert client.get("/couverture/departement/00").status_code == 404


def test_csv_export(client, lozere):
    response = client.get("/couverture/departement/48/export.csv?level=3&distance_km=5")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "couverture-departement-48.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 152
    by_code = {row["code_insee"]: row for row in rows}
    assert by_code[MARVEJOLS]["distance_niveau_3_km"] == "3.0" and by_code[MARVEJOLS]["couverte"] == "oui"
    assert by_code[MENDE]["lieux"] == "1" and by_code[MENDE]["lieux_niveau_2"] == "1"
    assert by_code[MENDE]["couverte"] == "non"  # level 3 is 14 km away
    # The zones blanches follow the selection: no level-3 venue within 5 km of Mende either.
    assert by_code[FLORAC]["zone_blanche"] == "oui" and by_code[MENDE]["zone_blanche"] == "oui"
    assert by_code[MARVEJOLS]["zone_blanche"] == "non"
    assert float(by_code[MENDE]["accessibilite_e2sfca"]) > 0


def test_geojson_export(client, session, lozere):
    response = client.get(f"/couverture/zone/{ZONE}/export.geojson?level=1&distance_km=20")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["type"] == "FeatureCollection"
    features = {f["properties"]["code"]: f for f in document["features"]}
    assert set(features) == {MENDE, MARVEJOLS, FLORAC, GORGES}
    assert features[GORGES]["properties"]["part"] == 1.0 and features[FLORAC]["properties"]["part"] == 0.0
    assert features[MENDE]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    total, florac = document["couverture"]["population"], population(session, FLORAC)
    assert document["couverture"]["acces"] == [
        {"niveau": 1, "distance_km": 20.0, "population": total - florac, "part": pytest.approx(1 - florac / total, abs=1e-4)}]
    region = json.loads(client.get("/couverture/region/76/export.geojson").get_data(as_text=True))
    assert len(region["features"]) == 13  # Occitanie is mapped by département


def test_fragility_index_loader(app, session, lozere, shared_data):
    folder = shared_data / "mediation" / "inclusion-numerique-stack"
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["coverage", "load-fragility", str(folder / "ifn-city-all-variation.csv"),
                                 str(folder / "ifn-epci-all-variation.csv")])
    assert result.exit_code == 0, result.output
    assert "communes chargées" in result.output and "EPCI chargés" in result.output
    with (folder / "ifn-city-all-variation.csv").open(encoding="utf-8") as handle:
        scores = {row["code"]: row for row in csv.DictReader(handle) if row["code"] in (MENDE, MARVEJOLS, FLORAC, GORGES)}
    figures = figures_of(session, "zone", ZONE)
    pop = {code: population(session, code) for code in scores}
    weighted = sum(float(scores[c]["total"]) * pop[c] for c in scores) / sum(pop.values())
    fragility = figures["fragilite_numerique"]
    assert fragility["communes_avec_indice"] == len(scores)
    assert fragility["moyenne_ponderee"]["total"] == pytest.approx(weighted, abs=0.01)
    assert figures["zones_blanches"]["liste"][0]["indice_fragilite"] == pytest.approx(
        float(scores[FLORAC]["total"]), abs=0.01)
    epci = figures_of(session, "epci", epci_of(session, MENDE))["fragilite_numerique"]["epci"]
    assert 1 <= epci["total"] <= 10

    wrong = runner.invoke(cli, ["coverage", "load-fragility", str(folder / "20230405-3925-cnfs.csv")])
    assert wrong.exit_code == 1 and "colonnes manquantes" in wrong.output
    assert figures_of(session, "zone", ZONE)["fragilite_numerique"] == fragility


def test_fragility_loader_rejects_bad_scores(app, tmp_path):
    path = tmp_path / "ifn.csv"
    path.write_text("name,division,code,no_thd_coverage_rate,no_4g_coverage_rate,poverty_rate,older_65_rate,"
                    "nscol15p_rate,total\nMende,city,48095,1,2,3,4,5,douze\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["coverage", "load-fragility", str(path)])
    assert result.exit_code == 1
    assert "ligne 2" in result.output and "« total »" in result.output


def test_cli_refresh_and_show(app, session, lozere):
    runner = app.test_cli_runner()
    refreshed = runner.invoke(cli, ["coverage", "refresh"])
    assert refreshed.exit_code == 0 and "Couverture recalculée" in refreshed.output
    shown = runner.invoke(cli, ["coverage", "show", ZONE, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["zones_blanches"]["liste"][0]["code"] == FLORAC
    text = runner.invoke(cli, ["coverage", "show", "48"])
    assert "Lozère" in text.output and "Zones blanches" in text.output
    unknown = runner.invoke(cli, ["coverage", "show", "region:99"])
    assert unknown.exit_code == 1 and "99" in unknown.output


def test_page_escapes_venue_names_in_the_map(client, session, lozere):
    lozere["mende"].nom = "Lieu `${alert(1)}` <b>gras</b>"
    session.commit()
    html = client.get(f"/couverture/commune/{MENDE}?level=1").get_data(as_text=True)
    assert "${alert(1)}" not in html and "<b>gras</b>" not in html
    assert "Lieu &#96;&#36;{alert(1)}&#96; &lt;b&gt;gras&lt;/b&gt;" in html


def test_weekly_rebuild_refreshes_the_coverage(session, lozere):
    florac = session.scalar(select(Venue).where(Venue.nom == "Candidat de Florac"))
    florac.status = VenueStatus.QUALIFIED
    session.flush()
    assert figures_of(session, "commune", FLORAC)["zones_blanches"]["communes"] == 1
    run = maps_api.rebuild_cartography(session)
    assert run.report["coverage"]["venues"] == 3, run.error
    after = figures_of(session, "commune", FLORAC)
    assert after["lieux"]["total"] == 1 and after["zones_blanches"]["communes"] == 0


def test_a_formula_in_a_commune_name_comes_out_inert_in_the_coverage_csv():
    from maps.coverage_exports import coverage_csv

    commune = {"code": "46042", "name": "=HYPERLINK(\"x\")", "departement": "46", "population": 19_000,
               "distance_level1_km": 1.5, "distance_level2_km": None, "distance_level3_km": -0.0, "venues": 1,
               "venues_level1": 1, "venues_level2": 0, "venues_level3": 0, "covered": True, "zone_blanche": False,
               "fragility": None, "accessibility": None}
    row = next(csv.DictReader(io.StringIO(coverage_csv([commune]).lstrip("\ufeff")), delimiter=";"))
    assert row["commune"] == "'=HYPERLINK(\"x\")"
    assert row["distance_niveau_1_km"] == "1.5" and row["distance_niveau_3_km"] == "-0.0"


def test_page_leads_with_who_is_beyond_the_chosen_distance_and_the_api_says_the_same(client, session, lozere):
    pop = {code: population(session, code) for code in (MENDE, MARVEJOLS, FLORAC, GORGES)}
    far = pop[FLORAC] + pop[GORGES]
    share = french.percent(far / sum(pop.values()))
    sentence = f"2 communes, {french.number(far)} habitants ({share}) à plus de 10 km d'un lieu de niveau 2"
    html = unescape(client.get(f"/couverture/zone/{ZONE}?level=2&distance_km=10").get_data(as_text=True))
    assert f'<p class="coverage-lead"><strong>{sentence}</strong>' in html
    # Zones blanches at the chosen distance: Gorges du Tarn Causses (18 km) is one at 10 km, not at 20 km.
    assert "communes à plus de 10 km de tout lieu de niveau 2" in html and "Gorges du Tarn Causses" in html
    assert "Lieu de niveau 2 le plus proche" in html
    answer = client.get(f"/api/v1/territories/zone/{ZONE}/coverage?level=2&distance_km=10").get_json()
    assert answer["au_dela"] == [{"niveau": 2, "distance_km": 10.0, "communes": 2, "population": far,
                                  "part": pytest.approx(far / sum(pop.values()), abs=1e-4), "phrase": sentence}]
    assert answer["zones_blanches"]["communes"] == 2 and answer["zones_blanches"]["distance_km"] == 10.0
    at_20 = client.get(f"/api/v1/territories/zone/{ZONE}/coverage?level=2&distance_km=20").get_json()
    assert at_20["zones_blanches"]["communes"] == 1 and at_20["au_dela"][0]["phrase"].startswith(
        f"1 commune, {french.number(pop[FLORAC])} habitants (")
    html = unescape(client.get(f"/couverture/commune/{MENDE}?level=2&distance_km=7,5").get_data(as_text=True))
    assert f"0 commune, 0 habitant ({french.percent(0)}) à plus de 7,5 km d'un lieu de niveau 2" in html
