"""Importing venues: buckets, report, idempotence, INSEE codes, geocoding, duplicates, exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.api import audit_trail, set_venue_status, venue_coordinates
from directory.errors import DomainError
from directory.models import Venue, VenueSource, VenueStatus
from ingestion import exports, standard
from ingestion.api import import_venues
from tests.ban_server import BanServer
from tests.builders import ACTOR, row, write_csv

def venue_of(session: Session, source: str, source_id: str) -> Venue:
    return session.scalars(
        select(Venue).join(VenueSource).where(VenueSource.source == source, VenueSource.source_id == source_id)
    ).one()


def test_every_row_lands_in_one_bucket_and_the_report_says_why(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lieux.csv", [
        row("a"),
        row("b", code_postal="3300"),
        row("c", code_postal="ABCDE"),
        row("d", nom=""),
        row("a", nom="Doublon d'identifiant"),
        row("e", telephone="05 56 00 00 00", presentation_resume="x" * 300),
    ])
    summary = import_venues(session, ACTOR, [path], source="region", geocode=False)
    assert summary.counts == {"created": 3, "updated": 0, "unchanged": 0, "merged": 0, "rejected": 3}
    report = {(line["ligne"], line["champ"]): line for line in summary.report}
    assert report[(4, "code_postal")]["message"] == "Le code postal « ABCDE » n'est pas valide : il faut 5 chiffres."
    assert report[(4, "code_postal")]["niveau"] == "rejet"
    assert report[(5, "nom")]["message"].startswith("Le champ « nom » est obligatoire")
    assert report[(6, "id")]["message"] == "L'identifiant « a » apparaît déjà plus haut pour la source « region » : ligne ignorée."
    assert report[(3, "code_postal")]["niveau"] == "avertissement"
    assert report[(7, "presentation_resume")]["niveau"] == "avertissement"
    assert summary.summary_line().startswith("Import « region » : 6 lignes — 3 créés, 0 mis à jour, 0 inchangé, 0 fusionné, 3 rejetés")

    created = venue_of(session, "region", "e")
    assert created.telephone == "+33556000000"
    assert created.code_insee == "33063"
    assert created.status == VenueStatus.CANDIDATE and not created.published
    assert {s.slug for s in created.services} >= {"demarches-en-ligne", "premiers-pas"}
    assert [e.action for e in audit_trail(session, "venue", created.id)] == ["venue.created"]

    report_file = tmp_path / "rapport.csv"
    summary.write_report(report_file)
    lines = list(csv.DictReader(report_file.open(encoding="utf-8")))
    assert list(lines[0]) == ["fichier", "ligne", "id", "niveau", "champ", "valeur", "message"]
    assert len(lines) == len(summary.report)


def test_reimport_is_idempotent_and_changes_are_audited(session: Session, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "v1.csv", [row("a"), row("b"), row("c")])
    import_venues(session, ACTOR, [first], source="region", geocode=False)
    again = import_venues(session, ACTOR, [first], source="region", geocode=False)
    assert again.counts["unchanged"] == 3 and again.counts["created"] == 0

    second = write_csv(tmp_path / "v2.csv", [row("a"), row("b", telephone="+33556111111"), row("c")])
    changed = import_venues(session, ACTOR, [second], source="region", geocode=False)
    assert changed.counts == {"created": 0, "updated": 1, "unchanged": 2, "merged": 0, "rejected": 0}
    venue = venue_of(session, "region", "b")
    assert venue.telephone == "+33556111111"
    update = audit_trail(session, "venue", venue.id)[-1]
    assert update.action == "venue.updated"
    assert update.data["changes"] == {"telephone": [None, "+33556111111"]}


def test_full_import_closes_missing_venues(session: Session, tmp_path: Path) -> None:
    import_venues(session, ACTOR, [write_csv(tmp_path / "v1.csv", [row("a"), row("b")])], source="region", geocode=False)
    partial = write_csv(tmp_path / "v2.csv", [row("a")])
    summary = import_venues(session, ACTOR, [partial], source="region", geocode=False, full=True, force=True)
    assert summary.closed == 1
    gone = venue_of(session, "region", "b")
    assert gone.status == VenueStatus.CLOSED  # closed, not deleted
    assert venue_of(session, "region", "a").status == VenueStatus.CANDIDATE


def test_insee_code_is_derived_from_point_then_postcode_and_name(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lieux.csv", [
        row("point"),  # no code_insee, a point in Bordeaux
        row("name", latitude="", longitude="", commune="Saint-Fraigne", code_postal="16140", adresse="Rue du Chant du Coq"),
        row("arrondissement", code_insee="75101", commune="Paris", code_postal="75001", latitude="", longitude=""),
        row("lost", latitude="", longitude="", commune="Ville imaginaire", code_postal="16140"),
    ])
    summary = import_venues(session, ACTOR, [path], source="region", geocode=False)
    assert venue_of(session, "region", "point").code_insee == "33063"
    assert venue_of(session, "region", "name").code_insee == "16317"
    assert venue_of(session, "region", "arrondissement").code_insee == "75056"
    assert venue_of(session, "region", "lost").code_insee is None
    messages = [line["message"] for line in summary.report if line["id"] == "lost"]
    assert any(m.startswith("Code INSEE introuvable") for m in messages)
    assert any("géocodage désactivé" in m for m in messages)


def test_missing_points_are_geocoded_in_one_batch(app: Flask, session: Session, ban: BanServer, tmp_path: Path) -> None:
    ban.add("18 rue Porte Dijeaux 33000 Bordeaux", lon=-0.5734, lat=44.8409, score=0.88, citycode="33063")
    ban.add("2 cours Victor Hugo 33000 Bordeaux", lon=-0.5700, lat=44.8350, score=0.62, citycode="33063")
    ban.add("9 impasse floue 33000 Bordeaux", lon=-0.56, lat=44.83, score=0.31, citycode="33063")
    app.config["GEOCODER_URL"] = ban.url
    path = write_csv(tmp_path / "lieux.csv", [
        row("good", adresse="18 rue Porte Dijeaux", latitude="", longitude=""),
        row("review", adresse="2 cours Victor Hugo", latitude="", longitude=""),
        row("low", adresse="9 impasse floue", latitude="", longitude=""),
        row("has-point"),
    ])
    with app.app_context():
        summary = import_venues(session, ACTOR, [path], source="region")
    assert ban.requests == [("csv", 3)]
    good = venue_of(session, "region", "good")
    assert venue_coordinates(good) == pytest.approx([-0.5734, 44.8409])
    assert good.geocoding_score == pytest.approx(0.88) and good.code_insee == "33063"
    assert venue_of(session, "region", "review").geocoding_score == pytest.approx(0.62)
    assert venue_of(session, "region", "low").location is None
    by_id = {line["id"]: line["message"] for line in summary.report}
    assert by_id["review"].startswith("Géocodage à vérifier : score 0.62 inférieur à 0.7")
    assert by_id["low"].startswith("Géocodage rejeté : score 0.31 inférieur à 0.5")


def test_unreachable_geocoder_does_not_stop_the_import(app: Flask, session: Session, tmp_path: Path) -> None:
    app.config["GEOCODER_URL"] = "http://127.0.0.1:9"
    path = write_csv(tmp_path / "lieux.csv", [row("a", latitude="", longitude="")])
    with app.app_context():
        summary = import_venues(session, ACTOR, [path], source="region")
    assert summary.counts["created"] == 1
    assert "injoignable" in summary.report[0]["message"]


def test_duplicates_across_sources_are_merged_with_their_score(session: Session, tmp_path: Path) -> None:
    import_venues(session, ACTOR, [write_csv(tmp_path / "a.csv", [
        row("1", nom="Médiathèque Mériadeck", adresse="85 cours du Maréchal Juin", date_maj="2023-01-10",
            telephone="+33556101010"),
        row("2", nom="Centre social Bastide", adresse="1 rue de la Benauge", latitude="44.8420", longitude="-0.5560"),
    ])], source="departement", geocode=False)
    summary = import_venues(session, ACTOR, [write_csv(tmp_path / "b.csv", [
        row("x9", nom="Mediatheque de Meriadeck", adresse="85 cours Maréchal Juin", date_maj="2024-02-01",
            latitude="44.8413", longitude="-0.5802", telephone="+33556202020", courriels="contact@bibliotheque.fr"),
        row("x10", nom="Fablab des Chartrons", adresse="3 quai des Chartrons", latitude="44.8530", longitude="-0.5700"),
    ])], source="hub", geocode=False)
    assert summary.counts == {"created": 1, "updated": 0, "unchanged": 0, "merged": 1, "rejected": 0}
    merged = venue_of(session, "departement", "1")
    assert venue_of(session, "hub", "x9").id == merged.id
    assert {(s.source, s.source_id) for s in merged.sources} == {("departement", "1"), ("hub", "x9")}
    # the most recent date_maj wins field by field; empty values never overwrite
    assert merged.telephone == "+33556202020" and merged.courriels == ["contact@bibliotheque.fr"]
    assert merged.nom == "Mediatheque de Meriadeck"
    [merge] = summary.merges
    assert merge["venue_id"] == merged.id and merge["score"] >= 0.8
    line = next(line for line in summary.report if line["niveau"] == "fusion")
    assert line["message"].startswith(f"Fusionné avec le lieu n° {merged.id} : score ")
    assert audit_trail(session, "venue", merged.id)[-1].action == "venue.merged"
    # deterministic: importing the same file again changes nothing
    again = import_venues(session, ACTOR, [tmp_path / "b.csv"], source="hub", geocode=False)
    assert again.counts["unchanged"] == 2


def test_export_follows_v101_and_round_trips(session: Session, tmp_path: Path) -> None:
    v01 = tmp_path / "v01.json"
    v01.write_text(json.dumps([{
        "id": "p1", "pivot": "00000000000000", "nom": "Maison France Services", "commune": "Bordeaux",
        "code_postal": "33000", "adresse": "4 place Pey-Berland", "latitude": 44.8378, "longitude": -0.5772,
        "date_maj": "2022-06-30", "services": "Accéder à du matériel;Utiliser le numérique au quotidien",
        "conditions_acces": "Accepte le Pass numérique : Il est possible d'utiliser un Pass numérique pour accéder au lieu",
        "labels_nationaux": "APTIC;France Services", "horaires": "Mo-Fr 09:00-12:00",
    }]), encoding="utf-8")
    import_venues(session, ACTOR, [v01, write_csv(tmp_path / "v1.csv", [row("a", courriels="a@exemple.fr|b@exemple.fr"),
                                                                             row("undated", date_maj="1970-01-01")])],
                  source="region", geocode=False)
    out = tmp_path / "export.csv"
    count = exports.export_venues(session, out, "csv")
    assert count == session.scalar(select(func.count()).select_from(Venue).where(Venue.status != VenueStatus.CLOSED))
    with out.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == standard.field_names(standard.V1)
        rows = list(reader)
    patterns = standard.patterns(standard.V1)
    for item in rows:
        for name, pattern in patterns.items():
            assert not item[name] or pattern.fullmatch(item[name]), (name, item[name])
        for name in ("id", "pivot", "nom", "commune", "code_postal", "adresse", "date_maj"):
            assert item[name], name
    pass_venue = next(item for item in rows if item["nom"] == "Maison France Services")
    assert pass_venue["autres_formations_labels"] == "APTIC|Pass numérique APTIC accepté"
    assert pass_venue["dispositif_programmes_nationaux"] == "France Services"
    assert pass_venue["frais_a_charge"] == "Gratuit sous condition"

    undated = next(item for item in rows if item["nom"] == "Espace numérique undated")
    assert undated["date_maj"]  # required by the standard: APTIC's last update stands in
    before = session.scalar(select(func.count()).select_from(Venue))
    again = import_venues(session, ACTOR, [out], source="aptic", geocode=False)
    assert again.counts["unchanged"] == len(rows) and again.counts["created"] == again.counts["updated"] == 0
    assert session.scalar(select(func.count()).select_from(Venue)) == before

    for fmt in ("json", "geojson"):
        target = tmp_path / f"export.{fmt}"
        exports.export_venues(session, target, fmt)
        data = json.loads(target.read_text(encoding="utf-8"))
        first = data[0] if fmt == "json" else data["features"][0]["properties"]
        assert list(first) == list(standard.field_names(standard.V1))
    reimported = import_venues(session, ACTOR, [tmp_path / "export.json"], source="aptic", geocode=False)
    assert reimported.counts["unchanged"] == len(rows)
    assert venue_of(session, "region", "undated").date_maj is None


def _three_venues(session: Session, tmp_path: Path) -> None:
    import_venues(session, ACTOR, [write_csv(tmp_path / "v1.csv", [row("a"), row("b"), row("c")])], source="region",
                  geocode=False)


def _statuses(session: Session) -> dict[str, VenueStatus]:
    return {source_id: venue_of(session, "region", source_id).status for source_id in "abc"}


@pytest.mark.parametrize("content, code", [
    ("", "empty_import"),
    ("colonne_inconnue;autre\nx;y\nz;w\n", "no_valid_rows"),
])
def test_a_full_import_of_an_empty_or_unusable_file_is_refused_and_closes_nothing(session, tmp_path, content, code):
    _three_venues(session, tmp_path)
    bad = tmp_path / "vide.csv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(DomainError) as refused:
        import_venues(session, ACTOR, [bad], source="region", geocode=False, full=True, force=True)
    assert refused.value.code == code and "rien n'a été enregistré" in refused.value.message
    assert set(_statuses(session).values()) == {VenueStatus.CANDIDATE}


def test_closing_more_than_the_allowed_share_needs_force(session, tmp_path):
    _three_venues(session, tmp_path)
    one_left = write_csv(tmp_path / "v2.csv", [row("a")])
    with pytest.raises(DomainError) as refused:
        import_venues(session, ACTOR, [one_left], source="region", geocode=False, full=True)
    assert refused.value.code == "too_many_closures"
    assert "fermerait 2 lieux sur 3" in refused.value.message and "--force" in refused.value.message
    assert set(_statuses(session).values()) == {VenueStatus.CANDIDATE}
    summary = import_venues(session, ACTOR, [one_left], source="region", geocode=False, full=True, max_close_share=0.7)
    assert summary.closed == 2


def test_a_venue_closed_by_an_import_reopens_when_it_comes_back_but_not_one_closed_by_staff(session, tmp_path):
    _three_venues(session, tmp_path)
    set_venue_status(session, ACTOR, venue_of(session, "region", "a"), VenueStatus.QUALIFIED, "Décision de test")
    set_venue_status(session, ACTOR, venue_of(session, "region", "c"), VenueStatus.CLOSED, "Fermé à la demande du lieu")
    import_venues(session, ACTOR, [write_csv(tmp_path / "v2.csv", [row("b")])], source="region", geocode=False,
                  full=True, force=True)
    assert _statuses(session) == {"a": VenueStatus.CLOSED, "b": VenueStatus.CANDIDATE, "c": VenueStatus.CLOSED}
    back = import_venues(session, ACTOR, [write_csv(tmp_path / "v3.csv", [row("a"), row("b"), row("c")])],
                         source="region", geocode=False, full=True)
    assert back.reopened == 1 and "1 rouvert" in back.summary_line()
    assert _statuses(session) == {"a": VenueStatus.QUALIFIED, "b": VenueStatus.CANDIDATE, "c": VenueStatus.CLOSED}
    last = audit_trail(session, "venue", venue_of(session, "region", "a").id)[-1]
    assert last.data["after"] == "qualified" and last.data["reopened_by_import"] == "region"


def _bad_file(tmp_path: Path, kind: str) -> Path:
    if kind == "binary":
        path = tmp_path / "binaire.csv"
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "huge_field":
        path = tmp_path / "enorme.csv"
        path.write_text("id;nom;adresse\na;" + "x" * (10 * 1024 * 1024) + ";rue\n", encoding="utf-8")
    elif kind == "nested":
        path = tmp_path / "imbrique.json"
        path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    else:
        path = tmp_path / "doublon.csv"
        path.write_text("id;nom;nom;adresse\na;A;B;1 rue\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind, code, words", [
    ("binary", "unreadable_file", "n'est pas encodé en UTF-8"),
    ("huge_field", "unreadable_file", "un champ dépasse 128 Kio"),
    ("nested", "unreadable_file", "imbrique trop de niveaux"),
    ("duplicate", "duplicate_column", "colonnes en double : nom"),
])
def test_a_bad_file_gets_a_french_message_and_nothing_is_written(session, tmp_path, kind, code, words):
    before = session.scalar(select(func.count()).select_from(Venue))
    with pytest.raises(DomainError) as refused:
        import_venues(session, ACTOR, [_bad_file(tmp_path, kind)], source="region", geocode=False)
    assert refused.value.code == code and words in refused.value.message and refused.value.field == "fichier"
    assert session.scalar(select(func.count()).select_from(Venue)) == before


def test_a_nul_character_is_dropped_with_a_warning_and_the_file_goes_on(session, tmp_path):
    path = write_csv(tmp_path / "nul.csv", [row("a", nom="Espace\x00 numérique\x07 A"), row("b")])
    summary = import_venues(session, ACTOR, [path], source="region", geocode=False)
    assert summary.counts["created"] == 2
    assert venue_of(session, "region", "a").nom == "Espace numérique A"
    warning = next(line for line in summary.report if line["champ"] == "nom")
    assert warning["niveau"] == "avertissement" and "Caractères de contrôle" in warning["message"]
