"""The set-based density model and quota enforcement against the row-by-row logic they replaced.

The reference functions below are the former code (one tree query per waitlisted venue and level,
every venue read as a row, every waitlisted site as a record), kept here only to check that the
decisions, the figures and the stored population gains are unchanged.
"""

import random
from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sqlalchemy import func, insert, select
from sqlalchemy.orm import selectinload

from directory.db import utcnow
from directory.errors import DomainError
from directory.factories import generate_venues
from directory.geodesy import chord_length, unit_vectors
from directory.models import Service, Venue, VenueService, VenueStatus
from qualification import waitlist
from qualification.accessibility import ACCESS_RADIUS_M
from qualification.density import DensityModel
from qualification.models import Application, ApplicationStatus, ApplicationVenue, VenueOutcome
from tests.builders import ACTOR


def reference_gain(model, lon, lat, levels):
    if lon is None or not levels:
        return 0
    xyz = unit_vectors(np.array([lon]), np.array([lat]))[0]
    near = np.array(model.commune_tree.query_ball_point(xyz, chord_length(ACCESS_RADIUS_M)), dtype=int)
    if len(near) == 0:
        return 0
    lacking = np.zeros(len(near), dtype=bool)
    for level in levels:
        chosen = [i for i, venue_levels in enumerate(model.supply_levels) if level in venue_levels]
        if not chosen:
            lacking[:] = True
            break
        points = model.supply_lonlat[chosen]
        tree = cKDTree(unit_vectors(points[:, 0], points[:, 1]))
        distances, _ = tree.query(model.commune_xyz[near], distance_upper_bound=chord_length(ACCESS_RADIUS_M))
        lacking |= np.isinf(distances)
    return int(model.located_population[near[lacking]].sum())


