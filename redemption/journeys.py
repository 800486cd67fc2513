"""Following journeys and measuring impact: what became of an order's booklets, anonymously, per booklet.

The funnel: booklets issued → distributed → first cheque used → journey completed, with the loss at each
step and its likely cause (never distributed, distributed but unused, expired). A journey is **completed**
when the booklet paid for at least two different services, or when all its cheques were used: the
beneficiary came back, or used the whole pass.

Figures are given only for groups of at least `MIN_GROUP` booklets (the whole selection, and each
distributor): a smaller group could point to one person, so its figures are hidden with a sentence saying
why. A distributor filter or a territory filter (the distributor's commune) keeps distributed booklets only.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import distinct, select
from sqlalchemy.orm import Session

from directory.db import PARIS_TZ, utcnow
from directory.errors import InvalidInput
from directory.models import Organisation, Service, Territory, TerritoryLevel
from redemption.models import Booklet, ChequeStatus, Cheque, Order, Redemption, RedemptionStatus
from redemption.redemptions import TERRITORY_ATTRIBUTE

MIN_GROUP = 10
HIDDEN = (f"Moins de {MIN_GROUP} carnets dans ce groupe : ses chiffres ne sont pas affichés, pour qu'aucun "
          "bénéficiaire ne puisse être reconnu.")
COMPLETED_DEFINITION = ("Un parcours est dit complet quand le carnet a financé au moins deux services différents, "
                        "ou que tous ses chèques ont été utilisés.")


@dataclass
class BookletJourney:
    id: int
    distributor_id: int | None
    distributed_at: datetime | None
    cancelled: bool = False
    redemptions: list[tuple[datetime, int, int, int, int]] = field(default_factory=list)  # at, venue, service, level, cheques

    @property
    def used(self) -> bool:
        return bool(self.redemptions)

    @property
    def cheques_used(self) -> int:
        return sum(r[4] for r in self.redemptions)

    def completed(self, cheques_per_booklet: int) -> bool:
        return len({r[2] for r in self.redemptions}) >= 2 or self.cheques_used >= cheques_per_booklet


def parse_territory(session: Session, raw: str | None) -> tuple[TerritoryLevel, str] | None:
    if not raw:
        return None
    level, _, code = raw.partition(":")
    try:
        territory_level = TerritoryLevel(level.strip())
    except ValueError:
        raise InvalidInput(f"Le territoire « {raw} » n'est pas valide : écrivez niveau:code (ex. departement:33).",
                           field="territory", code="invalid_territory") from None
    if territory_level not in TERRITORY_ATTRIBUTE:
        raise InvalidInput(f"Le niveau « {level} » ne filtre pas les parcours.", field="territory", code="invalid_territory")
    return territory_level, code.strip()


def _booklets(session: Session, order: Order, distributor_id: int | None,
              territory: tuple[TerritoryLevel, str] | None) -> list[BookletJourney]:
    query = select(Booklet.id, Booklet.distributor_id, Booklet.distributed_at).where(Booklet.order_id == order.id)
    if distributor_id is not None:
        query = query.where(Booklet.distributor_id == distributor_id)
    if territory is not None:
        level, code = territory
        communes = select(Territory.code).where(Territory.level == TerritoryLevel.COMMUNE,
                                                getattr(Territory, TERRITORY_ATTRIBUTE[level]) == code)
        query = query.where(Booklet.distributor_id.in_(
            select(Organisation.id).where(Organisation.code_insee.in_(communes))))
    journeys = {row.id: BookletJourney(row.id, row.distributor_id, row.distributed_at)
                for row in session.execute(query.order_by(Booklet.id))}
    cancelled = set(session.scalars(
        select(distinct(Cheque.booklet_id)).where(Cheque.order_id == order.id, Cheque.status == ChequeStatus.CANCELLED)))
    for booklet_id in cancelled & journeys.keys():
        journeys[booklet_id].cancelled = True
    rows = session.execute(
        select(Redemption.booklet_id, Redemption.created_at, Redemption.venue_id, Redemption.service_id,
               Service.level_number, Redemption.cheque_count)
        .join(Service, Service.id == Redemption.service_id)
        .where(Redemption.order_id == order.id, Redemption.status != RedemptionStatus.CANCELLED)
        .order_by(Redemption.created_at, Redemption.id)
    )
    for booklet_id, at, venue_id, service_id, level, cheques in rows:
        if booklet_id in journeys:
            journeys[booklet_id].redemptions.append((at, venue_id, service_id, level, cheques))
    return list(journeys.values())


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _known_venues(session: Session, order: Order) -> set[int]:
    """Venues the sponsor had funded before this order: a redemption of another of its orders, earlier."""
    since = order.issued_at or order.created_at
    return set(session.scalars(
        select(distinct(Redemption.venue_id)).join(Order, Order.id == Redemption.order_id)
        .where(Order.sponsor_id == order.sponsor_id, Order.id != order.id, Redemption.created_at < since,
               Redemption.status != RedemptionStatus.CANCELLED)
    ))


def _figures(group: list[BookletJourney], order: Order, expired: bool, known_venues: set[int],
             from_issue: bool) -> dict[str, Any]:
    booklets = [b for b in group if not b.cancelled]
    issued = len(booklets)
    distributed = [b for b in booklets if b.distributed_at is not None or not order.requires_distribution]
    used = [b for b in distributed if b.used]
    completed = [b for b in used if b.completed(order.cheques_per_booklet)]
    why = "expirés" if expired else "encore valables"
    steps = []
    if from_issue:
        steps.append({"key": "issued", "label": "Carnets émis", "count": issued, "share": 1.0})
    steps += [
        {"key": "distributed", "label": "Remis à un bénéficiaire", "count": len(distributed),
         "share": _share(len(distributed), issued) if from_issue else 1.0,
         "loss": issued - len(distributed) if from_issue else None,
         "cause": f"jamais remis ({why})" if from_issue else None},
        {"key": "first_use", "label": "Premier chèque utilisé", "count": len(used),
         "share": _share(len(used), len(distributed)), "loss": len(distributed) - len(used),
         "cause": "remis mais jamais utilisés" + (" : expirés" if expired else " (encore valables)")},
        {"key": "completed", "label": "Parcours complet", "count": len(completed),
         "share": _share(len(completed), len(used)), "loss": len(used) - len(completed),
         "cause": "un seul service" + (" : carnets expirés" if expired else " (encore valables)")},
    ]
    delays = [(b.redemptions[0][0] - b.distributed_at).total_seconds() / 86400 for b in used if b.distributed_at]
    cheques = Counter(b.cheques_used for b in distributed)
    venues = Counter(min(len({r[1] for r in b.redemptions}), 3) for b in used)
    starts = Counter(b.redemptions[0][3] for b in used)
    reached = Counter((b.redemptions[0][3], max(r[3] for r in b.redemptions)) for b in used)
    progression = [
        {"from_level": start, "booklets": starts[start],
         "reached": {level: sum(n for (s, top), n in reached.items() if s == start and top >= level)
                     for level in range(start + 1, 4)}}
        for start in (1, 2) if starts[start]
    ]
    redemptions = [r for b in used for r in b.redemptions]
    new = sum(1 for r in redemptions if r[1] not in known_venues)
    return {
        "booklets": issued,
        "funnel": steps,
        "median_days_to_first_use": round(statistics.median(delays), 1) if delays else None,
        "cheques_per_booklet": {str(n): cheques[n] for n in range(order.cheques_per_booklet + 1)},
        "mean_cheques_used": round(sum(b.cheques_used for b in used) / len(used), 2) if used else None,
        "progression": progression,
        "venues_per_booklet": {"1": venues[1], "2": venues[2], "3+": venues[3]},
        "redemptions": len(redemptions),
        "new_venue_share": _share(new, len(redemptions)),
    }


def order_journeys(session: Session, order: Order, distributor_id: int | None = None, territory: str | None = None,
                   today: date | None = None) -> dict[str, Any]:
    """The journeys of an order's booklets: overall and per distributor, groups under `MIN_GROUP` hidden."""
    today = today or utcnow().astimezone(PARIS_TZ).date()
    place = parse_territory(session, territory)
    journeys = _booklets(session, order, distributor_id, place)
    filtered = distributor_id is not None or place is not None
    expired = today > order.expires_on
    known = _known_venues(session, order)

    def group(name: str, members: list[BookletJourney], from_issue: bool) -> dict[str, Any]:
        count = len([b for b in members if not b.cancelled])
        if count < MIN_GROUP:
            return {"name": name, "booklets": None, "hidden": True,
                    "notice": HIDDEN}
        return {"name": name, "hidden": False, **_figures(members, order, expired, known, from_issue)}

    by_distributor: dict[int, list[BookletJourney]] = defaultdict(list)
    for booklet in journeys:
        if booklet.distributor_id is not None:
            by_distributor[booklet.distributor_id].append(booklet)
    names = dict(session.execute(select(Organisation.id, Organisation.name)
                                 .where(Organisation.id.in_(by_distributor))).tuples().all()) if by_distributor else {}
    return {
        "order_id": order.id,
        "expired": expired,
        "completed_definition": COMPLETED_DEFINITION,
        "min_group": MIN_GROUP,
        "filters": {"distributor_id": distributor_id, "territory": territory or None},
        "overall": group("Ensemble" if not filtered else "Sélection", journeys, not filtered),
        "distributors": [group(names[d], members, False)
                         for d, members in sorted(by_distributor.items(), key=lambda item: names[item[0]])],
    }


