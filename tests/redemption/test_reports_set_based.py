"""The sponsor report's GROUP BYs against a row-by-row reference computed here from the order's cheques and deliveries.

Booklets handed out over several months by distributors of two départements (one unknown), cancelled
cheques and deliveries, deliveries at venues of two départements over months (one at the edge of a Paris
month), a venue that also redeems another order's cheques, before and after the order expires.
"""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from directory import api as directory_api
from directory.models import Organisation, Service, Territory, TerritoryLevel, Venue
from redemption import api
from redemption.models import Booklet, Cheque, ChequeStatus, Redemption, RedemptionStatus
from redemption.months import paris_date
from tests.builders import ACTOR, distribute, hand_out, make_order, plant_redemption


def _month(moment):
    return paris_date(moment).strftime("%Y-%m")


def _departement(session, code_insee):
    return session.scalar(select(Territory.departement_code).where(Territory.level == TerritoryLevel.COMMUNE,
                                                                   Territory.code == code_insee))


def _expected(session, order, expired):
    """The report as the per-cheque loops computed it."""
    totals, by_month, by_territory = Counter(), defaultdict(Counter), defaultdict(Counter)
    venues, services = {}, Counter()
    for cheque in session.scalars(select(Cheque).where(Cheque.order_id == order.id)):
        booklet = cheque.booklet
        totals["issued"] += 1
        if booklet.distributed_at is not None:
            totals["distributed"] += 1
            by_month[_month(booklet.distributed_at)]["distributed"] += 1
            distributor = session.get(Organisation, booklet.distributor_id)
            by_territory[(_departement(session, distributor.code_insee) or "?",
                          _month(booklet.distributed_at))]["distributed"] += 1
        if cheque.status == ChequeStatus.REDEEMED:
            totals["redeemed"] += 1
        elif cheque.status == ChequeStatus.CANCELLED:
            totals["cancelled"] += 1
        else:
            totals["expired" if expired else "valid"] += 1
            totals["distributed_unused" if booklet.distributed_at else "never_distributed"] += 1
    for redemption in session.scalars(select(Redemption).where(Redemption.order_id == order.id,
                                                               Redemption.status != RedemptionStatus.CANCELLED)):
        venue = session.get(Venue, redemption.venue_id)
        month = _month(redemption.created_at)
        for key, value in (("redeemed", redemption.cheque_count), ("redeemed_cents", redemption.amount_cents)):
            by_month[month][key] += value
            by_territory[(_departement(session, venue.code_insee) or "?", month)][key] += value
        row = venues.setdefault(venue.id, {"venue_id": venue.id, "venue": venue.nom, "commune": venue.commune,
                                           "cheques": 0, "amount_cents": 0})
        row["cheques"] += redemption.cheque_count
        row["amount_cents"] += redemption.amount_cents
        services[session.get(Service, redemption.service_id).label] += redemption.cheque_count
    by_month[_month(order.issued_at)]["issued"] = totals["issued"]
    if expired:
        by_month[(order.expires_on + timedelta(days=1)).strftime("%Y-%m")]["expired"] = totals["expired"]
    months, outstanding = [], 0
    for month in sorted(by_month):
        row = by_month[month]
        outstanding += row["issued"] - row["redeemed"] - row["expired"]
        months.append({"month": month, **{key: row[key] for key in ("issued", "distributed", "redeemed",
                                                                     "redeemed_cents", "expired")},
                       "valid_at_end": outstanding - totals["cancelled"]})
    return {
        "totals": {key: totals[key] for key in ("issued", "distributed", "redeemed", "expired", "valid", "cancelled")},
        "usage_rate": round(totals["redeemed"] / totals["issued"], 4),
        "lost": {"never_distributed": totals["never_distributed"], "distributed_unused": totals["distributed_unused"]},
        "months": months,
        "territories": [{"departement": departement, "month": month, "distributed": row["distributed"],
                         "redeemed": row["redeemed"], "redeemed_cents": row["redeemed_cents"]}
                        for (departement, month), row in sorted(by_territory.items())],
        "venues": sorted(venues.values(), key=lambda v: (-v["cheques"], v["venue"])),
        "services": [{"service": label, "cheques": count}
                     for label, count in sorted(services.items(), key=lambda item: (-item[1], item[0]))],
    }


def test_the_grouped_report_gives_the_per_cheque_figures(session, world):
    order = make_order(session, world.sponsor, booklets=6, expires_on=date(2026, 12, 31))
    lyon = directory_api.create_organisation(session, ACTOR, name="CCAS de Lyon", legal_form="etablissement_public",
                                             rna="W691000111", code_insee="69123", is_distributor=True)
    nowhere = directory_api.create_organisation(session, ACTOR, name="Association itinérante", legal_form="association",
                                                rna="W999000111", is_distributor=True)
    distributors = [world.distributor, lyon, world.distributor, nowhere, lyon]
    handed_at = [datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 31, 23, 30, tzinfo=UTC),  # February in Paris
                 datetime(2026, 2, 14, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC)]
    for booklet, distributor, at in zip(order.booklets, distributors, handed_at, strict=False):  # the 6th is never handed
        hand_out(session, distributor, booklet)
        booklet.distributed_at = at
    api.cancel_booklet(session, ACTOR, order.booklets[4], "perdu")
    deliveries = [(world.venue, 0, 2, "premiers-pas", datetime(2026, 2, 1, tzinfo=UTC)),
                  (world.other_venue, 0, 1, "demarches-en-ligne", datetime(2026, 2, 28, 23, 15, tzinfo=UTC)),
                  (world.far_venue, 1, 2, "demarches-en-ligne", datetime(2026, 3, 3, tzinfo=UTC)),
                  (world.venue, 2, 1, "demarches-en-ligne", datetime(2026, 3, 9, tzinfo=UTC)),
                  (world.other_venue, 3, 2, "premiers-pas", datetime(2026, 4, 1, tzinfo=UTC)),
                  (world.venue, 3, 1, "premiers-pas", datetime(2026, 4, 2, tzinfo=UTC))]
    for number, (venue, booklet_index, count, service, at) in enumerate(deliveries):
        booklet = order.booklets[booklet_index]
        redemption = plant_redemption(session, venue, booklet, at, service, cheques=count)
        redemption.amount_cents = 1013 * count
        for cheque in [c for c in booklet.cheques if c.status == ChequeStatus.ISSUED][:count]:
            cheque.status = ChequeStatus.REDEEMED
        if number == 3:
            redemption.status, redemption.cancelled_at = RedemptionStatus.CANCELLED, at
    # Bordeaux also redeems the world's order: none of it is this order's.
    distribute(session, world, 0)
    api.redeem(session, ACTOR, world.venue, world.codes(0)[:2], "premiers-pas")
    session.flush()
    for today, expired in ((date(2026, 6, 1), False), (date(2027, 1, 1), True)):
        report = api.sponsor_report(session, order, today=today)
        expected = _expected(session, order, expired)
        assert {key: report[key] for key in expected} == expected
    assert report["totals"]["expired"] > 0 and len(report["territories"]) > 4 and len(report["venues"]) == 3
    assert {row["departement"] for row in report["territories"]} == {"33", "69", "?"}
    assert session.scalar(select(Booklet.distributor_id).where(Booklet.id == order.booklets[3].id)) == nowhere.id
