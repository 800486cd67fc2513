"""The back office's density table: filtered by région or département, sorted by any column, paginated.

The figures of every territory are computed once (DensityModel); the page shows one slice of them,
so the page stays light whatever the policy's level (1,255 EPCI, 34,969 communes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.errors import InvalidInput
from directory.models import Territory, TerritoryLevel
from qualification.density import TerritoryDensity

PAGE_SIZE = 50


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    value: Callable[[TerritoryDensity], Any]
    numeric: bool = True


def _alert_rank(row: TerritoryDensity) -> int:
    return 2 if row.over_quota else 1 if row.qualified == 0 else 0


COLUMNS = [
    Column("code", "Code", lambda row: row.code, numeric=False),
    Column("nom", "Territoire", lambda row: row.name.casefold(), numeric=False),
    Column("population", "Population", lambda row: row.population),
    Column("lieux", "Lieux qualifiés", lambda row: row.qualified),
    Column("quota", "Quota", lambda row: row.quota),
    Column("densite", "Lieux pour 10 000 hab.", lambda row: row.venues_per_10k),
    Column("habitants", "Habitants par lieu", lambda row: row.population_per_venue if row.population_per_venue
           is not None else math.inf),
    Column("accessibilite", "Accessibilité", lambda row: row.accessibility),
    Column("circulation", "Chèques en circulation par lieu", lambda row: -1 if row.circulating_per_venue is None
           else row.circulating_per_venue),
    Column("encaissements", "Encaissements sur 3 mois par lieu", lambda row: -1 if row.redemptions_per_venue is None
           else row.redemptions_per_venue),
    Column("alerte", "Alerte", _alert_rank),
]
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
SORT_ORDERS = ("asc", "desc")


def clean_sort(value: Any) -> str:
    value = (value or "code").strip().lower()
    if value not in COLUMN_BY_KEY:
        raise InvalidInput(
            f"Le paramètre « tri » vaut « {value} » : indiquez une colonne parmi {', '.join(COLUMN_BY_KEY)}.",
            field="tri", code="invalid_sort", status=400,
        )
    return value


def clean_order(value: Any) -> str:
    value = (value or "asc").strip().lower()
    if value not in SORT_ORDERS:
        raise InvalidInput(f"Le paramètre « ordre » vaut « {value} » : indiquez asc ou desc.",
                           field="ordre", code="invalid_sort_order", status=400)
    return value


@dataclass(frozen=True)
class DensityPage:
    rows: list[TerritoryDensity]
    matching: int
    total: int
    page: int
    pages: int
    sort: str
    order: str
    region: str | None
    departement: str | None

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _places(session: Session, rows: list[TerritoryDensity]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(région, département) of each territory of the table; a région's département is none."""
    levels = {row.level for row in rows}
    places = {}
    for level, code, region, departement in session.execute(
        select(Territory.level, Territory.code, Territory.region_code, Territory.departement_code)
        .where(Territory.level.in_(levels))
    ):
        places[(str(level), code)] = (region, departement)
    return places


def filter_choices(session: Session, region: str | None) -> dict[str, list[tuple[str, str]]]:
    """The régions, and the départements (of the chosen région, if any), as (code, name)."""
    regions = session.execute(select(Territory.code, Territory.name).where(Territory.level == TerritoryLevel.REGION)
                              .order_by(Territory.code)).all()
    departements = select(Territory.code, Territory.name).where(Territory.level == TerritoryLevel.DEPARTEMENT)
    if region:
        departements = departements.where(Territory.region_code == region)
    return {"regions": [tuple(row) for row in regions],
            "departements": [tuple(row) for row in session.execute(departements.order_by(Territory.code))]}


def _check_code(session: Session, level: TerritoryLevel, code: str | None, field: str) -> str | None:
    code = (code or "").strip().upper() or None
    if code is not None and session.scalar(
            select(Territory.id).where(Territory.level == level, Territory.code == code)) is None:
        raise InvalidInput(f"Le paramètre « {field} » vaut « {code} » : aucun territoire de ce niveau n'a ce code.",
                           field=field, code="unknown_territory", status=400)
    return code


def density_page(
    session: Session, rows: list[TerritoryDensity], *, sort: str = "code", order: str = "asc",
    region: str | None = None, departement: str | None = None, page: int = 1,
) -> DensityPage:
    """One page of the table, filtered and sorted; a page past the end shows the last one."""
    sort, order = clean_sort(sort), clean_order(order)
    region = _check_code(session, TerritoryLevel.REGION, region, "region")
    departement = _check_code(session, TerritoryLevel.DEPARTEMENT, departement, "departement")
    selected = rows
    if region or departement:
        places = _places(session, rows)
        departement_region = None
        if departement:
            departement_region = session.scalar(select(Territory.region_code).where(
                Territory.level == TerritoryLevel.DEPARTEMENT, Territory.code == departement))

        def keep(row: TerritoryDensity) -> bool:
            row_region, row_departement = places.get((row.level, row.code), (None, None))
            if region and row_region != region:
                return False
            if departement:
                if row.level == TerritoryLevel.REGION:
                    return row.code == departement_region
                return row_departement == departement
            return True

        selected = [row for row in rows if keep(row)]
    column = COLUMN_BY_KEY[sort]
    selected = sorted(selected, key=lambda row: (column.value(row), row.code), reverse=order == "desc")
    pages = max(1, math.ceil(len(selected) / PAGE_SIZE))
    page = min(max(1, page), pages)
    return DensityPage(rows=selected[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], matching=len(selected),
                       total=len(rows), page=page, pages=pages, sort=sort, order=order, region=region,
                       departement=departement)
