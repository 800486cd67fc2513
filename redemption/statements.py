"""Monthly statements: closing a month for every venue with gapless numbers, their exports, the monthly job."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Row, String, cast, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from directory.api import Actor, record_audits
from directory.csv_files import SafeWriter
from directory.db import ScheduledJob, allocate_ids, is_postgresql, transaction_lock, unit_of_work, utcnow
from directory.errors import Conflict, InvalidInput
from directory.models import AuditEvent, Venue, VenueStatus
from redemption.fees import round_half_up, rule_in_force
from redemption.models import REDEMPTION_MACHINE, ClosedMonth, FeeRuleKind, Redemption, RedemptionStatus, Statement
from redemption.months import month_bounds, paris_date

STATEMENT_NUMBERING_LOCK = "aptic.statement_numbering"
STATEMENT_CSV_COLUMNS = [
    ("numero", "number"), ("lieu_id", "venue_id"), ("lieu", "venue"), ("mois", "month"), ("cheques", "cheques"),
    ("brut_centimes", "gross_cents"), ("taux_commission_pdb", "commission_rate_bp"),
    ("commission_centimes", "commission_cents"), ("forfait_centimes", "fee_cents"), ("net_centimes", "net_cents"),
    ("report_entrant_centimes", "carried_in_cents"), ("report_sortant_centimes", "carried_out_cents"),
    ("verse_centimes", "paid_cents"), ("du_a_aptic_centimes", "due_cents"), ("final", "final"),
]


def _previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def _check_month_order(session: Session, month: date, start: datetime) -> None:
    """Months are closed one after the other: a carried balance needs the previous statement."""
    latest = session.scalar(select(func.max(ClosedMonth.month)))
    if latest is not None and latest > month:
        raise Conflict(f"Le mois {latest:%m/%Y} est déjà clos : le mois {month:%m/%Y} ne peut plus l'être après lui.",
                       field="month", code="month_out_of_order")
    pending = session.scalar(
        select(func.min(Redemption.created_at))
        .where(Redemption.status.in_(REDEMPTION_MACHINE.states_moving_to(RedemptionStatus.REIMBURSED)),
               Redemption.created_at < start)
    )
    previous = _previous_month(month)
    if (latest is not None and latest != previous) or pending is not None:
        missing = previous if pending is None else paris_date(pending).replace(day=1)
        raise Conflict(f"Le mois {missing:%m/%Y} n'est pas clos : clôturez-le avant le mois {month:%m/%Y}.",
                       field="month", code="previous_month_not_closed")


def _venues_to_close(session: Session, month: date, start: datetime, end: datetime) -> list[Row[Any]]:
    """Per venue due a statement, in venue order: status, the month's cheques and gross, what its latest
    statement carried out (None without one). One GROUP BY over the month, whatever its volume."""
    reimbursable = REDEMPTION_MACHINE.states_moving_to(RedemptionStatus.REIMBURSED)
    totals = (
        select(Redemption.venue_id, func.sum(Redemption.cheque_count).label("cheques"),
               func.sum(Redemption.amount_cents).label("gross"))
        .where(Redemption.status.in_(reimbursable), Redemption.created_at >= start, Redemption.created_at < end)
        .group_by(Redemption.venue_id).subquery()
    )
    latest = (select(Statement.venue_id, func.max(Statement.month).label("month"))
              .where(Statement.month < month).group_by(Statement.venue_id).subquery())
    previous = (select(Statement.venue_id, Statement.carried_out_cents, Statement.final)
                .join(latest, (Statement.venue_id == latest.c.venue_id) & (Statement.month == latest.c.month))
                .subquery())
    return list(session.execute(
        select(Venue.id, Venue.status, func.coalesce(totals.c.cheques, 0), func.coalesce(totals.c.gross, 0),
               previous.c.carried_out_cents)
        .outerjoin(totals, totals.c.venue_id == Venue.id)
        .outerjoin(previous, previous.c.venue_id == Venue.id)
        .where(or_(totals.c.venue_id.is_not(None), previous.c.final.is_(False)))
        .order_by(Venue.id)
    ))


def close_month(session: Session, actor: Actor, month: date, now: datetime | None = None) -> dict[str, Any]:
    """Close a month for every venue: statements, reimbursed redemptions. Idempotent.

    A venue gets a statement every month from the month of its first redemption while it stays
    qualified, with the monthly fee even in a month without redemptions; the balance it owes is
    carried to its next statement. A venue no longer qualified gets a final statement, then no more.
    Set-based: one aggregate per venue, one multi-row insert of the statements, one UPDATE and one
    INSERT … SELECT for the redemptions and their audit, whatever the month's volume.
    """
    now = now or utcnow()
    month = month.replace(day=1)
    start, end = month_bounds(month)
    if now < end:
        raise InvalidInput(f"Le mois {month:%m/%Y} n'est pas terminé : il ne peut pas encore être clos.",
                           field="month", code="month_not_over")
    # Statement numbers are gapless: one closer at a time takes the next ones.
    transaction_lock(session, STATEMENT_NUMBERING_LOCK)
    if session.get(ClosedMonth, month) is not None:
        already = statements_for_month(session, month)
        return {"month": month.strftime("%Y-%m"), "created": 0, "already_closed": len(already), "statements": already}
    _check_month_order(session, month, start)
    commission_bp = rule_in_force(session, FeeRuleKind.COMMISSION_BP, month).value
    monthly_fee = rule_in_force(session, FeeRuleKind.MONTHLY_FEE_CENTS, month).value
    vat_bp = rule_in_force(session, FeeRuleKind.VAT_RATE_BP, month).value
    venues = _venues_to_close(session, month, start, end)
    sequence = session.scalar(select(func.coalesce(func.max(Statement.sequence), 0)))
    statements, audits = [], []
    for statement_id, (venue_id, status, cheque_count, gross, carried) in zip(
            allocate_ids(session, Statement, len(venues)), venues, strict=True):
        carried_in = carried or 0
        final = status != VenueStatus.QUALIFIED
        sequence += 1
        commission = round_half_up(gross * commission_bp, 10_000)
        net = gross - commission - monthly_fee
        carried_out = 0 if final else max(carried_in - net, 0)
        number = f"RLV-{sequence:07d}"
        statements.append({
            "id": statement_id, "sequence": sequence, "number": number, "venue_id": venue_id, "month": month,
            "cheque_count": cheque_count, "gross_cents": gross, "commission_rate_bp": commission_bp,
            "commission_cents": commission, "fee_cents": monthly_fee, "net_cents": net,
            "carried_in_cents": carried_in, "carried_out_cents": carried_out, "final": final,
            "vat_rate_bp": vat_bp, "closed_at": now,
        })
        audits.append((statement_id, {"number": number, "venue_id": venue_id, "month": month, "net_cents": net,
                                      "carried_in_cents": carried_in, "carried_out_cents": carried_out,
                                      "final": final}))
    if statements:
        session.execute(insert(Statement), statements)
    record_audits(session, actor, "statement.closed", "statement", audits)
    _reimburse(session, actor, month, start, end, now)
    session.add(ClosedMonth(month=month, closed_at=now, statement_count=len(statements)))
    session.flush()
    return {"month": month.strftime("%Y-%m"), "created": len(statements), "already_closed": 0,
            "statements": statements_for_month(session, month)}


def _reimburse(session: Session, actor: Actor, month: date, start: datetime, end: datetime, now: datetime) -> None:
    """The month's redemptions onto their venue's new statement, each with its audit event, in two statements.

    Both walk the month's redemptions in table order and look their statement up by its (venue, month)
    or primary key: a join would leave the planner to guess how many statements the new month has (none
    when its statistics were taken) and pick a nested loop that visits the table venue by venue.
    """
    reimbursable = REDEMPTION_MACHINE.states_moving_to(RedemptionStatus.REIMBURSED)
    in_month = (Redemption.created_at >= start, Redemption.created_at < end)
    session.execute(
        update(Redemption)
        .where(Redemption.status.in_(reimbursable), *in_month)
        .values(status=RedemptionStatus.REIMBURSED, statement_id=select(Statement.id).where(
            Statement.venue_id == Redemption.venue_id, Statement.month == month).scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    # The UPDATE bypassed the identity map: redemptions already loaded must read their new state.
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Redemption):
            session.expire(instance, ["status", "statement_id"])
    # The month was not closed before: its reimbursed redemptions are the ones just moved.
    number = select(Statement.number).where(Statement.id == Redemption.statement_id).scalar_subquery()
    json_object = func.json_build_object if is_postgresql(session) else func.json_object
    session.execute(insert(AuditEvent).from_select(
        ["at", "actor", "actor_user_id", "action", "target_type", "target_id", "data"],
        select(literal(now, AuditEvent.at.type), literal(actor.label), literal(actor.user_id, Integer),
               literal("redemption.reimbursed"), literal("redemption"), cast(Redemption.id, String),
               json_object("statement", number))
        .where(Redemption.status == RedemptionStatus.REIMBURSED, *in_month)
    ))


def statements_for_month(session: Session, month: date) -> list[Statement]:
    return list(session.scalars(
        select(Statement).where(Statement.month == month.replace(day=1)).options(joinedload(Statement.venue))
        .order_by(Statement.sequence)
    ))


def statement_payload(statement: Statement) -> dict[str, Any]:
    return {
        "id": statement.id, "number": statement.number, "venue_id": statement.venue_id, "venue": statement.venue.nom,
        "month": statement.month.strftime("%Y-%m"), "cheques": statement.cheque_count,
        "gross_cents": statement.gross_cents, "commission_rate_bp": statement.commission_rate_bp,
        "commission_cents": statement.commission_cents, "fee_cents": statement.fee_cents,
        "net_cents": statement.net_cents, "carried_in_cents": statement.carried_in_cents,
        "carried_out_cents": statement.carried_out_cents, "paid_cents": statement.paid_cents,
        "due_cents": statement.due_cents, "final": statement.final,
    }


def statements_csv(statements: list[Statement]) -> str:
    out = io.StringIO()
    writer = SafeWriter(out, delimiter=";")
    writer.writerow([name for name, _ in STATEMENT_CSV_COLUMNS])
    for statement in statements:
        payload = statement_payload(statement)
        writer.writerow([payload[key] for _, key in STATEMENT_CSV_COLUMNS])
    return out.getvalue()


def months_to_close(session: Session, until: date) -> list[date]:
    """The months still open up to `until`, in order: after the last closed one, or from the oldest
    redemption not yet on a statement (a missed run is caught up, never skipped)."""
    latest = session.scalar(select(func.max(ClosedMonth.month)))
    if latest is not None:
        first = (latest + timedelta(days=32)).replace(day=1)
    else:
        pending = session.scalar(select(func.min(Redemption.created_at)).where(
            Redemption.status.in_(REDEMPTION_MACHINE.states_moving_to(RedemptionStatus.REIMBURSED))))
        first = min(paris_date(pending).replace(day=1), until) if pending is not None else until
    months = []
    while first <= until:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def _close_previous_month(factory: sessionmaker[Session]) -> None:
    previous = _previous_month(paris_date(utcnow()).replace(day=1))
    with unit_of_work(factory) as session:
        for month in months_to_close(session, previous):
            close_month(session, Actor.system("scheduler"), month)


SCHEDULED_JOBS = [
    ScheduledJob(
        id="redemption.close_statements",
        description="Relevés mensuels de remboursement des lieux",
        run=_close_previous_month,
        cron={"day": 1, "hour": 6, "minute": 0},
    )
]


def venue_statements(session: Session, venue_ids: list[int] | None, venue_id: int | None = None,
                     month: date | None = None, limit: int = 500) -> list[Statement]:
    """Statements of some venues (None: all), newest month first, optionally one venue or one month."""
    query = select(Statement).options(joinedload(Statement.venue)).order_by(Statement.month.desc(), Statement.sequence)
    if venue_ids is not None:
        query = query.where(Statement.venue_id.in_(venue_ids))
    if venue_id is not None:
        query = query.where(Statement.venue_id == venue_id)
    if month is not None:
        query = query.where(Statement.month == month)
    return list(session.scalars(query.limit(limit)))


def latest_closed_month(session: Session) -> date | None:
    return session.scalar(select(func.max(ClosedMonth.month)))


def statement_venues(session: Session, venue_ids: list[int] | None) -> list[Venue]:
    """The venues that have statements, for the filter of the statements page."""
    query = select(Venue).where(Venue.id.in_(select(Statement.venue_id).distinct())).order_by(Venue.nom)
    if venue_ids is not None:
        query = query.where(Venue.id.in_(venue_ids))
    return list(session.scalars(query))
