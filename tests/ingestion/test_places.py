"""Where imported venues are: INSEE code from the code given, the point, the postcode and name; warnings in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ingestion.places import PlaceWarning, resolve_places

NO_GEOCODE = "Coordonnées absentes et géocodage désactivé (--no-geocode) : lieu gardé sans coordonnées."


def record(code_insee: str | None = None, point: tuple[float, float] | None = None,
           code_postal: str = "33000", commune: str = "Bordeaux") -> dict[str, Any]:
    lon, lat = point or (None, None)
    return {"code_insee": code_insee, "longitude": lon, "latitude": lat, "adresse": "1 place de la Mairie",
            "code_postal": code_postal, "commune": commune}


def test_codes_come_from_the_code_the_point_or_the_postcode(session: Session) -> None:
    records = [
        record("13201"),  # a former code (Marseille 1er arrondissement) becomes the current commune
        record(point=(-0.5801, 44.8412)),
        record(code_postal="69003", commune="Lyon 3e Arrondissement"),
    ]
    warnings = resolve_places(session, records, geocode=False)
    assert [r["code_insee"] for r in records] == ["13055", "33063", "69123"]
    assert warnings == [PlaceWarning(0, "latitude", None, NO_GEOCODE), PlaceWarning(2, "latitude", None, NO_GEOCODE)]


def test_warnings_name_the_record_in_the_order_they_arise(session: Session) -> None:
    records = [record("99999"), record(point=(-0.5801, 44.8412)), record(commune="Nulle-Part")]
    warnings = resolve_places(session, records, geocode=False)
    assert [(w.index, w.field) for w in warnings] == [
        (0, "code_insee"), (0, "latitude"), (2, "latitude"), (2, "code_insee"),
    ]
    assert warnings[0].message == "Le code INSEE « 99999 » ne correspond à aucune commune du COG."
    assert records[0]["code_insee"] == "99999"  # kept as published
    assert records[2]["code_insee"] is None
    assert warnings[3].message.startswith("Code INSEE introuvable (ni coordonnées, ni commune « Nulle-Part »")
