"""Business functions of the qualification: applications, checklist, quotas, density, decisions.

Density figures (population, qualified venues, quota, venues per 10,000 inhabitants, population per
venue, E2SFCA accessibility) are computed by `DensityModel`, which other packages may call.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from scipy.spatial import cKDTree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.utils import secure_filename

from directory.api import (
    VENUE_TRANSITIONS,
    Actor,
    clean_siret,
    create_venue,
    get_organisation,
    record_audit,
    set_venue_status,
)
from directory.db import utcnow
from directory.errors import DomainError, InvalidInput, InvalidTransition, NotFound
from directory.models import LegalForm, Organisation, Service, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from qualification.errors import ApplicationIncomplete, BankDetailsInvalid, DocumentRejected
from qualification.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationDocument,
    ApplicationStatus,
    ApplicationVenue,
    Decision,
    PendingVenueChange,
    QuotaOverride,
    QuotaPolicy,
    VenueOutcome,
)

# ------------------------------------------------------------------------------ checklist

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

# Magic numbers of the accepted formats: the content decides, not the file name.
DOCUMENT_SIGNATURES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def required_documents(legal_form: LegalForm | str) -> dict[str, str]:
    return DOCUMENTS_ASSOCIATION if LegalForm(legal_form) == LegalForm.ASSOCIATION else DOCUMENTS_OTHER


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
                + (f" Il manque encore {len(missing)} élément(s)." if missing else " Il est prêt à être déposé."))
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


# ---------------------------------------------------------------------------- applications

APPLICATION_TRANSITIONS = {
    ApplicationStatus.DRAFT: {ApplicationStatus.SUBMITTED},
    ApplicationStatus.SUBMITTED: {ApplicationStatus.DRAFT, ApplicationStatus.COMPLETE, ApplicationStatus.REJECTED},
    ApplicationStatus.COMPLETE: {ApplicationStatus.QUALIFIED, ApplicationStatus.WAITLISTED, ApplicationStatus.REJECTED},
    ApplicationStatus.WAITLISTED: {ApplicationStatus.QUALIFIED, ApplicationStatus.REJECTED},
    ApplicationStatus.QUALIFIED: set(),
    ApplicationStatus.REJECTED: set(),
}
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


def transition(session: Session, actor: Actor, application: Application, target: ApplicationStatus | str,
               reason: str) -> Application:
    """Move an application along its status machine, audited with author and reason."""
    try:
        target = ApplicationStatus(target)
    except ValueError:
        raise InvalidInput(f"Le statut « {target} » n'existe pas.", field="status", code="invalid_status") from None
    if not (reason or "").strip():
        raise InvalidInput("Indiquez le motif du changement de statut.", field="reason", code="required")
    if target not in APPLICATION_TRANSITIONS[application.status]:
        raise InvalidTransition(
            f"Un dossier « {APPLICATION_STATUS_LABELS[application.status]} » ne peut pas passer à "
            f"« {APPLICATION_STATUS_LABELS[target]} ».", field="status",
        )
    previous = application.status
    application.status = target
    application.status_changed_at = utcnow()
    if target == ApplicationStatus.SUBMITTED:
        application.submitted_at = application.status_changed_at
    session.flush()
    record_audit(session, actor, "application.status_changed", "application", application.id,
                 before=previous.value, after=target.value, reason=reason.strip())
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


def reject_application(session: Session, actor: Actor, application: Application, reason: str,
                       model: DensityModel | None = None) -> Application:
    transition(session, actor, application, ApplicationStatus.REJECTED, reason)
    open_sites = [s for s in application.sites if s.outcome in (VenueOutcome.PENDING, VenueOutcome.WAITLISTED)]
    model = model or (DensityModel(session) if open_sites else None)
    for site in open_sites:
        site.outcome = VenueOutcome.REJECTED
        proposal = model.proposal(site.venue)
        _record_decision(session, actor, site, proposal, VenueOutcome.REJECTED, "rejected_by_staff",
                         f"Refusé par l'équipe APTIC : {reason.strip()}")
    session.flush()
    return application


# ----------------------------------------------------------------------------- quota policy

DEFAULT_LEVEL = TerritoryLevel.EPCI.value
DEFAULT_RATIO = 15_000
QUOTA_LEVELS = ("region", "departement", "epci", "commune")


@dataclass(frozen=True)
class Policy:
    level: str
    ratio: int
    reason: str | None = None
    set_at: datetime | None = None


def compute_quota(population: int, ratio: int) -> int:
    """At least one qualified venue per territory, one more per `ratio` inhabitants."""
    return max(1, population // ratio)


def current_policy(session: Session) -> Policy:
    row = session.scalar(select(QuotaPolicy).order_by(QuotaPolicy.id.desc()).limit(1))
    if row is None:
        return Policy(DEFAULT_LEVEL, DEFAULT_RATIO)
    return Policy(row.level, row.ratio, row.reason, row.created_at)


def _clean_level(level: str) -> str:
    if level not in QUOTA_LEVELS:
        raise InvalidInput(
            f"Le niveau « {level} » n'existe pas (valeurs possibles : {', '.join(QUOTA_LEVELS)}).",
            field="level", code="invalid_territory_level",
        )
    return level


def _clean_positive(value: Any, field_name: str, label: str, minimum: int = 1) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or str(value).strip() != str(number):
        raise InvalidInput(f"{label} doit être un nombre entier supérieur ou égal à {minimum}.", field=field_name,
                           code="invalid_number")
    return number


def _clean_reason(reason: str) -> str:
    if not (reason or "").strip():
        raise InvalidInput("Indiquez le motif de la modification.", field="reason", code="required")
    return reason.strip()


def set_policy(session: Session, actor: Actor, *, level: str, ratio: Any, reason: str) -> Policy:
    row = QuotaPolicy(level=_clean_level(level), ratio=_clean_positive(ratio, "ratio", "Le ratio"),
                      reason=_clean_reason(reason), actor=actor.label)
    session.add(row)
    session.flush()
    record_audit(session, actor, "quota.policy_set", "quota_policy", row.id, level=row.level, ratio=row.ratio,
                 reason=row.reason)
    return current_policy(session)


def set_override(session: Session, actor: Actor, *, level: str, code: str, reason: str, ratio: Any = None,
                 quota: Any = None) -> QuotaOverride:
    """Set by hand the ratio or the quota of one territory (a quota wins over a ratio)."""
    level = _clean_level(level)
    territory = _territory(session, level, code)
    ratio = _clean_positive(ratio, "ratio", "Le ratio") if ratio not in (None, "") else None
    quota = _clean_positive(quota, "quota", "Le quota") if quota not in (None, "") else None
    if ratio is None and quota is None:
        raise InvalidInput("Indiquez un ratio ou un quota.", field="quota", code="required")
    reason = _clean_reason(reason)
    row = session.scalar(select(QuotaOverride).where(QuotaOverride.level == level, QuotaOverride.code == territory.code))
    if row is None:
        row = QuotaOverride(level=level, code=territory.code)
        session.add(row)
    row.ratio, row.quota, row.reason, row.actor, row.updated_at = ratio, quota, reason, actor.label, utcnow()
    session.flush()
    record_audit(session, actor, "quota.override_set", "territory", f"{level}:{territory.code}",
                 ratio=ratio, quota=quota, reason=row.reason)
    return row


def clear_override(session: Session, actor: Actor, *, level: str, code: str, reason: str) -> None:
    row = session.scalar(select(QuotaOverride).where(QuotaOverride.level == level, QuotaOverride.code == code))
    if row is None:
        raise NotFound("Ce territoire n'a pas de quota fixé à la main.", field="code", code="no_override")
    session.delete(row)
    session.flush()
    record_audit(session, actor, "quota.override_cleared", "territory", f"{level}:{code}", reason=_clean_reason(reason))


def _territory(session: Session, level: str, code: str) -> Territory:
    territory = session.scalar(select(Territory).where(Territory.level == level, Territory.code == (code or "").strip().upper()))
    if territory is None:
        raise NotFound(f"Aucun territoire de niveau « {level} » n'a le code « {code} ».", field="code",
                       code="unknown_territory")
    return territory


# ------------------------------------------------------------------- accessibility (E2SFCA)

EARTH_RADIUS_M = 6_371_008.8
# Distance decay of the enhanced two-step floating catchment (E2SFCA), as the APL indicator's
# stepped weights (1, 2/3, 1/3) but on distances, as venues are reached on foot, by bus or by car.
DECAY_ZONES = ((5_000.0, 1.0), (10_000.0, 0.66), (15_000.0, 0.33))
ACCESS_RADIUS_M = 10_000.0  # "gains access": no venue of the same level within this distance


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def _chord(metres: float) -> float:
    return 2 * math.sin(metres / (2 * EARTH_RADIUS_M))


def _arc_m(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(chord / 2, 1.0))


def decay_weights(metres: np.ndarray, zones: tuple[tuple[float, float], ...] = DECAY_ZONES) -> np.ndarray:
    bounds = np.array([limit for limit, _ in zones])
    weights = np.array([weight for _, weight in zones] + [0.0])
    return weights[np.searchsorted(bounds, metres, side="right")]


def _pairs(supply_xyz: np.ndarray, demand_tree: cKDTree, radius_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(supply index, demand index, metres) of every pair closer than `radius_m`, without an all-pairs matrix."""
    if len(supply_xyz) == 0 or demand_tree.n == 0:
        empty = np.zeros(0, dtype=int)
        return empty, empty, np.zeros(0)
    pairs = cKDTree(supply_xyz).sparse_distance_matrix(demand_tree, _chord(radius_m), output_type="ndarray")
    return pairs["i"].astype(int), pairs["j"].astype(int), _arc_m(pairs["v"])


