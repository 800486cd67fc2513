"""Where each imported venue is: its INSEE code and point, from the code given, its point, the geocoder or its postcode.

A given INSEE code, point and postcode are checked against each other (ingestion.place_checks):
when they disagree, the pair that agrees is kept and the report says which and why; a venue is
never attached to a commune its point is far from. Overseas collectivities (ingestion.overseas)
are French territories like any other: their codes and postcodes are recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.api import commune_at, normalize_name
from directory.errors import InvalidInput
from directory.models import Territory, TerritoryAlias, TerritoryLevel, TerritoryPostcode
from ingestion import overseas
from ingestion.errors import GeocoderUnavailable
from ingestion.geocoding import ACCEPT_SCORE, REVIEW_SCORE, geocoder
from ingestion.place_checks import check_place


@dataclass(frozen=True)
class PlaceWarning:
    """A warning about the place of one record: its position in the list given, the field, its value."""

    index: int
    field: str
    value: Any
    message: str


class Places:
    """The COG (with the overseas collectivities) in memory for one import: codes, former codes, postcodes, names."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.communes: dict[str, tuple[str, str | None, float | None, float | None]] = {
            code: (name, departement, lon, lat)
            for code, name, departement, lon, lat in session.execute(
                select(Territory.code, Territory.name, Territory.departement_code,
                       func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
                .where(Territory.level == TerritoryLevel.COMMUNE)
            )
        }
        self.departements = dict(session.execute(
            select(Territory.code, Territory.name).where(Territory.level == TerritoryLevel.DEPARTEMENT)).all())
        self.departements.update(overseas.COLLECTIVITIES)
        self.aliases = dict(session.execute(select(TerritoryAlias.alias, TerritoryAlias.commune_code)).all())
        self.by_postcode: dict[str, list[tuple[str, str]]] = {}
        self.postcodes_of: dict[str, set[str]] = {}
        rows = session.execute(
            select(TerritoryPostcode.postcode, Territory.code, Territory.search_name)
            .join(Territory, Territory.id == TerritoryPostcode.commune_id)
            .order_by(Territory.population.desc(), Territory.code)
        )
        for postcode, code, search_name in rows:
            self.by_postcode.setdefault(postcode, []).append((code, search_name))
            self.postcodes_of.setdefault(code, set()).add(postcode)

    def commune_code(self, code: str | None) -> str | None:
        if not code:
            return None
        return code if code in self.communes else self.aliases.get(code)

    def departement(self, code: str | None) -> str | None:
        return self.communes[code][1] if code in self.communes else None

    def describe(self, code: str) -> str:
        """« 63236 (Le Mont-Dore, Puy-de-Dôme) »."""
        name, departement, _, _ = self.communes[code]
        return f"{code} ({name}, {self.departements.get(departement, departement)})"

    def by_postcode_and_name(self, postcode: str, name: str, departement: str | None = None) -> str | None:
        candidates = [(code, search_name) for code, search_name in self.by_postcode.get(postcode, [])
                      if departement is None or self.departement(code) == departement]
        wanted = normalize_name(name)
        named = [code for code, search_name in candidates if search_name == wanted]
        if named:
            return named[0]
        # « Lyon 3e », « Marseille 13e Arrondissement »: an arrondissement's postcode names the city
        prefixed = [code for code, search_name in candidates if wanted.startswith(search_name + " ")]
        if prefixed:
            return prefixed[0]
        # within one collectivity, a postcode of a single commune names it
        return candidates[0][0] if departement and len(candidates) == 1 else None

    def by_name_within(self, name: str, departement: str) -> str | None:
        wanted = _without_article(normalize_name(name))
        found = [code for code, (commune, dep, _, _) in self.communes.items()
                 if dep == departement and _without_article(normalize_name(commune)) == wanted]
        return found[0] if len(found) == 1 else None

    def commune_at_point(self, lon: float, lat: float, postcode: str, name: str) -> tuple[str | None, str | None, str]:
        """(commune code or None, département or collectivity code or None, where in words) of a point."""
        collectivity = overseas.collectivity_at(lon, lat)
        if collectivity is not None:
            # communes of a collectivity have no outline: the name first (« Mont-Dore » is Le Mont-Dore
            # whatever the postcode), then the postcode
            code = self.by_name_within(name, collectivity) or self.by_postcode_and_name(postcode, name, collectivity)
            return code, collectivity, overseas.IN_COLLECTIVITY[collectivity]
        try:
            commune = commune_at(self.session, lon, lat)
        except InvalidInput:
            return None, None, "hors de toute commune française connue"
        return commune.code, commune.departement_code, f"à {commune.name} ({commune.code})"


