"""The sponsor report: what happened to an order's cheques, by month, territory, venue and service."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.csv_files import SafeWriter
from directory.db import utcnow
from directory.models import Organisation, Service, Territory, TerritoryLevel, Venue
from redemption.models import Booklet, Cheque, ChequeStatus, Order, OrderStatus, Redemption, RedemptionStatus
from redemption.months import paris_date
from redemption.months_sql import paris_month
from redemption.orders import order_summary


def _month_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = paris_date(moment)
    return moment.strftime("%Y-%m")


def sponsor_report(session: Session, order: Order, today: date | None = None) -> dict[str, Any]:
    """What happened to an order's cheques: by month, by territory, lost where, spent on what.

    Every figure is a GROUP BY of the order's cheques or redemptions: Python only sees the groups.
    """
    today = today or paris_date(utcnow())
    expired = today > order.expires_on or order.status == OrderStatus.CLOSED
    distributed_month = paris_month(session, Booklet.distributed_at)
    distributor_departement = (
        select(Organisation.id, Territory.departement_code)
        .join(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Organisation.code_insee))
        .subquery()
    )
    cheque_groups = session.execute(
        select(Cheque.status, distributed_month, distributor_departement.c.departement_code, func.count())
        .join(Booklet, Booklet.id == Cheque.booklet_id)
        .outerjoin(distributor_departement, distributor_departement.c.id == Booklet.distributor_id)
        # Both sides by order: the order's booklets come from their (order, sequence) index, not a scan of all.
        .where(Cheque.order_id == order.id, Booklet.order_id == order.id)
        .group_by(Cheque.status, distributed_month, distributor_departement.c.departement_code)
    ).all()
    totals: Counter = Counter()
    by_month: dict[str, Counter] = defaultdict(Counter)
    by_territory: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for status, month, departement, count in cheque_groups:
        totals["issued"] += count
        if month is not None:
            totals["distributed"] += count
            by_month[month]["distributed"] += count
            by_territory[(departement or "?", month)]["distributed"] += count
        if status == ChequeStatus.REDEEMED:
            totals["redeemed"] += count
        elif status == ChequeStatus.CANCELLED:
            totals["cancelled"] += count
        else:
            totals["expired" if expired else "valid"] += count
            totals["lost_distributed_unused" if month is not None else "lost_never_distributed"] += count
    redeemed = (Redemption.order_id == order.id, Redemption.status != RedemptionStatus.CANCELLED)
    cheques, cents = func.sum(Redemption.cheque_count), func.sum(Redemption.amount_cents)
    redeemed_month = paris_month(session, Redemption.created_at)
    departement = func.coalesce(Territory.departement_code, "?")
    for month, departement_code, count, amount in session.execute(
        select(redeemed_month, departement, cheques, cents)
        .join(Venue, Venue.id == Redemption.venue_id)
        .outerjoin(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Venue.code_insee))
        .where(*redeemed).group_by(redeemed_month, departement)
    ):
        by_month[month]["redeemed"] += count
        by_month[month]["redeemed_cents"] += amount
        by_territory[(departement_code, month)]["redeemed"] += count
        by_territory[(departement_code, month)]["redeemed_cents"] += amount
    venue_totals = (select(Redemption.venue_id, cheques.label("cheques"), cents.label("cents"))
                    .where(*redeemed).group_by(Redemption.venue_id).subquery())
    venues = [
        {"venue_id": venue_id, "venue": name, "commune": commune, "cheques": count, "amount_cents": amount}
        for venue_id, name, commune, count, amount in session.execute(
            select(Venue.id, Venue.nom, Venue.commune, venue_totals.c.cheques, venue_totals.c.cents)
            .join(venue_totals, venue_totals.c.venue_id == Venue.id)
        )
    ]
    service_totals = (select(Redemption.service_id, cheques.label("cheques"))
                      .where(*redeemed).group_by(Redemption.service_id).subquery())
    services = session.execute(
        select(Service.label, service_totals.c.cheques).join(service_totals, service_totals.c.service_id == Service.id)
    ).all()
    if order.issued_at is not None:
        by_month[_month_key(order.issued_at)]["issued"] = totals["issued"]
    if expired:
        by_month[_month_key(order.expires_on + timedelta(days=1))]["expired"] = totals["expired"]
    months = []
    outstanding = 0
    for month in sorted(by_month):
        row = by_month[month]
        outstanding += row["issued"] - row["redeemed"] - row["expired"]
        months.append({"month": month, "issued": row["issued"], "distributed": row["distributed"],
                       "redeemed": row["redeemed"], "redeemed_cents": row["redeemed_cents"],
                       "expired": row["expired"], "valid_at_end": outstanding - totals["cancelled"]})
    issued = totals["issued"]
    return {
        "order": order_summary(order),
        "sponsor": order.sponsor.name,
        "totals": {key: totals[key] for key in ("issued", "distributed", "redeemed", "expired", "valid", "cancelled")},
        "usage_rate": round(totals["redeemed"] / issued, 4) if issued else 0.0,
        "lost": {"never_distributed": totals["lost_never_distributed"],
                 "distributed_unused": totals["lost_distributed_unused"]},
        "months": months,
        "territories": [
            {"departement": departement, "month": month, "distributed": row["distributed"], "redeemed": row["redeemed"],
             "redeemed_cents": row["redeemed_cents"]}
            for (departement, month), row in sorted(by_territory.items())
        ],
        "venues": sorted(venues, key=lambda v: (-v["cheques"], v["venue"])),
        "services": [{"service": label, "cheques": count}
                     for label, count in sorted(services, key=lambda service: (-service[1], service[0]))],
    }


def report_csv(report: dict[str, Any]) -> str:
    """The report in long form: one row per figure (section, territory, month, indicator, value)."""
    out = io.StringIO()
    writer = SafeWriter(out, delimiter=";")
    writer.writerow(["commande", "section", "territoire", "mois", "indicateur", "valeur"])
    order_id = report["order"]["id"]
    for key, value in report["totals"].items():
        writer.writerow([order_id, "total", "", "", key, value])
    writer.writerow([order_id, "total", "", "", "usage_rate", report["usage_rate"]])
    writer.writerow([order_id, "total", "", "", "vintage", report["order"]["vintage"]])
    for key, value in report["lost"].items():
        writer.writerow([order_id, "perdus", "", "", key, value])
    for row in report["months"]:
        for key in ("issued", "distributed", "redeemed", "redeemed_cents", "expired", "valid_at_end"):
            writer.writerow([order_id, "mois", "", row["month"], key, row[key]])
    for row in report["territories"]:
        for key in ("distributed", "redeemed", "redeemed_cents"):
            writer.writerow([order_id, "territoire", row["departement"], row["month"], key, row[key]])
    for row in report["venues"]:
        writer.writerow([order_id, "lieu", row["commune"], "", f"cheques:{row['venue']}", row["cheques"]])
    for row in report["services"]:
        writer.writerow([order_id, "service", "", "", f"cheques:{row['service']}", row["cheques"]])
    return out.getvalue()