def e2sfca(demand_lonlat: np.ndarray, population: np.ndarray, supply_lonlat: np.ndarray,
           zones: tuple[tuple[float, float], ...] = DECAY_ZONES) -> np.ndarray:
    """Accessibility of each demand point, in venues per 10,000 inhabitants within reach.

    Step 1: each venue's ratio R_j = 1 / Σ_k W(d_kj)·P_k over the population within its catchment.
    Step 2: each commune's score A_i = Σ_j W(d_ij)·R_j over the venues within its catchment.
    """
    demand_lonlat, supply_lonlat = np.asarray(demand_lonlat, dtype=float), np.asarray(supply_lonlat, dtype=float)
    tree = cKDTree(unit_vectors(demand_lonlat[:, 0], demand_lonlat[:, 1]) if len(demand_lonlat) else np.zeros((0, 3)))
    supply_xyz = unit_vectors(supply_lonlat[:, 0], supply_lonlat[:, 1]) if len(supply_lonlat) else np.zeros((0, 3))
    ratios, s_idx, d_idx, weights = _supply_ratios(supply_xyz, tree, np.asarray(population, dtype=float), zones)
    return 10_000 * np.bincount(d_idx, weights=weights * ratios[s_idx], minlength=len(demand_lonlat)).astype(float)


