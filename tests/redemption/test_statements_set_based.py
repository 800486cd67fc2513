"""The set-based month close against a row-by-row reference computed here from the redemptions themselves.

Several venues and months, two orders (one venue redeems both), cancelled deliveries, amounts that round
half up, a commission and a monthly fee changing on dated rules, a venue leaving the scheme (its final
statement, then none), balances carried over months without redemptions, a delivery at the month's edge.
"""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from directory import api as directory_api
from directory.models import AuditEvent, VenueStatus
from redemption import api, statements
from redemption.models import FeeRuleKind, Redemption, RedemptionStatus, Statement
from redemption.months import paris_date
from tests.builders import ACTOR, make_order, make_venue, plant_redemption

AFTER_ALL = datetime(2030, 1, 1, tzinfo=UTC)
MONTHS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
# (commission in basis points, monthly fee in cents) per month: both change on dated rules.
RULES = {date(2026, 1, 1): (400, 700), date(2026, 2, 1): (450, 700), date(2026, 3, 1): (450, 900),
         date(2026, 4, 1): (450, 900)}


@pytest.fixture
def planted(session, world):
    """About 150 deliveries over January to March 2026 at five venues, from two orders."""
    second_order = make_order(session, world.sponsor, booklets=2)
    sixth = make_venue(session, world.operator, "Espace de Pessac", "33318", "33600", "Pessac", ["premiers-pas"])
    venues = [world.venue, world.other_venue, world.far_venue, sixth]
    rng = random.Random(19)
    for index in range(150):
        venue = venues[index % len(venues)] if index % 7 else world.venue  # Bordeaux redeems both orders
        order = world.order if index % 3 else second_order
        booklet = order.booklets[index % len(order.booklets)]
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(89 * 24 * 60))
        redemption = plant_redemption(session, venue, booklet, at, cheques=1 + (index % 4 == 0))
        redemption.amount_cents = rng.choice((1000, 1013, 987, 1250)) * redemption.cheque_count
        if index % 11 == 0:
            redemption.status, redemption.cancelled_at = RedemptionStatus.CANCELLED, at + timedelta(minutes=3)
    # 31 January 23:30 UTC is 1 February in Paris; Mérignac redeems only in January, then owes its fees.
    plant_redemption(session, sixth, second_order.booklets[0], datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    session.flush()
    for redemption in session.scalars(select(Redemption).where(Redemption.venue_id == world.other_venue.id)):
        if paris_date(redemption.created_at) >= date(2026, 2, 1):
            redemption.created_at = datetime(2026, 1, 20, tzinfo=UTC)
    session.flush()
    api.change_fee_rule(session, ACTOR, FeeRuleKind.COMMISSION_BP, 450, date(2026, 2, 1))
    api.change_fee_rule(session, ACTOR, FeeRuleKind.MONTHLY_FEE_CENTS, 900, date(2026, 3, 1))
    return [world.venue, world.other_venue, world.far_venue, sixth]


def _half_up(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _expected_month(redemptions, month, statuses, previous, sequence):
    """The statements of `month` as the row-by-row close computed them: venue by venue, redemption by redemption."""
    commission_bp, fee = RULES[month]
    totals: dict[int, list[int]] = {}
    for redemption in redemptions:
        if redemption.status == RedemptionStatus.REDEEMED and paris_date(redemption.created_at).replace(day=1) == month:
            venue_total = totals.setdefault(redemption.venue_id, [0, 0, []])
            venue_total[0] += redemption.cheque_count
            venue_total[1] += redemption.amount_cents
            venue_total[2].append(redemption.id)
    due = sorted(set(totals) | {venue_id for venue_id, (_, final) in previous.items() if not final})
    expected = []
    for venue_id in due:
        cheques, gross, ids = totals.get(venue_id, (0, 0, []))
        carried_in = previous[venue_id][0] if venue_id in previous else 0
        final = statuses[venue_id] != VenueStatus.QUALIFIED
        commission = _half_up(gross * commission_bp, 10_000)
        net = gross - commission - fee
        carried_out = 0 if final else max(carried_in - net, 0)
        sequence += 1
        expected.append({"sequence": sequence, "number": f"RLV-{sequence:07d}", "venue_id": venue_id,
                         "cheques": cheques, "gross": gross, "rate": commission_bp, "commission": commission,
                         "fee": fee, "net": net, "carried_in": carried_in, "carried_out": carried_out,
                         "final": final, "vat": 2000, "redemptions": sorted(ids)})
        previous[venue_id] = (carried_out, final)
    return expected


def _closed(session, month):
    return [{"sequence": s.sequence, "number": s.number, "venue_id": s.venue_id, "cheques": s.cheque_count,
             "gross": s.gross_cents, "rate": s.commission_rate_bp, "commission": s.commission_cents,
             "fee": s.fee_cents, "net": s.net_cents, "carried_in": s.carried_in_cents,
             "carried_out": s.carried_out_cents, "final": s.final, "vat": s.vat_rate_bp,
             "redemptions": sorted(session.scalars(select(Redemption.id).where(Redemption.statement_id == s.id)))}
            for s in api.statements_for_month(session, month)]


def _audits(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_the_set_based_close_gives_the_row_by_row_statements(session, world, planted):
    redemptions = session.scalars(select(Redemption)).all()
    snapshot = [(r.id, r.venue_id, r.status, r.created_at, r.cheque_count, r.amount_cents) for r in redemptions]
    assert len({r.order_id for r in redemptions if r.venue_id == world.venue.id}) == 2
    previous: dict[int, tuple[int, bool]] = {}
    sequence = session.scalar(select(func.coalesce(func.max(Statement.sequence), 0)))
    for month in MONTHS:
        if month == date(2026, 3, 1):  # Lyon leaves the scheme: its March statement is final, then none
            directory_api.set_venue_status(session, ACTOR, world.far_venue, VenueStatus.DEQUALIFIED, "fin de convention")
        statuses = {venue.id: venue.status for venue in planted}
        expected = _expected_month(redemptions, month, statuses, previous, sequence)
        summary = api.close_month(session, ACTOR, month, now=AFTER_ALL)
        assert summary["created"] == len(expected) and _closed(session, month) == expected
        sequence = expected[-1]["sequence"]
    by_month = {month: _closed(session, month) for month in MONTHS}
    assert [s["final"] for s in by_month[date(2026, 3, 1)] if s["venue_id"] == world.far_venue.id] == [True]
    assert world.far_venue.id not in {s["venue_id"] for s in by_month[date(2026, 4, 1)]}
    assert any(s["carried_in"] and not s["cheques"] for s in by_month[date(2026, 4, 1)])  # fees alone, carried
    assert {s["rate"] for s in by_month[date(2026, 1, 1)]} == {400} and {s["fee"] for s in by_month[date(2026, 3, 1)]} == {900}
    # Every delivery the table lets through is reimbursed on its venue's statement, the cancelled ones stay so.
    for redemption_id, _venue_id, status, _at, _count, _amount in snapshot:
        redemption = session.get(Redemption, redemption_id)
        assert redemption.status == (RedemptionStatus.CANCELLED if status == RedemptionStatus.CANCELLED
                                     else RedemptionStatus.REIMBURSED)
    # Audit as the row-by-row close wrote it: one event per statement, one per redemption reimbursed.
    statements = session.scalars(select(Statement).order_by(Statement.sequence)).all()
    closed = _audits(session, "statement.closed")
    assert [(e.target_id, e.data) for e in closed] == [
        (str(s.id), {"number": s.number, "venue_id": s.venue_id, "month": s.month.isoformat(), "net_cents": s.net_cents,
                     "carried_in_cents": s.carried_in_cents, "carried_out_cents": s.carried_out_cents,
                     "final": s.final}) for s in statements]
    numbers = {s.id: s.number for s in statements}
    reimbursed = _audits(session, "redemption.reimbursed")
    assert sorted((int(e.target_id), e.data["statement"], e.at, e.actor) for e in reimbursed) == sorted(
        (r.id, numbers[r.statement_id], AFTER_ALL, ACTOR.label)
        for r in session.scalars(select(Redemption).where(Redemption.statement_id.is_not(None))))


def test_closing_again_changes_nothing_and_numbers_stay_gapless_across_months(session, world, planted):
    first = api.close_month(session, ACTOR, MONTHS[0], now=AFTER_ALL)
    events = len(session.scalars(select(AuditEvent.id)).all())
    again = api.close_month(session, ACTOR, MONTHS[0], now=AFTER_ALL)
    assert again["created"] == 0 and again["already_closed"] == first["created"] > 0
    assert len(session.scalars(select(AuditEvent.id)).all()) == events
    february = api.close_month(session, ACTOR, MONTHS[1], now=AFTER_ALL)
    sequences = session.scalars(select(Statement.sequence).order_by(Statement.sequence)).all()
    assert sequences == list(range(sequences[0], sequences[0] + first["created"] + february["created"]))
    assert [s.number for s in february["statements"]] == [f"RLV-{n:07d}" for n in sequences[first["created"]:]]


def test_a_month_without_any_statement_closes_empty(session, world):
    summary = api.close_month(session, ACTOR, date(2025, 6, 1), now=AFTER_ALL)
    assert (summary["created"], summary["statements"]) == (0, [])
    assert statements.latest_closed_month(session) == date(2025, 6, 1)
