"""Operator commands of the qualification: density figures, quota policy and overrides, decisions."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from directory import french
from directory.api import get_venue
from directory.cli import cli_actor, command_unit_of_work, emit
from qualification import api, recommendations, uploads


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


@qualification.command("sweep-uploads")
@click.option("--grace-hours", type=float, default=24.0, show_default=True,
              help="Ne touche pas aux fichiers plus récents (envoi en cours).")
@click.option("--dry-run", is_flag=True, help="Affiche ce qui serait supprimé, sans rien supprimer.")
@with_appcontext
def sweep_uploads(grace_hours: float, dry_run: bool) -> None:
    """Supprime les fichiers de pièces justificatives qu'aucun dossier ne référence plus."""
    storage = api.upload_storage(current_app.config, current_app.instance_path)
    with command_unit_of_work() as session:
        report = uploads.sweep_orphans(session, storage, grace_hours * 3600, dry_run=dry_run)
    removed = len(report.removed)
    verb = "à supprimer" if dry_run else french.plural(removed, "supprimé", "supprimés")
    click.echo(f"{french.count(removed, 'fichier orphelin', 'fichiers orphelins')} {verb} "
               f"({french.number(report.removed_bytes / 1_000_000, 1)} Mo) ; "
               f"{french.count(report.kept, 'fichier conservé', 'fichiers conservés')}.")


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


@click.command("recommend")
@click.option("--level", type=click.IntRange(1, 3), required=True, help="Niveau du référentiel (1, 2 ou 3).")
@click.option("--distance", "distance_km", type=float, default=10.0, show_default=True, help="Distance en kilomètres.")
@click.option("--territory", default="france", show_default=True, help="niveau:code (ex. departement:33) ou france.")
@click.option("--count", type=int, default=10, show_default=True, help="Nombre de sites à recommander.")
@click.option("--candidates", multiple=True, type=click.Choice(recommendations.CANDIDATE_KINDS),
              help="Types de candidats (répétable ; par défaut tous).")
@click.option("--respect-quotas", is_flag=True, help="Pas plus de sites qu'un territoire n'a de places sous son quota.")
@click.option("--exact", "exact_solution", is_flag=True, help="Aussi la solution exacte (HiGHS), avec son écart.")
@click.option("--time-limit", type=float, default=10.0, show_default=True, help="Limite de la recherche exacte (s).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def recommend(level: int, distance_km: float, territory: str, count: int, candidates: tuple[str, ...],
              respect_quotas: bool, exact_solution: bool, time_limit: float, as_json: bool) -> None:
    """Les sites qui rapprocheraient le plus d'habitants d'un lieu du niveau demandé."""
    with command_unit_of_work() as session:
        kwargs = {"level": level, "distance_km": distance_km, "count": count, "territory": territory,
                  "candidates": candidates or None, "respect_quotas": respect_quotas}
        fast = recommendations.recommend(session, **kwargs)
        best = recommendations.recommend(session, **kwargs, exact_solution=True, time_limit_s=time_limit) \
            if exact_solution else None
    payload = {"greedy": fast.as_dict(), **({"exact": best.as_dict()} if best else {})}
    lines = []
    for title, result in (("Ordre glouton", fast), ("Solution exacte", best)):
        if result is None:
            continue
        lines += [f"{title} — {result.summary()}", result.solver_sentence()]
        lines += [f"{pick.rank:>4}. {pick.sentence}" for pick in result.picks]
    if best is not None:
        difference = best.result.objective - fast.result.objective
        lines.append(f"Écart entre les deux : {french.count(difference, 'habitant')} en faveur de la solution exacte.")
    emit(as_json, payload, "\n".join(lines))


commands = [qualification, recommend]
