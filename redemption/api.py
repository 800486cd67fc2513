"""Business functions of the pass: orders, issue, distribution, redemption, statements, reports.

They take a session, flush, raise domain errors, and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from directory import api as directory_api
from directory.api import Actor, record_audit
from directory.db import PARIS_TZ, ScheduledJob, dialect_name, unit_of_work, utcnow
from directory.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from directory.models import (
    ApiKey,
    AuditEvent,
    Organisation,
    Service,
    Territory,
    TerritoryLevel,
    Venue,
    VenueService,
    VenueStatus,
)
from redemption import codes as cheque_codes
from redemption.errors import (
    AlreadyRedeemed,
    ChequeCancelled,
    ChequeExpired,
    InvalidCode,
    MixedBooklets,
    NotDistributed,
    OutsideTerritory,
    ServiceNotAllowed,
    TooManyCheques,
    UnknownCode,
    VenueNotQualified,
)
from redemption.models import (
    Booklet,
    Cheque,
    ChequeStatus,
    FeeRule,
    FeeRuleKind,
    Order,
    OrderStatus,
    Redemption,
    RedemptionCheque,
    RedemptionStatus,
    Statement,
)

MAX_CHEQUES_PER_DELIVERY = 2
RETRY_WINDOW = timedelta(minutes=10)
CANCELLATION_WINDOW = timedelta(hours=24)
MAX_BOOKLETS_PER_ORDER = 100_000
MAX_ID = 2**31 - 1  # an INTEGER key; a larger number from a URL names nothing
BENEFICIARY_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,63}$")
ORDER_TRANSITIONS = {
    OrderStatus.DRAFT: OrderStatus.CONFIRMED,
    OrderStatus.CONFIRMED: OrderStatus.PAID,
    OrderStatus.PAID: OrderStatus.ISSUED,
    OrderStatus.ISSUED: OrderStatus.CLOSED,
}
TERRITORY_ATTRIBUTE = {
    TerritoryLevel.REGION: "region_code",
    TerritoryLevel.DEPARTEMENT: "departement_code",
    TerritoryLevel.EPCI: "epci_code",
    TerritoryLevel.COMMUNE: "code",
}


# ----------------------------------------------------------------------------------- time


def paris_date(moment: datetime) -> date:
    return moment.astimezone(PARIS_TZ).date()


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Europe/Paris calendar month starts and ends."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(first, time(), PARIS_TZ).astimezone(UTC),
        datetime.combine(following, time(), PARIS_TZ).astimezone(UTC),
    )


def parse_month(value: str, field: str = "month") -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", (value or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"Le mois « {value} » n'est pas valide : format attendu AAAA-MM.", field=field, code="invalid_month")
    return date(int(match.group(1)), int(match.group(2)), 1)


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


# ------------------------------------------------------------------------------ fee rules


def rule_in_force(session: Session, kind: FeeRuleKind, on: date) -> FeeRule:
    rule = session.scalar(
        select(FeeRule)
        .where(FeeRule.kind == kind, FeeRule.valid_from <= on, (FeeRule.valid_until.is_(None)) | (FeeRule.valid_until > on))
        .order_by(FeeRule.valid_from.desc())
        .limit(1)
    )
    if rule is None:
        raise NotFound(f"Aucune règle tarifaire « {kind.value} » n'est en vigueur le {on:%d/%m/%Y}.", field="kind",
                       code="no_fee_rule")
    return rule


def change_fee_rule(session: Session, actor: Actor, kind: FeeRuleKind | str, value: int, valid_from: date) -> FeeRule:
    """A new rate from a date on; the rule it replaces keeps applying before that date."""
    try:
        kind = FeeRuleKind(kind)
    except ValueError:
        raise InvalidInput(f"La règle « {kind} » n'existe pas.", field="kind", code="invalid_fee_rule") from None
    if not isinstance(value, int) or value < 0:
        raise InvalidInput("La valeur d'une règle est un entier positif.", field="value", code="invalid_fee_rule")
    if valid_from.day != 1:
        raise InvalidInput("Une règle tarifaire prend effet le premier jour d'un mois.", field="valid_from",
                           code="invalid_fee_rule")
    latest = session.scalar(select(FeeRule).where(FeeRule.kind == kind).order_by(FeeRule.valid_from.desc()).limit(1))
    if latest is not None and valid_from <= latest.valid_from:
        raise Conflict("Une règle plus récente existe déjà : une règle ne réécrit jamais le passé.", field="valid_from",
                       code="fee_rule_in_the_past")
    if session.scalar(select(Statement.id).where(Statement.month >= valid_from).limit(1)):
        raise Conflict("Des relevés sont déjà clos pour cette période : choisissez une date ultérieure.",
                       field="valid_from", code="fee_rule_in_the_past")
    if latest is not None and latest.valid_until is None:
        latest.valid_until = valid_from
    rule = FeeRule(kind=kind, value=value, valid_from=valid_from)
    session.add(rule)
    session.flush()
    record_audit(session, actor, "fee_rule.created", "fee_rule", rule.id, kind=kind, value=value, valid_from=valid_from)
    return rule


# --------------------------------------------------------------------------------- orders


def create_sponsor(session: Session, actor: Actor, **fields: Any) -> Organisation:
    return directory_api.create_organisation(session, actor, is_sponsor=True, **fields)


def _clean_territories(session: Session, territories: list[Any]) -> list[dict[str, str]]:
    cleaned = []
    for item in territories or []:
        if isinstance(item, str):
            level, _, code = item.partition(":")
        elif isinstance(item, dict):
            level, code = item.get("level", ""), item.get("code", "")
        else:
            level, code = "", ""
        if not code:
            raise InvalidInput(
                f"Le territoire « {item} » n'est pas valide : format attendu niveau:code (ex. departement:33).",
                field="territories", code="invalid_territory",
            )
        territory = directory_api.territory_by_code(session, level.strip(), code.strip())
        entry = {"level": territory.level.value, "code": territory.code}
        if entry not in cleaned:
            cleaned.append(entry)
    if not cleaned:
        raise InvalidInput("Indiquez au moins un territoire où les chèques sont utilisables.", field="territories",
                           code="required")
    return cleaned


def _positive_int(value: Any, field: str, label: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"{label} doit être un entier entre 1 et {maximum:,}.".replace(",", "\u202f"), field=field,
                           code="invalid_number")
    return value


def create_order(
    session: Session,
    actor: Actor,
    sponsor: Organisation,
    *,
    booklets: int,
    expires_on: date,
    territories: list[Any],
    cheques_per_booklet: int = 10,
    cheque_value_cents: int = 1000,
    allowed_levels: list[int] | tuple[int, ...] = (),
    cofunder: str | None = None,
    cofunding_percent: int = 0,
    requires_distribution: bool = True,
    today: date | None = None,
) -> Order:
    today = today or paris_date(utcnow())
    if not sponsor.is_sponsor:
        raise InvalidInput(f"L'organisation « {sponsor.name} » n'est pas commanditaire.", field="sponsor",
                           code="not_a_sponsor")
    _positive_int(booklets, "booklets", "Le nombre de carnets", MAX_BOOKLETS_PER_ORDER)
    _positive_int(cheques_per_booklet, "cheques_per_booklet", "Le nombre de chèques par carnet", 50)
    _positive_int(cheque_value_cents, "cheque_value_cents", "La valeur d'un chèque (en centimes)", 100_000)
    if not isinstance(expires_on, date) or expires_on <= today:
        raise InvalidInput("La date de fin de validité doit être postérieure à aujourd'hui.", field="expires_on",
                           code="invalid_expiry")
    levels = sorted(set(allowed_levels or ()))
    if any(level not in (1, 2, 3) for level in levels):
        raise InvalidInput("Les niveaux autorisés sont 1, 2 et 3.", field="allowed_levels", code="invalid_level")
    if isinstance(cofunding_percent, bool) or not isinstance(cofunding_percent, int) or not 0 <= cofunding_percent <= 100:
        raise InvalidInput("La part cofinancée est un pourcentage entier entre 0 et 100.", field="cofunding_percent",
                           code="invalid_cofunding")
    cofunder = (cofunder or "").strip() or None
    if cofunding_percent and not cofunder:
        raise InvalidInput("Indiquez le cofinanceur (ex. État).", field="cofunder", code="required")
    face_value = booklets * cheques_per_booklet * cheque_value_cents
    fee_rule = rule_in_force(session, FeeRuleKind.ORDER_FEE_BP, today)
    order = Order(
        sponsor=sponsor,
        booklet_count=booklets,
        cheques_per_booklet=cheques_per_booklet,
        cheque_value_cents=cheque_value_cents,
        face_value_cents=face_value,
        fee_rate_bp=fee_rule.value,
        fee_cents=round_half_up(face_value * fee_rule.value, 10_000),
        expires_on=expires_on,
        territories=_clean_territories(session, territories),
        allowed_levels=levels,
        cofunder=cofunder,
        cofunding_percent=cofunding_percent,
        requires_distribution=requires_distribution,
    )
    session.add(order)
    session.flush()
    record_audit(session, actor, "order.created", "order", order.id, **order_summary(order))
    return order


def get_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id) if 0 < order_id <= MAX_ID else None
    if order is None:
        raise NotFound(f"La commande n° {order_id} n'existe pas.", field="order", code="unknown_order")
    return order


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "sponsor_id": order.sponsor_id,
        "status": order.status.value,
        "booklets": order.booklet_count,
        "cheques_per_booklet": order.cheques_per_booklet,
        "cheque_value_cents": order.cheque_value_cents,
        "face_value_cents": order.face_value_cents,
        "fee_rate_bp": order.fee_rate_bp,
        "fee_cents": order.fee_cents,
        "expires_on": order.expires_on.isoformat(),
        "territories": order.territories,
        "allowed_levels": order.allowed_levels,
        "cofunder": order.cofunder,
        "cofunding_percent": order.cofunding_percent,
        "requires_distribution": order.requires_distribution,
    }


def _advance(session: Session, actor: Actor, order: Order, target: OrderStatus) -> None:
    if ORDER_TRANSITIONS.get(order.status) != target:
        raise InvalidTransition(
            f"La commande n° {order.id} est au statut « {order.status.value} » : elle ne peut pas passer au statut "
            f"« {target.value} ».",
            field="status",
        )
    before = order.status
    order.status = target
    order.status_changed_at = utcnow()
    session.flush()
    record_audit(session, actor, "order.status_changed", "order", order.id, before=before, after=target)


def confirm_order(session: Session, actor: Actor, order: Order) -> Order:
    _advance(session, actor, order, OrderStatus.CONFIRMED)
    return order


def pay_order(session: Session, actor: Actor, order: Order) -> Order:
    _advance(session, actor, order, OrderStatus.PAID)
    return order


def close_order(session: Session, actor: Actor, order: Order, today: date | None = None) -> Order:
    today = today or paris_date(utcnow())
    if order.status == OrderStatus.ISSUED and today <= order.expires_on:
        raise InvalidTransition(
            f"Les chèques de la commande n° {order.id} sont valables jusqu'au {order.expires_on:%d/%m/%Y} : "
            "elle ne peut être clôturée qu'après.", field="status",
        )
    _advance(session, actor, order, OrderStatus.CLOSED)
    return order


def issue_order(session: Session, actor: Actor, order: Order) -> Order:
    """Create the booklets and their cheques, each with a fresh unique code, in bulk."""
    _advance(session, actor, order, OrderStatus.ISSUED)
    order.issued_at = utcnow()
    booklet_rows = [
        {"order_id": order.id, "sequence": seq, "number": f"{order.id:05d}-{seq:05d}"}
        for seq in range(1, order.booklet_count + 1)
    ]
    booklet_ids: list[int] = []
    for start in range(0, len(booklet_rows), 1_000):
        booklet_ids += session.scalars(
            insert(Booklet).returning(Booklet.id, sort_by_parameter_order=True), booklet_rows[start : start + 1_000]
        ).all()
    codes = _unique_codes(session, len(booklet_ids) * order.cheques_per_booklet)
    rows = [
        {"code": codes[index * order.cheques_per_booklet + position], "booklet_id": booklet_id, "order_id": order.id,
         "position": position + 1, "value_cents": order.cheque_value_cents, "status": ChequeStatus.ISSUED}
        for index, booklet_id in enumerate(booklet_ids)
        for position in range(order.cheques_per_booklet)
    ]
    for start in range(0, len(rows), 5_000):
        session.execute(insert(Cheque), rows[start : start + 5_000])
    now = utcnow()
    session.execute(insert(AuditEvent), [
        {"at": now, "actor": actor.label, "actor_user_id": actor.user_id, "action": "booklet.issued",
         "target_type": "booklet", "target_id": str(booklet_id),
         "data": {"order_id": order.id, "number": row["number"], "cheques": order.cheques_per_booklet}}
        for booklet_id, row in zip(booklet_ids, booklet_rows, strict=True)
    ])
    session.flush()
    return order


def _unique_codes(session: Session, count: int) -> list[str]:
    """`count` new codes unknown to the database (a collision of 64-bit codes is rare, not impossible)."""
    codes: set[str] = set()
    while len(codes) < count:
        batch = {cheque_codes.new_code() for _ in range(count - len(codes))} - codes
        for start in range(0, len(batch), 5_000):
            chunk = list(batch)[start : start + 5_000]
            batch -= set(session.scalars(select(Cheque.code).where(Cheque.code.in_(chunk))))
        codes |= batch
    return list(codes)


def order_codes(session: Session, order: Order) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Booklet.number, Cheque.position, Cheque.code, Cheque.value_cents, Cheque.status, Booklet.distributed_at)
        .join(Booklet, Booklet.id == Cheque.booklet_id)
        .where(Cheque.order_id == order.id)
        .order_by(Booklet.sequence, Cheque.position)
    ).all()
    return [
        {"booklet": number, "position": position, "code": code, "printed": cheque_codes.grouped(code),
         "value_cents": value, "status": status.value, "distributed": distributed_at is not None}
        for number, position, code, value, status, distributed_at in rows
    ]


def get_booklet(session: Session, number: str) -> Booklet:
    booklet = session.scalar(select(Booklet).where(Booklet.number == (number or "").strip()))
    if booklet is None:
        raise NotFound(f"Le carnet n° « {number} » n'existe pas.", field="booklet", code="unknown_booklet")
    return booklet


def cancel_booklet(session: Session, actor: Actor, booklet: Booklet, reason: str) -> int:
    """Cancel the unused cheques of a lost or stolen booklet; returns how many were cancelled."""
    if not (reason or "").strip():
        raise InvalidInput("Indiquez le motif de l'annulation.", field="reason", code="required")
    cancelled = session.execute(
        update(Cheque).where(Cheque.booklet_id == booklet.id, Cheque.status == ChequeStatus.ISSUED)
        .values(status=ChequeStatus.CANCELLED).execution_options(synchronize_session="fetch")
    ).rowcount
    record_audit(session, actor, "booklet.cancelled", "booklet", booklet.id, number=booklet.number,
                 cheques=cancelled, reason=reason.strip())
    return cancelled


# ---------------------------------------------------------------------------- distribution


def record_distribution(
    session: Session, actor: Actor, distributor: Organisation, booklet: Booklet, beneficiary_ref: str
) -> Booklet:
    """A distributor gave this booklet to a beneficiary it knows by a pseudonymous reference only."""
    if not distributor.is_distributor:
        raise Forbidden(f"L'organisation « {distributor.name} » n'est pas aiguilleur.", field="distributor",
                        code="not_a_distributor")
    reference = (beneficiary_ref or "").strip()
    if not BENEFICIARY_REF.match(reference):
        raise InvalidInput(
            "La référence du bénéficiaire est un pseudonyme de 3 à 64 caractères (lettres, chiffres, . _ / -) : "
            "ni nom, ni courriel, ni téléphone.", field="beneficiary_ref", code="invalid_beneficiary_ref",
        )
    if booklet.order.status != OrderStatus.ISSUED:
        raise InvalidTransition("Seul un carnet d'une commande émise peut être distribué.", field="booklet")
    if booklet.distributed_at is not None:
        raise Conflict(f"Le carnet n° {booklet.number} a déjà été distribué.", field="booklet", code="already_distributed")
    served = session.scalar(
        select(Booklet.number).where(Booklet.order_id == booklet.order_id, Booklet.distributor_id == distributor.id,
                                     Booklet.beneficiary_ref == reference)
    )
    if served:
        raise Conflict(f"Ce bénéficiaire a déjà reçu le carnet n° {served} de cette commande.", field="beneficiary_ref",
                       code="beneficiary_already_served")
    booklet.distributor = distributor
    booklet.beneficiary_ref = reference
    booklet.distributed_at = utcnow()
    session.flush()
    record_audit(session, actor, "booklet.distributed", "booklet", booklet.id, number=booklet.number,
                 distributor_id=distributor.id)
    return booklet


# ------------------------------------------------------------------------------ redemption


def venue_in_territories(session: Session, venue: Venue, territories: list[dict[str, str]]) -> bool:
    if not venue.code_insee:
        return False
    # Only the codes: loading the commune's polygon would cost more than the whole check.
    commune = session.execute(
        select(*(getattr(Territory, name) for name in TERRITORY_ATTRIBUTE.values()))
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == venue.code_insee)
    ).first()
    if commune is None:
        return False
    codes = dict(zip(TERRITORY_ATTRIBUTE.values(), commune, strict=True))
    return any(codes[TERRITORY_ATTRIBUTE[TerritoryLevel(entry["level"])]] == entry["code"] for entry in territories)


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


def _service(session: Session, slug: Any) -> Service:
    if not isinstance(slug, str) or not slug.strip():
        raise InvalidInput("Indiquez le service rendu (identifiant du référentiel).", field="service", code="required")
    return directory_api.services_by_slugs(session, [slug], field="service")[0]


def _lock_booklets(session: Session, codes: list[str]) -> None:
    """Serialise deliveries of a booklet: PostgreSQL row locks taken in id order, then the cheques are
    read again under the lock (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    session.execute(
        select(Booklet.id).where(Booklet.id.in_(select(Cheque.booklet_id).where(Cheque.code.in_(codes))))
        .order_by(Booklet.id).with_for_update()
    )


def redeem(
    session: Session, actor: Actor, venue: Venue, raw_codes: Any, service_slug: Any, now: datetime | None = None
) -> tuple[Redemption, bool]:
    """Redeem one delivery (one or two cheques of one booklet) at a venue, all or nothing.

    Returns the redemption and whether it was created now; the same venue retrying the same
    delivery within ten minutes gets the original back.
    """
    now = now or utcnow()
    codes = _parse_codes(raw_codes)
    service = _service(session, service_slug)
    if venue.status != VenueStatus.QUALIFIED:
        raise VenueNotQualified(f"Le lieu « {venue.nom} » n'est pas qualifié APTIC aujourd'hui : il ne peut pas "
                                "encaisser de chèques.", field="venue")
    _lock_booklets(session, codes)
    cheques = list(session.scalars(
        select(Cheque).where(Cheque.code.in_(codes)).options(joinedload(Cheque.booklet).joinedload(Booklet.order))
        .order_by(Cheque.id).execution_options(populate_existing=True)
    ))
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
    if not venue_in_territories(session, venue, order.territories):
        raise OutsideTerritory("Ce chèque n'est pas utilisable dans la commune de ce lieu.", field="codes")
    if service not in venue.services:
        raise ServiceNotAllowed(f"Le lieu ne propose pas le service « {service.label} ».", field="service")
    if order.allowed_levels and service.level_number not in order.allowed_levels:
        raise ServiceNotAllowed(
            f"Ce chèque ne finance pas les services de niveau {service.level_number}.", field="service",
        )

    ids = [c.id for c in cheques]
    claimed = session.execute(
        update(Cheque).where(Cheque.id.in_(ids), Cheque.status == ChequeStatus.ISSUED)
        .values(status=ChequeStatus.REDEEMED).execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != len(ids):
        raise AlreadyRedeemed("Ce chèque vient d'être encaissé.", field="codes")
    redemption = Redemption(
        venue=venue, service=service, booklet=booklet, order_id=order.id, cheque_count=len(ids),
        amount_cents=sum(c.value_cents for c in cheques), actor=actor.label, created_at=now,
        lines=[RedemptionCheque(cheque=cheque) for cheque in cheques],
    )
    session.add(redemption)
    try:
        session.flush()
    except IntegrityError:
        # The partial unique index on active redemption lines: another delivery got there first.
        raise AlreadyRedeemed("Ce chèque vient d'être encaissé.", field="codes") from None
    record_audit(session, actor, "redemption.created", "redemption", redemption.id, venue_id=venue.id,
                 service=service.slug, booklet=booklet.number, cheques=codes, amount_cents=redemption.amount_cents)
    return redemption, True


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
    if redemption.status == RedemptionStatus.REIMBURSED:
        raise Conflict("Cet encaissement figure déjà sur un relevé : il ne peut plus être annulé.", field="redemption",
                       code="already_reimbursed")
    if redemption.status == RedemptionStatus.CANCELLED:
        raise InvalidTransition("Cet encaissement est déjà annulé.", field="redemption", code="already_cancelled")
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
        update(Cheque).where(Cheque.id.in_(cheque_ids)).values(status=ChequeStatus.ISSUED)
        .execution_options(synchronize_session="fetch")
    )
    record_audit(session, actor, "redemption.cancelled", "redemption", redemption.id, venue_id=venue.id)
    return redemption


def redemption_payload(redemption: Redemption) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "status": redemption.status.value,
        "venue_id": redemption.venue_id,
        "service": redemption.service.slug,
        "booklet": redemption.booklet.number,
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


def venue_for_api_key(session: Session, token: str) -> tuple[ApiKey, Venue] | None:
    key = directory_api.authenticate_api_key(session, token)
    if key is None or key.venue is None:
        return None
    return key, key.venue


# ------------------------------------------------------------------------------- statements


def _serialise_statement_numbering(session: Session) -> None:
    """Statement numbers are gapless: one closer at a time takes the next ones."""
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('aptic.statement_numbering'))"))


