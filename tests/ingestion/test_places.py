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
    assert warnings[0].message == ("Le code INSEE « 99999 » ne correspond à aucune commune du COG (métropole, "
                                   "départements et collectivités d'outre-mer) : il sera déduit du lieu.")
    assert records[0]["code_insee"] == "33063"  # from the postcode and the name
    assert records[2]["code_insee"] is None
    assert warnings[3].message.startswith("Code INSEE introuvable (ni coordonnées, ni commune « Nulle-Part »")


def test_an_overseas_point_moves_a_wrong_code_to_its_collectivity(session: Session) -> None:
    """The Nouvelle-Calédonie file: code 63236 (Le Mont-Dore, Puy-de-Dôme), postcode 98800, point near Nouméa."""
    records = [record("63236", point=(166.52465, -22.23039), code_postal="98800", commune="Mont-Dore"),
               record("98818", point=(166.45, -22.27), code_postal="98800", commune="Nouméa"),
               record(point=(-149.57, -17.54), code_postal="98714", commune="Papeete")]
    warnings = resolve_places(session, records, geocode=False)
    assert [r["code_insee"] for r in records] == ["98817", "98818", "98735"]
    [warning] = warnings
    assert (warning.index, warning.field, warning.value) == (0, "code_insee", "63236")
    assert "en Nouvelle-Calédonie" in warning.message and "remplacé par 98817 (Le Mont-Dore, Nouvelle-Calédonie)" in warning.message
    assert "hors de France" not in warning.message


def test_a_far_point_is_dropped_when_code_and_postcode_agree(session: Session) -> None:
    """The Charente bus stop whose point is in Bouches-du-Rhône."""
    records = [record("16392", point=(5.411872, 43.451334), code_postal="16460", commune="Valence")]
    [warning, no_geocode] = resolve_places(session, records, geocode=False)
    assert records[0]["code_insee"] == "16392" and records[0]["latitude"] is None
    assert warning.field == "latitude" and "code postal 16460 concordent : point écarté" in warning.message
    assert no_geocode.message == NO_GEOCODE


def test_a_point_beats_a_code_the_postcode_does_not_back(session: Session) -> None:
    records = [record("69123", point=(-0.5801, 44.8412), code_postal="33000", commune="Bordeaux"),
               record("33063", point=(-0.5801, 44.8412), code_postal="75001", commune="Bordeaux")]
    warnings = resolve_places(session, records, geocode=False)
    assert [r["code_insee"] for r in records] == ["33063", "33063"]
    assert [(w.index, w.field) for w in warnings] == [(0, "code_insee"), (1, "code_postal")]
    assert "remplacé par 33063 (Bordeaux, Gironde)" in warnings[0].message


def test_overseas_communes_are_searchable_with_their_postcodes(session: Session) -> None:
    from directory import api

    [noumea] = [commune for commune in api.search_communes(session, "Nouméa") if commune.code == "98818"]
    assert noumea.departement_code == "988" and noumea.region_code is None
    assert [commune.code for commune in api.communes_by_postcode(session, "98714")] == ["98735"]  # Papeete
    assert api.commune_by_code(session, "97701").name == "Saint-Barthélemy"
