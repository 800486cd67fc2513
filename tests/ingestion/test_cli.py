"""`aptic venues import` and `aptic venues export` through the real command line."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aptic.cli import cli
from directory.models import Venue
from tests.builders import row, write_csv


def run(app: Flask, *args: str):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Venue))


def test_import_dry_run_report_and_export(app: Flask, session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lieux.csv", [row("a"), row("b"), row("c", code_postal="x")])
    before = count(session)
    report = tmp_path / "rapport.csv"

    dry = run(app, "venues", "import", str(path), "--source", "region", "--dry-run", "--no-geocode", "--report", str(report))
    assert dry.exit_code == 0, dry.output
    assert "[simulation, rien n'est enregistré] Import « region » : 3 lignes — 2 créés" in dry.output
    assert count(session) == before
    [rejected] = list(csv.DictReader(report.open(encoding="utf-8")))
    assert (rejected["ligne"], rejected["champ"], rejected["niveau"]) == ("4", "code_postal", "rejet")

    done = run(app, "venues", "import", str(path), "--source", "region", "--no-geocode")
    assert done.exit_code == 0, done.output
    assert "lieux.csv (standard v1.0) : 2 créés, 0 mis à jour, 0 inchangé, 0 fusionné, 1 rejeté" in done.output
    assert count(session) == before + 2

    out = tmp_path / "export.geojson"
    exported = run(app, "venues", "export", "--format", "geojson", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert f"{before + 2} lieux exportés" in exported.output


def test_unreadable_file_is_a_clean_error(app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "lieux.json"
    bad.write_text("[{", encoding="utf-8")
    result = run(app, "venues", "import", str(bad), "--source", "region")
    assert result.exit_code == 1
    assert "n'est pas un JSON valide" in result.output and "[unreadable_file]" in result.output


def test_a_full_import_of_an_empty_file_exits_1_with_a_french_message(app: Flask, session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lieux.csv", [row("a"), row("b")])
    assert run(app, "venues", "import", str(path), "--source", "region", "--no-geocode").exit_code == 0
    empty = tmp_path / "vide.csv"
    empty.write_text("", encoding="utf-8")
    refused = run(app, "venues", "import", str(empty), "--source", "region", "--full", "--no-geocode")
    assert refused.exit_code == 1
    assert "ne contient aucune ligne" in refused.output and "[empty_import]" in refused.output
    assert session.scalar(select(func.count()).select_from(Venue).where(Venue.status == "closed")) == 0
