"""Monthly statements: arithmetic in cents, the monthly fee, rate changes, numbering, idempotence."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pypdfium2
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from directory.errors import DomainError
from redemption import api, invoices
from redemption.models import FeeRuleKind, Redemption, RedemptionStatus, Statement
from tests.builders import ACTOR, distribute

AFTER_ALL = datetime(2030, 1, 1, tzinfo=UTC)


def redeem_at(session, world, venue, codes, when, service="premiers-pas"):
    redemption, _ = api.redeem(session, ACTOR, venue, codes, service, now=when)
    return redemption


@pytest.fixture
def used(session, world):
    """Booklet 0: 3 cheques at Bordeaux in Jan 2026 (one delivery of two), 1 at Mérignac; Feb: 1 at Bordeaux;
    a cancelled delivery of booklet 2 (two cheques at most per service and booklet)."""
    world.order.expires_on = date(2027, 12, 31)
    distribute(session, world, 0)
    distribute(session, world, 2)
    codes = world.codes(0)
    redeem_at(session, world, world.venue, codes[0:2], datetime(2026, 1, 10, 9, tzinfo=UTC))
    redeem_at(session, world, world.venue, codes[2:3], datetime(2026, 1, 31, 23, 30, tzinfo=UTC),  # 1 Feb in Paris
              "demarches-en-ligne")
    redeem_at(session, world, world.other_venue, codes[3:4], datetime(2026, 1, 15, tzinfo=UTC), "demarches-en-ligne")
    cancelled = redeem_at(session, world, world.venue, world.codes(2)[0:1], datetime(2026, 1, 20, tzinfo=UTC))
    api.cancel_redemption(session, ACTOR, world.venue, cancelled.id, now=datetime(2026, 1, 20, 1, tzinfo=UTC))
    return codes


def test_month_close_arithmetic_first_month_fee_and_paris_month(session, world, used):
    summary = api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    by_venue = {s.venue_id: s for s in summary["statements"]}
    assert set(by_venue) == {world.venue.id, world.other_venue.id}
    bordeaux = by_venue[world.venue.id]
    # Two cheques (the 31 January 23:30 UTC scan is 1 February in Paris, and the cancelled one is out).
    assert (bordeaux.cheque_count, bordeaux.gross_cents, bordeaux.commission_cents, bordeaux.fee_cents,
            bordeaux.net_cents) == (2, 2000, 80, 700, 1220)
    merignac = by_venue[world.other_venue.id]
    assert (merignac.gross_cents, merignac.commission_cents, merignac.fee_cents, merignac.net_cents) == (1000, 40, 700, 260)
    reimbursed = session.scalars(select(Redemption).where(Redemption.status == RedemptionStatus.REIMBURSED)).all()
    assert len(reimbursed) == 2 and all(r.statement_id for r in reimbursed)


def test_closing_is_idempotent_and_numbers_are_gapless(session, world, used):
    first = api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    again = api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    assert first["created"] == 2 and again["created"] == 0 and again["already_closed"] == 2
    february = api.close_month(session, ACTOR, date(2026, 2, 1), now=AFTER_ALL)
    # Bordeaux redeemed in February; Mérignac did not but owes its monthly fee from its first cheque on.
    assert february["created"] == 2
    sequences = session.scalars(select(Statement.sequence).order_by(Statement.sequence)).all()
    assert sequences == list(range(sequences[0], sequences[0] + 4))
    assert session.scalar(select(func.count()).select_from(Statement)) == 4


def test_reimbursed_redemptions_can_no_longer_be_cancelled(session, world, used):
    api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    redemption = session.scalar(select(Redemption).where(Redemption.status == RedemptionStatus.REIMBURSED).limit(1))
    with pytest.raises(DomainError) as refused:
        api.cancel_redemption(session, ACTOR, redemption.venue, redemption.id, now=redemption.created_at)
    assert refused.value.code == "already_reimbursed"


def test_a_month_not_over_cannot_be_closed(session, world):
    with pytest.raises(DomainError) as refused:
        api.close_month(session, ACTOR, date(2026, 3, 1), now=datetime(2026, 3, 31, 21, tzinfo=UTC))
    assert refused.value.code == "month_not_over"
    with pytest.raises(DomainError) as refused:
        api.parse_month("2026-13")
    assert refused.value.code == "invalid_month"


def test_commission_rounds_half_up_per_statement(session, world):
    order = world.order
    order.expires_on = date(2027, 12, 31)
    distribute(session, world, 1)
    cheque = world.booklet(1).cheques[0]
    cheque.value_cents = 1_013  # 4 % = 40.52 → 41 cents
    session.flush()
    redeem_at(session, world, world.venue, [cheque.code], datetime(2026, 5, 5, tzinfo=UTC))
    statement = api.close_month(session, ACTOR, date(2026, 5, 1), now=AFTER_ALL)["statements"][0]
    assert (statement.gross_cents, statement.commission_cents, statement.net_cents) == (1013, 41, 1013 - 41 - 700)


def test_a_rate_change_applies_from_its_date_and_never_rewrites_the_past(session, world, used):
    api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    with pytest.raises(DomainError) as refused:
        api.change_fee_rule(session, ACTOR, FeeRuleKind.COMMISSION_BP, 500, date(2026, 1, 1))
    assert refused.value.code == "fee_rule_in_the_past"
    api.change_fee_rule(session, ACTOR, FeeRuleKind.COMMISSION_BP, 500, date(2026, 2, 1))
    api.change_fee_rule(session, ACTOR, FeeRuleKind.MONTHLY_FEE_CENTS, 900, date(2026, 2, 1))
    february = api.close_month(session, ACTOR, date(2026, 2, 1), now=AFTER_ALL)["statements"][0]
    assert (february.commission_rate_bp, february.commission_cents, february.fee_cents) == (500, 50, 900)
    january = api.statements_for_month(session, date(2026, 1, 1))
    assert {s.commission_rate_bp for s in january} == {400} and {s.fee_cents for s in january} == {700}
    assert api.rule_in_force(session, FeeRuleKind.COMMISSION_BP, date(2026, 1, 31)).value == 400


def test_csv_and_pdf_exports(session, world, used, tmp_path):
    statements = api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)["statements"]
    rows = list(csv.DictReader(io.StringIO(api.statements_csv(statements)), delimiter=";"))
    assert len(rows) == 2
    row = next(r for r in rows if r["lieu"] == world.venue.nom)
    assert (row["brut_centimes"], row["commission_centimes"], row["forfait_centimes"], row["net_centimes"]) == (
        "2000", "80", "700", "1220")
    out = tmp_path / "releves.pdf"
    invoices.statements_pdf(statements, invoices.Issuer("APTIC", "88888888800017", "Nantes"), out)
    pdf = pypdfium2.PdfDocument(str(out))
    assert len(pdf) == 2
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert statements[0].number in text and "12,20 €" in text


def test_the_scheduled_job_closes_the_previous_month(session, world, connection):
    job = api.SCHEDULED_JOBS[0]
    assert "day='1'" in str(job.trigger()) and "hour='6'" in str(job.trigger())
    distribute(session, world, 0)
    previous_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=15)
    redeem_at(session, world, world.venue, world.codes(0)[:1], datetime.combine(previous_month, datetime.min.time(), UTC))
    session.commit()
    job.run(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
    statements = api.statements_for_month(session, previous_month)
    assert [(s.venue_id, s.gross_cents) for s in statements] == [(world.venue.id, 1000)]


def test_the_scheduled_job_catches_up_missed_months_in_order(session, world, connection):
    distribute(session, world, 0)
    this_month = date.today().replace(day=1)
    months = [(this_month - timedelta(days=1 + 31 * back)).replace(day=1) for back in (2, 1, 0)]
    redeem_at(session, world, world.venue, world.codes(0)[:1], datetime.combine(months[0].replace(day=15),
                                                                                  datetime.min.time(), UTC))
    session.commit()
    api.SCHEDULED_JOBS[0].run(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
    # The first month with the cheque, then the monthly fee alone in each following month.
    assert [[(s.cheque_count, s.fee_cents, s.carried_out_cents) for s in api.statements_for_month(session, month)]
            for month in months] == [[(1, 700, 0)], [(0, 700, 700)], [(0, 700, 1400)]]


def test_paris_month_bounds():
    start, end = api.month_bounds(date(2026, 3, 1))
    assert start == datetime(2026, 2, 28, 23, tzinfo=UTC) and end == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert end - start == timedelta(days=31, hours=-1)


def test_a_formula_in_a_venue_name_comes_out_inert_in_the_statements_csv(session, world, used):
    world.venue.nom = '=HYPERLINK("http://evil.example";"Cliquez")'
    statements = api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)["statements"]
    rows = list(csv.DictReader(io.StringIO(api.statements_csv(statements)), delimiter=";"))
    assert "'=HYPERLINK(\"http://evil.example\";\"Cliquez\")" in {r["lieu"] for r in rows}
    assert all(not r["lieu"].startswith(("=", "+", "-", "@")) for r in rows)