def _supply_ratios(supply_xyz: np.ndarray, demand_tree: cKDTree, population: np.ndarray,
                   zones: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s_idx, d_idx, metres = _pairs(supply_xyz, demand_tree, zones[-1][0])
    weights = decay_weights(metres, zones)
    reached = np.bincount(s_idx, weights=weights * population[d_idx], minlength=len(supply_xyz)).astype(float)
    ratios = np.divide(1.0, reached, out=np.zeros_like(reached), where=reached > 0)
    return ratios, s_idx, d_idx, weights


# ------------------------------------------------------------------------- density figures


@dataclass
class TerritoryDensity:
    level: str
    code: str
    name: str
    population: int
    qualified: int
    quota: int
    ratio: int
    quota_rule: str
    accessibility: float
    communes: int

    @property
    def venues_per_10k(self) -> float:
        return 10_000 * self.qualified / self.population if self.population else 0.0

    @property
    def population_per_venue(self) -> int | None:
        return round(self.population / self.qualified) if self.qualified else None

    @property
    def over_quota(self) -> bool:
        return self.qualified > self.quota

    @property
    def room(self) -> int:
        return max(0, self.quota - self.qualified)

    @property
    def quota_use(self) -> float:
        return self.qualified / self.quota if self.quota else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level, "code": self.code, "name": self.name, "population": self.population,
            "qualified": self.qualified, "quota": self.quota, "ratio": self.ratio, "quota_rule": self.quota_rule,
            "venues_per_10k": round(self.venues_per_10k, 3), "population_per_venue": self.population_per_venue,
            "accessibility": round(self.accessibility, 3), "over_quota": self.over_quota, "quota_use": round(self.quota_use, 3),
        }