def journeys_csv(report: dict[str, Any]) -> str:
    """One line per figure: group, figure, key, value (hidden groups say so)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["commande", "groupe", "indicateur", "cle", "valeur"])
    order_id = report["order_id"]
    for group in [report["overall"], *report["distributors"]]:
        name = group["name"]
        if group["hidden"]:
            writer.writerow([order_id, name, "masque", "", group["notice"]])
            continue
        for step in group["funnel"]:
            writer.writerow([order_id, name, "entonnoir", step["key"], step["count"]])
            if step.get("loss") is not None:
                writer.writerow([order_id, name, "perte", step["key"], step["loss"]])
        writer.writerow([order_id, name, "delai_median_jours", "", group["median_days_to_first_use"]])
        for key, value in group["cheques_per_booklet"].items():
            writer.writerow([order_id, name, "cheques_utilises_par_carnet", key, value])
        for item in group["progression"]:
            for level, count in item["reached"].items():
                writer.writerow([order_id, name, "progression", f"{item['from_level']}->{level}", count])
            writer.writerow([order_id, name, "progression_depart", item["from_level"], item["booklets"]])
        for key, value in group["venues_per_booklet"].items():
            writer.writerow([order_id, name, "lieux_par_carnet", key, value])
        share = group["new_venue_share"]
        writer.writerow([order_id, name, "part_lieux_nouveaux", "", "" if share is None else round(share, 4)])
    return out.getvalue()
