"""The vigilance part of `aptic demo`: a few planted anomalies on the showcase order, the signals they raise,
and the month's control plan. Kept apart from `demo.py`, which seeds the ordinary usage."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory.api import Actor, record_audits
from directory.db import PARIS_TZ
from directory.geodesy import haversine_m
from directory.models import ApiKey, Organisation, Venue, VenueService, VenueStatus
from redemption.beneficiaries import Beneficiary
from redemption.controls import propose_controls
from redemption.distribution import record_distribution
from redemption.models import (
    Booklet,
    Cheque,
    ChequeStatus,
    Order,
    Redemption,
    RedemptionCheque,
    RedemptionStatus,
    ScanRefusal,
)
from redemption.months import paris_date
from redemption.redemptions import venue_in_territories
from redemption.signals import compute_signals


def _paris(day: Any, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS_TZ).astimezone(UTC)


def plant_anomalies(session: Session, actor: Actor, order: Order, distributor: Organisation, key: ApiKey,
                    now: datetime, echo: Any, beneficiary_key: bytes) -> None:
    """Twelve booklets of the showcase order handed out three days ago, then: nine redemptions in one hour at
    the showcase venue, one booklet in two venues far apart the same day, a redemption in the night, and a
    burst of refused scans on the demo key. The signals of the last two days are then computed."""
    venue = key.venue
    fresh = list(session.scalars(select(Booklet).where(Booklet.order_id == order.id, Booklet.distributed_at.is_(None))
                                 .order_by(Booklet.sequence).limit(12)))
    if len(fresh) < 11 or venue is None:
        return
    handed = now - timedelta(days=3)
    for booklet in fresh:
        person = Beneficiary(last_name=f"Vigilance {booklet.sequence}", first_name="Démo", birth_date=date(1970, 1, 1))
        record_distribution(session, actor, distributor, booklet, person, beneficiary_key, now=handed)
        session.expire(booklet)
    services: dict[int, list[int]] = defaultdict(list)
    for venue_id, service_id in session.execute(
        select(VenueService.venue_id, VenueService.service_id).join(Venue, Venue.id == VenueService.venue_id)
        .where(Venue.status == VenueStatus.QUALIFIED).order_by(VenueService.service_id)
    ):
        services[venue_id].append(service_id)
    if not services.get(venue.id):
        return
    yesterday = paris_date(now) - timedelta(days=1)
    plan = [(venue, b, _paris(yesterday, 14, 5 * i)) for i, b in enumerate(fresh[:9])]
    here = directory_api.venue_coordinates(venue)
    far = None
    if here is not None:
        for candidate in session.scalars(select(Venue).where(Venue.id.in_(list(services)), Venue.id != venue.id)
                                         .order_by(Venue.id)):
            there = directory_api.venue_coordinates(candidate)
            if there and haversine_m(here[0], here[1], there[0], there[1]) > 60_000 and \
                    venue_in_territories(session, candidate, order.territories):
                far = candidate
                break
    if far is not None:
        plan += [(venue, fresh[9], _paris(yesterday, 10)), (far, fresh[9], _paris(yesterday, 16))]
    plan.append((venue, fresh[10], _paris(yesterday, 23, 40)))
    cheques = defaultdict(list)
    for cheque_id, booklet_id, value in session.execute(
        select(Cheque.id, Cheque.booklet_id, Cheque.value_cents).where(Cheque.booklet_id.in_([b.id for b in fresh]))
        .order_by(Cheque.position)
    ):
        cheques[booklet_id].append((cheque_id, value))
    rows, lines, used_services = [], [], defaultdict(set)
    for place, booklet, at in plan:
        service_id = next((s for s in services[place.id] if s not in used_services[booklet.id]), None)
        if service_id is None:
            continue
        used_services[booklet.id].add(service_id)
        cheque_id, value = cheques[booklet.id].pop(0)
        rows.append({"venue_id": place.id, "service_id": service_id, "booklet_id": booklet.id, "order_id": order.id,
                     "cheque_count": 1, "amount_cents": value, "status": RedemptionStatus.REDEEMED,
                     "actor": f"api_key:{key.prefix}", "created_at": at})
        lines.append((cheque_id, booklet.id, service_id))
    ids = session.scalars(insert(Redemption).returning(Redemption.id, sort_by_parameter_order=True), rows).all()
    session.execute(insert(RedemptionCheque), [
        {"redemption_id": rid, "cheque_id": cid, "active": True, "booklet_id": bid, "service_id": sid, "service_slot": 1}
        for rid, (cid, bid, sid) in zip(ids, lines, strict=True)])
    session.execute(update(Cheque).where(Cheque.id.in_([line[0] for line in lines]))
                    .values(status=ChequeStatus.REDEEMED).execution_options(synchronize_session=False))
    record_audits(session, actor, "redemption.created", "redemption",
                  [(rid, {"synthetic": True, "planted": True}, row["created_at"]) for rid, row in zip(ids, rows, strict=True)])
    session.execute(insert(ScanRefusal), [
        {"venue_id": venue.id, "actor": f"api_key:{key.prefix}", "code": "unknown_code" if i % 3 else "invalid_code",
         "created_at": _paris(yesterday, 20, 2 * i)} for i in range(25)])
    session.flush()
    result = compute_signals(session, actor, end=now)
    controls = propose_controls(session, actor, paris_date(now).replace(day=1))
    echo(f"Vigilance : anomalies plantées sur la commande n° {order.id} ; {result.created} signal(aux) ouvert(s) "
         f"(page /pass/signaux), {len(controls)} lieu(x) proposé(s) au contrôle du mois (/pass/controles).")
