"""Operator commands of the cartography."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from directory.cli import cli_actor, command_unit_of_work, emit
from directory.db import PARIS_TZ
from maps import rebuild
from maps.coverage import coverage_area, coverage_figures, refresh_coverage
from maps.fragility import load_fragility_index
from maps.models import RUN_STATUS_LABELS, CartographyRun, RunStatus

commands: list[click.Command] = []


# ------------------------------------------------------------------ territorial coverage


@click.group("coverage")
def coverage() -> None:
    """Couverture territoriale : chiffres par territoire, indice de fragilité numérique."""


@coverage.command("refresh")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def coverage_refresh(as_json: bool) -> None:
    """Recalcule les distances de chaque commune aux lieux publiés (fait aussi par la reconstruction hebdomadaire)."""
    with command_unit_of_work() as session:
        summary = refresh_coverage(session)
    emit(as_json, summary,
         f"Couverture recalculée : {summary['communes']} communes, {summary['venues']} lieux publiés, "
         f"en {summary['seconds']:.1f} s.")


@coverage.command("load-fragility")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def coverage_load_fragility(paths: tuple[Path, ...], as_json: bool) -> None:
    """Charge l'indice de fragilité numérique (fichiers ifn-city-… et ifn-epci-… d'inclusion-numerique/stack)."""
    with command_unit_of_work() as session:
        summaries = [load_fragility_index(session, path) for path in paths]
    for summary in summaries:
        levels = ", ".join(f"{count} {'communes chargées' if level == 'commune' else 'EPCI chargés'}"
                           for level, count in summary["by_level"].items())
        emit(as_json, summary,
             f"{summary['file']} : {levels or 'aucune ligne chargée'} ; {summary['unknown_codes']} codes absents "
             f"du découpage actuel, {summary['skipped']} lignes sans score ou sans objet ignorées.")


def _area_argument(code: str) -> tuple[str, str]:
    """`departement:33`, `33` (département), `17300` (commune), a SIREN (EPCI), `FR`, or a comma list (zone)."""
    code = code.strip()
    if "," in code:
        return "zone", code
    level, separator, value = code.partition(":")
    if separator:
        return level.strip().lower(), value.strip()
    if code.upper() in ("FR", "FRANCE"):
        return "france", code
    if len(code) == 9 and code.isdigit():
        return "epci", code
    return ("commune" if len(code) == 5 else "departement"), code


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


@coverage.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def coverage_show(code: str, as_json: bool) -> None:
    """Affiche les chiffres de couverture d'un territoire.

    CODE : 33 (département), region:75, 17300 (commune), 200054781 (EPCI), FR (France), ou une zone
    departement:33,commune:17300.
    """
    level, value = _area_argument(code)
    with command_unit_of_work() as session:
        figures = coverage_figures(session, coverage_area(session, level, value))
    lines = [
        f"{figures['territoire']['nom']} : {_number(figures['population'])} habitants, {figures['communes']} communes, "
        f"{figures['lieux']['total']} lieux publiés "
        f"(niveau 1 : {figures['lieux']['par_niveau']['1']}, niveau 2 : {figures['lieux']['par_niveau']['2']}, "
        f"niveau 3 : {figures['lieux']['par_niveau']['3']}).",
    ]
    for item in figures["acces"]:
        share = "—" if item["part"] is None else f"{item['part'] * 100:.1f} %"
        lines.append(f"  niveau {item['niveau']} à moins de {item['distance_km']:g} km : "
                     f"{_number(item['population'])} habitants ({share})")
    blanches = figures["zones_blanches"]
    lines.append(f"Zones blanches ({blanches['definition']}) : {blanches['communes']} communes, "
                 f"{_number(blanches['population'])} habitants.")
    density = figures["densite"]
    comparisons = "; ".join(f"{c['nom']} : {c['lieux_pour_10000']}" for c in density["comparaisons"])
    lines.append(f"Lieux pour 10 000 habitants : {density['lieux_pour_10000']}" + (f" ({comparisons})" if comparisons else ""))
    if figures["fragilite_numerique"]:
        lines.append(f"Indice de fragilité numérique (moyenne pondérée par la population) : "
                     f"{figures['fragilite_numerique']['moyenne_ponderee']['total']}")
    emit(as_json, figures, "\n".join(lines))


commands.append(coverage)


# ------------------------------------------------------------------- weekly rebuild


@click.group("cartography")
def cartography() -> None:
    """Cartographie publique : reconstruction hebdomadaire et historique."""


@cartography.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def cartography_rebuild(as_json: bool) -> None:
    """Reconstruit la cartographie publique maintenant (comme chaque lundi à 7 h)."""
    factory = current_app.extensions["aptic.db"].sessionmaker

    @contextmanager
    def observe(name: str) -> Iterator[None]:
        if not as_json:
            click.echo(f"  étape « {name} »…")
        yield

    run = rebuild.rebuild_cartography(factory, cli_actor(), trigger="cli", observe=observe)
    emit(as_json, _run_payload(run), _run_line(run))
    if run.status == RunStatus.FAILED:
        raise SystemExit(1)


@cartography.command("runs")
@click.option("--limit", default=10, show_default=True, help="Nombre de reconstructions affichées.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@with_appcontext
def cartography_runs(limit: int, as_json: bool) -> None:
    """Historique des reconstructions de la cartographie."""
    with command_unit_of_work() as session:
        runs = rebuild.cartography_runs(session, limit)
        payload = {"runs": [_run_payload(run) for run in runs]}
        text = "\n".join(_run_line(run) for run in runs) or "Aucune reconstruction pour l'instant."
    emit(as_json, payload, text)


def _run_payload(run: CartographyRun) -> dict:
    return {
        "id": run.id, "status": run.status.value, "trigger": run.trigger, "actor": run.actor,
        "started_at": run.started_at.isoformat(), "seconds": round(run.seconds, 3), "published": run.published,
        "added": run.added, "removed": run.removed, "promoted": run.promoted, "flagged": run.flagged,
        "steps": run.report.get("steps", []), "inconsistent": run.report.get("inconsistent", []), "error": run.error,
    }


def _run_line(run: CartographyRun) -> str:
    started = run.started_at.astimezone(PARIS_TZ).strftime("%d/%m/%Y %H:%M")
    line = (f"Reconstruction n° {run.id} du {started} ({run.trigger}) : {RUN_STATUS_LABELS[run.status]}, "
            f"{run.seconds:.1f} s")
    if run.status == RunStatus.SUCCEEDED:
        line += (f" ; {run.published} lieux publiés, {run.added} ajoutés, {run.removed} retirés, "
                 f"{run.promoted} promus de la liste d'attente, {run.flagged} territoires au-dessus du quota")
        for item in run.report.get("inconsistent", []):
            line += f" ; territoire incohérent laissé en l'état, {item['name']} ({item['level']} {item['code']}) : {item['message']}"
    elif run.error:
        line += f" ; {run.error}"
    return line + "."


commands.append(cartography)