def reference_venues(session, model):
    """(quota holders, supply as {id: (lon, lat, levels)}) read venue by venue."""
    rows = session.execute(
        select(Venue.id, Venue.code_insee, Venue.status, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .where(Venue.status.in_([VenueStatus.QUALIFIED, VenueStatus.SUSPENDED]))).all()
    levels = defaultdict(set)
    for venue_id, level in session.execute(
        select(VenueService.venue_id, Service.level_number).join(Service, Service.id == VenueService.service_id)
        .join(Venue, Venue.id == VenueService.venue_id).where(Venue.status == VenueStatus.QUALIFIED).distinct()):
        levels[venue_id].add(level)
    holders, supply = defaultdict(int), {}
    for venue_id, code_insee, status, lon, lat in rows:
        key = model.territory_key(code_insee)
        if key is not None:
            holders[key] += 1
        if status == VenueStatus.QUALIFIED and lon is not None:
            supply[venue_id] = (lon, lat, frozenset(levels[venue_id]))
    return dict(holders), supply


def reference_enforce(session, model):
    sites = list(session.scalars(
        select(ApplicationVenue).options(selectinload(ApplicationVenue.venue).selectinload(Venue.services))
        .where(ApplicationVenue.outcome == VenueOutcome.WAITLISTED)
        .order_by(ApplicationVenue.application_id, ApplicationVenue.venue_id)))
    coordinates = dict(((v, (x, y)) for v, x, y in session.execute(
        select(Venue.id, func.ST_X(Venue.location), func.ST_Y(Venue.location)))))
    by_territory = defaultdict(list)
    for site in sites:
        key = model.territory_key(site.venue.code_insee)
        if key is not None:
            by_territory[key].append(site)

    def gain(site):
        return reference_gain(model, *coordinates[site.venue_id], set(site.venue.levels))

    promoted, inconsistent = [], []
    for key, group in by_territory.items():
        promoted_here = []
        try:
            with session.begin_nested():
                while group and model.quota_holders.get(key, 0) < model.quota_of(key)[0]:
                    best = min(group, key=lambda site: (-gain(site), site.waitlisted_at, site.venue_id))
                    group.remove(best)
                    promoted_here.append(waitlist._promote(session, ACTOR, best, model, coordinates[best.venue_id]))
                for site in group:
                    site.population_gain = gain(site)
        except DomainError:
            inconsistent.append(key)
            continue
        promoted += promoted_here
    session.flush()
    flagged = [figures.as_dict() for figures in model.table() if figures.over_quota]
    return promoted, flagged, inconsistent


@pytest.fixture
def national(session):
    """Venues spread over France by population, a tenth of the candidates waitlisted, some gains already stored."""
    generate_venues(session, 600, seed=19)
    rng = random.Random(19)
    candidates = session.execute(select(Venue.id, Venue.organisation_id).where(
        Venue.status == VenueStatus.CANDIDATE, Venue.location.is_not(None)).order_by(Venue.id)).all()
    chosen = rng.sample(candidates, 60)
    now = utcnow()
    application_ids = session.scalars(insert(Application).returning(Application.id, sort_by_parameter_order=True), [
        {"organisation_id": organisation_id, "status": ApplicationStatus.WAITLISTED, "created_at": now,
         "submitted_at": now, "status_changed_at": now} for _, organisation_id in chosen]).all()
    session.execute(insert(ApplicationVenue), [
        {"application_id": application_id, "venue_id": venue_id, "outcome": VenueOutcome.WAITLISTED,
         "waitlisted_at": now - timedelta(days=rng.randint(0, 3)), "population_gain": rng.choice([None, 0, 1_000])}
        for application_id, (venue_id, _) in zip(application_ids, chosen, strict=True)])
    # A venue without any service among them: it gains no one.
    session.execute(VenueService.__table__.delete().where(VenueService.venue_id == chosen[0][0]))
    session.flush()
    return chosen


def test_the_density_model_reads_the_same_venues_as_row_by_row(session, national):
    model = DensityModel(session)
    holders, supply = reference_venues(session, model)
    assert {key: count for key, count in model.quota_holders.items() if count} == holders
    assert {venue_id: (lon, lat, levels) for venue_id, (lon, lat), levels in zip(
        model.supply_ids, model.supply_lonlat.tolist(), model.supply_levels, strict=True)} == supply
    # Scores: the same sums, maybe in another order.
    again = DensityModel(session)
    np.testing.assert_allclose(model.scores, again.scores)


def test_population_gains_are_those_of_the_tree_queries_also_after_added_venues(session, national):
    model = DensityModel(session)
    rng = random.Random(5)
    venues = session.execute(select(Venue.id, Venue.code_insee, func.ST_X(Venue.location), func.ST_Y(Venue.location))
                             .where(Venue.location.is_not(None)).order_by(Venue.id)).all()
    level_sets = [{1}, {2}, {3}, {1, 2}, {2, 3}, {1, 2, 3}, set()]
    for _ in range(4):
        for _, _, lon, lat in rng.sample(venues, 80):
            levels = rng.choice(level_sets)
            assert model.population_gain(lon, lat, levels) == reference_gain(model, lon, lat, levels)
        assert model.population_gain(None, None, {1}) == 0
        # Venues qualified meanwhile (the promotions): the masks follow without being recomputed.
        for venue_id, code_insee, lon, lat in rng.sample(venues, 5):
            model.add_venue(venue_id, code_insee, lon, lat, rng.choice(level_sets[:6]))


def test_enforcing_quotas_decides_as_the_row_by_row_logic(session, national):
    nested = session.begin_nested()
    reference_promoted, reference_flagged, reference_inconsistent = reference_enforce(session, DensityModel(session))
    reference_gains = dict(session.execute(select(ApplicationVenue.venue_id, ApplicationVenue.population_gain)).all())
    reference_statuses = dict(session.execute(select(Venue.id, Venue.status)).all())
    nested.rollback()
    session.expire_all()
    assert reference_promoted and not reference_inconsistent  # the dataset promotes, so the comparison means something

    result = waitlist.enforce_quotas(session, ACTOR)
    assert result["promoted"] == reference_promoted
    assert result["flagged"] == reference_flagged and result["inconsistent"] == []
    assert dict(session.execute(select(ApplicationVenue.venue_id, ApplicationVenue.population_gain)).all()) == reference_gains
    assert dict(session.execute(select(Venue.id, Venue.status)).all()) == reference_statuses

