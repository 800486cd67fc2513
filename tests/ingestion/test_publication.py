"""`aptic publish`: the qualified, published venues as open data, checked against schema v1.0.1 and
data-inclusion-schema, written atomically, described by metadonnees.json, served at /donnees/."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from aptic.scheduler import collect_jobs
from directory.models import VenueStatus
from ingestion import open_formats
from ingestion.publication import FILES, publish
from tests.builders import publish_venue


def _venues(session: Session) -> None:
    publish_venue(session, 4.835, 45.767, nom="Médiathèque de la Part-Dieu", accepts_pass=True,
                  courriels=["accueil@exemple.fr"], date_maj="2025-06-01", standard_services=[
                      "Aide aux démarches administratives", "Maîtrise des outils numériques du quotidien"])
    publish_venue(session, 4.84, 45.76, nom="Centre social", accepts_pass=False,
                  standard_services=["Accès internet et matériel informatique"])
    publish_venue(session, 4.85, 45.75, nom="Candidat non publié", published=False)
    publish_venue(session, 4.86, 45.74, nom="Suspendu", status=VenueStatus.SUSPENDED)


def check_publication(folder: Path) -> dict:
    """Every file of a publication folder, re-read from disk, passes its schema; returns the metadata."""
    metadata = json.loads((folder / "metadonnees.json").read_text(encoding="utf-8"))
    for item in metadata["fichiers"]:
        assert hashlib.sha256((folder / item["fichier"]).read_bytes()).hexdigest() == item["sha256"]
    with (folder / "lieux-mediation-numerique.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert open_formats.v1_errors(rows) == []
    assert open_formats.v1_errors(json.loads((folder / "lieux-mediation-numerique.json").read_text(encoding="utf-8"))) == []
    structures = json.loads((folder / "data-inclusion-structures.json").read_text(encoding="utf-8"))
    services = json.loads((folder / "data-inclusion-services.json").read_text(encoding="utf-8"))
    assert open_formats.di_errors("structures", structures) == []
    assert open_formats.di_errors("services", services) == []
    geojson = json.loads((folder / "lieux-mediation-numerique.geojson").read_text(encoding="utf-8"))
    assert geojson["type"] == "FeatureCollection" and len(geojson["features"]) == len(rows) == metadata["nombres"]["lieux"]
    assert len(services) == metadata["nombres"]["services"]
    assert not [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]
    return metadata


def test_publish_writes_checked_open_data_with_the_pass(session: Session, tmp_path: Path) -> None:
    _venues(session)
    publication = publish(session, tmp_path / "publication")
    metadata = check_publication(tmp_path / "publication")
    assert metadata["nombres"] == {"lieux": 2, "services": 3, "lieux_pass": 1, "dates_inconnues": 1}
    assert metadata["licence"]["spdx"] == "etalab-2.0"
    assert {item["fichier"] for item in metadata["fichiers"]} == set(FILES)
    assert "2 lieux, 3 services, 1 lieu acceptant le Pass numérique" in publication.summary_line()
    folder = tmp_path / "publication"
    rows = list(csv.DictReader((folder / "lieux-mediation-numerique.csv").open(encoding="utf-8")))
    by_name = {row["nom"]: row for row in rows}
    assert "Pass numérique APTIC accepté" in by_name["Médiathèque de la Part-Dieu"]["autres_formations_labels"]
    assert "Pass numérique APTIC accepté" not in by_name["Centre social"]["autres_formations_labels"]
    assert metadata["date_maj_premiere_vue"] == {by_name["Centre social"]["id"]: by_name["Centre social"]["date_maj"]}
    services = json.loads((folder / "data-inclusion-services.json").read_text(encoding="utf-8"))
    assert sum("Pass numérique" in item.get("frais_precisions", "") for item in services) == 2
    features = json.loads((folder / "lieux-mediation-numerique.geojson").read_text(encoding="utf-8"))["features"]
    assert sorted(f["properties"]["pass_numerique_aptic"] for f in features) == [False, True]
    # again: files replaced whole, same content but the publication time
    publish(session, folder)
    assert check_publication(folder)["fichiers"][0]["sha256"] == metadata["fichiers"][0]["sha256"]


def test_the_daily_job_is_registered() -> None:
    [job] = [job for job in collect_jobs() if job.id == "open-data-publication"]
    assert job.cron == {"hour": 5, "minute": 30}


def test_donnees_page_explains_and_serves_the_files(app: Flask, client: FlaskClient, session: Session,
                                                   tmp_path: Path) -> None:
    app.config["PUBLICATION_DIR"] = str(tmp_path)
    assert "Aucune publication" in client.get("/donnees/").get_data(as_text=True)
    assert client.get("/donnees/lieux-mediation-numerique.csv").status_code == 404
    _venues(session)
    publish(session, tmp_path)
    page = client.get("/donnees/").get_data(as_text=True)
    assert "Licence Ouverte" in page and "lieux-mediation-numerique.csv" in page and "2 lieux" in page
    served = client.get("/donnees/lieux-mediation-numerique.geojson")
    assert served.status_code == 200 and served.mimetype == "application/geo+json"
    assert client.get("/donnees/..%2Fsecret_key").status_code == 404
    assert 'href="/donnees/"' in client.get("/territoires").get_data(as_text=True)  # linked from the footer


def test_aptic_publish_command(app: Flask, session: Session, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from aptic.cli import cli

    _venues(session)
    app.config["PUBLICATION_DIR"] = str(tmp_path / "par-defaut")
    result = CliRunner().invoke(cli, ["publish"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "2 lieux, 3 services, 1 lieu acceptant le Pass numérique" in result.output
    assert check_publication(tmp_path / "par-defaut")["nombres"]["lieux"] == 2
