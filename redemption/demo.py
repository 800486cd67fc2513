"""The pass part of `aptic demo`: issued orders, distributed booklets, months of redemptions and statements."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from directory.api import Actor, record_audits
from directory.db import utcnow
from directory.models import (
    ApiKey,
    Organisation,
    Territory,
    TerritoryLevel,
    Venue,
    VenueService,
    VenueStatus,
)
from redemption import codes as cheque_codes
from redemption.allowances import allow_distributor
from redemption.beneficiaries import Beneficiary, platform_key
from redemption.cofunding_demo import seed_cofunding
from redemption.models import (
    CHEQUE_MACHINE,
    MAX_CHEQUES_PER_SERVICE,
    BeneficiaryClaim,
    Booklet,
    Cheque,
    ChequeStatus,
    Order,
    Redemption,
    RedemptionCheque,
    RedemptionStatus,
)
from redemption.demo_vigilance import plant_anomalies
from redemption.months import paris_date
from redemption.orders import confirm_order, create_order, issue_order, pay_order
from redemption.redemptions import venue_in_territories
from redemption.statements import close_month


def seed_demo(session: Session, actor: Actor, echo: Any) -> None:
    """Two issued orders with distributed booklets and a few months of redemptions; fast (bulk)."""
    rng = random.Random(2026)
    sponsors = list(session.scalars(select(Organisation).where(Organisation.is_sponsor).order_by(Organisation.id)))
    distributor = session.scalar(select(Organisation).where(Organisation.is_distributor).order_by(Organisation.id))
    if not sponsors or distributor is None:
        return
    demo_key = session.scalar(select(ApiKey).where(ApiKey.venue_id.is_not(None)).order_by(ApiKey.id))
    key = platform_key(current_app.config if has_app_context() else {"SECRET_KEY": "demo"})
    now = utcnow()
    today = paris_date(now)
    showcase_order = None
    for number, sponsor in enumerate(sponsors[:2]):
        commune = session.scalar(select(Territory).where(Territory.level == TerritoryLevel.COMMUNE,
                                                         Territory.code == sponsor.code_insee))
        regions = {commune.region_code} if commune is not None else set()
        if number == 0 and demo_key is not None:
            showcase = session.scalar(select(Territory).where(Territory.level == TerritoryLevel.COMMUNE,
                                                              Territory.code == demo_key.venue.code_insee))
            regions.add(showcase.region_code)
        order = create_order(
            session, actor, sponsor, booklets=60, vintage=today.year,
            territories=[{"level": "region", "code": code} for code in sorted(regions)],
            today=today,
            minimum_exception="Démonstration : commande réduite",
        )
        confirm_order(session, actor, order)
        pay_order(session, actor, order)
        issue_order(session, actor, order)
        # The sponsor allows the demo distributor: the whole first order, booklets 1 to 50 of the second
        # (51 to 60 show `distributor_not_allowed` at the distribution form).
        last = None if number == 0 else 50
        allow_distributor(session, actor, order, distributor, None if last is None else 1, last)
        _seed_usage(session, actor, rng, order, distributor, now, key)
        scope = "tous ses carnets" if last is None else f"les carnets 1 à {last}"
        if number == 0 and demo_key is not None:
            showcase_order = order
        echo(f"Pass : commande n° {order.id} de « {sponsor.name} » émise ({order.booklet_count} carnets), "
             f"distribuée en partie et utilisée ; « {distributor.name} » autorisé à remettre {scope}.")
    month = (today.replace(day=1) - timedelta(days=130)).replace(day=1)
    while month < today.replace(day=1):
        close_month(session, actor, month, now=now)
        month = (month + timedelta(days=32)).replace(day=1)
    seed_cofunding(session, actor, echo)  # a State call for projects covering the first order
    if demo_key is not None and showcase_order is not None:
        # after the statements: the planted redemptions are recent, in the current month
        plant_anomalies(session, actor, showcase_order, distributor, demo_key, now, echo, key)
    if demo_key is not None:
        sample = session.execute(
            select(Cheque.code, Booklet.number).join(Booklet, Booklet.id == Cheque.booklet_id)
            .where(Cheque.status == ChequeStatus.ISSUED, Booklet.distributed_at.is_not(None))
            .order_by(Cheque.id).limit(3)
        ).all()
        echo("Chèques de démonstration à scanner (carnets distribués) : "
             + ", ".join(f"{cheque_codes.grouped(code)} (carnet {booklet})" for code, booklet in sample))


def _seed_usage(session: Session, actor: Actor, rng: random.Random, order: Order, distributor: Organisation,
                now: datetime, key: bytes) -> None:
    booklets = list(session.scalars(select(Booklet).where(Booklet.order_id == order.id).order_by(Booklet.sequence)))
    distributed = booklets[: len(booklets) * 2 // 3]
    distributed_at = {b.id: now - timedelta(days=rng.randint(20, 120), minutes=rng.randint(0, 600)) for b in distributed}
    # The next booklet was handed out an hour ago with no cheque used: its distributor may still undo it.
    recent = booklets[len(distributed)] if len(booklets) > len(distributed) else None
    handed = [(b, distributed_at[b.id]) for b in distributed] + ([(recent, now - timedelta(hours=1))] if recent else [])
    # Synthetic people, one per booklet, known to the platform only by their keyed pseudonym.
    pseudonyms = {b.id: Beneficiary(f"Démo {order.id}", f"Personne {b.sequence}",
                                    date(1940, 1, 1) + timedelta(days=rng.randint(0, 25_000))).pseudonym(key)
                  for b, _ in handed}
    session.execute(update(Booklet), [
        {"id": b.id, "distributor_id": distributor.id, "beneficiary_ref": pseudonyms[b.id], "distributed_at": at}
        for b, at in handed
    ])
    session.execute(insert(BeneficiaryClaim), [
        {"booklet_id": b.id, "vintage": order.vintage, "pseudonym": pseudonyms[b.id], "distributor_id": distributor.id,
         "created_at": at}
        for b, at in handed
    ])
    venue_services = defaultdict(list)
    for venue_id, service_id in session.execute(
        select(VenueService.venue_id, VenueService.service_id).join(Venue, Venue.id == VenueService.venue_id)
        .where(Venue.status == VenueStatus.QUALIFIED)
    ):
        venue_services[venue_id].append(service_id)
    venues = [v for v in session.scalars(select(Venue).where(Venue.id.in_(venue_services)).order_by(Venue.id))
              if venue_in_territories(session, v, order.territories)]
    if not venues:
        return
    cheques = session.execute(
        select(Cheque.id, Cheque.booklet_id, Cheque.value_cents)
        .where(Cheque.booklet_id.in_([b.id for b in distributed])).order_by(Cheque.booklet_id, Cheque.position)
    ).all()
    by_booklet = defaultdict(list)
    for cheque in cheques:
        by_booklet[cheque.booklet_id].append(cheque)
    redemption_rows, line_rows = [], []
    for booklet_id, booklet_cheques in by_booklet.items():
        used = booklet_cheques[: rng.randint(0, len(booklet_cheques))]
        venue = rng.choice(venues)
        slots_used: dict[int, int] = defaultdict(int)  # two cheques at most per service and booklet
        while used:
            take = used[: rng.choice((1, 1, 2))]
            open_services = [s for s in venue_services[venue.id] if slots_used[s] + len(take) <= MAX_CHEQUES_PER_SERVICE]
            if not open_services:
                break
            service_id = rng.choice(open_services)
            used = used[len(take):]
            elapsed = (now - distributed_at[booklet_id]).total_seconds()
            line_rows.append([(c.id, booklet_id, service_id, slots_used[service_id] + 1 + i) for i, c in enumerate(take)])
            slots_used[service_id] += len(take)
            redemption_rows.append({
                "venue_id": venue.id, "service_id": service_id, "booklet_id": booklet_id,
                "order_id": order.id, "cheque_count": len(take), "amount_cents": sum(c.value_cents for c in take),
                "status": RedemptionStatus.REDEEMED, "actor": actor.label,
                "created_at": distributed_at[booklet_id] + timedelta(seconds=rng.uniform(0, elapsed)),
            })
    if not redemption_rows:
        return
    ids = session.scalars(insert(Redemption).returning(Redemption.id, sort_by_parameter_order=True), redemption_rows).all()
    session.execute(insert(RedemptionCheque), [
        {"redemption_id": rid, "cheque_id": cid, "active": True, "booklet_id": bid, "service_id": sid, "service_slot": slot}
        for rid, lines in zip(ids, line_rows, strict=True) for cid, bid, sid, slot in lines
    ])
    session.execute(
        update(Cheque)
        .where(Cheque.id.in_([line[0] for lines in line_rows for line in lines]),
               Cheque.status.in_(CHEQUE_MACHINE.states_moving_to(ChequeStatus.REDEEMED)))
        .values(status=ChequeStatus.REDEEMED).execution_options(synchronize_session=False)
    )
    record_audits(session, actor, "redemption.created", "redemption", [
        (rid, {"synthetic": True}, row["created_at"]) for rid, row in zip(ids, redemption_rows, strict=True)
    ])
    session.flush()
