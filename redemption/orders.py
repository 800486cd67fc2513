"""Sponsors' orders: creation with amounts in cents, lifecycle from draft to closed, issue of the booklets."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, joinedload

from directory import api as directory_api
from directory import french
from directory.api import Actor, record_audit, record_audits
from directory.db import dialect_name, utcnow
from directory.errors import InvalidInput, InvalidTransition, NotFound
from directory.models import Organisation
from redemption import codes as cheque_codes
from redemption.bulk import insert_rows
from redemption.fees import round_half_up, rule_in_force
from redemption.models import MAX_ID, ORDER_MACHINE, Booklet, Cheque, ChequeStatus, FeeRuleKind, Order, OrderStatus
from redemption.months import paris_date

MAX_BOOKLETS_PER_ORDER = 100_000
ISSUE_BATCH_BOOKLETS = 1_000
CODE_CHECK_BATCH = 5_000  # codes per IN (...) list on SQLite


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


def vintage_expiry(session: Session, vintage: int, on: date) -> date:
    """The last day of use of a vintage by the dated rule in force on `on` (default: 31 January of vintage + 1)."""
    mmdd = rule_in_force(session, FeeRuleKind.VINTAGE_EXPIRY_MMDD, on).value
    month, day = divmod(mmdd, 100)
    return date(vintage + 1, month, min(day, calendar.monthrange(vintage + 1, month)[1]))


def _vintage_and_expiry(session: Session, vintage: Any, expires_on: Any, today: date) -> tuple[int, date]:
    """An order's vintage (current year by default) and its expiry: the rule's date, or an earlier one given."""
    if expires_on is not None and (not isinstance(expires_on, date) or expires_on <= today):
        raise InvalidInput("La date de fin de validité doit être postérieure à aujourd'hui.", field="expires_on",
                           code="invalid_expiry")
    years = range(today.year - 1, today.year + 2)
    if vintage is None and expires_on is not None:
        # The earliest vintage whose passes are still valid on the expiry given.
        vintage = next((year for year in years if expires_on <= vintage_expiry(session, year, today)), years[-1])
    elif vintage is None:
        vintage = today.year
    elif isinstance(vintage, bool) or not isinstance(vintage, int) or vintage not in years \
            or vintage_expiry(session, vintage, today) <= today:
        raise InvalidInput(f"Le millésime « {vintage} » n'est pas valable : indiquez l'année en cours ou la suivante "
                           f"(ex. {today.year}).", field="vintage", code="invalid_vintage")
    limit = vintage_expiry(session, vintage, today)
    if expires_on is None:
        return vintage, limit
    if expires_on > limit:
        raise InvalidInput(f"Les chèques du millésime {vintage} sont valables au plus tard jusqu'au "
                           f"{french.long_date(limit)} : la fin de validité ne peut pas dépasser cette date.",
                           field="expires_on", code="expiry_outside_rule")
    return vintage, expires_on


def _check_minimum(session: Session, sponsor: Organisation, territories: list[dict[str, str]], face_value: int,
                   exception: str | None, today: date) -> None:
    """A sponsor starts the scheme on a territory with a minimum amount, unless staff record an exception."""
    minimum = rule_in_force(session, FeeRuleKind.ORDER_MINIMUM_CENTS, today).value
    if face_value >= minimum or exception:
        return
    known = [entry for order in session.scalars(
        select(Order).where(Order.sponsor_id == sponsor.id, Order.status != OrderStatus.DRAFT)) for entry in order.territories]
    new = [entry for entry in territories if entry not in known]
    if new:
        raise InvalidInput(
            f"Une première commande sur un territoire doit atteindre {french.euros(minimum)} de chèques ; "
            f"celle-ci en vaut {french.euros(face_value)}.", field="booklets", code="order_below_minimum",
            details={"minimum_cents": minimum, "face_value_cents": face_value, "territories": new},
        )


def create_order(
    session: Session,
    actor: Actor,
    sponsor: Organisation,
    *,
    booklets: int,
    territories: list[Any],
    vintage: int | None = None,
    expires_on: date | None = None,
    cheques_per_booklet: int = 10,
    cheque_value_cents: int = 1000,
    allowed_levels: list[int] | tuple[int, ...] = (),
    requires_distribution: bool = True,
    minimum_exception: str | None = None,
    today: date | None = None,
) -> Order:
    """A draft order. `minimum_exception` is staff's reason for a first order below the minimum amount.

    Co-funding is no longer a free-text co-funder and percentage: a co-funding application covers the order
    (`applications.cover_order`) and its acceptance records the shares."""
    today = today or paris_date(utcnow())
    if not sponsor.is_sponsor:
        raise InvalidInput(f"L'organisation « {sponsor.name} » n'est pas commanditaire.", field="sponsor",
                           code="not_a_sponsor")
    _positive_int(booklets, "booklets", "Le nombre de carnets", MAX_BOOKLETS_PER_ORDER)
    _positive_int(cheques_per_booklet, "cheques_per_booklet", "Le nombre de chèques par carnet", 50)
    _positive_int(cheque_value_cents, "cheque_value_cents", "La valeur d'un chèque (en centimes)", 100_000)
    vintage, expires_on = _vintage_and_expiry(session, vintage, expires_on, today)
    levels = sorted(set(allowed_levels or ()))
    if any(level not in (1, 2, 3) for level in levels):
        raise InvalidInput("Les niveaux autorisés sont 1, 2 et 3.", field="allowed_levels", code="invalid_level")
    face_value = booklets * cheques_per_booklet * cheque_value_cents
    cleaned_territories = _clean_territories(session, territories)
    minimum_exception = (minimum_exception or "").strip()[:500] or None
    _check_minimum(session, sponsor, cleaned_territories, face_value, minimum_exception, today)
    fee_rule = rule_in_force(session, FeeRuleKind.ORDER_FEE_BP, today)
    order = Order(
        sponsor=sponsor,
        booklet_count=booklets,
        cheques_per_booklet=cheques_per_booklet,
        cheque_value_cents=cheque_value_cents,
        face_value_cents=face_value,
        fee_rate_bp=fee_rule.value,
        fee_cents=round_half_up(face_value * fee_rule.value, 10_000),
        vintage=vintage,
        expires_on=expires_on,
        territories=cleaned_territories,
        allowed_levels=levels,
        sponsor_share_cents=face_value,  # all the sponsor's until an accepted co-funding application covers it
        requires_distribution=requires_distribution,
        minimum_exception=minimum_exception,
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
        "vintage": order.vintage,
        "expires_on": order.expires_on.isoformat(),
        "territories": order.territories,
        "allowed_levels": order.allowed_levels,
        # Co-funding (redemption/shares.py): the application covering the order and who pays what.
        "application_id": order.application_id,
        "funder_share_bp": order.funder_share_bp,
        "funder_share_cents": order.funder_share_cents,
        "sponsor_share_cents": order.sponsor_share_cents,
        "requires_distribution": order.requires_distribution,
        "minimum_exception": order.minimum_exception,
    }


def confirm_order(session: Session, actor: Actor, order: Order) -> Order:
    ORDER_MACHINE.move(session, actor, order, OrderStatus.CONFIRMED)
    return order


def pay_order(session: Session, actor: Actor, order: Order) -> Order:
    ORDER_MACHINE.move(session, actor, order, OrderStatus.PAID)
    return order


def close_order(session: Session, actor: Actor, order: Order, today: date | None = None) -> Order:
    today = today or paris_date(utcnow())
    if order.status == OrderStatus.ISSUED and today <= order.expires_on:
        raise InvalidTransition(
            f"Les chèques de la commande n° {order.id} sont valables jusqu'au {order.expires_on:%d/%m/%Y} : "
            "elle ne peut être clôturée qu'après.", field="status",
        )
    ORDER_MACHINE.move(session, actor, order, OrderStatus.CLOSED)
    return order


def issue_order(session: Session, actor: Actor, order: Order, batch_booklets: int = ISSUE_BATCH_BOOKLETS) -> Order:
    """Create the booklets and their cheques, each with a fresh unique code, in bulk.

    `batch_booklets` booklets at a time: their rows, their cheques' codes (checked against the database,
    which holds the earlier batches), their cheques and their audit records, so that memory holds one
    batch whatever the size of the order.
    """
    ORDER_MACHINE.move(session, actor, order, OrderStatus.ISSUED)
    order.issued_at = utcnow()
    per_booklet = order.cheques_per_booklet
    for first in range(1, order.booklet_count + 1, batch_booklets):
        last = min(first + batch_booklets, order.booklet_count + 1) - 1
        insert_rows(session, Booklet.__table__, [
            {"order_id": order.id, "sequence": seq, "number": f"{order.id:05d}-{seq:05d}"} for seq in range(first, last + 1)
        ])
        booklets = session.execute(
            select(Booklet.id, Booklet.number)
            .where(Booklet.order_id == order.id, Booklet.sequence.between(first, last)).order_by(Booklet.sequence)
        ).all()
        codes = iter(_unique_codes(session, len(booklets) * per_booklet))
        insert_rows(session, Cheque.__table__, [
            {"code": next(codes), "booklet_id": booklet_id, "order_id": order.id, "position": position,
             "value_cents": order.cheque_value_cents, "status": ChequeStatus.ISSUED.value}
            for booklet_id, _number in booklets for position in range(1, per_booklet + 1)
        ])
        record_audits(session, actor, "booklet.issued", "booklet", [
            (booklet_id, {"order_id": order.id, "number": number, "cheques": per_booklet}) for booklet_id, number in booklets
        ])
    session.flush()
    return order


def _unique_codes(session: Session, count: int) -> list[str]:
    """`count` new codes unknown to the database (a collision of 64-bit codes is rare, not impossible)."""
    codes: set[str] = set()
    while len(codes) < count:
        drawn = list(set(cheque_codes.new_codes(count - len(codes))) - codes)
        known = _known_codes(session, drawn)
        codes.update(code for code in drawn if code not in known)
    return list(codes)


def _known_codes(session: Session, codes: list[str]) -> set[str]:
    """Those of `codes` already in the database. On PostgreSQL one array parameter: a statement with
    thousands of placeholders costs more to parse than its index look-ups."""
    if dialect_name(session) == "postgresql":
        return set(session.scalars(select(Cheque.code).where(
            Cheque.code == any_(bindparam("codes", codes, type_=postgresql.ARRAY(String))))))
    known: set[str] = set()
    for start in range(0, len(codes), CODE_CHECK_BATCH):
        known.update(session.scalars(select(Cheque.code).where(Cheque.code.in_(codes[start : start + CODE_CHECK_BATCH]))))
    return known


def sponsor_orders(session: Session, sponsor_ids: list[int] | None) -> list[Order]:
    query = select(Order).options(joinedload(Order.sponsor)).order_by(Order.id.desc())
    if sponsor_ids is not None:
        query = query.where(Order.sponsor_id.in_(sponsor_ids))
    return list(session.scalars(query))
