"""The `aptic` command: Flask's CLI with the app factory, plus every domain package's commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from aptic import create_app, optional_module, schema
from aptic.schema import DOMAIN_PACKAGES


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """Plateforme APTIC : annuaire, cartographie, qualification et pass numérique."""


@cli.group()
def db() -> None:
    """Schéma de la base de données."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Applique les migrations (SpatiaLite ou PostGIS, selon APTIC_DATABASE_URL)."""
    database = current_app.extensions["aptic.db"]
    with database.engine.begin() as connection:
        schema.upgrade(connection=connection)
    click.echo(f"Schéma à jour ({database.engine.url.render_as_string(hide_password=True)}).")


def _register_package_commands() -> None:
    for package in DOMAIN_PACKAGES:
        module = optional_module(f"{package}.cli")
        if module is not None:
            for command in module.commands:
                cli.add_command(command)
    for module_name in ("aptic.demo", "aptic.scheduler"):
        module = optional_module(module_name)
        if module is not None:
            for command in module.commands:
                cli.add_command(command)


_register_package_commands()


def main() -> None:
    cli(prog_name="aptic")
