"""Where each imported venue is: its INSEE code and point, from the code given, its point, the geocoder or its postcode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import commune_at, normalize_name
from directory.errors import InvalidInput
from directory.models import Territory, TerritoryAlias, TerritoryLevel, TerritoryPostcode
from ingestion.errors import GeocoderUnavailable
from ingestion.geocoding import ACCEPT_SCORE, REVIEW_SCORE, geocoder


@dataclass(frozen=True)
class PlaceWarning:
    """A warning about the place of one record: its position in the list given, the field, its value."""

    index: int
    field: str
    value: Any
    message: str


class Places:
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


def resolve_places(session: Session, records: list[dict[str, Any]], geocode: bool) -> list[PlaceWarning]:
    """Set each record's INSEE code and point: given code, else point in polygon, else geocoder,
    else postcode + name. Returns the warnings in the order they arose."""
    places = Places(session)
    warnings: list[PlaceWarning] = []

    def warn(index: int, name: str, value: Any, message: str) -> None:
        warnings.append(PlaceWarning(index, name, value, message))

    to_geocode: list[int] = []
    for index, record in enumerate(records):
        given = record["code_insee"]
        record["code_insee"] = places.commune_code(given)
        if given and record["code_insee"] is None:
            warn(index, "code_insee", given, f"Le code INSEE « {given} » ne correspond à aucune commune du COG.")
        if record["code_insee"] is None and record["latitude"] is not None:
            try:
                record["code_insee"] = commune_at(session, record["longitude"], record["latitude"]).code
            except InvalidInput as error:
                warn(index, "latitude", f"{record['latitude']}, {record['longitude']}", error.message)
        if record["latitude"] is None:
            to_geocode.append(index)
        if given and record["code_insee"] is None:
            record["code_insee"] = given  # kept as published (e.g. an overseas collectivity outside the COG)

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


def _address_line(record: dict[str, Any]) -> str:
    return f"{record['adresse']}, {record['code_postal']} {record['commune']}"
