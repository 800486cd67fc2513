"""The monthly fee from the first cheque: every month while qualified, carried balances, final statement, order."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from directory import api as directory_api
from directory.errors import DomainError
from directory.models import VenueStatus
from redemption import api, invoices
from redemption.models import Statement
from tests.builders import ACTOR, distribute, hand_out

AFTER_ALL = datetime(2030, 1, 1, tzinfo=UTC)
AUGUST, SEPTEMBER, OCTOBER, NOVEMBER, DECEMBER = (date(2026, month, 1) for month in (8, 9, 10, 11, 12))


@pytest.fixture
def august_and_october(session, world):
    """Bordeaux: 3 cheques in August 2026, none in September, 2 in October."""
    world.order.expires_on = date(2027, 1, 31)
    distribute(session, world, 0)
    distribute(session, world, 1)
    first, second = world.codes(0), world.codes(1)
    api.redeem(session, ACTOR, world.venue, first[0:2], "premiers-pas", now=datetime(2026, 8, 10, 9, tzinfo=UTC))
    api.redeem(session, ACTOR, world.venue, first[2:3], "demarches-en-ligne", now=datetime(2026, 8, 20, 9, tzinfo=UTC))
    api.redeem(session, ACTOR, world.venue, second[0:2], "premiers-pas", now=datetime(2026, 10, 5, 9, tzinfo=UTC))


def figures(statement):
    return (statement.cheque_count, statement.gross_cents, statement.commission_cents, statement.fee_cents,
            statement.net_cents, statement.carried_in_cents, statement.carried_out_cents, statement.paid_cents,
            statement.due_cents, statement.final)


def only_statement(session, world, month):
    statements = api.close_month(session, ACTOR, month, now=AFTER_ALL)["statements"]
    assert [s.venue_id for s in statements] == [world.venue.id]
    return statements[0]


def test_fee_every_month_from_the_first_cheque_with_the_negative_balance_carried(session, world, august_and_october):
    #                         cheques gross comm. fee   net  in  out  paid due final
    assert figures(only_statement(session, world, AUGUST)) == (3, 3000, 120, 700, 2180, 0, 0, 2180, 0, False)
    september = only_statement(session, world, SEPTEMBER)
    assert figures(september) == (0, 0, 0, 700, -700, 0, 700, 0, 0, False)
    october = only_statement(session, world, OCTOBER)
    assert figures(october) == (2, 2000, 80, 700, 1220, 700, 0, 520, 0, False)
    # Mérignac never redeemed: it owes nothing and has no statement.
    assert api.statements_for_month(session, SEPTEMBER) == [september]


def test_a_venue_leaving_the_scheme_gets_a_final_statement_then_no_more(session, world, august_and_october):
    for month in (AUGUST, SEPTEMBER, OCTOBER):
        api.close_month(session, ACTOR, month, now=AFTER_ALL)
    directory_api.set_venue_status(session, ACTOR, world.venue, VenueStatus.DEQUALIFIED, "quitte le dispositif")
    november = only_statement(session, world, NOVEMBER)
    assert figures(november) == (0, 0, 0, 700, -700, 0, 0, 0, 700, True)
    assert api.close_month(session, ACTOR, DECEMBER, now=AFTER_ALL)["statements"] == []


def test_the_balance_carried_is_never_lost_when_the_venue_leaves(session, world, august_and_october):
    api.close_month(session, ACTOR, AUGUST, now=AFTER_ALL)
    directory_api.set_venue_status(session, ACTOR, world.venue, VenueStatus.SUSPENDED, "dossier incomplet")
    september = only_statement(session, world, SEPTEMBER)
    assert figures(september) == (0, 0, 0, 700, -700, 0, 0, 0, 700, True)


def test_months_close_in_order_once(session, world, august_and_october):
    with pytest.raises(DomainError) as refused:
        api.close_month(session, ACTOR, SEPTEMBER, now=AFTER_ALL)
    assert (refused.value.code, refused.value.status) == ("previous_month_not_closed", 409)
    assert "08/2026" in refused.value.message
    api.close_month(session, ACTOR, AUGUST, now=AFTER_ALL)
    with pytest.raises(DomainError) as refused:
        api.close_month(session, ACTOR, OCTOBER, now=AFTER_ALL)
    assert refused.value.code == "previous_month_not_closed" and "09/2026" in refused.value.message
    api.close_month(session, ACTOR, SEPTEMBER, now=AFTER_ALL)
    with pytest.raises(DomainError) as refused:
        api.close_month(session, ACTOR, date(2026, 7, 1), now=AFTER_ALL)
    assert refused.value.code == "month_out_of_order"
    again = api.close_month(session, ACTOR, SEPTEMBER, now=AFTER_ALL)
    assert (again["created"], again["already_closed"]) == (0, 1)
    sequences = [s.sequence for month in (AUGUST, SEPTEMBER) for s in api.statements_for_month(session, month)]
    assert sequences == list(range(sequences[0], sequences[0] + 2))


def test_worked_example_order_deliveries_statements_and_invoices(session, world):
    """The closing note's example, every figure checked by hand against the scheme's rules (rules.md)."""
    sponsor = api.create_sponsor(session, ACTOR, name="Ville de Bordeaux", legal_form="collectivite",
                                 siret="21330063500017", code_insee="33063")
    # A first order on a territory starts at 20 000 €: 199 booklets of 10 × 10 € (19 900 €) are refused.
    with pytest.raises(DomainError) as refused:
        api.create_order(session, ACTOR, sponsor, booklets=199, territories=["departement:33"], today=date(2026, 7, 1))
    assert refused.value.code == "order_below_minimum"
    order = api.create_order(session, ACTOR, sponsor, booklets=200, territories=["departement:33"], vintage=2026,
                             today=date(2026, 7, 1))
    # 200 × 10 × 10 € = 20 000 €; APTIC's fee on orders 4 % = 800 €; vintage 2026 valid until 31 January 2027.
    assert (order.face_value_cents, order.fee_cents, order.expires_on) == (2_000_000, 80_000, date(2027, 1, 31))
    for step in (api.confirm_order, api.pay_order, api.issue_order):
        step(session, ACTOR, order)
    session.refresh(order)
    first, second = order.booklets[0], order.booklets[1]
    for index, booklet in enumerate((first, second)):
        hand_out(session, world.distributor, booklet, ref=f"EX-{index}")
    codes = [[cheque.code for cheque in booklet.cheques] for booklet in (first, second)]
    # Deliveries: 10 Aug two cheques, 20 Aug one cheque, 5 Oct two cheques, all at Bordeaux.
    api.redeem(session, ACTOR, world.venue, codes[0][0:2], "premiers-pas", now=datetime(2026, 8, 10, 9, tzinfo=UTC))
    api.redeem(session, ACTOR, world.venue, codes[0][2:3], "demarches-en-ligne", now=datetime(2026, 8, 20, 9, tzinfo=UTC))
    api.redeem(session, ACTOR, world.venue, codes[1][0:2], "premiers-pas", now=datetime(2026, 10, 5, 9, tzinfo=UTC))
    issuer = invoices.Issuer("APTIC", "88888888800017", "Nantes")
    expected = {
        # month: (cheques, gross, commission 4 %, fee, net, carried in, carried out, paid), (HT, TVA, TTC)
        AUGUST: ((3, 3000, 120, 700, 2180, 0, 0, 2180), (683, 137, 820)),
        SEPTEMBER: ((0, 0, 0, 700, -700, 0, 700, 0), (583, 117, 700)),
        OCTOBER: ((2, 2000, 80, 700, 1220, 700, 0, 520), (650, 130, 780)),
    }
    for month, (amounts, taxes) in expected.items():
        statement = only_statement(session, world, month)
        assert figures(statement)[:8] == amounts
        document = invoices.invoice(statement, issuer)
        assert (document["total_excluding_tax_cents"], document["total_vat_cents"],
                document["total_including_tax_cents"]) == taxes
    # Redistribution: 5 cheques redeemed of 2 000 sold, the venue kept 96 % of their 50 € before its fees.
    assert sum(s.gross_cents - s.commission_cents for s in session.scalars(select(Statement))) == 4800
