"""Operator commands of the qualification: density figures, quota policy and overrides, decisions."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from directory import french
from directory.api import get_venue
from directory.cli import cli_actor, command_unit_of_work, emit
from qualification import api


@click.group("qualification")
def qualification() -> None:
    """Qualification des lieux : quotas par territoire, densité, décisions."""


@qualification.command("density")
@click.option("--level", type=click.Choice(api.QUOTA_LEVELS), help="Niveau de territoire (par défaut celui de la règle).")
@click.option("--over-quota", is_flag=True, help="Seulement les territoires au-dessus de leur quota.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def density(level: str | None, over_quota: bool, as_json: bool) -> None:
    """Chiffres par territoire : population, lieux qualifiés, quota, densité, accessibilité (E2SFCA)."""
    with command_unit_of_work() as session:
        rows = [row for row in api.density_table(session, level) if row.over_quota or not over_quota]
    lines = [
        f"{row.code:<9} {row.name[:40]:<40} {row.population:>9} hab. {row.qualified:>4}/{row.quota:<4} "
        f"{row.venues_per_10k:6.2f} /10 000 hab. accessibilité {row.accessibility:6.2f}"
        + (" AU-DESSUS DU QUOTA" if row.over_quota else "")
        for row in rows
    ]
    emit(as_json, {"territories": [row.as_dict() for row in rows]}, "\n".join(lines) or "Aucun territoire.")


@qualification.group("quota")
def quota() -> None:
    """Règle de quota et quotas fixés à la main."""


@quota.command("policy")
@click.option("--level", type=click.Choice(api.QUOTA_LEVELS), required=True)
@click.option("--ratio", type=int, required=True, help="Un lieu de plus par RATIO habitants.")
@click.option("--reason", required=True, help="Motif de la modification.")
@with_appcontext
def quota_policy(level: str, ratio: int, reason: str) -> None:
    """Change la règle nationale : niveau de territoire et ratio d'habitants par lieu."""
    with command_unit_of_work() as session:
        policy = api.set_policy(session, cli_actor(), level=level, ratio=ratio, reason=reason)
    click.echo(f"Règle : quota par {policy.level}, 1 lieu par tranche complète de {french.number(policy.ratio)} "
               "habitants, au moins 1.")


@quota.command("override")
@click.option("--level", type=click.Choice(api.QUOTA_LEVELS), required=True)
@click.option("--code", required=True, help="Code du territoire (SIREN d'EPCI, code INSEE…).")
@click.option("--ratio", type=int, help="Ratio d'habitants par lieu propre à ce territoire.")
@click.option("--quota", "quota_value", type=int, help="Quota fixé pour ce territoire.")
@click.option("--reason", required=True, help="Motif de la modification.")
@with_appcontext
def quota_override(level: str, code: str, ratio: int | None, quota_value: int | None, reason: str) -> None:
    """Fixe à la main le ratio ou le quota d'un territoire."""
    with command_unit_of_work() as session:
        row = api.set_override(session, cli_actor(), level=level, code=code, ratio=ratio, quota=quota_value, reason=reason)
        text = f"Territoire {row.level} {row.code} : " + (
            f"quota fixé à {row.quota}." if row.quota is not None else f"ratio fixé à {row.ratio} habitants par lieu."
        )
    click.echo(text)


@qualification.command("decide")
@click.argument("application_id", type=int)
@with_appcontext
def decide(application_id: int) -> None:
    """Décide un dossier complet selon les quotas et affiche la décision motivée."""
    with command_unit_of_work() as session:
        decisions = api.decide(session, cli_actor(), api.get_application(session, application_id))
        sentences = [decision.sentence for decision in decisions]
    click.echo("\n".join(sentences))


@qualification.command("accept-bank-holder")
@click.argument("application_id", type=int)
@click.option("--reason", required=True, help="Pourquoi ce titulaire, autre que l'organisation, est accepté.")
@with_appcontext
def accept_bank_holder(application_id: int, reason: str) -> None:
    """Accepte un titulaire de compte différent du nom de l'organisation, signalé sur la liste des pièces."""
    with command_unit_of_work() as session:
        application = api.accept_bank_holder(session, cli_actor(), api.get_application(session, application_id), reason)
        holder = application.account_holder
    click.echo(f"Dossier n° {application_id} : titulaire « {holder} » accepté.")


@qualification.command("waitlist")
@with_appcontext
def waitlist() -> None:
    """Liste d'attente, dans l'ordre de promotion."""
    with command_unit_of_work() as session:
        lines = [
            f"Dossier n° {site.application_id}, lieu n° {site.venue_id} « {site.venue.nom} » ({site.venue.commune}) : "
            f"{french.count(gain, 'habitant')} {french.plural(gain, 'gagnerait', 'gagneraient')} un lieu à moins de 10 km"
            for site, gain in api.waitlist(session)
        ]
    click.echo("\n".join(lines) or "La liste d'attente est vide.")


@qualification.command("venue-status")
@click.argument("venue_id", type=int)
@click.option("--to", "target", type=click.Choice(["suspended", "qualified", "dequalified", "closed"]), required=True)
@click.option("--reason", required=True, help="Motif du changement.")
@click.option("--override", is_flag=True, help="Qualifier par dérogation au-delà du quota (motif enregistré).")
@with_appcontext
def venue_status(venue_id: int, target: str, reason: str, override: bool) -> None:
    """Suspend ou rétablit un lieu qualifié tout de suite ; une déqualification ou une fermeture attend
    la reconstruction hebdomadaire. Qualifier un lieu en liste d'attente passe par une décision sous le
    quota, ou par une dérogation enregistrée (--override)."""
    with command_unit_of_work() as session:
        pending = api.change_venue_status(session, cli_actor(), get_venue(session, venue_id), target, reason,
                                          override=override)
    if pending is not None:
        click.echo(f"Lieu n° {venue_id} : passage au statut « {target} » lors de la prochaine reconstruction.")
    else:
        click.echo(f"Lieu n° {venue_id} : statut « {target} ».")


commands = [qualification]
