"""Operator commands for the directory: referential, organisations, users, API keys."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from directory.accounts import add_membership, create_api_key, create_user
from directory.audit import Actor
from directory.errors import DomainError
from directory.models import LegalForm, Role
from directory.organisations import create_organisation, get_organisation
from directory.referential import REFERENTIAL_FILE, load_referential
from directory.venues import get_venue

ROLE_FLAGS = {"commanditaire": "is_sponsor", "aiguilleur": "is_distributor", "lieu": "is_venue_operator", "aptic": "is_aptic"}


def cli_actor() -> Actor:
    return Actor(label=f"cli:{getpass.getuser()}")


@contextmanager
def command_unit_of_work() -> Iterator[Session]:
    """A committed unit of work for a command; domain errors become a clean exit status 1."""
    try:
        with current_app.extensions["aptic.db"].unit_of_work() as session:
            yield session
    except DomainError as error:
        field = f" (champ « {error.field} »)" if error.field else ""
        raise click.ClickException(f"{error.message}{field} [{error.code}]") from None


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, default=str) if as_json else text)


@click.group("referential")
def referential() -> None:
    """Référentiel national des services (trois niveaux)."""


@referential.command("load")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), help="Fichier TOML du référentiel.")
@with_appcontext
def referential_load(path: str | None) -> None:
    """Charge le référentiel des services dans la base."""
    with command_unit_of_work() as session:
        summary = load_referential(session, Path(path) if path else REFERENTIAL_FILE)
    state = "chargé" if summary["changed"] else "déjà à jour"
    click.echo(f"Référentiel version {summary['version']} : {state}.")


@click.group("organisations")
def organisations() -> None:
    """Organisations (commanditaires, aiguilleurs, structures porteuses de lieux)."""


@organisations.command("create")
@click.option("--name", required=True, help="Raison sociale.")
@click.option("--legal-form", type=click.Choice([f.value for f in LegalForm]), required=True)
@click.option("--siret")
@click.option("--rna")
@click.option("--code-insee", help="Commune du siège.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(sorted(ROLE_FLAGS)))
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def organisations_create(name: str, legal_form: str, siret: str | None, rna: str | None,
                         code_insee: str | None, roles: tuple[str, ...], as_json: bool) -> None:
    """Crée une organisation (SIRET vérifié, ou RNA)."""
    with command_unit_of_work() as session:
        organisation = create_organisation(
            session, cli_actor(), name=name, legal_form=legal_form, siret=siret, rna=rna,
            code_insee=code_insee, **{ROLE_FLAGS[role]: True for role in roles},
        )
        payload = {"id": organisation.id, "name": organisation.name, "siret": organisation.siret,
                   "rna": organisation.rna, "roles": organisation.roles}
    emit(as_json, payload, f"Organisation n° {payload['id']} créée : {payload['name']}.")


@click.group("users")
def users() -> None:
    """Comptes des utilisateurs."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--organisation", "organisation_id", type=int, help="Organisation de rattachement.")
@click.option("--role", type=click.Choice([r.value for r in Role]))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_create(email: str, full_name: str, password: str, organisation_id: int | None,
                 role: str | None, as_json: bool) -> None:
    """Crée un compte, rattaché à une organisation avec un rôle."""
    if (organisation_id is None) != (role is None):
        raise click.UsageError("--organisation et --role vont ensemble.")
    with command_unit_of_work() as session:
        user = create_user(session, cli_actor(), email=email, full_name=full_name, password=password)
        if organisation_id is not None:
            add_membership(session, cli_actor(), user, get_organisation(session, organisation_id), role)
        payload = {"id": user.id, "email": user.email, "organisation_id": organisation_id, "role": role}
    emit(as_json, payload, f"Compte n° {payload['id']} créé : {payload['email']}.")


@click.group("api-keys")
def api_keys() -> None:
    """Clés d'API (lecteurs de codes-barres des lieux, intégrations)."""


@api_keys.command("create")
@click.option("--organisation", "organisation_id", type=int, required=True)
@click.option("--venue", "venue_id", type=int, help="Lieu auquel la clé est attachée.")
@click.option("--label", default="Clé API")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def api_keys_create(organisation_id: int, venue_id: int | None, label: str, as_json: bool) -> None:
    """Crée une clé d'API ; elle n'est affichée qu'une fois."""
    with command_unit_of_work() as session:
        organisation = get_organisation(session, organisation_id)
        venue = get_venue(session, venue_id) if venue_id else None
        key, token = create_api_key(session, cli_actor(), organisation, label, venue)
        payload = {"id": key.id, "prefix": key.prefix, "token": token, "organisation_id": organisation_id,
                   "venue_id": venue_id}
    emit(as_json, payload, f"Clé créée (conservez-la, elle ne sera plus affichée) : {token}")


commands = [referential, organisations, users, api_keys]