@dataclass
class Proposal:
    """What the rules say about one point de présence, with the figures that explain it."""

    venue_id: int
    territory: TerritoryDensity
    outcome: VenueOutcome
    rule: str
    accessibility_after: float
    population_gain: int
    sentence: str


def _fmt(number: float | int) -> str:
    if isinstance(number, float):
        return f"{number:,.2f}".replace(",", "\u202f").replace(".", ",")
    return f"{number:,}".replace(",", "\u202f")


class DensityModel:
    """The national picture a decision needs, loaded once: communes, qualified venues, quotas, E2SFCA scores.

    Venues that hold a quota place are the qualified and the suspended ones (a suspension can be
    lifted without a new decision); the accessibility counts qualified venues with a position.
    """

    def __init__(self, session: Session, level: str | None = None) -> None:
        self.session = session
        self.policy = current_policy(session)
        self.level = _clean_level(level) if level else self.policy.level
        self.overrides = {(o.level, o.code): o for o in session.scalars(select(QuotaOverride))}
        rows = session.execute(
            select(Territory.code, Territory.population, Territory.epci_code, Territory.departement_code,
                   Territory.region_code, func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
            .where(Territory.level == TerritoryLevel.COMMUNE)
            .order_by(Territory.code)
        ).all()
        self.commune_codes = [row[0] for row in rows]
        self.commune_index = {code: i for i, code in enumerate(self.commune_codes)}
        self.population = np.array([row[1] for row in rows], dtype=float)
        self.commune_key = [self._key_of(row[0], row[2], row[3], row[4]) for row in rows]
        located = [i for i, row in enumerate(rows) if row[5] is not None]
        self.located = np.array(located, dtype=int)
        self._located_position = {commune: position for position, commune in enumerate(located)}
        self.commune_xyz = unit_vectors(np.array([rows[i][5] for i in located]), np.array([rows[i][6] for i in located]))
        self.commune_tree = cKDTree(self.commune_xyz)
        self.located_population = self.population[self.located]
        self.key_population: dict[tuple[str, str], float] = defaultdict(float)
        self.key_communes: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, key in enumerate(self.commune_key):
            self.key_population[key] += self.population[i]
            self.key_communes[key].append(i)
        # Names of the policy level's territories, and of the island communes that are their own territory.
        own_territory_communes = [code for level, code in self.commune_key if level != self.level]
        self.names = {(self.level, code): name for code, name in session.execute(
            select(Territory.code, Territory.name).where(Territory.level == self.level))}
        self.names.update({("commune", code): name for code, name in session.execute(
            select(Territory.code, Territory.name).where(
                Territory.level == TerritoryLevel.COMMUNE, Territory.code.in_(own_territory_communes)))})
        self._load_venues()

    def _key_of(self, code: str, epci: str | None, departement: str | None, region: str | None) -> tuple[str, str]:
        parent = {"epci": epci, "departement": departement, "region": region, "commune": code}[self.level]
        # A few island communes belong to no EPCI: each is then its own territory.
        return (self.level, parent) if parent else ("commune", code)

    def _load_venues(self) -> None:
        session = self.session
        rows = session.execute(
            select(Venue.id, Venue.code_insee, Venue.status, func.ST_X(Venue.location), func.ST_Y(Venue.location))
            .where(Venue.status.in_([VenueStatus.QUALIFIED, VenueStatus.SUSPENDED]))
        ).all()
        levels = defaultdict(set)
        for venue_id, level in session.execute(
            select(VenueService.venue_id, Service.level_number).join(Service, Service.id == VenueService.service_id)
            .join(Venue, Venue.id == VenueService.venue_id)
            .where(Venue.status == VenueStatus.QUALIFIED).distinct()
        ):
            levels[venue_id].add(level)
        self.quota_holders: dict[tuple[str, str], int] = defaultdict(int)
        supply = []
        for venue_id, code_insee, status, lon, lat in rows:
            key = self.territory_key(code_insee)
            if key is not None:
                self.quota_holders[key] += 1
            if status == VenueStatus.QUALIFIED and lon is not None:
                supply.append((venue_id, lon, lat, frozenset(levels[venue_id])))
        self.supply_ids = [s[0] for s in supply]
        self.supply_lonlat = np.array([(s[1], s[2]) for s in supply], dtype=float).reshape(-1, 2)
        self.supply_levels = [s[3] for s in supply]
        supply_xyz = unit_vectors(self.supply_lonlat[:, 0], self.supply_lonlat[:, 1]) if supply else np.zeros((0, 3))
        ratios, s_idx, d_idx, weights = _supply_ratios(supply_xyz, self.commune_tree, self.located_population, DECAY_ZONES)
        self.scores = 10_000 * np.bincount(d_idx, weights=weights * ratios[s_idx], minlength=len(self.located)).astype(float)
        self._level_trees: dict[int, cKDTree] | None = None

    # --- territories

    def territory_key(self, code_insee: str | None) -> tuple[str, str] | None:
        index = self.commune_index.get(code_insee or "")
        return None if index is None else self.commune_key[index]

    def quota_of(self, key: tuple[str, str]) -> tuple[int, int, str]:
        """(quota, ratio, French rule) of a territory."""
        population = int(self.key_population.get(key, 0))
        override = self.overrides.get(key)
        if override is not None and override.quota is not None:
            return override.quota, override.ratio or self.policy.ratio, f"quota fixé par APTIC ({override.reason})"
        if override is not None and override.ratio is not None:
            return compute_quota(population, override.ratio), override.ratio, f"ratio fixé par APTIC ({override.reason})"
        return compute_quota(population, self.policy.ratio), self.policy.ratio, "règle nationale"

    def accessibility_of(self, key: tuple[str, str], scores: np.ndarray | None = None) -> float:
        scores = self.scores if scores is None else scores
        members = self._located_members(key)
        weights = self.located_population[members]
        return float((weights * scores[members]).sum() / weights.sum()) if weights.sum() else 0.0

    def _located_members(self, key: tuple[str, str]) -> np.ndarray:
        return np.array([self._located_position[i] for i in self.key_communes.get(key, []) if i in self._located_position],
                        dtype=int)

    def figures(self, key: tuple[str, str]) -> TerritoryDensity:
        quota, ratio, rule = self.quota_of(key)
        return TerritoryDensity(
            level=key[0], code=key[1], name=self.names.get(key, key[1]), population=int(self.key_population.get(key, 0)),
            qualified=self.quota_holders.get(key, 0), quota=quota, ratio=ratio, quota_rule=rule,
            accessibility=self.accessibility_of(key), communes=len(self.key_communes.get(key, [])),
        )

    def table(self) -> list[TerritoryDensity]:
        population = self.located_population
        weighted = np.zeros(len(self.commune_codes))
        weighted[self.located] = population * self.scores
        located_pop = np.zeros(len(self.commune_codes))
        located_pop[self.located] = population
        sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for i, key in enumerate(self.commune_key):
            sums[key][0] += weighted[i]
            sums[key][1] += located_pop[i]
        result = []
        for key in sorted(self.key_population):
            quota, ratio, rule = self.quota_of(key)
            numerator, denominator = sums[key]
            result.append(TerritoryDensity(
                level=key[0], code=key[1], name=self.names.get(key, key[1]), population=int(self.key_population[key]),
                qualified=self.quota_holders.get(key, 0), quota=quota, ratio=ratio, quota_rule=rule,
                accessibility=float(numerator / denominator) if denominator else 0.0, communes=len(self.key_communes[key]),
            ))
        return result

    # --- what one more venue would change

    def _contribution(self, lon: float, lat: float) -> tuple[np.ndarray, np.ndarray]:
        """(located commune positions, score added) by one more qualified venue at (lon, lat).

        In the E2SFCA a new venue leaves the other venues' ratios unchanged: it only adds its own
        ratio, decayed, to the communes within its catchment.
        """
        xyz = unit_vectors(np.array([lon]), np.array([lat]))
        ratios, _, d_idx, weights = _supply_ratios(xyz, self.commune_tree, self.located_population, DECAY_ZONES)
        return d_idx, 10_000 * weights * ratios[0]

    def accessibility_after(self, key: tuple[str, str], lon: float | None, lat: float | None) -> float:
        if lon is None:
            return self.accessibility_of(key)
        positions, added = self._contribution(lon, lat)
        scores = self.scores.copy()
        np.add.at(scores, positions, added)
        return self.accessibility_of(key, scores)

    def _trees(self) -> dict[int, cKDTree]:
        if self._level_trees is None:
            self._level_trees = {}
            for level in (1, 2, 3):
                chosen = [i for i, levels in enumerate(self.supply_levels) if level in levels]
                points = self.supply_lonlat[chosen] if chosen else np.zeros((0, 2))
                self._level_trees[level] = cKDTree(unit_vectors(points[:, 0], points[:, 1]) if chosen else np.zeros((0, 3)))
        return self._level_trees

    def population_gain(self, lon: float | None, lat: float | None, levels: set[int]) -> int:
        """Inhabitants within 10 km of the venue with no qualified venue of one of its levels within 10 km today."""
        if lon is None or not levels:
            return 0
        xyz = unit_vectors(np.array([lon]), np.array([lat]))[0]
        near = np.array(self.commune_tree.query_ball_point(xyz, _chord(ACCESS_RADIUS_M)), dtype=int)
        if len(near) == 0:
            return 0
        lacking = np.zeros(len(near), dtype=bool)
        for level in levels:
            tree = self._trees()[level]
            if tree.n == 0:
                lacking[:] = True
                break
            distances, _ = tree.query(self.commune_xyz[near], distance_upper_bound=_chord(ACCESS_RADIUS_M))
            lacking |= np.isinf(distances)
        return int(self.located_population[near[lacking]].sum())

    def add_venue(self, venue_id: int, code_insee: str | None, lon: float | None, lat: float | None, levels: set[int]) -> None:
        key = self.territory_key(code_insee)
        if key is not None:
            self.quota_holders[key] += 1
        if lon is not None:
            positions, added = self._contribution(lon, lat)
            np.add.at(self.scores, positions, added)
            self.supply_ids.append(venue_id)
            self.supply_lonlat = np.vstack([self.supply_lonlat, [[lon, lat]]])
            self.supply_levels.append(frozenset(levels))
            self._level_trees = None

    # --- proposals

    def proposal(self, venue: Venue, lonlat: tuple[float | None, float | None] | None = None) -> Proposal:
        lon, lat = lonlat or _lonlat(self.session, venue)
        levels = set(venue.levels)
        key = self.territory_key(venue.code_insee) or ("commune", venue.code_insee or "")
        figures = self.figures(key)
        after = self.accessibility_after(key, lon, lat)
        gain = self.population_gain(lon, lat, levels)
        situation = (f"{figures.name} ({_fmt(figures.population)} habitants) compte {figures.qualified} lieu(x) "
                     f"qualifié(s) pour un quota de {figures.quota} ({figures.quota_rule} : au moins 1, "
                     f"puis 1 de plus par {_fmt(figures.ratio)} habitants)")
        effect = (f"l'accessibilité du territoire passe de {_fmt(figures.accessibility)} à {_fmt(after)} "
                  f"lieu pour 10 000 habitants et {_fmt(gain)} habitants gagnent un lieu de même niveau à moins de 10 km")
        if figures.qualified < figures.quota:
            outcome, rule = VenueOutcome.QUALIFIED, "under_quota"
            sentence = f"Qualifié : {situation} ; ce lieu porte le nombre à {figures.qualified + 1}, et {effect}."
        else:
            outcome, rule = VenueOutcome.WAITLISTED, "quota_reached"
            sentence = (f"Mis en liste d'attente : {situation}, le quota est atteint. "
                        f"S'il était qualifié, {effect}.")
        return Proposal(venue.id, figures, outcome, rule, after, gain, sentence)


def _lonlat(session: Session, venue: Venue) -> tuple[float | None, float | None]:
    if venue.location is None:
        return None, None
    row = session.execute(select(func.ST_X(Venue.location), func.ST_Y(Venue.location)).where(Venue.id == venue.id)).one()
    return row[0], row[1]


def density_table(session: Session, level: str | None = None) -> list[TerritoryDensity]:
    """Figures of every territory of a level (the policy's level by default)."""
    return DensityModel(session, level).table()


def territory_density(session: Session, level: str, code: str) -> TerritoryDensity:
    """Figures of one territory: population, qualified venues, quota, density and accessibility."""
    model = DensityModel(session, level)
    territory = _territory(session, level, code)
    return model.figures((level, territory.code))


def commune_accessibility(session: Session) -> dict[str, float]:
    """E2SFCA score of every located commune, in qualified venues per 10,000 inhabitants within reach."""
    model = DensityModel(session)
    return {model.commune_codes[int(i)]: float(score) for i, score in zip(model.located, model.scores, strict=True)}


# ------------------------------------------------------------------------------- decisions


def _record_decision(session: Session, actor: Actor, site: ApplicationVenue, proposal: Proposal, outcome: VenueOutcome,
                     rule: str, sentence: str) -> Decision:
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


def proposals(session: Session, application: Application, model: DensityModel | None = None) -> list[Proposal]:
    """The decision the rules propose for each undecided point de présence, in order (no change made)."""
    model = model or DensityModel(session)
    result = []
    for site in application.sites:
        if site.outcome in (VenueOutcome.PENDING, VenueOutcome.WAITLISTED):
            proposal = model.proposal(site.venue)
            result.append(proposal)
            if proposal.outcome == VenueOutcome.QUALIFIED:
                lon, lat = _lonlat(session, site.venue)
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
        decisions.append(_record_decision(session, actor, site, proposal, proposal.outcome, proposal.rule, proposal.sentence))
    qualified = any(s.outcome == VenueOutcome.QUALIFIED for s in application.sites)
    target = ApplicationStatus.QUALIFIED if qualified else ApplicationStatus.WAITLISTED
    transition(session, actor, application, target, "; ".join(d.sentence for d in decisions) or "Décision selon les quotas.")
    return decisions


def waitlist(session: Session, model: DensityModel | None = None) -> list[tuple[ApplicationVenue, int]]:
    """Waitlisted points de présence in promotion order: population that would gain access, then date."""
    model = model or DensityModel(session)
    sites = _waitlisted_sites(session)
    coordinates = _coordinates(session, [site.venue_id for site in sites])
    ranked = [(site, model.population_gain(*coordinates[site.venue_id], set(site.venue.levels))) for site in sites]
    ranked.sort(key=lambda pair: (-pair[1], pair[0].waitlisted_at, pair[0].venue_id))
    return ranked


# ----------------------------------------------------------------- venue changes after qualification


def schedule_venue_change(session: Session, actor: Actor, venue: Venue, target: VenueStatus | str, reason: str) -> PendingVenueChange:
    """Record a dequalification or a closure, applied by the next weekly rebuild."""
    try:
        target = VenueStatus(target)
    except ValueError:
        raise InvalidInput(f"Le statut « {target} » n'existe pas.", field="status", code="invalid_status") from None
    if target not in (VenueStatus.DEQUALIFIED, VenueStatus.CLOSED):
        raise InvalidInput("Seules une déqualification ou une fermeture attendent la reconstruction hebdomadaire.",
                           field="status", code="invalid_status")
    if target not in VENUE_TRANSITIONS[venue.status]:
        raise InvalidTransition(
            f"Un lieu au statut « {venue.status.value} » ne peut pas passer au statut « {target.value} ».", field="status"
        )
    pending = session.scalar(select(PendingVenueChange).where(
        PendingVenueChange.venue_id == venue.id, PendingVenueChange.applied_at.is_(None)))
    if pending is None:
        pending = PendingVenueChange(venue_id=venue.id)
        session.add(pending)
    pending.target_status, pending.reason, pending.actor, pending.requested_at = target, _clean_reason(reason), actor.label, utcnow()
    session.flush()
    record_audit(session, actor, "venue.change_scheduled", "venue", venue.id, target=target.value, reason=pending.reason)
    return pending


# -------------------------------------------------------------------- steps of the weekly rebuild


def apply_pending_changes(session: Session, actor: Actor) -> dict[str, list[int]]:
    """Apply the dequalifications and closures waiting for this rebuild."""
    applied, ignored = [], []
    now = utcnow()
    pending = session.scalars(
        select(PendingVenueChange).options(selectinload(PendingVenueChange.venue))
        .where(PendingVenueChange.applied_at.is_(None)).order_by(PendingVenueChange.id)
    ).all()
    for change in pending:
        try:
            set_venue_status(session, actor, change.venue, change.target_status, change.reason)
            applied.append(change.venue_id)
        except DomainError:
            ignored.append(change.venue_id)  # the venue moved on since (closed meanwhile…)
        change.applied_at = now
    session.flush()
    return {"applied": applied, "ignored": ignored}


def enforce_quotas(session: Session, actor: Actor) -> dict[str, Any]:
    """Promote from the waitlist where a territory has room; flag territories over their quota.

    Qualified venues are never dequalified here: a territory over quota is only flagged.
    """
    model = DensityModel(session)
    sites = _waitlisted_sites(session)
    coordinates = _coordinates(session, [site.venue_id for site in sites])
    by_territory: dict[tuple[str, str], list[ApplicationVenue]] = defaultdict(list)
    for site in sites:
        key = model.territory_key(site.venue.code_insee)
        if key is not None:
            by_territory[key].append(site)

    def gain(site: ApplicationVenue) -> int:
        return model.population_gain(*coordinates[site.venue_id], set(site.venue.levels))

    promoted: list[int] = []
    for key, group in by_territory.items():
        while group and model.quota_holders.get(key, 0) < model.quota_of(key)[0]:
            best = min(group, key=lambda site: (-gain(site), site.waitlisted_at, site.venue_id))
            group.remove(best)
            promoted.append(_promote(session, actor, best, model, coordinates[best.venue_id]))
        for site in group:
            site.population_gain = gain(site)
    flagged = [figures.as_dict() for figures in model.table() if figures.over_quota]
    session.flush()
    return {"promoted": promoted, "flagged": flagged}


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
    sentence = (f"Qualifié depuis la liste d'attente : {figures.name} ({_fmt(figures.population)} habitants) compte "
                f"{figures.qualified} lieu(x) qualifié(s) pour un quota de {figures.quota}, une place est libre ; "
                f"{_fmt(proposal.population_gain)} habitants gagnent un lieu de même niveau à moins de 10 km et "
                f"l'accessibilité passe de {_fmt(figures.accessibility)} à {_fmt(proposal.accessibility_after)} "
                "lieu pour 10 000 habitants.")
    site.outcome = VenueOutcome.QUALIFIED
    site.population_gain = proposal.population_gain
    set_venue_status(session, actor, site.venue, VenueStatus.QUALIFIED, sentence)
    _record_decision(session, actor, site, proposal, VenueOutcome.QUALIFIED, "waitlist_promotion", sentence)
    application = site.application
    if application.status == ApplicationStatus.WAITLISTED:
        transition(session, actor, application, ApplicationStatus.QUALIFIED, sentence)
    model.add_venue(site.venue_id, site.venue.code_insee, *lonlat, set(site.venue.levels))
    return site.venue_id


# ------------------------------------------------------------------------------- back office


def applications_to_review(session: Session) -> list[Application]:
    return list(session.scalars(
        select(Application)
        .options(selectinload(Application.organisation), selectinload(Application.documents),
                 selectinload(Application.sites).selectinload(ApplicationVenue.venue))
        .where(Application.status.in_([ApplicationStatus.SUBMITTED, ApplicationStatus.COMPLETE, ApplicationStatus.WAITLISTED]))
        .order_by(Application.submitted_at, Application.id)
    ))


def applications_of(session: Session, organisation_ids: list[int]) -> list[Application]:
    return list(session.scalars(
        select(Application).where(Application.organisation_id.in_(organisation_ids)).order_by(Application.id.desc())
    ))


def decisions_of(session: Session, application: Application) -> list[Decision]:
    return list(session.scalars(
        select(Decision).where(Decision.application_id == application.id).order_by(Decision.decided_at, Decision.id)
    ))


# -------------------------------------------------------------------------------------- demo

DEMO_PDF = b"%PDF-1.4\n% document de demonstration APTIC\n%%EOF\n"
DEMO_STATUSES = [ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.COMPLETE,
                 ApplicationStatus.COMPLETE, ApplicationStatus.COMPLETE]


def upload_storage(config: dict[str, Any], instance_path: str) -> Path:
    """Where uploaded documents live: QUALIFICATION_UPLOAD_DIR, or uploads/qualification in the instance folder."""
    return Path(config.get("QUALIFICATION_UPLOAD_DIR") or Path(instance_path) / "uploads" / "qualification")


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
