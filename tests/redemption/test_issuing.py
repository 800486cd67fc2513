"""Issuing an order at volume: batches of booklets, their cheques, codes checked against the database, the audit."""

from datetime import date, timedelta

from sqlalchemy import select

from directory.models import AuditEvent
from redemption import api, codes, orders
from redemption.models import Booklet, Cheque, ChequeStatus, OrderStatus
from tests.builders import ACTOR


def _paid_order(session, sponsor, booklets, cheques_per_booklet):
    order = api.create_order(session, ACTOR, sponsor, booklets=booklets, cheques_per_booklet=cheques_per_booklet,
                             territories=["departement:33"], expires_on=date.today() + timedelta(days=300),
                             minimum_exception="commande de test")
    api.confirm_order(session, ACTOR, order)
    api.pay_order(session, ACTOR, order)
    return order


def test_an_order_issued_in_several_batches_has_every_booklet_cheque_and_audit_record(session, world):
    order = _paid_order(session, world.sponsor, booklets=7, cheques_per_booklet=3)
    api.issue_order(session, ACTOR, order, batch_booklets=3)  # batches of 3, 3 and 1 booklets
    session.refresh(order)
    assert order.status == OrderStatus.ISSUED and order.issued_at is not None
    booklets = session.execute(select(Booklet.id, Booklet.sequence, Booklet.number, Booklet.distributor_id)
                               .where(Booklet.order_id == order.id).order_by(Booklet.id)).all()
    assert [b.sequence for b in booklets] == [1, 2, 3, 4, 5, 6, 7]
    assert [b.number for b in booklets] == [f"{order.id:05d}-{seq:05d}" for seq in range(1, 8)]
    assert {b.distributor_id for b in booklets} == {None}
    cheques = session.execute(select(Cheque.booklet_id, Cheque.position, Cheque.code, Cheque.value_cents, Cheque.status)
                              .where(Cheque.order_id == order.id).order_by(Cheque.booklet_id, Cheque.position)).all()
    assert [(c.booklet_id, c.position) for c in cheques] == [(b.id, p) for b in booklets for p in (1, 2, 3)]
    assert {(c.value_cents, c.status) for c in cheques} == {(1000, ChequeStatus.ISSUED)}
    issued = [c.code for c in cheques]
    assert len(set(issued)) == 21 and all(codes.normalize(code) == code for code in issued)
    audits = session.execute(select(AuditEvent.target_id, AuditEvent.data, AuditEvent.actor)
                             .where(AuditEvent.action == "booklet.issued", AuditEvent.target_id.in_(
                                 [str(b.id) for b in booklets]))).all()
    assert sorted((a.target_id, a.data["number"], a.data["order_id"], a.data["cheques"]) for a in audits) == sorted(
        (str(b.id), b.number, order.id, 3) for b in booklets)
    assert {a.actor for a in audits} == {ACTOR.label}
    moves = session.scalars(select(AuditEvent.data).where(AuditEvent.target_type == "order",
                                                          AuditEvent.target_id == str(order.id),
                                                          AuditEvent.action == "order.status_changed")).all()
    assert (moves[-1]["before"], moves[-1]["after"]) == ("paid", "issued")


def test_batches_of_one_booklet_and_of_the_whole_order_write_the_same_rows(session, world):
    shapes = []
    for batch in (1, 1_000):
        order = _paid_order(session, world.sponsor, booklets=4, cheques_per_booklet=2)
        api.issue_order(session, ACTOR, order, batch_booklets=batch)
        shapes.append(session.execute(
            select(Booklet.sequence, Cheque.position).join(Cheque, Cheque.booklet_id == Booklet.id)
            .where(Booklet.order_id == order.id).order_by(Booklet.sequence, Cheque.position)).all())
    assert shapes[0] == shapes[1] and len(shapes[0]) == 8


def test_known_codes_finds_exactly_the_codes_already_issued(session, world, monkeypatch):
    issued = session.scalars(select(Cheque.code).where(Cheque.order_id == world.order.id)).all()
    fresh = codes.new_codes(50)
    assert orders._known_codes(session, fresh + issued[:5]) == set(issued[:5])
    monkeypatch.setattr(orders, "CODE_CHECK_BATCH", 2)  # the IN lists of SQLite, several of them
    assert orders._known_codes(session, issued[:5] + fresh) == set(issued[:5])
    assert orders._known_codes(session, fresh) == set()
    assert len(orders._unique_codes(session, 30)) == 30
