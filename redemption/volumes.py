"""The pass's volume where venues are: cheques in circulation per commune and recent redemptions per
commune, which the qualification weighs against the number of qualified venues (the consolidation ratio).

A cheque in circulation is distributed, unused and still valid. It may be used anywhere in its order's
territories: each order's cheques in circulation are spread over the communes of those territories in
proportion to their population (the cheques follow the people).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.api import COMMUNE_CODE_OF_LEVEL
from directory.models import Territory, TerritoryLevel, Venue
from redemption.models import Booklet, Cheque, ChequeStatus, Order, OrderStatus, Redemption, RedemptionStatus



def cheques_in_circulation_by_commune(session: Session, today: date) -> dict[str, float]:
    """Cheques distributed, unused and valid today, spread over their orders' communes by population."""
    per_order = dict(session.execute(
        select(Booklet.order_id, func.count(Cheque.id))
        .join(Cheque, Cheque.booklet_id == Booklet.id).join(Order, Order.id == Booklet.order_id)
        .where(Booklet.distributed_at.is_not(None), Cheque.status == ChequeStatus.ISSUED,
               Order.status == OrderStatus.ISSUED, Order.expires_on >= today)
        .group_by(Booklet.order_id)
    ).all())
    spread: dict[str, float] = defaultdict(float)
    # Orders share their territories (a département, a région): each territory's communes are read once.
    communes_of: dict[tuple[str, str], dict[str, int]] = {}
    for order_id, territories in session.execute(select(Order.id, Order.territories).where(Order.id.in_(per_order))):
        communes: dict[str, int] = {}
        for entry in territories:
            key = (entry["level"], entry["code"])
            if key not in communes_of:
                communes_of[key] = dict(session.execute(
                    select(Territory.code, Territory.population).where(
                        Territory.level == TerritoryLevel.COMMUNE,
                        COMMUNE_CODE_OF_LEVEL[TerritoryLevel(entry["level"])] == entry["code"])).all())
            communes.update(communes_of[key])
        people = sum(population or 0 for population in communes.values())
        for code, population in communes.items():
            if people:
                spread[code] += per_order[order_id] * (population or 0) / people
    return dict(spread)


def redemptions_by_commune(session: Session, since: datetime) -> dict[str, int]:
    """Redemptions (not cancelled) since a moment, by the commune of the venue that took them."""
    return dict(session.execute(
        select(Venue.code_insee, func.count(Redemption.id)).join(Venue, Venue.id == Redemption.venue_id)
        .where(Redemption.created_at >= since, Redemption.status != RedemptionStatus.CANCELLED,
               Venue.code_insee.is_not(None))
        .group_by(Venue.code_insee)
    ).all())
