"""The waitlist: promotion order, and the weekly rebuild step that promotes where a territory has room."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from directory.api import Actor, set_venue_status
from directory.errors import DomainError
from directory.models import Venue, VenueStatus
from qualification.applications import transition
from qualification.decisions import record_decision
from qualification import sentences
from qualification.density import DensityModel, service_levels
from qualification.models import ApplicationStatus, ApplicationVenue, VenueOutcome


def waitlist(session: Session, model: DensityModel | None = None) -> list[tuple[ApplicationVenue, int]]:
    """Waitlisted points de présence in promotion order: population that would gain access, then date."""
    model = model or DensityModel(session)
    sites = _waitlisted_sites(session)
    coordinates = _coordinates(session, [site.venue_id for site in sites])
    ranked = [(site, model.population_gain(*coordinates[site.venue_id], set(site.venue.levels))) for site in sites]
    ranked.sort(key=lambda pair: (-pair[1], pair[0].waitlisted_at, pair[0].venue_id))
    return ranked


def enforce_quotas(session: Session, actor: Actor) -> dict[str, Any]:
    """Promote from the waitlist where a territory has room; flag territories over their quota.

    Qualified venues are never dequalified here: a territory over quota is only flagged. Each
    territory's promotions run in their own savepoint: a territory whose records contradict each
    other (a waitlisted venue already qualified…) is rolled back, listed in `inconsistent`, and the
    others go on. The waitlisted sites are read as plain rows (only the promoted ones as records),
    and their population gains are written back in one bulk update of those that changed.
    """
    model = DensityModel(session)
    sites = _waitlisted_rows(session)
    levels = service_levels(session, Venue.id.in_(
        select(ApplicationVenue.venue_id).where(ApplicationVenue.outcome == VenueOutcome.WAITLISTED)))
    by_territory: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for site in sites:
        key = model.territory_key(site.code_insee)
        if key is not None:
            by_territory[key].append(site)

    def gain(site: Any) -> int:
        return model.population_gain(site.lon, site.lat, levels.get(site.venue_id, frozenset()))

    def has_room(key: tuple[str, str]) -> bool:
        return model.quota_holders.get(key, 0) < model.quota_of(key)[0]

    promoted: list[int] = []
    inconsistent: list[dict[str, Any]] = []
    gains: dict[int, int] = {}
    for key, group in by_territory.items():
        if not has_room(key):
            gains.update((site.venue_id, gain(site)) for site in group)
            continue
        promoted_here: list[int] = []
        venue_id = None
        try:
            with session.begin_nested():
                while group and has_room(key):
                    best = min(group, key=lambda site: (-gain(site), site.waitlisted_at, site.venue_id))
                    group.remove(best)
                    venue_id = best.venue_id
                    record = session.get(ApplicationVenue, (best.application_id, best.venue_id))
                    promoted_here.append(_promote(session, actor, record, model, (best.lon, best.lat)))
                group_gains = {site.venue_id: gain(site) for site in group}
        except DomainError as error:
            figures = model.figures(key)
            inconsistent.append({"level": key[0], "code": key[1], "name": figures.name, "venue_id": venue_id,
                                 "message": error.message})
            continue
        promoted += promoted_here
        gains.update(group_gains)
    changed = [{"application_id": site.application_id, "venue_id": site.venue_id, "population_gain": gains[site.venue_id]}
               for site in sites if site.venue_id in gains and gains[site.venue_id] != site.population_gain]
    if changed:
        session.execute(update(ApplicationVenue), changed)
    flagged = [figures.as_dict() for figures in model.table() if figures.over_quota]
    session.flush()
    return {"promoted": promoted, "flagged": flagged, "inconsistent": inconsistent}


def _waitlisted_rows(session: Session) -> list[Any]:
    """The waitlisted sites as plain rows with their venue's commune and position, in a stable order."""
    return session.execute(
        select(ApplicationVenue.application_id, ApplicationVenue.venue_id, ApplicationVenue.waitlisted_at,
               ApplicationVenue.population_gain, Venue.code_insee,
               func.ST_X(Venue.location).label("lon"), func.ST_Y(Venue.location).label("lat"))
        .join(Venue, Venue.id == ApplicationVenue.venue_id)
        .where(ApplicationVenue.outcome == VenueOutcome.WAITLISTED)
        .order_by(ApplicationVenue.application_id, ApplicationVenue.venue_id)
    ).all()


def _waitlisted_sites(session: Session) -> list[ApplicationVenue]:
    return list(session.scalars(
        select(ApplicationVenue)
        .options(selectinload(ApplicationVenue.venue).selectinload(Venue.services),
                 selectinload(ApplicationVenue.application))
        .where(ApplicationVenue.outcome == VenueOutcome.WAITLISTED)
    ))


def _coordinates(session: Session, venue_ids: list[int]) -> dict[int, tuple[float | None, float | None]]:
    coordinates: dict[int, tuple[float | None, float | None]] = {}
    for start in range(0, len(venue_ids), 5_000):
        chunk = venue_ids[start:start + 5_000]
        coordinates.update(
            (venue_id, (lon, lat)) for venue_id, lon, lat in session.execute(
                select(Venue.id, func.ST_X(Venue.location), func.ST_Y(Venue.location)).where(Venue.id.in_(chunk)))
        )
    return coordinates


def _promote(session: Session, actor: Actor, site: ApplicationVenue, model: DensityModel,
             lonlat: tuple[float | None, float | None]) -> int:
    proposal = model.proposal(site.venue, lonlat)
    figures = proposal.territory
    sentence = sentences.promoted(figures, proposal.accessibility_after, proposal.population_gain)
    site.outcome = VenueOutcome.QUALIFIED
    site.population_gain = proposal.population_gain
    set_venue_status(session, actor, site.venue, VenueStatus.QUALIFIED, sentence)
    record_decision(session, actor, site, proposal, VenueOutcome.QUALIFIED, "waitlist_promotion", sentence)
    application = site.application
    if application.status == ApplicationStatus.WAITLISTED:
        transition(session, actor, application, ApplicationStatus.QUALIFIED, sentence)
    model.add_venue(site.venue_id, site.venue.code_insee, *lonlat, set(site.venue.levels))
    return site.venue_id
