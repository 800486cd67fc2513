"""`aptic demo`: build the embedded demo database and serve it."""

from __future__ import annotations

import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import run_simple

from aptic import optional_module, schema
from aptic.schema import DOMAIN_PACKAGES
from directory import api, factories
from directory.models import ROLE_LABELS, Organisation, Role, Venue, VenueStatus
from ingestion.api import load_territories

DEMO_PASSWORD = "demo-aptic-2026"
DEMO_ACTOR = factories.SYNTHETIC_ACTOR

DEMO_ORGANISATIONS = [
    # key, name, legal form, SIRET (valid Luhn keys), commune, roles
    ("aptic", "APTIC (démonstration)", "cooperative", "82023445800017", "33063", {"is_aptic": True}),
    ("sponsor", "Département de la Gironde (démonstration)", "collectivite", "22330001300016", "33063", {"is_sponsor": True}),
    ("sponsor_caf", "CAF du Nord (démonstration)", "etablissement_public", "77562386100041", "59350", {"is_sponsor": True}),
    ("distributor", "CCAS de Bordeaux (démonstration)", "etablissement_public", "26330040200017", "33063", {"is_distributor": True}),
]
DEMO_USERS = [
    ("aptic", "equipe@aptic.demo", "Camille Martin (APTIC)", Role.APTIC_STAFF),
    ("sponsor", "commanditaire@aptic.demo", "Dominique Bernard (Gironde)", Role.SPONSOR),
    ("distributor", "aiguilleur@aptic.demo", "Sacha Petit (CCAS)", Role.DISTRIBUTOR),
    ("venue", "lieu@aptic.demo", "Alex Durand (lieu)", Role.VENUE_STAFF),
]


def build_demo(session: Session, venues: int, echo: Any = click.echo) -> dict[str, Any]:
    """Fill an empty database with the demo data set; a database already filled is kept."""
    started = time.monotonic()
    summary = load_territories(session)
    echo(f"Territoires : {'chargés' if summary['changed'] else 'déjà chargés'}.")
    api.load_referential(session)
    if session.scalar(select(func.count()).select_from(Venue)):
        echo("Données de démonstration déjà présentes : rien à ajouter.")
        return {"created": False}

    organisations = {}
    for key, name, legal_form, siret, commune, roles in DEMO_ORGANISATIONS:
        organisations[key] = api.create_organisation(
            session, DEMO_ACTOR, name=name, legal_form=legal_form, siret=siret, code_insee=commune, **roles
        )
    echo(f"Lieux de démonstration : génération de {venues} lieux répartis selon la population…")
    venue_ids = factories.generate_venues(session, venues)
    showcase = session.scalars(
        select(Venue).where(Venue.id.in_(venue_ids), Venue.status == VenueStatus.QUALIFIED).order_by(Venue.id).limit(1)
    ).one()
    organisations["venue"] = session.get(Organisation, showcase.organisation_id)

    sign_ins = []
    for key, email, full_name, role in DEMO_USERS:
        user = api.create_user(session, DEMO_ACTOR, email=email, full_name=full_name, password=DEMO_PASSWORD)
        api.add_membership(session, DEMO_ACTOR, user, organisations[key], role)
        sign_ins.append((role, email))
    _, token = api.create_api_key(session, DEMO_ACTOR, organisations["venue"], "Douchette de démonstration", showcase)
    showcase_label = f"« {showcase.nom} » (n° {showcase.id})"

    for package in DOMAIN_PACKAGES:
        seed = getattr(optional_module(f"{package}.demo"), "seed_demo", None)
        if seed is not None:
            seed(session, DEMO_ACTOR, echo)
    return {
        "created": True,
        "venues": len(venue_ids),
        "showcase_venue": showcase_label,
        "api_key": token,
        "sign_ins": sign_ins,
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
        # Flask refuses app.run() inside its own CLI; serve with Werkzeug directly.
        run_simple(host, port, current_app._get_current_object(), threaded=True)


commands = [demo_command]