def close_month(session: Session, actor: Actor, month: date, now: datetime | None = None) -> dict[str, Any]:
    """Close a month for every venue: statements, reimbursed redemptions. Idempotent."""
    now = now or utcnow()
    month = month.replace(day=1)
    start, end = month_bounds(month)
    if now < end:
        raise InvalidInput(f"Le mois {month:%m/%Y} n'est pas terminé : il ne peut pas encore être clos.",
                           field="month", code="month_not_over")
    _serialise_statement_numbering(session)
    commission_bp = rule_in_force(session, FeeRuleKind.COMMISSION_BP, month).value
    monthly_fee = rule_in_force(session, FeeRuleKind.MONTHLY_FEE_CENTS, month).value
    totals = session.execute(
        select(Redemption.venue_id, func.sum(Redemption.cheque_count), func.sum(Redemption.amount_cents))
        .where(Redemption.status == RedemptionStatus.REDEEMED, Redemption.created_at >= start, Redemption.created_at < end)
        .group_by(Redemption.venue_id).order_by(Redemption.venue_id)
    ).all()
    already = set(session.scalars(select(Statement.venue_id).where(Statement.month == month)))
    sequence = session.scalar(select(func.coalesce(func.max(Statement.sequence), 0)))
    created = []
    for venue_id, cheque_count, gross in totals:
        if venue_id in already:
            continue
        sequence += 1
        commission = round_half_up(gross * commission_bp, 10_000)
        statement = Statement(
            sequence=sequence, number=f"RLV-{sequence:07d}", venue_id=venue_id, month=month,
            cheque_count=cheque_count, gross_cents=gross, commission_rate_bp=commission_bp,
            commission_cents=commission, fee_cents=monthly_fee, net_cents=gross - commission - monthly_fee, closed_at=now,
        )
        session.add(statement)
        session.flush()
        redemption_ids = list(session.scalars(
            update(Redemption)
            .where(Redemption.venue_id == venue_id, Redemption.status == RedemptionStatus.REDEEMED,
                   Redemption.created_at >= start, Redemption.created_at < end)
            .values(status=RedemptionStatus.REIMBURSED, statement_id=statement.id)
            .returning(Redemption.id).execution_options(synchronize_session="fetch")
        ))
        record_audit(session, actor, "statement.closed", "statement", statement.id, number=statement.number,
                     venue_id=venue_id, month=month, net_cents=statement.net_cents)
        session.execute(insert(AuditEvent), [
            {"at": now, "actor": actor.label, "actor_user_id": actor.user_id, "action": "redemption.reimbursed",
             "target_type": "redemption", "target_id": str(rid), "data": {"statement": statement.number}}
            for rid in redemption_ids
        ])
        created.append(statement)
    session.flush()
    return {"month": month.strftime("%Y-%m"), "created": len(created), "already_closed": len(already),
            "statements": statements_for_month(session, month)}


