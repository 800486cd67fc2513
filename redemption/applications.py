"""Applications to a co-funding call: the file, the orders covered, eligibility on submission, the decision.

Status machine (`APPLICATION_MACHINE`): draft → submitted → accepted | refused, each move audited.
Eligibility (rules.md, "State co-funding") is checked on submission, each refusal with a stable code
and a French message naming the rule:

- `call_not_open`: the call is closed, or today is outside its opening and closing dates;
- `applicant_not_eligible`: a member's kind is not among the call's eligible kinds (territorial
  authorities and their groupings by default);
- `commune_alone`: communes apply only as a group of at least 2;
- `group_order_below_minimum`: a group with communes orders at least 10,000 € (face value covered);
- `section_missing`, `publics_split_unbalanced`, `no_order_covered`: the file is incomplete.

Acceptance commits the funder's share of every covered order on the call's envelope under a row
lock on the call (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers), so two
acceptances at once cannot overspend it (`envelope_exceeded`); a CHECK on the call is the last word.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from directory import french
from directory.api import Actor, record_audit
from directory.errors import Conflict, InvalidInput, NotFound
from directory.models import LegalForm, Organisation
from redemption import shares
from redemption.calls import accepts_applications
from redemption.cofunding_models import (
    APPLICATION_MACHINE,
    AUTHORITY_KIND_LABELS,
    FILE_SECTION_LABELS,
    ApplicationStatus,
    AuthorityKind,
    CofundingApplication,
    CofundingCall,
    CofundingMember,
    FileSection,
)
from redemption.models import MAX_ID, Order, OrderStatus
from redemption.orders import _clean_territories

GROUP_MINIMUM_CENTS = 1_000_000  # 10,000 €: the least a group with communes orders
GROUP_MINIMUM_MEMBERS = 2
# Authorities are « collectivités »; their groupings (EPCI, syndicats mixtes, PETR) are public bodies.
AUTHORITY_LEGAL_FORMS = frozenset({LegalForm.LOCAL_AUTHORITY, LegalForm.PUBLIC_BODY})
TEXT_FIELDS = ("how_to_reach", "structuring", "european_funds", "partners", "budget_notes")
COUNT_FIELDS = ("priority_publics", "precarity_publics")
MAX_COUNT = 10_000_000
MAX_TEXT = 5_000
COMMUNE_RULE = ("règle de l'appel à projets : les communes ne candidatent qu'en groupement d'au moins 2, "
                "pour une commande d'au moins 10 000 €")


def _kind(value: Any, field: str = "kind") -> AuthorityKind:
    try:
        return AuthorityKind(str(value).strip())
    except ValueError:
        known = ", ".join(kind.value for kind in AuthorityKind)
        raise InvalidInput(f"Le type de collectivité « {value} » n'existe pas (valeurs possibles : {known}).",
                           field=field, code="invalid_choice") from None


def create_application(session: Session, actor: Actor, call: CofundingCall, lead: Organisation, lead_kind: Any,
                       partners: list[tuple[Organisation, Any]] = ()) -> CofundingApplication:
    """A draft application led by `lead`; `partners` are the other members of a group, with their kinds."""
    members = [(lead, _kind(lead_kind, "lead_kind"))] + [(org, _kind(kind, "members")) for org, kind in partners]
    if len({org.id for org, _ in members}) != len(members):
        raise InvalidInput("Une même organisation ne peut figurer qu'une fois dans le groupement.", field="members",
                           code="duplicate_member")
    application = CofundingApplication(call=call, lead=lead, area=[], granted_cents=0, budget_cents=0,
                                       priority_publics=0, precarity_publics=0,
                                       **{name: "" for name in TEXT_FIELDS})
    application.members = [CofundingMember(organisation=org, kind=kind) for org, kind in members]
    session.add(application)
    session.flush()
    record_audit(session, actor, "cofunding_application.created", "cofunding_application", application.id,
                 call_id=call.id, lead_id=lead.id, members=[[org.id, kind.value] for org, kind in members])
    return application


def _require_draft(application: CofundingApplication) -> None:
    if application.status != ApplicationStatus.DRAFT:
        raise Conflict(f"La candidature n° {application.id} est déposée : elle ne peut plus être modifiée.",
                       field="status", code="application_not_draft")


def update_file(session: Session, actor: Actor, application: CofundingApplication, **fields: Any) -> CofundingApplication:
    """Set parts of the file of a draft: publics (counts and how to reach them), area, structuring actions,
    European funds, partners, provisional budget (`budget_cents`, `budget_notes`)."""
    _require_draft(application)
    changed: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in TEXT_FIELDS:
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise InvalidInput(f"Le champ « {name} » est un texte de {MAX_TEXT} caractères au plus.", field=name,
                                   code="invalid_text")
            value = value.strip()
        elif name in COUNT_FIELDS or name == "budget_cents":
            limit = MAX_COUNT if name in COUNT_FIELDS else 10**12
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
                raise InvalidInput(f"Le champ « {name} » est un nombre entier positif ou nul.", field=name,
                                   code="invalid_number")
        elif name == "area":
            value = _clean_territories(session, value) if value else []
        else:
            raise InvalidInput(f"Le champ « {name} » n'existe pas dans un dossier de candidature.", field=name,
                               code="unknown_field")
        setattr(application, name, value)
        changed[name] = value
    session.flush()
    if changed:
        record_audit(session, actor, "cofunding_application.file_updated", "cofunding_application", application.id,
                     fields=sorted(changed))
    return application


def cover_order(session: Session, actor: Actor, application: CofundingApplication, order: Order) -> Order:
    """The application asks co-funding for `order`, an order of one of its members not covered elsewhere."""
    _require_draft(application)
    if order.sponsor_id not in {member.organisation_id for member in application.members}:
        raise InvalidInput(f"La commande n° {order.id} n'est pas celle d'un membre de la candidature.", field="order",
                           code="order_not_of_applicant")
    if order.status == OrderStatus.CLOSED:
        raise Conflict(f"La commande n° {order.id} est clôturée.", field="order", code="order_closed")
    current = session.get(CofundingApplication, order.application_id) if order.application_id else None
    if current is not None and current.id != application.id and current.status != ApplicationStatus.REFUSED:
        raise Conflict(f"La commande n° {order.id} est déjà couverte par la candidature n° {current.id}.",
                       field="order", code="order_already_covered")
    order.application_id = application.id
    shares.clear(order)
    session.flush()
    session.expire(order, ["application"])
    record_audit(session, actor, "cofunding_application.order_covered", "cofunding_application", application.id,
                 order_id=order.id)
    return order


def covered_orders(session: Session, application: CofundingApplication) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.application_id == application.id).order_by(Order.id)))


def eligibility_errors(session: Session, application: CofundingApplication) -> list[InvalidInput | Conflict]:
    """Every rule the application breaks, in the order they are explained (empty when it may be submitted)."""
    call = application.call
    errors: list[InvalidInput | Conflict] = []
    if not accepts_applications(call):
        errors.append(Conflict(
            f"L'appel à projets « {call.name} » n'accepte pas de candidature aujourd'hui (ouvert du "
            f"{call.opens_on:%d/%m/%Y} au {call.closes_on:%d/%m/%Y}, s'il n'a pas été clos).",
            field="call", code="call_not_open"))
    for member in application.members:
        if member.kind != AuthorityKind.OTHER and member.organisation.legal_form not in AUTHORITY_LEGAL_FORMS:
            errors.append(InvalidInput(
                f"« {member.organisation.name} » se déclare {AUTHORITY_KIND_LABELS[member.kind]} mais sa forme juridique "
                "n'est ni celle d'une collectivité ni celle d'un établissement public : l'appel est réservé aux "
                "collectivités territoriales et à leurs groupements.", field="members", code="applicant_not_eligible"))
        elif member.kind == AuthorityKind.OTHER or member.kind.value not in call.eligible_kinds:
            errors.append(InvalidInput(
                f"« {member.organisation.name} » ({AUTHORITY_KIND_LABELS[member.kind]}) ne peut pas candidater : "
                "l'appel est réservé aux collectivités territoriales et à leurs groupements de types "
                + ", ".join(AUTHORITY_KIND_LABELS[AuthorityKind(k)] for k in call.eligible_kinds) + ".",
                field="members", code="applicant_not_eligible"))
    has_commune = any(member.kind == AuthorityKind.COMMUNE for member in application.members)
    if has_commune and len(application.members) < GROUP_MINIMUM_MEMBERS:
        errors.append(InvalidInput(f"Une commune ne peut pas candidater seule ({COMMUNE_RULE}).", field="members",
                                   code="commune_alone"))
    errors += _file_errors(application)
    orders = covered_orders(session, application)
    face_value = sum(order.face_value_cents for order in orders)
    if not orders:
        errors.append(InvalidInput("Indiquez au moins une commande couverte par la candidature.", field="orders",
                                   code="no_order_covered"))
    elif has_commune and face_value < GROUP_MINIMUM_CENTS:
        errors.append(InvalidInput(
            f"Un groupement de communes doit commander au moins {french.euros(GROUP_MINIMUM_CENTS)} de chèques ; "
            f"les commandes couvertes en valent {french.euros(face_value)} ({COMMUNE_RULE}).",
            field="orders", code="group_order_below_minimum",
            details={"minimum_cents": GROUP_MINIMUM_CENTS, "face_value_cents": face_value}))
    return errors


def _file_errors(application: CofundingApplication) -> list[InvalidInput]:
    filled = {
        FileSection.PUBLICS: application.priority_publics + application.precarity_publics > 0
        and bool(application.how_to_reach),
        FileSection.AREA: bool(application.area),
        FileSection.STRUCTURING: bool(application.structuring),
        FileSection.EUROPEAN_FUNDS: bool(application.european_funds),  # « aucun » is an answer
        FileSection.PARTNERS: bool(application.partners),
        FileSection.BUDGET: application.budget_cents > 0,
    }
    errors = [InvalidInput(f"La rubrique « {FILE_SECTION_LABELS[section]} » du dossier est obligatoire pour cet "
                           "appel à projets.", field=section.value, code="section_missing")
              for section in FileSection if section.value in application.call.required_sections and not filled[section]]
    priority, precarity = application.priority_publics, application.precarity_publics
    if priority + precarity > 0 and abs(priority - precarity) > 1:
        errors.append(InvalidInput(
            "Les publics visés se partagent par moitié entre les publics prioritaires du plan d'investissement dans "
            "les compétences et les personnes en grande précarité numérique (seniors, gens du voyage…) : "
            f"{french.number(priority)} et {french.number(precarity)} déclarés.",
            field="priority_publics", code="publics_split_unbalanced",
            details={"priority_publics": priority, "precarity_publics": precarity}))
    return errors


def submit(session: Session, actor: Actor, application: CofundingApplication) -> CofundingApplication:
    APPLICATION_MACHINE.check(application, ApplicationStatus.SUBMITTED)
    errors = eligibility_errors(session, application)
    if errors:
        first = errors[0]
        first.details = {**(first.details or {}), "all": [{"code": e.code, "message": e.message} for e in errors]}
        raise first
    APPLICATION_MACHINE.move(session, actor, application, ApplicationStatus.SUBMITTED)
    return application


def _locked_call(session: Session, call_id: int) -> CofundingCall:
    """The call row under a lock held until the transaction ends, read afresh (see the module docstring)."""
    return session.scalars(select(CofundingCall).where(CofundingCall.id == call_id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def accept(session: Session, actor: Actor, application: CofundingApplication, reason: str | None = None) -> int:
    """Accept a submitted application: record the shares of its orders and commit them on the envelope.
    Returns the grant in cents."""
    call = _locked_call(session, application.call_id)
    session.refresh(application)  # another acceptance may have decided it while we waited for the lock
    APPLICATION_MACHINE.check(application, ApplicationStatus.ACCEPTED)
    orders = covered_orders(session, application)
    grant = sum(shares.funder_share(order.face_value_cents, call.share_bp) for order in orders)
    if grant > call.remaining_cents:
        raise Conflict(
            f"L'enveloppe de l'appel « {call.name} » ne suffit pas : la candidature demande {french.euros(grant)}, "
            f"il reste {french.euros(call.remaining_cents)} sur {french.euros(call.envelope_cents)}.",
            field="envelope", code="envelope_exceeded",
            details={"grant_cents": grant, "remaining_cents": call.remaining_cents})
    for order in orders:
        shares.apply(order, call.share_bp)
    # An increment in SQL, not a value computed here: were the lock ever missed, the CHECK would still see the sum.
    session.execute(update(CofundingCall).where(CofundingCall.id == call.id)
                    .values(committed_cents=CofundingCall.committed_cents + grant))
    session.refresh(call, ["committed_cents"])
    application.granted_cents = grant
    application.decision_reason = (reason or "").strip() or None
    APPLICATION_MACHINE.move(session, actor, application, ApplicationStatus.ACCEPTED, reason,
                             granted_cents=grant, committed_cents=call.committed_cents,
                             orders=[order.id for order in orders])
    return grant


def refuse(session: Session, actor: Actor, application: CofundingApplication, reason: str) -> CofundingApplication:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Indiquez le motif du refus : il est communiqué au candidat.", field="reason",
                           code="required")
    APPLICATION_MACHINE.check(application, ApplicationStatus.REFUSED)
    application.decision_reason = reason[:MAX_TEXT]
    APPLICATION_MACHINE.move(session, actor, application, ApplicationStatus.REFUSED, reason)
    return application


def get_application(session: Session, application_id: int) -> CofundingApplication:
    application = session.get(CofundingApplication, application_id) \
        if isinstance(application_id, int) and 0 < application_id <= MAX_ID else None
    if application is None:
        raise NotFound(f"La candidature n° {application_id} n'existe pas.", field="application",
                       code="unknown_application")
    return application


def member_ids(application: CofundingApplication) -> set[int]:
    return {member.organisation_id for member in application.members}


def application_payload(session: Session, application: CofundingApplication) -> dict[str, Any]:
    orders = covered_orders(session, application)
    return {
        "id": application.id, "call_id": application.call_id, "status": application.status.value,
        "lead_id": application.lead_id,
        "members": [{"organisation_id": m.organisation_id, "name": m.organisation.name, "kind": m.kind.value}
                    for m in application.members],
        "priority_publics": application.priority_publics, "precarity_publics": application.precarity_publics,
        "how_to_reach": application.how_to_reach, "area": application.area, "structuring": application.structuring,
        "european_funds": application.european_funds, "partners": application.partners,
        "budget_cents": application.budget_cents, "budget_notes": application.budget_notes,
        "granted_cents": application.granted_cents, "decision_reason": application.decision_reason,
        "orders": [{"id": order.id, "sponsor_id": order.sponsor_id, **shares.of_order(order).payload()}
                   for order in orders],
    }
