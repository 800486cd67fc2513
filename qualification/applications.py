"""Applications: the applicant's file (points de présence, bank details, documents) and its status machine."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.utils import secure_filename

from directory.api import Actor, create_venue, record_audit
from directory.db import utcnow
from directory.errors import InvalidInput, InvalidTransition, NotFound
from directory.models import Organisation, Venue
from directory.transitions import StateMachine
from qualification import uploads
from qualification.checklist import missing_items, required_documents
from qualification.errors import ApplicationIncomplete, BankDetailsInvalid, DocumentRejected
from qualification.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationDocument,
    ApplicationStatus,
    ApplicationVenue,
)


# Magic numbers of the accepted formats: the content decides, not the file name.
DOCUMENT_SIGNATURES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def _stamp_submission(application: Application) -> None:
    application.submitted_at = application.status_changed_at


APPLICATION_MACHINE = StateMachine(
    kind="application",
    states=ApplicationStatus,
    moves={
        ApplicationStatus.DRAFT: frozenset({ApplicationStatus.SUBMITTED}),
        ApplicationStatus.SUBMITTED: frozenset(
            {ApplicationStatus.DRAFT, ApplicationStatus.COMPLETE, ApplicationStatus.REJECTED}),
        ApplicationStatus.COMPLETE: frozenset(
            {ApplicationStatus.QUALIFIED, ApplicationStatus.WAITLISTED, ApplicationStatus.REJECTED}),
        ApplicationStatus.WAITLISTED: frozenset({ApplicationStatus.QUALIFIED, ApplicationStatus.REJECTED}),
        ApplicationStatus.QUALIFIED: frozenset(),
        ApplicationStatus.REJECTED: frozenset(),
    },
    labels=APPLICATION_STATUS_LABELS,
    refusal="Un dossier « {current} » ne peut pas passer à « {target} ».",
    on_move={ApplicationStatus.SUBMITTED: _stamp_submission},
)

EDITABLE = {ApplicationStatus.DRAFT}


def create_application(session: Session, actor: Actor, organisation: Organisation) -> Application:
    application = Application(organisation=organisation, status=ApplicationStatus.DRAFT)
    session.add(application)
    session.flush()
    record_audit(session, actor, "application.created", "application", application.id, organisation_id=organisation.id)
    return application


def get_application(session: Session, application_id: int) -> Application:
    application = session.get(
        Application, application_id,
        options=[selectinload(Application.sites).selectinload(ApplicationVenue.venue), selectinload(Application.documents)],
    )
    if application is None:
        raise NotFound("Ce dossier de qualification n'existe pas.", field="application", code="unknown_application")
    return application


def _require_editable(application: Application) -> None:
    if application.status not in EDITABLE:
        raise InvalidTransition(
            f"Le dossier est « {APPLICATION_STATUS_LABELS[application.status]} » : il ne peut plus être modifié.",
            field="status", code="application_locked",
        )


def add_site(session: Session, actor: Actor, application: Application, fields: dict[str, Any]) -> Venue:
    """Add a point de présence (a candidate venue of the organisation) to a draft application."""
    _require_editable(application)
    venue = create_venue(session, actor, {**fields, "organisation_id": application.organisation_id})
    site = ApplicationVenue(application=application, venue=venue)
    session.add(site)
    session.flush()
    record_audit(session, actor, "application.site_added", "application", application.id, venue_id=venue.id)
    return venue


def set_bank_details(session: Session, actor: Actor, application: Application, *, iban: str, bic: str,
                     account_holder: str) -> Application:
    _require_editable(application)
    try:
        parsed_iban = IBAN(iban or "")
    except SchwiftyException as error:
        raise BankDetailsInvalid(f"L'IBAN « {iban} » n'est pas valide ({error}).", field="iban") from None
    try:
        parsed_bic = BIC(bic or "")
    except SchwiftyException as error:
        raise BankDetailsInvalid(f"Le BIC « {bic} » n'est pas valide ({error}).", field="bic") from None
    if parsed_bic.country_code != parsed_iban.country_code:
        raise BankDetailsInvalid(
            f"Le BIC « {bic} » (pays {parsed_bic.country_code}) ne correspond pas au pays de l'IBAN "
            f"({parsed_iban.country_code}).", field="bic",
        )
    holder = (account_holder or "").strip()
    if not holder:
        raise InvalidInput("Indiquez le titulaire du compte.", field="account_holder", code="required")
    application.iban, application.bic, application.account_holder = parsed_iban.compact, parsed_bic.compact, holder[:200]
    session.flush()
    record_audit(session, actor, "application.bank_details_set", "application", application.id,
                 iban_last4=parsed_iban.compact[-4:], bic=parsed_bic.compact)
    return application


def store_document(session: Session, actor: Actor, application: Application, kind: str, filename: str,
                   content: bytes, storage: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> ApplicationDocument:
    """Check and keep an uploaded supporting document; the file is named by the platform, never by the user."""
    _require_editable(application)
    expected = required_documents(application.organisation.legal_form)
    if kind not in expected:
        raise DocumentRejected(
            f"Le type de document « {kind} » n'est pas demandé pour cette forme juridique.", field="kind"
        )
    if not content:
        raise DocumentRejected("Le fichier envoyé est vide.", field="file")
    if len(content) > max_bytes:
        raise DocumentRejected(
            f"Le fichier dépasse la taille maximale de {max_bytes // (1024 * 1024)} Mo.", field="file",
            code="document_too_large",
        )
    sniffed = next((kind_ext for magic, kind_ext in DOCUMENT_SIGNATURES.items() if content.startswith(magic)), None)
    if sniffed is None:
        raise DocumentRejected(
            "Le fichier n'est ni un PDF, ni une image JPEG ou PNG (son contenu a été vérifié).", field="file",
            code="document_type_refused",
        )
    content_type, extension = sniffed
    folder = storage / str(application.id)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{uuid.uuid4().hex}{extension}"
    temporary = folder / f".{stored_name}.part"
    temporary.write_bytes(content)
    temporary.replace(folder / stored_name)
    document = next((d for d in application.documents if d.kind == kind), None)
    if document is None:
        document = ApplicationDocument(kind=kind)
        application.documents.append(document)
    else:
        uploads.delete_after_commit(session, folder / document.stored_name)
    document.original_name = (secure_filename(filename or "") or f"document{extension}")[:200]
    document.stored_name = stored_name
    document.content_type = content_type
    document.size = len(content)
    document.sha256 = hashlib.sha256(content).hexdigest()
    document.uploaded_at = utcnow()
    session.flush()
    record_audit(session, actor, "application.document_stored", "application", application.id,
                 kind=kind, size=len(content), content_type=content_type, sha256=document.sha256)
    return document


def document_path(storage: Path, document: ApplicationDocument) -> Path:
    return storage / str(document.application_id) / document.stored_name


def upload_storage(config: dict[str, Any], instance_path: str) -> Path:
    """Where uploaded documents live: QUALIFICATION_UPLOAD_DIR, or uploads/qualification in the instance folder."""
    return Path(config.get("QUALIFICATION_UPLOAD_DIR") or Path(instance_path) / "uploads" / "qualification")


def transition(session: Session, actor: Actor, application: Application, target: ApplicationStatus | str,
               reason: str) -> Application:
    """Move an application along its status machine, audited with author and reason."""
    APPLICATION_MACHINE.move(session, actor, application, target, reason)
    return application


def submit_application(session: Session, actor: Actor, application: Application) -> Application:
    if application.status == ApplicationStatus.DRAFT and not application.sites:
        raise ApplicationIncomplete("Ajoutez au moins un point de présence avant de déposer le dossier.",
                                    field="sites", details={"missing": missing_items(application)})
    return transition(session, actor, application, ApplicationStatus.SUBMITTED, "Dossier déposé par la structure.")


def mark_complete(session: Session, actor: Actor, application: Application) -> Application:
    missing = missing_items(application)
    if application.status == ApplicationStatus.SUBMITTED and missing:
        raise ApplicationIncomplete(
            "Le dossier ne peut pas être déclaré complet : " + " ".join(missing), field="status",
            details={"missing": missing},
        )
    return transition(session, actor, application, ApplicationStatus.COMPLETE, "Pièces vérifiées : dossier complet.")


def return_to_draft(session: Session, actor: Actor, application: Application, reason: str) -> Application:
    return transition(session, actor, application, ApplicationStatus.DRAFT, reason)


def applications_of(session: Session, organisation_ids: list[int]) -> list[Application]:
    return list(session.scalars(
        select(Application).where(Application.organisation_id.in_(organisation_ids)).order_by(Application.id.desc())
    ))
