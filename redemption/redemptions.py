"""Redemptions: a venue scans one or two cheques of a booklet for a service, all or nothing; cancelling one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from directory import api as directory_api
from directory.api import Actor, record_audit, record_audits
from directory.db import PARIS_TZ, utcnow
from directory.errors import Conflict, DomainError, InvalidInput, InvalidTransition, NotFound
from directory.models import Service, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from directory.process_cache import attach_instance
from redemption import codes as cheque_codes
from redemption.errors import (
    AlreadyRedeemed,
    ChequeCancelled,
    ChequeExpired,
    InvalidCode,
    MixedBooklets,
    NotDistributed,
    OutsideTerritory,
    ServiceLimitReached,
    ServiceNotAllowed,
    TooManyCheques,
    UnknownCode,
    VenueCannotRedeem,
    VenueNotQualified,
)
from redemption.models import (
    CHEQUE_MACHINE,
    MAX_CHEQUES_PER_SERVICE,
    MAX_ID,
    REDEMPTION_MACHINE,
    Booklet,
    Cheque,
    ChequeStatus,
    OrderStatus,
    Redemption,
    RedemptionCheque,
    RedemptionStatus,
)
from redemption.months import paris_date

MAX_CHEQUES_PER_DELIVERY = 2
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
RETRY_WINDOW = timedelta(minutes=10)
CANCELLATION_WINDOW = timedelta(hours=24)
TERRITORY_ATTRIBUTE = {
    TerritoryLevel.REGION: "region_code",
    TerritoryLevel.DEPARTEMENT: "departement_code",
    TerritoryLevel.EPCI: "epci_code",
    TerritoryLevel.COMMUNE: "code",
}


# The scan is the hot path: its statements are built once (their construction and cache key would cost
# more than their execution), with bound parameters.
# Table columns, not the mapped attributes: plain rows, without the ORM's compile and loading steps.
_TERRITORY, _VENUE_SERVICE, _LINE = Territory.__table__.c, VenueService.__table__.c, RedemptionCheque.__table__.c
_COMMUNE_CODES = select(*(_TERRITORY[name] for name in TERRITORY_ATTRIBUTE.values())).where(
    _TERRITORY.level == TerritoryLevel.COMMUNE, _TERRITORY.code == bindparam("code_insee"))
# With the commune's codes: whether the venue offers the service, and which of the booklet's two slots on
# this service are taken (read under the booklet's lock).
_SCAN_CHECKS = _COMMUNE_CODES.add_columns(
    exists().where(_VENUE_SERVICE.venue_id == bindparam("venue_id"), _VENUE_SERVICE.service_id == bindparam("service_id")),
    *(exists().where(_LINE.booklet_id == bindparam("booklet_id"), _LINE.service_id == bindparam("service_id"),
                     _LINE.service_slot == slot, _LINE.active)
      for slot in range(1, MAX_CHEQUES_PER_SERVICE + 1)),
)
# The cheques with their booklet and order, read in one statement that serialises deliveries of a booklet:
# PostgreSQL locks the booklet rows in id order (FOR UPDATE applies after ORDER BY), and the rows are read
# under the lock; SQLite's BEGIN IMMEDIATE already serialises writers.
_LOCKED_CHEQUES = (
    select(Cheque).join(Cheque.booklet).join(Booklet.order)
    .options(contains_eager(Cheque.booklet).contains_eager(Booklet.order))
    .where(Cheque.code.in_(bindparam("codes", expanding=True))).order_by(Booklet.id, Cheque.id)
    .with_for_update(of=Booklet).execution_options(populate_existing=True)
)
_CHEQUE = Cheque.__table__.c
_CLAIM = (
    update(Cheque.__table__)
    .where(_CHEQUE.id.in_(bindparam("claimed_ids", expanding=True)),
           _CHEQUE.status.in_(CHEQUE_MACHINE.states_moving_to(ChequeStatus.REDEEMED)))
    .values(status=ChequeStatus.REDEEMED)
)
_INSERT_REDEMPTION = insert(Redemption.__table__).returning(Redemption.__table__.c.id)
_INSERT_LINES = insert(RedemptionCheque.__table__)


def _commune_codes(session: Session, venue: Venue, statement: Select = _COMMUNE_CODES,
                   **parameters: Any) -> tuple[dict[str, str], tuple] | None:
    """The territory codes of the venue's commune (only the codes: its polygon would cost more than the
    whole check), with the further columns of `statement` (`_SCAN_CHECKS`) read in the same statement."""
    if not venue.code_insee:
        return None
    row = session.execute(statement, {"code_insee": venue.code_insee, **parameters}).first()
    if row is None:
        return None
    names = list(TERRITORY_ATTRIBUTE.values())
    return dict(zip(names, row[:len(names)], strict=True)), tuple(row[len(names):])


def _in_territories(codes: dict[str, str], territories: list[dict[str, str]]) -> bool:
    return any(codes[TERRITORY_ATTRIBUTE[TerritoryLevel(entry["level"])]] == entry["code"] for entry in territories)


def venue_in_territories(session: Session, venue: Venue, territories: list[dict[str, str]]) -> bool:
    commune = _commune_codes(session, venue)
    return commune is not None and _in_territories(commune[0], territories)


def _parse_codes(raw_codes: Any) -> list[str]:
    if isinstance(raw_codes, str):
        raw_codes = [raw_codes]
    if not isinstance(raw_codes, list) or not raw_codes:
        raise InvalidCode("Indiquez le code d'au moins un chèque.", field="codes")
    if len(raw_codes) > MAX_CHEQUES_PER_DELIVERY:
        raise TooManyCheques(
            f"Une prestation se règle avec {MAX_CHEQUES_PER_DELIVERY} chèques au plus.", field="codes",
        )
    compact = []
    for index, raw in enumerate(raw_codes):
        code = cheque_codes.normalize(raw) if isinstance(raw, str) else None
        if code is None:
            raise InvalidCode(
                f"Le code « {raw} » n'est pas un code de chèque valide : vérifiez la saisie "
                f"({cheque_codes.LENGTH} caractères, le dernier est une clé de contrôle).",
                field=f"codes[{index}]",
            )
        if code in compact:
            raise InvalidCode("Le même chèque est scanné deux fois.", field=f"codes[{index}]")
        compact.append(code)
    return compact


def _parse_idempotency_key(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not IDEMPOTENCY_KEY.fullmatch(raw):
        raise InvalidInput("La clé d'idempotence est une suite de 8 à 64 lettres, chiffres, tirets ou soulignés.",
                           field="idempotency_key", code="invalid_idempotency_key")
    return raw


def _delivery_sent_before(session: Session, venue: Venue, key: str, codes: list[str]) -> Redemption | None:
    """The redemption a delivery with this key already got at this venue, whenever it was sent."""
    original = session.scalar(select(Redemption).where(Redemption.venue_id == venue.id,
                                                       Redemption.idempotency_key == key))
    if original is not None and {line.cheque.code for line in original.lines} != set(codes):
        raise Conflict("Cette clé d'idempotence a déjà servi pour une autre prestation de ce lieu.",
                       field="idempotency_key", code="idempotency_key_reused")
    return original


def _service(session: Session, slug: Any) -> Service:
    if not isinstance(slug, str) or not slug.strip():
        raise InvalidInput("Indiquez le service rendu (identifiant du référentiel).", field="service", code="required")
    return directory_api.services_by_slugs(session, [slug], field="service")[0]


def _locked_cheques(session: Session, codes: list[str]) -> list[Cheque]:
    return list(session.scalars(_LOCKED_CHEQUES, {"codes": codes}).unique())


def redeem(
    session: Session, actor: Actor, venue: Venue, raw_codes: Any, service_slug: Any, now: datetime | None = None,
    idempotency_key: Any = None,
) -> tuple[Redemption, bool]:
    """Redeem one delivery (one or two cheques of one booklet) at a venue, all or nothing.

    Returns the redemption and whether it was created now; the same venue retrying the same
    delivery within ten minutes gets the original back, and at any time when it names the delivery
    with the same idempotency key (a scan queued offline, sent when the network is back).
    """
    now = now or utcnow()
    codes = _parse_codes(raw_codes)
    key = _parse_idempotency_key(idempotency_key)
    if key is not None and (original := _delivery_sent_before(session, venue, key, codes)) is not None:
        return original, False
    service = _service(session, service_slug)
    if venue.status != VenueStatus.QUALIFIED:
        raise VenueNotQualified(f"Le lieu « {venue.nom} » n'est pas qualifié APTIC aujourd'hui : il ne peut pas "
                                "encaisser de chèques.", field="venue")
    if venue.distribution_only or (venue.organisation is not None and venue.organisation.distribution_only):
        raise VenueCannotRedeem(f"Le lieu « {venue.nom} » distribue les pass mais ne peut pas encaisser de chèques "
                                "(Maisons France Services, par exemple).", field="venue")
    cheques = _locked_cheques(session, codes)
    found = {c.code for c in cheques}
    for index, code in enumerate(codes):
        if code not in found:
            raise UnknownCode(f"Le chèque {cheque_codes.grouped(code)} n'existe pas.", field=f"codes[{index}]")
    if len({c.booklet_id for c in cheques}) > 1:
        raise MixedBooklets("Les chèques d'une même prestation doivent venir du même carnet.", field="codes")
    booklet = cheques[0].booklet
    order = booklet.order
    for cheque in cheques:
        if cheque.status == ChequeStatus.CANCELLED:
            raise ChequeCancelled(f"Le chèque {cheque_codes.grouped(cheque.code)} a été annulé.", field="codes")
    if order.status == OrderStatus.CLOSED or paris_date(now) > order.expires_on:
        raise ChequeExpired(f"Ce chèque n'est plus valable depuis le {order.expires_on + timedelta(days=1):%d/%m/%Y}.",
                            field="codes")
    redeemed = [c for c in cheques if c.status == ChequeStatus.REDEEMED]
    if redeemed:
        return _retry_or_refuse(session, venue, cheques, redeemed[0], now), False
    if order.requires_distribution and booklet.distributed_at is None:
        raise NotDistributed(f"Le carnet n° {booklet.number} n'a pas été remis à un bénéficiaire par un aiguilleur : "
                             "ses chèques ne peuvent pas encore être utilisés.", field="codes")
    # One statement for the checks that read the database (`_SCAN_CHECKS`).
    commune = _commune_codes(session, venue, _SCAN_CHECKS, venue_id=venue.id, service_id=service.id,
                             booklet_id=booklet.id)
    if commune is None or not _in_territories(commune[0], order.territories):
        raise OutsideTerritory("Ce chèque n'est pas utilisable dans la commune de ce lieu.", field="codes")
    offers_service, *taken = commune[1]
    if not offers_service:
        raise ServiceNotAllowed(f"Le lieu ne propose pas le service « {service.label} ».", field="service")
    if order.allowed_levels and service.level_number not in order.allowed_levels:
        raise ServiceNotAllowed(
            f"Ce chèque ne finance pas les services de niveau {service.level_number}.", field="service",
        )

    used_slots = {slot for slot, is_taken in enumerate(taken, start=1) if is_taken}
    slots = _free_service_slots(session, booklet, service, len(cheques), used_slots)
    ids = [c.id for c in cheques]
    claimed = session.execute(_CLAIM, {"claimed_ids": ids}).rowcount
    if claimed != len(ids):
        raise AlreadyRedeemed("Ce chèque vient d'être encaissé.", field="codes")
    for cheque in cheques:
        set_committed_value(cheque, "status", ChequeStatus.REDEEMED)
    # Core inserts, not the unit of work: what they write is known here.
    values = {"venue_id": venue.id, "service_id": service.id, "booklet_id": booklet.id, "order_id": order.id,
              "cheque_count": len(ids), "amount_cents": sum(c.value_cents for c in cheques),
              "status": RedemptionStatus.REDEEMED, "actor": actor.label, "created_at": now, "cancelled_at": None,
              "statement_id": None, "idempotency_key": key}
    try:
        redemption_id = session.execute(_INSERT_REDEMPTION, values).scalar_one()
        lines = [{"redemption_id": redemption_id, "cheque_id": cheque.id, "active": True, "booklet_id": booklet.id,
                  "service_id": service.id, "service_slot": slot} for cheque, slot in zip(cheques, slots, strict=True)]
        session.execute(_INSERT_LINES, lines)
    except IntegrityError:
        # The partial unique indexes on active redemption lines: another delivery got there first.
        raise AlreadyRedeemed("Ce chèque vient d'être encaissé.", field="codes") from None
    redemption = attach_instance(
        session, Redemption(id=redemption_id, **values), venue=venue, service=service, booklet=booklet,
        lines=[attach_instance(session, RedemptionCheque(**line), cheque=cheque)
               for line, cheque in zip(lines, cheques, strict=True)],
    )
    record_audits(session, actor, "redemption.created", "redemption", [(redemption.id, {
        "venue_id": venue.id, "service": service.slug, "booklet": booklet.number, "cheques": codes,
        "amount_cents": redemption.amount_cents})], at=now)
    return redemption, True


def _free_service_slots(session: Session, booklet: Booklet, service: Service, count: int,
                        used_slots: set[int]) -> list[int]:
    """The slots these cheques take among the booklet's two on this service ("deux chèques au plus");
    a cancelled delivery has freed its own. Only a refusal reads when the used ones were taken."""
    free = sorted(set(range(1, MAX_CHEQUES_PER_SERVICE + 1)) - used_slots)
    if len(free) < count:
        used = session.execute(
            select(RedemptionCheque.service_slot, Redemption.created_at)
            .join(Redemption, Redemption.id == RedemptionCheque.redemption_id)
            .where(RedemptionCheque.booklet_id == booklet.id, RedemptionCheque.service_id == service.id,
                   RedemptionCheque.active)
            .order_by(Redemption.created_at)
        ).all()
        dates = " et le ".join(f"{at.astimezone(PARIS_TZ):%d/%m/%Y}" for _, at in used)
        already = (f"deux chèques de ce carnet ont déjà été utilisés le {dates}" if len(used) > 1
                   else f"un chèque de ce carnet a déjà été utilisé le {dates}")
        raise ServiceLimitReached(
            f"Un carnet finance deux chèques au plus pour un même service : {already} pour « {service.label} ». "
            "Le lieu peut prolonger la prestation gratuitement.",
            field="codes", details={"used_on": [at.isoformat() for _, at in used]},
        )
    return free[:count]


def _retry_or_refuse(session: Session, venue: Venue, cheques: list[Cheque], redeemed: Cheque, now: datetime) -> Redemption:
    original = session.scalar(
        select(Redemption).join(RedemptionCheque, RedemptionCheque.redemption_id == Redemption.id)
        .where(RedemptionCheque.cheque_id == redeemed.id, RedemptionCheque.active)
    )
    same_venue = original is not None and original.venue_id == venue.id
    if (same_venue and {line.cheque_id for line in original.lines} == {c.id for c in cheques}
            and now - original.created_at <= RETRY_WINDOW):
        return original
    message = f"Le chèque {cheque_codes.grouped(redeemed.code)} a déjà été encaissé"
    details = {}
    if same_venue:
        message += f" dans votre lieu le {original.created_at.astimezone(PARIS_TZ):%d/%m/%Y à %H:%M}"
        details = {"redemption_id": original.id, "redeemed_at": original.created_at.isoformat(),
                   "venue_id": venue.id, "venue": venue.nom}
    raise AlreadyRedeemed(message + ".", field="codes", details=details)


def get_redemption(session: Session, venue: Venue, redemption_id: int) -> Redemption:
    redemption = session.get(Redemption, redemption_id) if 0 < redemption_id <= MAX_ID else None
    if redemption is None or redemption.venue_id != venue.id:
        raise NotFound("Cet encaissement n'existe pas pour ce lieu.", field="redemption", code="unknown_redemption")
    return redemption


def cancel_redemption(
    session: Session, actor: Actor, venue: Venue, redemption_id: int, now: datetime | None = None
) -> Redemption:
    """The venue takes back its own redemption within 24 hours, while no statement covers it."""
    now = now or utcnow()
    redemption = get_redemption(session, venue, redemption_id)
    session.execute(select(Redemption.id).where(Redemption.id == redemption_id).with_for_update())
    session.refresh(redemption)
    if not REDEMPTION_MACHINE.allows(redemption.status, RedemptionStatus.CANCELLED):
        raise _cancellation_refused(redemption)
    if now - redemption.created_at > CANCELLATION_WINDOW:
        raise Conflict("Un encaissement ne peut être annulé que dans les 24 heures.", field="redemption",
                       code="cancellation_window_closed")
    redemption.status = RedemptionStatus.CANCELLED
    redemption.cancelled_at = now
    cheque_ids = [line.cheque_id for line in redemption.lines]
    for line in redemption.lines:
        line.active = False
    session.flush()
    session.execute(
        update(Cheque)
        .where(Cheque.id.in_(cheque_ids), Cheque.status.in_(CHEQUE_MACHINE.states_moving_to(ChequeStatus.ISSUED)))
        .values(status=ChequeStatus.ISSUED).execution_options(synchronize_session="fetch")
    )
    record_audit(session, actor, "redemption.cancelled", "redemption", redemption.id, venue_id=venue.id)
    return redemption


def _cancellation_refused(redemption: Redemption) -> DomainError:
    """A cancellation the table refuses (reimbursed or already cancelled), with the API's stable code."""
    if redemption.status == RedemptionStatus.REIMBURSED:
        return Conflict("Cet encaissement figure déjà sur un relevé : il ne peut plus être annulé.", field="redemption",
                        code="already_reimbursed")
    return InvalidTransition("Cet encaissement est déjà annulé.", field="redemption", code="already_cancelled")


def redemption_payload(redemption: Redemption) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "status": redemption.status.value,
        "venue_id": redemption.venue_id,
        "service": redemption.service.slug,
        "booklet": redemption.booklet.number,
        "vintage": redemption.booklet.order.vintage,
        "cheques": [cheque_codes.grouped(line.cheque.code) for line in redemption.lines],
        "amount_cents": redemption.amount_cents,
        "created_at": redemption.created_at.isoformat(),
        "cancellable_until": (redemption.created_at + CANCELLATION_WINDOW).isoformat(),
    }


def recent_redemptions(session: Session, venue: Venue, now: datetime | None = None, limit: int = 20) -> list[Redemption]:
    """The venue's redemptions since midnight, Paris time, newest first."""
    now = now or utcnow()
    midnight = datetime.combine(paris_date(now), time(), PARIS_TZ).astimezone(UTC)
    return list(session.scalars(
        select(Redemption).where(Redemption.venue_id == venue.id, Redemption.created_at >= midnight)
        .options(joinedload(Redemption.service)).order_by(Redemption.id.desc()).limit(limit)
    ))
