"""CSV files ingestion writes (venue export, import report) never carry a live spreadsheet formula."""

from __future__ import annotations

import csv

from ingestion.exports import export_venues
from ingestion.import_summary import ImportSummary
from tests.builders import CAHORS, publish_venue

HOSTILE = "=cmd|' /C calc'!A0"


def test_a_formula_in_a_venue_name_comes_out_inert_in_the_export(session, tmp_path):
    publish_venue(session, *CAHORS, nom=HOSTILE, adresse="-2 rue du Calvaire")
    out = tmp_path / "lieux.csv"
    assert export_venues(session, out, "csv") >= 1
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    row = next(r for r in rows if "cmd" in r["nom"])
    assert row["nom"] == "'" + HOSTILE and row["adresse"] == "'-2 rue du Calvaire"
    assert row["latitude"] and not row["latitude"].startswith("'")  # numbers stay numbers


def test_a_formula_in_a_rejected_value_comes_out_inert_in_the_import_report(tmp_path):
    summary = ImportSummary(source="region")
    summary.report.append({"fichier": "lieux.csv", "ligne": 2, "id": "@x", "niveau": "erreur", "champ": "nom",
                           "valeur": HOSTILE, "message": "Nom refusé."})
    summary.write_report(tmp_path / "rapport.csv")
    row = next(csv.DictReader((tmp_path / "rapport.csv").open(encoding="utf-8")))
    assert (row["valeur"], row["id"]) == ("'" + HOSTILE, "'@x")


def test_an_international_phone_number_stays_as_the_standard_writes_it(session, tmp_path):
    publish_venue(session, *CAHORS, nom="Espace", telephone="+33565000000")
    out = tmp_path / "lieux.csv"
    export_venues(session, out, "csv")
    row = next(r for r in csv.DictReader(out.open(encoding="utf-8")) if r["nom"] == "Espace")
    assert row["telephone"] == "+33565000000"  # digits only: no formula, and the v1.0.1 pattern needs the +
