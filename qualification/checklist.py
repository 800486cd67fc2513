"""The applicant's checklist: documents required by legal form, what is missing, where the file stands."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from directory import french
from directory.api import Actor, clean_siret, record_audit
from directory.errors import Conflict, InvalidInput
from directory.models import LegalForm
from qualification.models import Application, ApplicationStatus


DOCUMENTS_ASSOCIATION = {
    "jo_publication": "Publication au Journal officiel",
    "ag_minutes": "Procès-verbal de la dernière assemblée générale",
    "statutes": "Statuts certifiés conformes",
    "officer_id": "Pièce d'identité du président ou du trésorier",
    "rib": "RIB (relevé d'identité bancaire)",
}
DOCUMENTS_OTHER = {
    "registry_extract": "Extrait d'immatriculation (Kbis ou registre) de moins de trois mois",
    "representative_id": "Pièce d'identité du représentant légal",
    "rib": "RIB (relevé d'identité bancaire)",
}
DOCUMENT_LABELS = DOCUMENTS_ASSOCIATION | DOCUMENTS_OTHER


def required_documents(legal_form: LegalForm | str) -> dict[str, str]:
    return DOCUMENTS_ASSOCIATION if LegalForm(legal_form) == LegalForm.ASSOCIATION else DOCUMENTS_OTHER


# Words that say what kind of body holds the account, not which one.
LEGAL_WORDS = frozenset("association asso assoc sarl sas sasu scop scic eurl sa gip ccas epci commune ville mairie "
                        "de du des la le les l d et en".split())
HOLDER_MATCH_SCORE = 85  # rapidfuzz token-set ratio, 0–100, over normalised names


def normalised_name(name: str) -> str:
    """Lower case, no accents, no punctuation, no legal-form words: "Asso. Les Amis d'Été" → "amis ete"."""
    plain = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", " ", plain).split()
    return " ".join(word for word in words if word not in LEGAL_WORDS)


def holder_matches(holder: str, legal_name: str) -> bool:
    """Is the account held by the organisation itself (fuzzy, after normalising both names)?"""
    left, right = normalised_name(holder), normalised_name(legal_name)
    if not left or not right:
        return False
    return fuzz.token_set_ratio(left, right) >= HOLDER_MATCH_SCORE


def holder_needs_review(application: Application) -> bool:
    holder = application.account_holder
    return bool(holder) and not holder_matches(holder, application.organisation.name) \
        and application.account_holder_accepted != holder


def accept_bank_holder(session: Session, actor: Actor, application: Application, reason: str) -> Application:
    """Staff accept an account holder that differs from the legal name (a trading name, a parent body…)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Indiquez pourquoi ce titulaire de compte est accepté.", field="reason", code="required")
    if not application.account_holder:
        raise Conflict("Le dossier n'a pas encore de coordonnées bancaires.", field="account_holder",
                       code="no_bank_details")
    application.account_holder_accepted = application.account_holder
    session.flush()
    record_audit(session, actor, "application.bank_holder_accepted", "application", application.id,
                 account_holder=application.account_holder, legal_name=application.organisation.name, reason=reason)
    return application


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    missing: str | None = None


def checklist(application: Application) -> list[ChecklistItem]:
    """What the file must hold before it can be declared complete, with a French note for what is missing."""
    items = []
    uploaded = {document.kind for document in application.documents}
    for kind, label in required_documents(application.organisation.legal_form).items():
        done = kind in uploaded
        items.append(ChecklistItem(f"document:{kind}", label, done, None if done else f"Document à déposer : {label}."))
    siret = application.organisation.siret
    siret_ok = False
    if siret:
        try:
            clean_siret(siret)
            siret_ok = True
        except InvalidInput:
            pass
    items.append(ChecklistItem(
        "siret", "SIRET de l'organisation", siret_ok,
        None if siret_ok else "Le SIRET de l'organisation est manquant ou invalide : il est nécessaire aux remboursements.",
    ))
    bank_ok = bool(application.iban and application.bic and application.account_holder)
    items.append(ChecklistItem(
        "bank", "Coordonnées bancaires (IBAN, BIC, titulaire)", bank_ok,
        None if bank_ok else "Indiquez l'IBAN, le BIC et le titulaire du compte.",
    ))
    if bank_ok:
        review = holder_needs_review(application)
        items.append(ChecklistItem(
            "bank_holder", "Compte au nom de l'organisation", not review,
            f"Le titulaire du compte « {application.account_holder} » ne correspond pas au nom de l'organisation "
            f"« {application.organisation.name} » : l'équipe APTIC doit le vérifier." if review else None,
        ))
    items.append(ChecklistItem(
        "sites", "Au moins un point de présence", bool(application.sites),
        None if application.sites else "Ajoutez au moins un point de présence.",
    ))
    for site in application.sites:
        venue = site.venue
        problems = []
        if not venue.services:
            problems.append("les services proposés")
        if not venue.horaires:
            problems.append("les horaires")
        if venue.location is None:
            problems.append("la position sur la carte")
        items.append(ChecklistItem(
            f"site:{venue.id}", f"Point de présence « {venue.nom} »", not problems,
            f"Point de présence « {venue.nom} » : indiquez {', '.join(problems)}." if problems else None,
        ))
    return items


def missing_items(application: Application) -> list[str]:
    return [item.missing for item in checklist(application) if not item.done and item.missing]


def status_explanation(application: Application) -> str:
    """Where the file stands, in French, for the applicant."""
    status = application.status
    if status == ApplicationStatus.DRAFT:
        missing = missing_items(application)
        return ("Votre dossier est en brouillon : complétez-le puis déposez-le."
                + (f" Il manque encore {french.count(len(missing), 'élément')}." if missing
                   else " Il est prêt à être déposé."))
    if status == ApplicationStatus.SUBMITTED:
        return "Votre dossier est déposé : l'équipe APTIC vérifie les pièces."
    if status == ApplicationStatus.COMPLETE:
        return "Votre dossier est complet : la décision sera prise selon le quota de votre territoire."
    if status == ApplicationStatus.QUALIFIED:
        return ("Votre dossier est accepté. Les lieux qualifiés apparaîtront sur la cartographie publique "
                "lors de sa prochaine mise à jour, le lundi à 7 h.")
    if status == ApplicationStatus.WAITLISTED:
        return ("Votre territoire a atteint son quota de lieux qualifiés : votre dossier est en liste d'attente. "
                "Il sera qualifié dès qu'une place se libère, par ordre de population desservie puis de date.")
    return "Votre dossier a été refusé ; le motif figure dans l'historique ci-dessous."
