"""Monthly statements: closing a month for every venue with gapless numbers, their exports, the monthly job."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from directory.api import Actor, record_audit, record_audits
from directory.csv_files import SafeWriter
from directory.db import ScheduledJob, transaction_lock, unit_of_work, utcnow
from directory.errors import InvalidInput
from redemption.fees import round_half_up, rule_in_force
from redemption.models import REDEMPTION_MACHINE, FeeRuleKind, Redemption, RedemptionStatus, Statement
from redemption.months import month_bounds, paris_date

STATEMENT_NUMBERING_LOCK = "aptic.statement_numbering"
STATEMENT_CSV_COLUMNS = [
    ("numero", "number"), ("lieu_id", "venue_id"), ("lieu", "venue"), ("mois", "month"), ("cheques", "cheques"),
    ("brut_centimes", "gross_cents"), ("taux_commission_pdb", "commission_rate_bp"),
    ("commission_centimes", "commission_cents"), ("forfait_centimes", "fee_cents"), ("net_centimes", "net_cents"),
]


def close_month(session: Session, actor: Actor, month: date, now: datetime | None = None) -> dict[str, Any]:
    """Close a month for every venue: statements, reimbursed redemptions. Idempotent."""
    now = now or utcnow()
    month = month.replace(day=1)
    start, end = month_bounds(month)
    if now < end:
        raise InvalidInput(f"Le mois {month:%m/%Y} n'est pas terminé : il ne peut pas encore être clos.",
                           field="month", code="month_not_over")
    # Statement numbers are gapless: one closer at a time takes the next ones.
    transaction_lock(session, STATEMENT_NUMBERING_LOCK)
    commission_bp = rule_in_force(session, FeeRuleKind.COMMISSION_BP, month).value
    monthly_fee = rule_in_force(session, FeeRuleKind.MONTHLY_FEE_CENTS, month).value
    reimbursable = REDEMPTION_MACHINE.states_moving_to(RedemptionStatus.REIMBURSED)
    totals = session.execute(
        select(Redemption.venue_id, func.sum(Redemption.cheque_count), func.sum(Redemption.amount_cents))
        .where(Redemption.status.in_(reimbursable), Redemption.created_at >= start, Redemption.created_at < end)
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
            .where(Redemption.venue_id == venue_id, Redemption.status.in_(reimbursable),
                   Redemption.created_at >= start, Redemption.created_at < end)
            .values(status=RedemptionStatus.REIMBURSED, statement_id=statement.id)
            .returning(Redemption.id).execution_options(synchronize_session="fetch")
        ))
        record_audit(session, actor, "statement.closed", "statement", statement.id, number=statement.number,
                     venue_id=venue_id, month=month, net_cents=statement.net_cents)
        record_audits(session, actor, "redemption.reimbursed", "redemption",
                      [(rid, {"statement": statement.number}) for rid in redemption_ids], at=now)
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


def statements_csv(statements: list[Statement]) -> str:
    out = io.StringIO()
    writer = SafeWriter(out, delimiter=";")
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
