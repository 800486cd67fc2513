"""Sponsors' orders: creation with amounts in cents, lifecycle from draft to closed, issue of the booklets."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, joinedload

from directory import api as directory_api
from directory.api import Actor, record_audit, record_audits
from directory.db import utcnow
from directory.errors import InvalidInput, InvalidTransition, NotFound
from directory.models import Organisation
from redemption import codes as cheque_codes
from redemption.fees import round_half_up, rule_in_force
from redemption.models import MAX_ID, ORDER_MACHINE, Booklet, Cheque, ChequeStatus, FeeRuleKind, Order, OrderStatus
from redemption.months import paris_date

MAX_BOOKLETS_PER_ORDER = 100_000


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


def issue_order(session: Session, actor: Actor, order: Order) -> Order:
    """Create the booklets and their cheques, each with a fresh unique code, in bulk."""
    ORDER_MACHINE.move(session, actor, order, OrderStatus.ISSUED)
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
    record_audits(session, actor, "booklet.issued", "booklet", [
        (booklet_id, {"order_id": order.id, "number": row["number"], "cheques": order.cheques_per_booklet})
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


def sponsor_orders(session: Session, sponsor_ids: list[int] | None) -> list[Order]:
    query = select(Order).options(joinedload(Order.sponsor)).order_by(Order.id.desc())
    if sponsor_ids is not None:
        query = query.where(Order.sponsor_id.in_(sponsor_ids))
    return list(session.scalars(query))
