"""Who pays what of an order: face value, APTIC's fee, the funder's share and the sponsor's share, in cents.

Rounding rule (also in the README): the funder's share is the face value times the call's share in
basis points, divided by 10,000 and rounded DOWN to the cent (a funder never pays more than its
rate); the sponsor's share is the rest of the face value, so the two always add up to the face
value exactly (a CHECK on `pass_order` says so too). APTIC's fee (4 % of the face value, rounded
half up, see `orders.create_order`) is not co-funded: the sponsor pays it on top of its share.

    200,000.00 € ordered, 50 % call: funder 100,000.00 €, sponsor 100,000.00 €, fee 8,000.00 €
    100.10 € ordered, 33.33 %:       funder 33.36 € (3336.33 cents rounded down), sponsor 66.74 €
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redemption.models import Order

BASIS = 10_000


def funder_share(face_value_cents: int, share_bp: int) -> int:
    """The funder's part of a face value: rounded down to the cent."""
    return face_value_cents * share_bp // BASIS


@dataclass(frozen=True)
class Shares:
    face_value_cents: int
    fee_cents: int
    share_bp: int
    funder_cents: int
    sponsor_cents: int

    @property
    def sponsor_total_cents(self) -> int:
        """What the sponsor pays: its share of the passes plus APTIC's fee."""
        return self.sponsor_cents + self.fee_cents

    def payload(self) -> dict[str, Any]:
        return {"face_value_cents": self.face_value_cents, "fee_cents": self.fee_cents, "share_bp": self.share_bp,
                "funder_cents": self.funder_cents, "sponsor_cents": self.sponsor_cents,
                "sponsor_total_cents": self.sponsor_total_cents}


def compute(face_value_cents: int, fee_cents: int, share_bp: int) -> Shares:
    funder = funder_share(face_value_cents, share_bp)
    return Shares(face_value_cents, fee_cents, share_bp, funder, face_value_cents - funder)


def of_order(order: Order) -> Shares:
    """The shares recorded on an order (all the sponsor's while no accepted application covers it)."""
    return Shares(order.face_value_cents, order.fee_cents, order.funder_share_bp, order.funder_share_cents,
                  order.sponsor_share_cents)


def apply(order: Order, share_bp: int) -> int:
    """Record the shares of a call's rate on the order; returns the funder's share."""
    shares = compute(order.face_value_cents, order.fee_cents, share_bp)
    order.funder_share_bp = share_bp
    order.funder_share_cents = shares.funder_cents
    order.sponsor_share_cents = shares.sponsor_cents
    return shares.funder_cents


def clear(order: Order) -> None:
    """The whole face value back to the sponsor (an application refused or an order withdrawn)."""
    order.funder_share_bp = 0
    order.funder_share_cents = 0
    order.sponsor_share_cents = order.face_value_cents
