"""`aptic demo`: build the embedded demo database and serve it."""

from __future__ import annotations

import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session
from werkzeug.serving import run_simple

from aptic import optional_module, schema
from aptic.schema import DOMAIN_PACKAGES
from directory import api
from directory import demo as directory_demo
from directory.demo import DEMO_ACTOR, DEMO_PASSWORD
from directory.models import ROLE_LABELS
from ingestion.api import load_territories

def build_demo(session: Session, venues: int, echo: Any = click.echo) -> dict[str, Any]:
    """Fill an empty database with the demo data set; a database already filled is kept."""
    started = time.monotonic()
    summary = load_territories(session)
    echo(f"Territoires : {'chargés' if summary['changed'] else 'déjà chargés'}.")
    api.load_referential(session)
    if directory_demo.has_venues(session):
        echo("Données de démonstration déjà présentes : rien à ajouter.")
        return {"created": False}
    seeded = directory_demo.seed_directory(session, DEMO_ACTOR, venues, echo)
    for package in DOMAIN_PACKAGES:
        seed = getattr(optional_module(f"{package}.demo"), "seed_demo", None)
        if seed is not None:
            seed(session, DEMO_ACTOR, echo)
    return {
        "created": True,
        "venues": seeded.venues,
        "showcase_venue": seeded.showcase_venue,
        "api_key": seeded.api_key,
        "sign_ins": seeded.sign_ins,
        "seconds": time.monotonic() - started,
    }


@click.command("demo")
@click.option("--venues", default=3_000, show_default=True, help="Nombre de lieux de démonstration.")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Servir le site après la construction.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@with_appcontext
def demo_command(venues: int, serve: bool, host: str, port: int) -> None:
    """Construit la base de démonstration (territoires réels, lieux, comptes) et sert le site."""
    database = current_app.extensions["aptic.db"]
    with database.engine.begin() as connection:
        schema.upgrade(connection=connection)
    with database.unit_of_work() as session:
        result = build_demo(session, venues)
    if result["created"]:
        click.echo(f"Base de démonstration construite en {result['seconds']:.1f} s ({result['venues']} lieux).")
        click.echo(f"Comptes de démonstration (mot de passe « {DEMO_PASSWORD} ») :")
        for role, email in result["sign_ins"]:
            click.echo(f"  {ROLE_LABELS[role]:<18} {email}")
        click.echo(f"Clé d'API du lieu {result['showcase_venue']} : {result['api_key']}")
        click.echo("Pass : page de scan /pass/scanner (lieu@aptic.demo), rapports /pass/commandes "
                   "(commanditaire@aptic.demo), API POST /api/v1/redemptions avec la clé ci-dessus.")
    if serve:
        click.echo(f"Site servi sur http://{host}:{port} (Ctrl+C pour arrêter).")
        # The demo's own address for absolute links (QR codes of printed booklets, OpenAPI servers).
        current_app.config["PUBLIC_URL"] = current_app.config["PUBLIC_URL"] or f"http://{host}:{port}"
        # Flask refuses app.run() inside its own CLI; serve with Werkzeug directly.
        run_simple(host, port, current_app._get_current_object(), threaded=True)


commands = [demo_command]
