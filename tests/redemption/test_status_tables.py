"""Truth tables of the pass's state machines (order, cheque, redemption): every (from, to) pair."""

from datetime import UTC, date, datetime
from itertools import product

import pytest
from sqlalchemy import func, select

from directory.audit import audit_trail
from directory.errors import DomainError, InvalidTransition
from directory.models import AuditEvent
from redemption import api
from redemption.models import (
    CHEQUE_MACHINE,
    ORDER_MACHINE,
    REDEMPTION_MACHINE,
    ChequeStatus,
    OrderStatus,
    RedemptionStatus,
    Statement,
)
from tests.builders import ACTOR, distribute

ORDER_MOVES = {
    (OrderStatus.DRAFT, OrderStatus.CONFIRMED),
    (OrderStatus.CONFIRMED, OrderStatus.PAID),
    (OrderStatus.PAID, OrderStatus.ISSUED),
    (OrderStatus.ISSUED, OrderStatus.CLOSED),
}
CHEQUE_MOVES = {
    (ChequeStatus.ISSUED, ChequeStatus.REDEEMED),
    (ChequeStatus.ISSUED, ChequeStatus.CANCELLED),
    (ChequeStatus.REDEEMED, ChequeStatus.ISSUED),  # its redemption was cancelled
}
REDEMPTION_MOVES = {
    (RedemptionStatus.REDEEMED, RedemptionStatus.CANCELLED),
    (RedemptionStatus.REDEEMED, RedemptionStatus.REIMBURSED),
}
TABLES = [(ORDER_MACHINE, ORDER_MOVES), (CHEQUE_MACHINE, CHEQUE_MOVES), (REDEMPTION_MACHINE, REDEMPTION_MOVES)]
EVERY_PAIR = [
    pytest.param(machine, current, target, (current, target) in moves, id=f"{machine.kind}:{current}->{target}")
    for machine, moves in TABLES
    for current, target in product(machine.states, repeat=2)
]
JANUARY = datetime(2026, 1, 10, 9, tzinfo=UTC)
AFTER_ALL = datetime(2030, 1, 1, tzinfo=UTC)


def audit_count(session):
    return session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("machine, current, target, allowed", EVERY_PAIR)
def test_every_pair_is_allowed_or_refused(machine, current, target, allowed):
    assert machine.allows(current, target) is allowed
    # Bulk moves select their rows with the same table.
    assert (current in machine.states_moving_to(target)) is allowed


@pytest.mark.parametrize("current, target", list(product(OrderStatus, repeat=2)),
                         ids=lambda status: status.value)
def test_an_order_moves_only_along_its_table(session, current, target):
    sponsor = api.create_sponsor(session, ACTOR, name="Département de la Gironde", legal_form="collectivite",
                                 siret="22330001300016", code_insee="33063")
    order = api.create_order(session, ACTOR, sponsor, booklets=1, territories=["departement:33"],
                             minimum_exception="commande de test")
    order.status = current
    session.flush()
    trail = audit_trail(session, "order", order.id)
    if (current, target) in ORDER_MOVES:
        ORDER_MACHINE.move(session, ACTOR, order, target)
        assert order.status == target
        after = audit_trail(session, "order", order.id)
        assert len(after) == len(trail) + 1
        assert (after[-1].action, after[-1].data) == ("order.status_changed",
                                                      {"before": current.value, "after": target.value})
        return
    with pytest.raises(InvalidTransition) as refused:
        ORDER_MACHINE.move(session, ACTOR, order, target)
    assert refused.value.message == (f"La commande n° {order.id} est au statut « {current.value} » : elle ne peut "
                                     f"pas passer au statut « {target.value} ».")
    session.refresh(order)
    assert order.status == current
    assert len(audit_trail(session, "order", order.id)) == len(trail)


def test_cancelling_a_booklet_cancels_only_the_cheques_the_table_lets_go(session, world):
    booklet = world.booklet(0)
    issued, redeemed, cancelled, *unused = booklet.cheques
    redeemed.status, cancelled.status = ChequeStatus.REDEEMED, ChequeStatus.CANCELLED
    session.flush()
    assert api.cancel_booklet(session, ACTOR, booklet, "carnet perdu") == 1 + len(unused)
    for cheque in booklet.cheques:
        session.refresh(cheque)
    assert issued.status == ChequeStatus.CANCELLED and all(c.status == ChequeStatus.CANCELLED for c in unused)
    assert (redeemed.status, cancelled.status) == (ChequeStatus.REDEEMED, ChequeStatus.CANCELLED)


@pytest.mark.parametrize("current", list(RedemptionStatus), ids=lambda status: status.value)
def test_cancelling_a_redemption_follows_the_table(session, world, current):
    world.order.expires_on = date(2027, 12, 31)
    distribute(session, world, 0)
    code = world.codes(0)[0]
    redemption, _ = api.redeem(session, ACTOR, world.venue, [code], "premiers-pas", now=JANUARY)
    if current == RedemptionStatus.CANCELLED:
        api.cancel_redemption(session, ACTOR, world.venue, redemption.id, now=JANUARY)
    elif current == RedemptionStatus.REIMBURSED:
        api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    session.refresh(redemption)
    assert redemption.status == current
    cheque = redemption.lines[0].cheque
    cheque_status, events = cheque.status, audit_count(session)
    if REDEMPTION_MACHINE.allows(current, RedemptionStatus.CANCELLED):
        api.cancel_redemption(session, ACTOR, world.venue, redemption.id, now=JANUARY)
        session.refresh(cheque)
        assert (redemption.status, cheque.status) == (RedemptionStatus.CANCELLED, ChequeStatus.ISSUED)
        assert audit_count(session) == events + 1
        return
    with pytest.raises(DomainError) as refused:
        api.cancel_redemption(session, ACTOR, world.venue, redemption.id, now=JANUARY)
    assert refused.value.code == {RedemptionStatus.CANCELLED: "already_cancelled",
                                  RedemptionStatus.REIMBURSED: "already_reimbursed"}[current]
    session.refresh(redemption)
    session.refresh(cheque)
    assert (redemption.status, cheque.status) == (current, cheque_status)
    assert audit_count(session) == events


def test_closing_a_month_reimburses_only_what_the_table_lets_through(session, world):
    world.order.expires_on = date(2027, 12, 31)
    distribute(session, world, 0)
    codes = world.codes(0)
    kept, _ = api.redeem(session, ACTOR, world.venue, codes[:1], "premiers-pas", now=JANUARY)
    taken_back, _ = api.redeem(session, ACTOR, world.venue, codes[1:2], "premiers-pas", now=JANUARY)
    api.cancel_redemption(session, ACTOR, world.venue, taken_back.id, now=JANUARY)
    api.close_month(session, ACTOR, date(2026, 1, 1), now=AFTER_ALL)
    session.refresh(kept)
    session.refresh(taken_back)
    assert (kept.status, taken_back.status) == (RedemptionStatus.REIMBURSED, RedemptionStatus.CANCELLED)
    statement = session.get(Statement, kept.statement_id)
    reimbursed = session.scalars(select(AuditEvent).where(AuditEvent.action == "redemption.reimbursed")).all()
    assert [(e.target_id, e.data) for e in reimbursed] == [(str(kept.id), {"statement": statement.number})]
