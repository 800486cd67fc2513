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

from directory import accounts
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


def _user_line(user: Any) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.full_name, "active": user.is_active,
            "memberships": [{"organisation_id": m.organisation_id, "role": m.role.value} for m in user.memberships]}


@users.command("list")
@click.option("--organisation", "organisation_id", type=int, help="Seulement les membres de cette organisation.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_list(organisation_id: int | None, as_json: bool) -> None:
    """Liste les comptes (actifs et désactivés)."""
    with command_unit_of_work() as session:
        rows = [_user_line(u) for u in accounts.list_users(session, [organisation_id] if organisation_id else None)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        roles = ", ".join(f"{m['role']}@{m['organisation_id']}" for m in row["memberships"]) or "aucun rôle"
        click.echo(f"{row['id']:>6}  {row['email']}  {'actif' if row['active'] else 'DÉSACTIVÉ'}  ({roles})")


def _set_active(user_id: int, active: bool) -> None:
    with command_unit_of_work() as session:
        user = accounts.get_user(session, user_id)
        accounts.set_active(session, cli_actor(), user, active)
        email = user.email
    click.echo(f"Compte {email} {'réactivé' if active else 'désactivé ; ses sessions sont closes'}.")


@users.command("deactivate")
@click.argument("user_id", type=int)
@with_appcontext
def users_deactivate(user_id: int) -> None:
    """Désactive un compte : connexion refusée, sessions ouvertes closes."""
    _set_active(user_id, False)


@users.command("reactivate")
@click.argument("user_id", type=int)
@with_appcontext
def users_reactivate(user_id: int) -> None:
    """Réactive un compte désactivé."""
    _set_active(user_id, True)


@users.command("set-password")
@click.argument("user_id", type=int)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def users_set_password(user_id: int, password: str) -> None:
    """Change le mot de passe d'un compte ; ses sessions ouvertes sont closes."""
    with command_unit_of_work() as session:
        user = accounts.get_user(session, user_id)
        accounts.set_password(session, cli_actor(), user, password)
        email = user.email
    click.echo(f"Mot de passe de {email} changé ; ses sessions sont closes.")


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


def _key_line(key: Any) -> dict[str, Any]:
    return {"id": key.id, "prefix": key.prefix, "label": key.label, "organisation_id": key.organisation_id,
            "venue_id": key.venue_id, "created_at": key.created_at, "last_used_at": key.last_used_at,
            "revoked_at": key.revoked_at}


@api_keys.command("list")
@click.option("--organisation", "organisation_id", type=int, help="Seulement les clés de cette organisation.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def api_keys_list(organisation_id: int | None, as_json: bool) -> None:
    """Liste les clés d'API (jamais leur secret)."""
    with command_unit_of_work() as session:
        rows = [_key_line(k) for k in accounts.list_api_keys(session, [organisation_id] if organisation_id else None)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    for row in rows:
        state = f"révoquée le {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
        venue = f"lieu {row['venue_id']}" if row["venue_id"] else "sans lieu"
        click.echo(f"{row['id']:>6}  aptic_{row['prefix']}_…  {row['label']}  organisation {row['organisation_id']}, "
                   f"{venue}  {state}")


@api_keys.command("revoke")
@click.argument("key")
@with_appcontext
def api_keys_revoke(key: str) -> None:
    """Révoque une clé (par son numéro ou son préfixe) : refusée (401) dès la requête suivante."""
    with command_unit_of_work() as session:
        found = accounts.find_api_key(session, key)
        accounts.revoke_api_key(session, cli_actor(), found)
        prefix = found.prefix
    click.echo(f"Clé aptic_{prefix}_… révoquée.")


commands = [referential, organisations, users, api_keys]