def resolve_places(session: Session, records: list[dict[str, Any]], geocode: bool) -> list[PlaceWarning]:
    """Set each record's INSEE code and point: given code (checked against the point and the
    postcode), else point in polygon, else geocoder, else postcode + name. Returns the warnings
    in the order they arose."""
    places = Places(session)
    warnings: list[PlaceWarning] = []

    def warn(index: int, name: str, value: Any, message: str) -> None:
        warnings.append(PlaceWarning(index, name, value, message))

    to_geocode: list[int] = []
    for index, record in enumerate(records):
        given = record["code_insee"]
        record["code_insee"] = places.commune_code(given)
        if given and record["code_insee"] is None:
            warn(index, "code_insee", given, f"Le code INSEE « {given} » ne correspond à aucune commune du COG "
                 "(métropole, départements et collectivités d'outre-mer) : il sera déduit du lieu.")
        if record["code_insee"] is not None and record["latitude"] is not None:
            for field, value, message in check_place(places, record):
                warn(index, field, value, message)
        elif record["latitude"] is not None:
            code, _, where = places.commune_at_point(record["longitude"], record["latitude"],
                                                     record["code_postal"], record["commune"])
            record["code_insee"] = code
            if code is None:
                warn(index, "latitude", f"{record['latitude']}, {record['longitude']}",
                     f"Le point est {where} ; la commune n'a pas été trouvée par le code postal "
                     f"{record['code_postal']} et le nom « {record['commune']} ».")
        if record["latitude"] is None:
            to_geocode.append(index)

    if to_geocode and geocode:
        queries = {index: (_address_line(records[index]), records[index]["code_insee"]) for index in to_geocode}
        try:
            results = geocoder().search_many(session, queries.values())
        except GeocoderUnavailable as error:
            results = None
            for index in to_geocode:
                warn(index, "adresse", _address_line(records[index]), f"{error.message} Lieu gardé sans coordonnées.")
        for index in to_geocode if results is not None else []:
            record = records[index]
            address = queries[index][0]
            result = results.get(queries[index])
            if result is None:
                warn(index, "adresse", address, "Adresse introuvable par le géocodeur : lieu gardé sans coordonnées.")
            elif result.score < ACCEPT_SCORE:
                warn(index, "adresse", address,
                     f"Géocodage rejeté : score {result.score:.2f} inférieur à {ACCEPT_SCORE} (« {result.label} »).")
            else:
                record["latitude"], record["longitude"], record["geocoding_score"] = result.lat, result.lon, result.score
                record["code_insee"] = record["code_insee"] or places.commune_code(result.citycode)
                if result.needs_review:
                    warn(index, "adresse", address,
                         f"Géocodage à vérifier : score {result.score:.2f} inférieur à {REVIEW_SCORE} (« {result.label} »).")
    elif to_geocode:
        for index in to_geocode:
            warn(index, "latitude", None, "Coordonnées absentes et géocodage désactivé (--no-geocode) : lieu gardé sans coordonnées.")

    for index, record in enumerate(records):
        if record["code_insee"] is None:
            record["code_insee"] = places.by_postcode_and_name(record["code_postal"], record["commune"])
        if record["code_insee"] is None:
            warn(index, "code_insee", None,
                 f"Code INSEE introuvable (ni coordonnées, ni commune « {record['commune']} » au code postal "
                 f"{record['code_postal']}) : la cartographie nationale ignorera ce lieu.")
    return warnings


def _without_article(name: str) -> str:
    for article in ("le ", "la ", "les ", "l "):
        if name.startswith(article):
            return name[len(article):]
    return name


def _address_line(record: dict[str, Any]) -> str:
    return f"{record['adresse']}, {record['code_postal']} {record['commune']}"
