"""The funder's follow-up of a call: envelope, committed, issued, distributed, redeemed, per sponsor and département.

Only orders of accepted applications count. Amounts are face values in cents:
- committed: the funder's shares recorded on the orders (equals the call's `committed_cents` in full scope);
- sold: face value of the orders; issued: face value of their cheques; distributed: of the cheques of
  booklets handed to a beneficiary; redeemed: of the cheques redeemed at a venue;
- redeemed ÷ sold is the "96 % redistributed" figure of the scheme's reports.
A sponsor sees the orders of the applications it is a member of; the département is that of the
sponsor's seat (the commune of its `code_insee`).
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from directory.csv_files import SafeWriter
from directory.models import Organisation, Territory, TerritoryLevel
from redemption.calls import call_summary
from redemption.cofunding_models import ApplicationStatus, CofundingApplication, CofundingCall, CofundingMember
from redemption.models import Booklet, Cheque, ChequeStatus, Order

FIGURES = ("sold_cents", "committed_cents", "issued_cents", "distributed_cents", "redeemed_cents")
UNKNOWN_DEPARTEMENT = ("—", "Département inconnu")


def _ratio(redeemed: int, sold: int) -> float | None:
    return round(redeemed / sold, 4) if sold else None


def _order_rows(session: Session, call: CofundingCall, sponsor_ids: list[int] | None) -> list[dict[str, Any]]:
    applications = select(CofundingApplication.id).where(CofundingApplication.call_id == call.id,
                                                         CofundingApplication.status == ApplicationStatus.ACCEPTED)
    if sponsor_ids is not None:
        applications = applications.where(CofundingApplication.id.in_(
            select(CofundingMember.application_id).where(CofundingMember.organisation_id.in_(sponsor_ids))))
    cheques = (
        select(Cheque.order_id,
               func.sum(Cheque.value_cents).label("issued"),
               func.sum(case((Booklet.distributed_at.is_not(None), Cheque.value_cents), else_=0)).label("distributed"),
               func.sum(case((Cheque.status == ChequeStatus.REDEEMED, Cheque.value_cents), else_=0)).label("redeemed"))
        .join(Booklet, Booklet.id == Cheque.booklet_id)
        .join(Order, Order.id == Cheque.order_id)
        .where(Order.application_id.in_(applications))
        .group_by(Cheque.order_id)
        .subquery()
    )
    seat = aliased(Territory)
    departement = aliased(Territory)
    query = (
        select(Order.id, Order.face_value_cents, Order.funder_share_cents, Organisation.id, Organisation.name,
               departement.code, departement.name, cheques.c.issued, cheques.c.distributed, cheques.c.redeemed)
        .join(Organisation, Organisation.id == Order.sponsor_id)
        .outerjoin(seat, (seat.level == TerritoryLevel.COMMUNE) & (seat.code == Organisation.code_insee))
        .outerjoin(departement, (departement.level == TerritoryLevel.DEPARTEMENT)
                   & (departement.code == seat.departement_code))
        .outerjoin(cheques, cheques.c.order_id == Order.id)
        .where(Order.application_id.in_(applications))
        .order_by(Order.id)
    )
    return [
        {"order_id": order_id, "sponsor": (sponsor_id, sponsor_name),
         "departement": (dep_code, dep_name) if dep_code else UNKNOWN_DEPARTEMENT,
         "sold_cents": sold, "committed_cents": funder, "issued_cents": int(issued or 0),
         "distributed_cents": int(distributed or 0), "redeemed_cents": int(redeemed or 0)}
        for order_id, sold, funder, sponsor_id, sponsor_name, dep_code, dep_name, issued, distributed, redeemed
        in session.execute(query)
    ]


def _grouped(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for row in rows:
        for figure in FIGURES:
            groups[row[key]][figure] += row[figure]
    return [{"code": str(code), "name": name, **figures,
             "redeemed_ratio": _ratio(figures["redeemed_cents"], figures["sold_cents"])}
            for (code, name), figures in sorted(groups.items(), key=lambda item: item[0][1])]


def follow_up(session: Session, call: CofundingCall, sponsor_ids: list[int] | None = None) -> dict[str, Any]:
    """The call's figures; `sponsor_ids` limits them to a sponsor's own applications (None: everything)."""
    rows = _order_rows(session, call, sponsor_ids)
    totals = {figure: sum(row[figure] for row in rows) for figure in FIGURES}
    return {
        "call": call_summary(call),
        "scope": "all" if sponsor_ids is None else "sponsor",
        "totals": {"envelope_cents": call.envelope_cents, **totals,
                   "redeemed_ratio": _ratio(totals["redeemed_cents"], totals["sold_cents"])},
        "by_sponsor": _grouped(rows, "sponsor"),
        "by_departement": _grouped(rows, "departement"),
    }


def follow_up_csv(report: dict[str, Any]) -> str:
    """One row per group: section (total, commanditaire, département), code, name, then the figures in cents."""
    out = io.StringIO()
    writer = SafeWriter(out, delimiter=";")
    writer.writerow(["appel", "section", "code", "nom", "enveloppe", "vendu", "engage", "emis", "distribue",
                     "encaisse", "taux_encaisse"])
    call_id, envelope = report["call"]["id"], report["call"]["envelope_cents"]
    totals = report["totals"]
    writer.writerow([call_id, "total", "", report["call"]["name"], envelope,
                     *(totals[figure] for figure in FIGURES), totals["redeemed_ratio"] or ""])
    for section, key in (("commanditaire", "by_sponsor"), ("departement", "by_departement")):
        for row in report[key]:
            writer.writerow([call_id, section, row["code"], row["name"], "",
                             *(row[figure] for figure in FIGURES), row["redeemed_ratio"] or ""])
    return out.getvalue()
