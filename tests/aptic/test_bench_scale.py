"""The national-scale benchmark's dataset (bench/scale_data.py) at its tiny scale, on both backends: the rows it
promises, valid cheque codes, and money consistent with the domain (closing its month gives statements that add
up to the redemptions built, and closing it again creates nothing)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sqlalchemy import func, select, text

from directory.api import Actor
from redemption import codes
from redemption.cofunding_models import CofundingCall
from redemption.models import Cheque, ChequeStatus, Order, Redemption, RedemptionCheque, RedemptionStatus
from redemption.statements import close_month

TABLES = ("venue", "venue_service", "organisation", "pass_order", "booklet", "cheque", "redemption",
          "redemption_cheque", "beneficiary_claim", "qualification_application")


def _scale_data():
    path = Path(__file__).resolve().parents[2] / "bench" / "scale_data.py"
    spec = importlib.util.spec_from_file_location("scale_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _counts(session) -> dict[str, int]:
    return {name: session.scalar(text(f"SELECT count(*) FROM {name}")) for name in TABLES}


def test_tiny_dataset_has_its_rows_and_closes_into_statements_of_its_redemptions(session):
    scale_data = _scale_data()
    tiny = scale_data.PRESETS["tiny"]
    before = _counts(session)

    built = scale_data.build(session, tiny)

    added = {name: count - before[name] for name, count in _counts(session).items()}
    assert added["venue"] == tiny.venues
    assert added["venue_service"] >= tiny.venues
    assert added["booklet"] == tiny.booklets
    assert added["cheque"] == tiny.cheques
    assert added["qualification_application"] == tiny.applications
    assert added["redemption"] == built.redemption_count
    assert 0.8 * tiny.redemptions <= built.redemption_count <= 1.2 * tiny.redemptions
    assert added["redemption_cheque"] == built.redeemed_cheques
    assert session.scalar(select(func.count()).where(Cheque.status == ChequeStatus.REDEEMED)) == built.redeemed_cheques
    assert session.scalar(select(func.count()).select_from(RedemptionCheque)
                          .join(Cheque, Cheque.id == RedemptionCheque.cheque_id)
                          .where(Cheque.status != ChequeStatus.REDEEMED)) == 0
    order_codes = session.scalars(select(Cheque.code).where(Cheque.order_id.in_(built.order_ids))).all()
    assert all(codes.normalize(code) == code for code in order_codes)
    assert session.scalar(select(func.count()).where(Cheque.order_id == built.big_order_id)) == \
        tiny.big_order_booklets * 10
    call = session.get(CofundingCall, built.call_id)
    covered = session.execute(select(func.sum(Order.booklet_count * Order.cheques_per_booklet),
                                      func.sum(Order.funder_share_cents))
                              .where(Order.application_id.is_not(None), Order.id.in_(built.order_ids))).one()
    assert covered[0] == tiny.call_cheques
    assert call.committed_cents == covered[1] > 0

    closed = close_month(session, Actor.system("test"), built.month)

    statements = closed["statements"]
    assert closed["created"] == len(statements) > 0
    assert sum(s.gross_cents for s in statements) == built.redeemed_cents == session.scalar(
        select(func.sum(Redemption.amount_cents)).where(Redemption.order_id.in_(built.order_ids)))
    assert sum(s.cheque_count for s in statements) == built.redeemed_cheques
    assert session.scalar(select(func.count()).where(Redemption.order_id.in_(built.order_ids),
                                                     Redemption.status != RedemptionStatus.REIMBURSED)) == 0
    assert close_month(session, Actor.system("test"), built.month)["created"] == 0
