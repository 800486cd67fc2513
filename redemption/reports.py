"""The sponsor report: what happened to an order's cheques, by month, territory, venue and service."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.csv_files import SafeWriter
from directory.db import utcnow
from directory.models import Organisation, Service, Territory, TerritoryLevel, Venue
from redemption.models import Booklet, Cheque, ChequeStatus, Order, OrderStatus, Redemption, RedemptionStatus
from redemption.months import paris_date
from redemption.orders import order_summary


def _month_key(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = paris_date(moment)
    return moment.strftime("%Y-%m")


def sponsor_report(session: Session, order: Order, today: date | None = None) -> dict[str, Any]:
    """What happened to an order's cheques: by month, by territory, lost where, spent on what."""
    today = today or paris_date(utcnow())
    expired = today > order.expires_on or order.status == OrderStatus.CLOSED
    cheques = session.execute(
        select(Cheque.status, Booklet.distributed_at, Booklet.distributor_id)
        .join(Booklet, Booklet.id == Cheque.booklet_id).where(Cheque.order_id == order.id)
    ).all()
    totals = Counter()
    distributed_by_month: Counter = Counter()
    for status, distributed_at, _ in cheques:
        totals["issued"] += 1
        if distributed_at is not None:
            totals["distributed"] += 1
            distributed_by_month[_month_key(distributed_at)] += 1
        if status == ChequeStatus.REDEEMED:
            totals["redeemed"] += 1
        elif status == ChequeStatus.CANCELLED:
            totals["cancelled"] += 1
        else:
            totals["expired" if expired else "valid"] += 1
            totals["lost_distributed_unused" if distributed_at is not None else "lost_never_distributed"] += 1
    redemptions = session.execute(
        select(Redemption.created_at, Redemption.cheque_count, Redemption.amount_cents, Venue.id, Venue.nom,
               Venue.commune, Territory.departement_code, Service.label)
        .join(Venue, Venue.id == Redemption.venue_id)
        .join(Service, Service.id == Redemption.service_id)
        .outerjoin(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Venue.code_insee))
        .where(Redemption.order_id == order.id, Redemption.status != RedemptionStatus.CANCELLED)
    ).all()
    by_month: dict[str, Counter] = defaultdict(Counter)
    by_territory: dict[tuple[str, str], Counter] = defaultdict(Counter)
    venues: dict[int, dict[str, Any]] = {}
    services: Counter = Counter()
    for created_at, count, amount, venue_id, venue_name, commune, departement, service_label in redemptions:
        month = _month_key(created_at)
        by_month[month]["redeemed"] += count
        by_month[month]["redeemed_cents"] += amount
        by_territory[(departement or "?", month)]["redeemed"] += count
        by_territory[(departement or "?", month)]["redeemed_cents"] += amount
        venue = venues.setdefault(venue_id, {"venue_id": venue_id, "venue": venue_name, "commune": commune,
                                             "cheques": 0, "amount_cents": 0})
        venue["cheques"] += count
        venue["amount_cents"] += amount
        services[service_label] += count
    distributor_departements = dict(session.execute(
        select(Organisation.id, Territory.departement_code)
        .join(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Organisation.code_insee))
        .where(Organisation.id.in_({d for _, _, d in cheques if d is not None}))
    ).all())
    for _, distributed_at, distributor_id in cheques:
        if distributed_at is not None:
            by_territory[(distributor_departements.get(distributor_id) or "?", _month_key(distributed_at))]["distributed"] += 1
    if order.issued_at is not None:
        by_month[_month_key(order.issued_at)]["issued"] = totals["issued"]
    for month, count in distributed_by_month.items():
        by_month[month]["distributed"] = count
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
        "venues": sorted(venues.values(), key=lambda v: (-v["cheques"], v["venue"])),
        "services": [{"service": label, "cheques": count} for label, count in services.most_common()],
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
