"""The consolidation ratio, the numerus clausus' reason: enough volume for each qualified venue to stay
viable. Per territory of the quota policy's level: cheques in circulation (distributed, valid, unused)
and redemptions of the last three months, each per qualified venue. A qualification that would bring
the cheques in circulation per venue under the setting `CONSOLIDATION_MIN_CHEQUES` is flagged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from directory import french
from directory.db import utcnow
from qualification.density import DensityModel, TerritoryDensity
from redemption import api as redemption_api  # the pass's volumes, through its public entry point

DEFAULT_MIN_CHEQUES_PER_VENUE = 50
RECENT = timedelta(days=91)


@dataclass(frozen=True)
class Consolidation:
    circulating: float
    recent_redemptions: int
    qualified: int

    def circulating_per_venue(self, extra_venues: int = 0) -> float | None:
        venues = self.qualified + extra_venues
        return self.circulating / venues if venues else None

    def redemptions_per_venue(self, extra_venues: int = 0) -> float | None:
        venues = self.qualified + extra_venues
        return self.recent_redemptions / venues if venues else None

    def sentence(self) -> str:
        if not self.qualified:
            return (f"{french.count(round(self.circulating), 'chèque')} en circulation et "
                    f"{french.count(self.recent_redemptions, 'encaissement')} en trois mois, sans lieu qualifié.")
        cheques, redemptions = self.circulating_per_venue(), self.redemptions_per_venue()
        return (f"{french.number(cheques, 1)} {french.plural(cheques, 'chèque')} en circulation et "
                f"{french.number(redemptions, 1)} {french.plural(redemptions, 'encaissement')} en trois mois "
                "par lieu qualifié.")


class ConsolidationModel:
    """The volumes of every territory of the density model's level, read once."""

    def __init__(self, session: Session, model: DensityModel, now: datetime | None = None,
                 min_cheques_per_venue: float = DEFAULT_MIN_CHEQUES_PER_VENUE) -> None:
        now = now or utcnow()
        self.model = model
        self.min_cheques_per_venue = min_cheques_per_venue
        self.circulating: dict[tuple[str, str], float] = defaultdict(float)
        self.recent: dict[tuple[str, str], int] = defaultdict(int)
        for code, cheques in redemption_api.cheques_in_circulation_by_commune(session, now.date()).items():
            if (key := model.territory_key(code)) is not None:
                self.circulating[key] += cheques
        for code, count in redemption_api.redemptions_by_commune(session, now - RECENT).items():
            if (key := model.territory_key(code)) is not None:
                self.recent[key] += count

    def of(self, key: tuple[str, str]) -> Consolidation:
        return Consolidation(self.circulating.get(key, 0.0), self.recent.get(key, 0), self.model.quota_holders.get(key, 0))

    def warning(self, key: tuple[str, str], extra_venues: int = 1) -> str | None:
        """A French warning when `extra_venues` more qualified venues would leave each under the minimum volume."""
        figures = self.of(key)
        after = figures.circulating_per_venue(extra_venues=extra_venues)
        if after is None or not figures.circulating or after >= self.min_cheques_per_venue:
            return None
        more = "un lieu qualifié de plus" if extra_venues == 1 else f"{french.number(extra_venues)} lieux qualifiés de plus"
        return (f"Avec {more}, chaque lieu de « {self.model.figures(key).name} » n'aurait plus que "
                f"{french.number(after, 1)} {french.plural(after, 'chèque')} en circulation (seuil de consolidation : "
                f"{french.number(self.min_cheques_per_venue)}).")


def density_table_with_volumes(session: Session, level: str | None = None,
                               min_cheques_per_venue: float = DEFAULT_MIN_CHEQUES_PER_VENUE) -> list[TerritoryDensity]:
    """The density table, each territory with its cheques in circulation and recent redemptions per venue."""
    model = DensityModel(session, level)
    volumes = ConsolidationModel(session, model, min_cheques_per_venue=min_cheques_per_venue)
    rows = model.table()
    for row in rows:
        figures = volumes.of((row.level, row.code))
        row.circulating_per_venue = figures.circulating_per_venue()
        row.redemptions_per_venue = figures.redemptions_per_venue()
    return rows
