"""The qualification's part of `aptic demo`: a few applications in various states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import Actor, get_organisation
from directory.models import Venue, VenueStatus
from qualification.applications import (
    create_application,
    mark_complete,
    set_bank_details,
    store_document,
    submit_application,
    upload_storage,
)
from qualification.checklist import required_documents
from qualification.decisions import decide
from qualification.density import DensityModel
from qualification.models import ApplicationStatus, ApplicationVenue


DEMO_PDF = b"%PDF-1.4\n% document de demonstration APTIC\n%%EOF\n"
DEMO_STATUSES = [ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.COMPLETE,
                 ApplicationStatus.COMPLETE, ApplicationStatus.COMPLETE]


def seed_demo(session: Session, actor: Actor, echo: Any) -> None:
    """A few applications in various states, on candidate venues the demo already has."""
    from flask import current_app

    storage = upload_storage(current_app.config, current_app.instance_path)
    candidates = session.scalars(
        select(Venue).where(Venue.status == VenueStatus.CANDIDATE, Venue.organisation_id.is_not(None),
                            Venue.location.is_not(None)).order_by(Venue.id).limit(len(DEMO_STATUSES))
    ).all()
    model = None
    for venue, status in zip(candidates, DEMO_STATUSES, strict=False):
        organisation = get_organisation(session, venue.organisation_id)
        application = create_application(session, actor, organisation)
        session.add(ApplicationVenue(application=application, venue=venue))
        session.flush()
        if status == ApplicationStatus.DRAFT:
            continue
        set_bank_details(session, actor, application, iban="FR7630006000011234567890189", bic="AGRIFRPP",
                         account_holder=organisation.name)
        for kind in required_documents(organisation.legal_form):
            store_document(session, actor, application, kind, f"{kind}.pdf", DEMO_PDF, storage)
        submit_application(session, actor, application)
        if status == ApplicationStatus.COMPLETE:
            mark_complete(session, actor, application)
            model = model or DensityModel(session)
            decide(session, actor, application, model)
    echo(f"Qualification : {len(candidates)} dossiers de démonstration.")
