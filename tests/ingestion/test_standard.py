"""Reading and cleaning rows of the national standard (no database)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ingestion import hubs, standard
from ingestion.errors import UnreadableFile
from ingestion.standard import V01, V1, RowCleaner

V01_ROW = {
    "id": "7", "pivot": "00000000000000", "nom": "Espace numérique", "commune": "Annecy", "code_postal": "74000",
    "adresse": "1 rue Royale", "date_maj": "2022-03-01",
    "services": "Prendre en main un ordinateur;Accéder à du matériel;Accompagner les démarches de santé",
    "publics_accueillis": "Seniors (+ 65 ans);Adultes;Surdité;Handicaps mentaux : déficiences limitant les activités d'une personne",
    "conditions_acces": "Gratuit : Je peux accéder gratuitement au lieu et à ses services;"
                        "Accepte le Pass numérique : Il est possible d'utiliser un Pass numérique pour accéder au lieu",
    "labels_nationaux": "CNFS;APTIC;French Tech",
    "modalites_accompagnement": "Dans un atelier : j'apprends collectivement à utiliser le numérique",
    "courriel": "contact@espace.fr",
}
V1_ROW = {
    "id": "v1-1", "pivot": "00000000000000", "nom": "Tiers-lieu", "commune": "Annecy", "code_postal": "74000",
    "adresse": "1 rue Royale", "date_maj": "2024-05-01", "services": "Aide aux démarches administratives",
}


def test_v01_row_maps_onto_v1_and_keeps_the_aptic_facts() -> None:
    row = RowCleaner(V01).clean(1, V01_ROW)
    record = row.record
    assert row.issues == []
    assert record["standard_services"] == [
        "Maîtrise des outils numériques du quotidien", "Accès internet et matériel informatique",
        "Aide aux démarches administratives",
    ]
    assert record["publics_specifiquement_adresses"] == ["Seniors"]
    assert record["prise_en_charge_specifique"] == ["Surdité", "Handicaps mentaux"]
    assert record["frais_a_charge"] == ["Gratuit", "Gratuit sous condition"]
    assert record["accepts_pass"] is True and record["aptic_label"] is True
    assert record["dispositif_programmes_nationaux"] == ["Conseillers numériques"]
    assert record["autres_formations_labels"] == ["French Tech"]
    assert record["modalites_accompagnement"] == ["Dans un atelier collectif"]
    assert record["courriels"] == ["contact@espace.fr"]


def test_version_is_detected_from_columns_then_services() -> None:
    assert standard.detect_version([V01_ROW]) == V01
    assert standard.detect_version([{"id": "1", "services": "Aide aux démarches administratives"}]) == V1
    assert standard.detect_version([{"id": "1", "itinerance": "Fixe"}]) == V1
    # v1 values with leftover v0.1 columns, as in the 2025-converted regional files
    leftover = {"id": "1", "labels_nationaux": "CNFS", "services": "Compréhension du monde numérique"}
    assert standard.detect_version([leftover]) == V1


def test_placeholders_are_stored_as_unknown() -> None:
    for placeholder in ("1970-01-01", "1969-12-31"):
        record = RowCleaner(V01).clean(1, {**V01_ROW, "date_maj": placeholder}).record
        assert record["date_maj"] is None
        assert record["pivot"] is None


def test_long_resume_keeps_the_venue_and_warns() -> None:
    text = "Un lieu ouvert à tous " * 30
    row = RowCleaner(V1).clean(4, {**V1_ROW, "presentation_resume": text})
    assert row.record is not None
    assert len(row.record["presentation_resume"]) <= standard.RESUME_MAX
    assert row.record["presentation_detail"] == text.strip()
    [issue] = row.issues
    assert issue.level == "avertissement" and issue.field == "presentation_resume"
    assert f"{len(text.strip())} caractères (maximum 280)" in issue.message


@pytest.mark.parametrize(
    ("field", "value", "level", "message"),
    [
        ("code_postal", "7500A", "rejet", "Le code postal « 7500A » n'est pas valide : il faut 5 chiffres."),
        ("nom", "", "rejet", "Le champ « nom » est obligatoire : indiquez le nom du lieu."),
        ("telephone", "12", "avertissement", "Le numéro de téléphone « 12 » n'est pas valide (ex. +33123456789) : ignoré."),
        ("code_insee", "ABCDE", "avertissement", "Le code INSEE « ABCDE » n'est pas valide : il sera déduit de l'adresse."),
        ("pivot", "12345678901234", "avertissement", "Le SIRET « 12345678901234 » a une clé de contrôle fausse : ignoré."),
        ("horaires", "le matin", "avertissement", "Les horaires « le matin » ne suivent pas la syntaxe OpenStreetMap"),
        ("latitude", "95", "avertissement", "Les coordonnées sont hors des bornes"),
    ],
)
def test_bad_fields_are_reported_by_name(field: str, value: str, level: str, message: str) -> None:
    raw = {**V01_ROW, "latitude": 45.9, "longitude": 6.12, field: value}
    row = RowCleaner(V01).clean(3, raw)
    issue = next(i for i in row.issues if i.field == field)
    assert issue.level == level
    assert issue.message.startswith(message)
    assert (row.record is None) == (level == "rejet")


def test_unknown_v1_enum_values_are_dropped_with_a_warning() -> None:
    row = RowCleaner(V1).clean(1, {**V1_ROW, "services": "Aide aux démarches administratives|Jardinage",
                                   "formations_labels": "Label maison"})
    assert row.record["standard_services"] == ["Aide aux démarches administratives"]
    assert "Label maison" in row.record["autres_formations_labels"]
    assert {i.field for i in row.issues} == {"services", "formations_labels"}


def test_allowed_values_come_from_the_schema_patterns() -> None:
    assert "Langues étrangères (anglais)" in standard.allowed_values(V1, "prise_en_charge_specifique")
    assert len(standard.allowed_values(V1, "services")) == 9
    assert len(standard.allowed_values(V01, "services")) == 15


def test_unreadable_files_raise_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "lieux.json"
    bad.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(UnreadableFile, match="n'est pas un tableau JSON"):
        standard.read_rows(bad)
    with pytest.raises(UnreadableFile, match="ni un CSV ni un JSON"):
        standard.read_rows(tmp_path / "lieux.xlsx")


def test_hub_helpers_parse_dates_and_hours() -> None:
    assert hubs.loose_date("Decembre 2019") == date(2019, 12, 1)
    assert hubs.loose_date("juil-22") == date(2022, 7, 1)
    assert hubs.loose_date("5/3/2019") == date(2019, 3, 5)
    assert hubs.loose_date("2018") == date(2018, 1, 1)
    assert hubs.loose_date("bientôt") is None
    hours = hubs.opening_hours_from_days({"Mo": "9h-12h et 14h-17h", "We": "de 09h00 à 12h30", "Fr": "Fermé"})
    assert hours == "Mo 09:00-12:00,14:00-17:00; We 09:00-12:30"


def test_csv_reader_accepts_semicolons_and_extra_cells(tmp_path) -> None:
    path = tmp_path / "lieux.csv"
    path.write_text("id;nom;commune\n1;Espace;Annecy;cellule en trop\n", encoding="utf-8")
    [raw] = standard.read_rows(path)
    assert (raw["id"], raw["nom"], raw["commune"]) == ("1", "Espace", "Annecy")
    assert raw["_colonnes_en_trop"] == ["cellule en trop"]


def test_hub_mapping_turns_a_hub_row_into_a_standard_row(tmp_path) -> None:
    path = tmp_path / "hub.csv"
    columns = ["n_ref", "nom", "ville", "code_postal", "adresse", "lat", "lon", "tel_structure", "lundi", "mardi",
               "date_maj", "codes_types_mediations", "code_label", "conditions_acces_toutes_actions", "type_lieu"]
    values = ["Ref_1", "Médiathèque", "Foix", "9000", "2 rue Noël Peyrevidal", "42.96", "1.60", "05 61 00 00 00",
              "9h-12h et 14h-17h", "", "juil-22", "ORD-ACCDA-FL", "TL-APTIC", "Gratuit;Sans Rendez-Vous", "Médiathèque"]
    path.write_text(",".join(columns) + "\n" + ",".join(values) + "\n", encoding="utf-8")
    mapping = hubs.mapping_for(path)
    assert mapping is not None and mapping.name == "rhinocc"
    [raw] = mapping.read(path)
    assert raw["horaires"] == "Mo 09:00-12:00,14:00-17:00"
    assert raw["date_maj"] == "juil-22"  # read by the row cleaner, which reports what it refuses
    assert raw["aptic_label"] is True
    assert raw["services"] == ["Accès internet et matériel informatique", "Aide aux démarches administratives",
                               "Loisirs et créations numériques"]
    row = RowCleaner(V1).clean(2, raw)
    assert row.record["aptic_label"] is True and row.record["code_postal"] == "09000"
    assert row.record["date_maj"] == "2022-07-01"
    assert row.record["frais_a_charge"] == ["Gratuit"] and row.record["modalites_acces"] == ["Se présenter"]
    assert row.record["typologie"] == ["BIB"] and row.record["telephone"] == "+33561000000"
    assert [i.field for i in row.issues] == ["code_postal"]  # the lost leading zero is reported
    assert hubs.mapping_for(tmp_path / "lieux.json") is None


def test_summary_lines_agree_in_number() -> None:
    from ingestion.import_summary import FileSummary, ImportSummary

    file = FileSummary(path="a.csv", kind="standard v1.0", rows=1)
    file.counts["created"] = 1
    summary = ImportSummary(source="s", files=[file])
    summary.report.append({"niveau": "avertissement"})
    assert summary.summary_line() == ("Import « s » : 1 ligne — 1 créé, 0 mis à jour, 0 inchangé, 0 fusionné, "
                                      "0 rejeté ; 1 avertissement.")
    assert "1 avertissements" not in summary.summary_line() and "1 lignes" not in summary.summary_line()


def test_hand_written_hours_become_osm_hours_and_what_is_dropped_is_said() -> None:
    from ingestion import recovery

    value, warnings = recovery.opening_hours_from_days({
        "Mo": "9h/12h 13h30/18h", "Tu": "9:00 - 12:00 / 14:00 - 17:00", "We": "9 h - 12 h et 14 h - 17 h 30",
        "Th": "Sur rdv", "Fr": "Point info séniors : 8h30 - 11h30", "Sa": "Fermé",
    })
    assert value == ("Mo 09:00-12:00,13:30-18:00; Tu 09:00-12:00,14:00-17:00; We 09:00-12:00,14:00-17:30; "
                     "Fr 08:30-11:30")
    assert [message for _, _, message in warnings] == [
        "Horaires du jeudi « Sur rdv » non convertis : ignorés.",
        "Horaires du vendredi « Point info séniors : 8h30 - 11h30 » lus en partie (08:30-11:30) ; "
        "ignoré : « Point info séniors ».",
    ]


def test_phones_are_repaired_and_several_numbers_split() -> None:
    from ingestion import recovery

    assert recovery.phone("468747330") == ("+33468747330", [(
        "telephone", "468747330", "Le numéro « 468747330 » a perdu son zéro initial : lu « +33468747330 ».")])
    kept, [(_, _, message)] = recovery.phone("05 62 94 79 36 / 06 43 15 36 22")
    assert kept == "+33562947936" and "« +33643153622 » ignoré." in message
    assert recovery.phone("3646")[0] is None
    assert recovery.emails("clshp@ccpst.org carmi@ccpst.org")[0] == ["clshp@ccpst.org", "carmi@ccpst.org"]
    assert recovery.emails("Contact entreprise : agde@exemple.fr")[0] == ["agde@exemple.fr"]


def test_every_date_format_of_the_shared_files_is_read() -> None:
    from ingestion.dates import parse_source_date

    assert parse_source_date("25/02/2019 00:00:00") == date(2019, 2, 25)
    assert parse_source_date("2022-07-01T10:00:00+02:00") == date(2022, 7, 1)
    assert parse_source_date("Février 2021") == date(2021, 2, 1)
    assert parse_source_date("Novembre 22") == date(2022, 11, 1)
    assert parse_source_date("31/02/2019") is None and parse_source_date("bientôt") is None