def statements_for_month(session: Session, month: date) -> list[Statement]:
    return list(session.scalars(
        select(Statement).where(Statement.month == month.replace(day=1)).options(joinedload(Statement.venue))
        .order_by(Statement.sequence)
    ))


def statement_payload(statement: Statement) -> dict[str, Any]:
    return {
        "number": statement.number, "venue_id": statement.venue_id, "venue": statement.venue.nom,
        "month": statement.month.strftime("%Y-%m"), "cheques": statement.cheque_count,
        "gross_cents": statement.gross_cents, "commission_rate_bp": statement.commission_rate_bp,
        "commission_cents": statement.commission_cents, "fee_cents": statement.fee_cents,
        "net_cents": statement.net_cents,
    }


STATEMENT_CSV_COLUMNS = [
    ("numero", "number"), ("lieu_id", "venue_id"), ("lieu", "venue"), ("mois", "month"), ("cheques", "cheques"),
    ("brut_centimes", "gross_cents"), ("taux_commission_pdb", "commission_rate_bp"),
    ("commission_centimes", "commission_cents"), ("forfait_centimes", "fee_cents"), ("net_centimes", "net_cents"),
]


def statements_csv(statements: list[Statement]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([name for name, _ in STATEMENT_CSV_COLUMNS])
    for statement in statements:
        payload = statement_payload(statement)
        writer.writerow([payload[key] for _, key in STATEMENT_CSV_COLUMNS])
    return out.getvalue()


def _close_previous_month(factory: sessionmaker[Session]) -> None:
    previous = (paris_date(utcnow()).replace(day=1) - timedelta(days=1)).replace(day=1)
    with unit_of_work(factory) as session:
        close_month(session, Actor.system("scheduler"), previous)


SCHEDULED_JOBS = [
    ScheduledJob(
        id="redemption.close_statements",
        description="Relevés mensuels de remboursement des lieux",
        run=_close_previous_month,
        cron={"day": 1, "hour": 6, "minute": 0},
    )
]


# ---------------------------------------------------------------------------- sponsor report


def _month_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = paris_date(moment)
    return moment.strftime("%Y-%m")


def sponsor_report(session: Session, order: Order, today: date | None = None) -> dict[str, Any]:
    """What happened to an order's cheques: by month, by territory, lost where, spent on what."""
    today = today or paris_date(utcnow())
    expired = today > order.expires_on or order.status == OrderStatus.CLOSED
    cheques = session.execute(
        select(Cheque.status, Booklet.distributed_at, Booklet.distributor_id)
        .join(Booklet, Booklet.id == Cheque.booklet_id).where(Cheque.order_id == order.id)
    ).all()
    totals = Counter()
    distributed_by_month: Counter = Counter()
    for status, distributed_at, _ in cheques:
        totals["issued"] += 1
        if distributed_at is not None:
            totals["distributed"] += 1
            distributed_by_month[_month_key(distributed_at)] += 1
        if status == ChequeStatus.REDEEMED:
            totals["redeemed"] += 1
        elif status == ChequeStatus.CANCELLED:
            totals["cancelled"] += 1
        else:
            totals["expired" if expired else "valid"] += 1
            totals["lost_distributed_unused" if distributed_at is not None else "lost_never_distributed"] += 1
    redemptions = session.execute(
        select(Redemption.created_at, Redemption.cheque_count, Redemption.amount_cents, Venue.id, Venue.nom,
               Venue.commune, Territory.departement_code, Service.label)
        .join(Venue, Venue.id == Redemption.venue_id)
        .join(Service, Service.id == Redemption.service_id)
        .outerjoin(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Venue.code_insee))
        .where(Redemption.order_id == order.id, Redemption.status != RedemptionStatus.CANCELLED)
    ).all()
    by_month: dict[str, Counter] = defaultdict(Counter)
    by_territory: dict[tuple[str, str], Counter] = defaultdict(Counter)
    venues: dict[int, dict[str, Any]] = {}
    services: Counter = Counter()
    for created_at, count, amount, venue_id, venue_name, commune, departement, service_label in redemptions:
        month = _month_key(created_at)
        by_month[month]["redeemed"] += count
        by_month[month]["redeemed_cents"] += amount
        by_territory[(departement or "?", month)]["redeemed"] += count
        by_territory[(departement or "?", month)]["redeemed_cents"] += amount
        venue = venues.setdefault(venue_id, {"venue_id": venue_id, "venue": venue_name, "commune": commune,
                                             "cheques": 0, "amount_cents": 0})
        venue["cheques"] += count
        venue["amount_cents"] += amount
        services[service_label] += count
    distributor_departements = dict(session.execute(
        select(Organisation.id, Territory.departement_code)
        .join(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Organisation.code_insee))
        .where(Organisation.id.in_({d for _, _, d in cheques if d is not None}))
    ).all())
    for _, distributed_at, distributor_id in cheques:
        if distributed_at is not None:
            by_territory[(distributor_departements.get(distributor_id) or "?", _month_key(distributed_at))]["distributed"] += 1
    if order.issued_at is not None:
        by_month[_month_key(order.issued_at)]["issued"] = totals["issued"]
    for month, count in distributed_by_month.items():
        by_month[month]["distributed"] = count
    if expired:
        by_month[_month_key(order.expires_on + timedelta(days=1))]["expired"] = totals["expired"]
    months = []
    outstanding = 0
    for month in sorted(by_month):
        row = by_month[month]
        outstanding += row["issued"] - row["redeemed"] - row["expired"]
        months.append({"month": month, "issued": row["issued"], "distributed": row["distributed"],
                       "redeemed": row["redeemed"], "redeemed_cents": row["redeemed_cents"],
                       "expired": row["expired"], "valid_at_end": outstanding - totals["cancelled"]})
    issued = totals["issued"]
    return {
        "order": order_summary(order),
        "sponsor": order.sponsor.name,
        "totals": {key: totals[key] for key in ("issued", "distributed", "redeemed", "expired", "valid", "cancelled")},
        "usage_rate": round(totals["redeemed"] / issued, 4) if issued else 0.0,
        "lost": {"never_distributed": totals["lost_never_distributed"],
                 "distributed_unused": totals["lost_distributed_unused"]},
        "months": months,
        "territories": [
            {"departement": departement, "month": month, "distributed": row["distributed"], "redeemed": row["redeemed"],
             "redeemed_cents": row["redeemed_cents"]}
            for (departement, month), row in sorted(by_territory.items())
        ],
        "venues": sorted(venues.values(), key=lambda v: (-v["cheques"], v["venue"])),
        "services": [{"service": label, "cheques": count} for label, count in services.most_common()],
    }


