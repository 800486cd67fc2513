"""Decisions: what the rules propose for each point de présence, decide or reject a file, decision records."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import Actor, record_audit, set_venue_status
from directory.db import utcnow
from directory.errors import InvalidTransition
from directory.models import Venue, VenueStatus
from qualification.applications import transition
from qualification.consolidation import ConsolidationModel
from qualification.density import DensityModel, Proposal, venue_lonlat
from qualification.errors import NoOpenApplication, QuotaReached
from qualification.quotas import clean_reason
from qualification.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationStatus,
    ApplicationVenue,
    Decision,
    VenueOutcome,
)


def record_decision(session: Session, actor: Actor, site: ApplicationVenue, proposal: Proposal, outcome: VenueOutcome,
                    rule: str, sentence: str) -> Decision:
    """Keep a decision on one point de présence with the figures that explain it, and audit it."""
    figures = proposal.territory
    decision = Decision(
        application_id=site.application_id, venue_id=site.venue_id, outcome=outcome, rule=rule,
        territory_level=figures.level, territory_code=figures.code, territory_name=figures.name[:200],
        population=figures.population, qualified_before=figures.qualified, quota=figures.quota,
        accessibility_before=figures.accessibility, accessibility_after=proposal.accessibility_after,
        population_gain=proposal.population_gain, sentence=sentence, actor=actor.label,
    )
    session.add(decision)
    session.flush()
    record_audit(session, actor, "application.venue_decided", "application", site.application_id,
                 venue_id=site.venue_id, outcome=outcome.value, rule=rule, decision_id=decision.id)
    return decision


def proposals(session: Session, application: Application, model: DensityModel | None = None,
              volumes: ConsolidationModel | None = None) -> list[Proposal]:
    """The decision the rules propose for each undecided point de présence, in order (no change made)."""
    model = model or DensityModel(session)
    volumes = volumes or ConsolidationModel(session, model)
    result = []
    for site in application.sites:
        if site.outcome in (VenueOutcome.PENDING, VenueOutcome.WAITLISTED):
            proposal = model.proposal(site.venue)
            key = (proposal.territory.level, proposal.territory.code)
            proposal.volume = " ".join(filter(None, [volumes.of(key).sentence(), volumes.warning(key)]))
            result.append(proposal)
            if proposal.outcome == VenueOutcome.QUALIFIED:
                lon, lat = venue_lonlat(session, site.venue)
                model.add_venue(site.venue_id, site.venue.code_insee, lon, lat, set(site.venue.levels))
    return result


def decide(session: Session, actor: Actor, application: Application, model: DensityModel | None = None) -> list[Decision]:
    """Qualify a complete application's points de présence under their territory's quota, waitlist the others."""
    if application.status != ApplicationStatus.COMPLETE:
        raise InvalidTransition(
            f"Seul un dossier complet peut être décidé ; celui-ci est « {APPLICATION_STATUS_LABELS[application.status]} ».",
            field="status",
        )
    model = model or DensityModel(session)
    decisions = []
    now = utcnow()
    for proposal in proposals(session, application, model):
        site = next(s for s in application.sites if s.venue_id == proposal.venue_id)
        site.outcome = proposal.outcome
        site.population_gain = proposal.population_gain
        if proposal.outcome == VenueOutcome.QUALIFIED:
            set_venue_status(session, actor, site.venue, VenueStatus.QUALIFIED, proposal.sentence)
        else:
            site.waitlisted_at = now
        decisions.append(record_decision(session, actor, site, proposal, proposal.outcome, proposal.rule, proposal.sentence))
    qualified = any(s.outcome == VenueOutcome.QUALIFIED for s in application.sites)
    target = ApplicationStatus.QUALIFIED if qualified else ApplicationStatus.WAITLISTED
    transition(session, actor, application, target, "; ".join(d.sentence for d in decisions) or "Décision selon les quotas.")
    return decisions


def qualify_by_hand(session: Session, actor: Actor, venue: Venue, reason: str, *, override: bool = False,
                    model: DensityModel | None = None) -> Decision:
    """Qualify a waitlisted point de présence outside the weekly promotion: a decision under the quota,
    or, with `override`, a recorded staff override beyond it. Both keep the figures and the reason."""
    reason = clean_reason(reason)
    site = session.scalar(select(ApplicationVenue).where(ApplicationVenue.venue_id == venue.id))
    if site is None or site.outcome != VenueOutcome.WAITLISTED:
        raise NoOpenApplication(
            f"Le lieu n° {venue.id} n'est pas en liste d'attente : un lieu n'est qualifié que par la décision sur "
            "son dossier de qualification (déposez un dossier ou décidez celui qui est complet).", field="status")
    proposal = (model or DensityModel(session)).proposal(venue)
    figures = proposal.territory
    if proposal.outcome == VenueOutcome.QUALIFIED:
        rule, sentence = "manual_under_quota", f"{proposal.sentence} Motif : {reason}"
    elif override:
        rule = "staff_override"
        sentence = (f"Qualifié par dérogation de l'équipe APTIC au-delà du quota : {figures.name} compte {figures.qualified} "
                    f"lieu(x) qualifié(s) pour un quota de {figures.quota}. Motif : {reason}")
    else:
        raise QuotaReached(
            f"Quota atteint : {figures.name} compte {figures.qualified} lieu(x) qualifié(s) pour un quota de "
            f"{figures.quota} ; le lieu n° {venue.id} reste en liste d'attente. Relevez le quota du territoire, ou "
            "qualifiez par dérogation en indiquant le motif.", field="status",
            details={"territory": {"level": figures.level, "code": figures.code, "name": figures.name,
                                   "qualified": figures.qualified, "quota": figures.quota}})
    site.outcome = VenueOutcome.QUALIFIED
    site.population_gain = proposal.population_gain
    set_venue_status(session, actor, venue, VenueStatus.QUALIFIED, sentence)
    decision = record_decision(session, actor, site, proposal, VenueOutcome.QUALIFIED, rule, sentence)
    if site.application.status == ApplicationStatus.WAITLISTED:
        transition(session, actor, site.application, ApplicationStatus.QUALIFIED, sentence)
    return decision


def reject_application(session: Session, actor: Actor, application: Application, reason: str,
                       model: DensityModel | None = None) -> Application:
    transition(session, actor, application, ApplicationStatus.REJECTED, reason)
    open_sites = [s for s in application.sites if s.outcome in (VenueOutcome.PENDING, VenueOutcome.WAITLISTED)]
    model = model or (DensityModel(session) if open_sites else None)
    for site in open_sites:
        site.outcome = VenueOutcome.REJECTED
        proposal = model.proposal(site.venue)
        record_decision(session, actor, site, proposal, VenueOutcome.REJECTED, "rejected_by_staff",
                        f"Refusé par l'équipe APTIC : {reason.strip()}")
    session.flush()
    return application


def decisions_of(session: Session, application: Application) -> list[Decision]:
    return list(session.scalars(
        select(Decision).where(Decision.application_id == application.id).order_by(Decision.decided_at, Decision.id)
    ))
