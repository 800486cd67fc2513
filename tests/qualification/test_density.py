"""Quota arithmetic and overrides, density figures, and the E2SFCA on a hand-computed case."""

import numpy as np
import pytest

from directory.errors import InvalidInput, NotFound
from qualification import api
from tests.builders import ACTOR, CAHORS, GRAND_CAHORS, offset, qualified_venue

KM = 1 / 111.195  # degrees of longitude per km on the equator (sphere of radius 6,371,008.8 m)


@pytest.mark.parametrize(("population", "quota"), [(0, 1), (263, 1), (14_999, 1), (15_000, 1), (29_999, 1),
                                                     (30_000, 2), (42_325, 2), (45_000, 3), (2_133_111, 142)])
def test_quota_is_one_per_territory_plus_one_per_15000_inhabitants(population, quota):
    assert api.compute_quota(population, 15_000) == quota


def test_territory_figures_under_the_default_policy(session):
    qualified_venue(session)
    figures = api.territory_density(session, "epci", GRAND_CAHORS)
    assert (figures.name, figures.population, figures.qualified, figures.quota) == ("CA du Grand Cahors", 42_325, 1, 2)
    assert figures.venues_per_10k == pytest.approx(10_000 / 42_325)
    assert figures.population_per_venue == 42_325
    assert figures.quota_rule == "règle nationale" and figures.room == 1 and not figures.over_quota
    assert figures.accessibility > 0


def test_staff_override_the_ratio_or_the_quota_with_a_reason(session):
    api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, ratio=10_000, reason="Territoire très rural.")
    figures = api.territory_density(session, "epci", GRAND_CAHORS)
    assert (figures.quota, figures.ratio) == (4, 10_000) and "Territoire très rural." in figures.quota_rule
    api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, quota=1, reason="Expérimentation.")
    assert api.territory_density(session, "epci", GRAND_CAHORS).quota == 1
    api.clear_override(session, ACTOR, level="epci", code=GRAND_CAHORS, reason="Fin de l'expérimentation.")
    assert api.territory_density(session, "epci", GRAND_CAHORS).quota == 2
    with pytest.raises(InvalidInput) as no_reason:
        api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, quota=3, reason="")
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput) as zero:
        api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, quota=0, reason="x")
    assert zero.value.field == "quota"
    with pytest.raises(NotFound):
        api.set_override(session, ACTOR, level="epci", code="999999999", quota=3, reason="x")


def test_staff_choose_the_level_and_ratio_of_the_policy(session):
    assert api.current_policy(session) == api.Policy("epci", 15_000)
    api.set_policy(session, ACTOR, level="departement", ratio=50_000, reason="Pilotage départemental.")
    lot = api.territory_density(session, "departement", "46")
    assert lot.level == "departement" and lot.quota == lot.population // 50_000
    table = api.density_table(session)
    assert {row.level for row in table} == {"departement"} and len(table) == 101
    with pytest.raises(InvalidInput):
        api.set_policy(session, ACTOR, level="canton", ratio=10, reason="x")
    with pytest.raises(InvalidInput):
        api.set_policy(session, ACTOR, level="epci", ratio="beaucoup", reason="x")


def test_e2sfca_on_a_hand_computed_case():
    # Three villages on the equator: A at 0 km (1,000 inh.), B at 7 km (2,000), C at 20 km (500).
    demand = np.array([[0.0, 0.0], [7 * KM, 0.0], [20 * KM, 0.0]])
    population = np.array([1_000, 2_000, 500])
    # One venue in A: B is in its 5-10 km zone (weight 0.66), C beyond 15 km (weight 0).
    r1 = 1 / (1_000 + 0.66 * 2_000)
    scores = api.e2sfca(demand, population, np.array([[0.0, 0.0]]))
    assert scores == pytest.approx([10_000 * r1, 10_000 * 0.66 * r1, 0.0], rel=1e-6)
    # A second venue in B: A at 7 km (0.66), C at 13 km (0.33).
    r2 = 1 / (0.66 * 1_000 + 2_000 + 0.33 * 500)
    scores = api.e2sfca(demand, population, np.array([[0.0, 0.0], [7 * KM, 0.0]]))
    assert scores == pytest.approx([
        10_000 * (r1 + 0.66 * r2), 10_000 * (0.66 * r1 + r2), 10_000 * 0.33 * r2,
    ], rel=1e-6)
    assert api.e2sfca(demand, population, np.zeros((0, 2))) == pytest.approx([0, 0, 0])


def test_one_more_venue_changes_the_territory_accessibility_as_a_full_recomputation(session):
    qualified_venue(session)
    qualified_venue(session, offset(*CAHORS, 12_000))
    model = api.DensityModel(session)
    key = ("epci", GRAND_CAHORS)
    candidate = offset(*CAHORS, 6_000, bearing=0)
    predicted = model.accessibility_after(key, *candidate)
    qualified_venue(session, candidate)
    assert api.DensityModel(session).accessibility_of(key) == pytest.approx(predicted, rel=1e-9)
    assert predicted > model.accessibility_of(key)
