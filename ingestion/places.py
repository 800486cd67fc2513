"""The COG in memory for one import: INSEE codes, former codes, postcodes and names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import normalize_name
from directory.models import Territory, TerritoryAlias, TerritoryLevel, TerritoryPostcode


class _Places:
    """The COG in memory for one import: INSEE codes, former codes, postcodes and names."""

    def __init__(self, session: Session) -> None:
        self.communes = set(session.scalars(select(Territory.code).where(Territory.level == TerritoryLevel.COMMUNE)))
        self.aliases = dict(session.execute(select(TerritoryAlias.alias, TerritoryAlias.commune_code)).all())
        self.by_postcode: dict[str, list[tuple[str, str]]] = {}
        rows = session.execute(
            select(TerritoryPostcode.postcode, Territory.code, Territory.search_name)
            .join(Territory, Territory.id == TerritoryPostcode.commune_id)
            .order_by(Territory.population.desc(), Territory.code)
        )
        for postcode, code, search_name in rows:
            self.by_postcode.setdefault(postcode, []).append((code, search_name))

    def commune_code(self, code: str | None) -> str | None:
        if not code:
            return None
        return code if code in self.communes else self.aliases.get(code)

    def by_postcode_and_name(self, postcode: str, name: str) -> str | None:
        candidates = self.by_postcode.get(postcode, [])
        wanted = normalize_name(name)
        named = [code for code, search_name in candidates if search_name == wanted]
        if named:
            return named[0]
        # « Lyon 3e », « Marseille 13e Arrondissement »: an arrondissement's postcode names the city
        prefixed = [code for code, search_name in candidates if wanted.startswith(search_name + " ")]
        return prefixed[0] if prefixed else None