def report_csv(report: dict[str, Any]) -> str:
    """The report in long form: one row per figure (section, territory, month, indicator, value)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["commande", "section", "territoire", "mois", "indicateur", "valeur"])
    order_id = report["order"]["id"]
    for key, value in report["totals"].items():
        writer.writerow([order_id, "total", "", "", key, value])
    writer.writerow([order_id, "total", "", "", "usage_rate", report["usage_rate"]])
    for key, value in report["lost"].items():
        writer.writerow([order_id, "perdus", "", "", key, value])
    for row in report["months"]:
        for key in ("issued", "distributed", "redeemed", "redeemed_cents", "expired", "valid_at_end"):
            writer.writerow([order_id, "mois", "", row["month"], key, row[key]])
    for row in report["territories"]:
        for key in ("distributed", "redeemed", "redeemed_cents"):
            writer.writerow([order_id, "territoire", row["departement"], row["month"], key, row[key]])
    for row in report["venues"]:
        writer.writerow([order_id, "lieu", row["commune"], "", f"cheques:{row['venue']}", row["cheques"]])
    for row in report["services"]:
        writer.writerow([order_id, "service", "", "", f"cheques:{row['service']}", row["cheques"]])
    return out.getvalue()


def sponsor_orders(session: Session, sponsor_ids: list[int] | None) -> list[Order]:
    query = select(Order).options(joinedload(Order.sponsor)).order_by(Order.id.desc())
    if sponsor_ids is not None:
        query = query.where(Order.sponsor_id.in_(sponsor_ids))
    return list(session.scalars(query))


# ---------------------------------------------------------------------------------- demo


def seed_demo(session: Session, actor: Actor, echo: Any) -> None:
    """Two issued orders with distributed booklets and a few months of redemptions; fast (bulk)."""
    rng = random.Random(2026)
    sponsors = list(session.scalars(select(Organisation).where(Organisation.is_sponsor).order_by(Organisation.id)))
    distributor = session.scalar(select(Organisation).where(Organisation.is_distributor).order_by(Organisation.id))
    if not sponsors or distributor is None:
        return
    demo_key = session.scalar(select(ApiKey).where(ApiKey.venue_id.is_not(None)).order_by(ApiKey.id))
    now = utcnow()
    today = paris_date(now)
    for number, sponsor in enumerate(sponsors[:2]):
        commune = session.scalar(select(Territory).where(Territory.level == TerritoryLevel.COMMUNE,
                                                         Territory.code == sponsor.code_insee))
        regions = {commune.region_code} if commune is not None else set()
        if number == 0 and demo_key is not None:
            showcase = session.scalar(select(Territory).where(Territory.level == TerritoryLevel.COMMUNE,
                                                              Territory.code == demo_key.venue.code_insee))
            regions.add(showcase.region_code)
        order = create_order(
            session, actor, sponsor, booklets=60, expires_on=date(today.year + 1, 12, 31),
            territories=[{"level": "region", "code": code} for code in sorted(regions)],
            cofunder="État" if number == 0 else None, cofunding_percent=50 if number == 0 else 0, today=today,
        )
        confirm_order(session, actor, order)
        pay_order(session, actor, order)
        issue_order(session, actor, order)
        _seed_usage(session, actor, rng, order, distributor, now)
        echo(f"Pass : commande n° {order.id} de « {sponsor.name} » émise ({order.booklet_count} carnets), "
             "distribuée en partie et utilisée.")
    month = (today.replace(day=1) - timedelta(days=130)).replace(day=1)
    while month < today.replace(day=1):
        close_month(session, actor, month, now=now)
        month = (month + timedelta(days=32)).replace(day=1)
    if demo_key is not None:
        sample = session.execute(
            select(Cheque.code, Booklet.number).join(Booklet, Booklet.id == Cheque.booklet_id)
            .where(Cheque.status == ChequeStatus.ISSUED, Booklet.distributed_at.is_not(None))
            .order_by(Cheque.id).limit(3)
        ).all()
        echo("Chèques de démonstration à scanner (carnets distribués) : "
             + ", ".join(f"{cheque_codes.grouped(code)} (carnet {booklet})" for code, booklet in sample))


def _seed_usage(session: Session, actor: Actor, rng: random.Random, order: Order, distributor: Organisation,
                now: datetime) -> None:
    booklets = list(session.scalars(select(Booklet).where(Booklet.order_id == order.id).order_by(Booklet.sequence)))
    distributed = booklets[: len(booklets) * 2 // 3]
    distributed_at = {b.id: now - timedelta(days=rng.randint(20, 120), minutes=rng.randint(0, 600)) for b in distributed}
    session.execute(
        update(Booklet), [
            {"id": b.id, "distributor_id": distributor.id, "beneficiary_ref": f"BEN-{order.id}-{b.sequence:05d}",
             "distributed_at": distributed_at[b.id]}
            for b in distributed
        ],
    )
    venue_services = defaultdict(list)
    for venue_id, service_id in session.execute(
        select(VenueService.venue_id, VenueService.service_id).join(Venue, Venue.id == VenueService.venue_id)
        .where(Venue.status == VenueStatus.QUALIFIED)
    ):
        venue_services[venue_id].append(service_id)
    venues = [v for v in session.scalars(select(Venue).where(Venue.id.in_(venue_services)).order_by(Venue.id))
              if venue_in_territories(session, v, order.territories)]
    if not venues:
        return
    cheques = session.execute(
        select(Cheque.id, Cheque.booklet_id, Cheque.value_cents)
        .where(Cheque.booklet_id.in_([b.id for b in distributed])).order_by(Cheque.booklet_id, Cheque.position)
    ).all()
    by_booklet = defaultdict(list)
    for cheque in cheques:
        by_booklet[cheque.booklet_id].append(cheque)
    redemption_rows, line_rows = [], []
    for booklet_id, booklet_cheques in by_booklet.items():
        used = booklet_cheques[: rng.randint(0, len(booklet_cheques))]
        venue = rng.choice(venues)
        while used:
            take = used[: rng.choice((1, 1, 2))]
            used = used[len(take):]
            elapsed = (now - distributed_at[booklet_id]).total_seconds()
            redemption_rows.append({
                "venue_id": venue.id, "service_id": rng.choice(venue_services[venue.id]), "booklet_id": booklet_id,
                "order_id": order.id, "cheque_count": len(take), "amount_cents": sum(c.value_cents for c in take),
                "status": RedemptionStatus.REDEEMED, "actor": actor.label,
                "created_at": distributed_at[booklet_id] + timedelta(seconds=rng.uniform(0, elapsed)),
            })
            line_rows.append([c.id for c in take])
    if not redemption_rows:
        return
    ids = session.scalars(insert(Redemption).returning(Redemption.id, sort_by_parameter_order=True), redemption_rows).all()
    session.execute(insert(RedemptionCheque), [
        {"redemption_id": rid, "cheque_id": cid, "active": True} for rid, cheque_ids in zip(ids, line_rows, strict=True)
        for cid in cheque_ids
    ])
    session.execute(update(Cheque).where(Cheque.id.in_([cid for ids_ in line_rows for cid in ids_]))
                    .values(status=ChequeStatus.REDEEMED).execution_options(synchronize_session=False))
    session.execute(insert(AuditEvent), [
        {"at": row["created_at"], "actor": actor.label, "actor_user_id": None, "action": "redemption.created",
         "target_type": "redemption", "target_id": str(rid), "data": {"synthetic": True}}
        for rid, row in zip(ids, redemption_rows, strict=True)
    ])
    session.flush()
