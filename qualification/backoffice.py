"""The APTIC back office: files under review, their checklist progress and the decisions the rules propose."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from qualification.checklist import checklist
from qualification.consolidation import ConsolidationModel
from qualification.decisions import proposals
from qualification.density import DensityModel, Proposal
from qualification.models import Application, ApplicationStatus, ApplicationVenue

UNDER_REVIEW = (ApplicationStatus.SUBMITTED, ApplicationStatus.COMPLETE, ApplicationStatus.WAITLISTED)


@dataclass(frozen=True)
class ReviewRow:
    application: Application
    done: int
    total: int
    proposals: list[Proposal]


def applications_to_review(session: Session) -> list[Application]:
    return list(session.scalars(
        select(Application)
        .options(selectinload(Application.organisation), selectinload(Application.documents),
                 selectinload(Application.sites).selectinload(ApplicationVenue.venue))
        .where(Application.status.in_(UNDER_REVIEW))
        .order_by(Application.submitted_at, Application.id)
    ))


def review_queue(session: Session) -> list[ReviewRow]:
    """Files under review, oldest first, with the proposed decisions once their documents are checked."""
    applications = applications_to_review(session)
    model = DensityModel(session) if applications else None
    volumes = ConsolidationModel(session, model) if model is not None else None
    rows = []
    for application in applications:
        items = checklist(application)
        proposed = ([] if application.status == ApplicationStatus.SUBMITTED
                    else proposals(session, application, model, volumes))
        rows.append(ReviewRow(application, sum(item.done for item in items), len(items), proposed))
    return rows


def proposals_under_review(session: Session, application: Application) -> list[Proposal]:
    """What the rules would decide for a file under review (none once it is decided or still a draft)."""
    return proposals(session, application) if application.status in UNDER_REVIEW else []
