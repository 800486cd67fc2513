"""`aptic signals compute|list|mark` and `aptic controls propose|list|record`: the vigilance from a terminal."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from directory.cli import cli_actor, command_unit_of_work, emit
from directory.db import PARIS_TZ
from directory.errors import InvalidInput
from redemption import controls, signals
from redemption.months import parse_month

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")


def _moment(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.ClickException(f"« {value} » n'est pas une date AAAA-MM-JJ[THH:MM] (option --{field}).") from None
    return (moment.replace(tzinfo=PARIS_TZ) if moment.tzinfo is None else moment).astimezone(UTC)


@click.group("signals")
def signals_group() -> None:
    """Signaux des encaissements suspects."""


@signals_group.command("compute")
@click.option("--since", help="Début de la période (AAAA-MM-JJ, heure de Paris) ; défaut : il y a deux jours.")
@click.option("--until", help="Fin de la période (exclue) ; défaut : maintenant.")
@JSON_OPTION
@with_appcontext
def signals_compute(since: str | None, until: str | None, as_json: bool) -> None:
    """Calcule les signaux d'une période (ce que fait la tâche de chaque nuit)."""
    with command_unit_of_work() as session:
        result = signals.compute_signals(session, cli_actor(), _moment(since, "since"), _moment(until, "until"))
    emit(as_json, {"found": result.found, "created": result.created, "updated": result.updated,
                   "start": result.start.isoformat(), "end": result.end.isoformat()},
         f"{result.found} signal(aux) trouvé(s) : {result.created} nouveau(x), {result.updated} mis à jour.")


@signals_group.command("list")
@click.option("--status", default="open", show_default=True, help="open, justified, to_investigate ou all.")
@click.option("--kind", help="Type de signal (hourly_volume, outside_hours…).")
@click.option("--venue", "venue_id", type=int, help="Lieu.")
@JSON_OPTION
@with_appcontext
def signals_list(status: str, kind: str | None, venue_id: int | None, as_json: bool) -> None:
    """Liste les signaux, avec leur explication."""
    with command_unit_of_work() as session:
        listed = signals.list_signals(session, status=None if status == "all" else status, venue_id=venue_id, kind=kind)
        payload = [signals.signal_payload(s) for s in listed]
    text = "\n".join(f"n° {p['id']} [{p['status_label']}] {p['kind_label']} : {p['explanation']}" for p in payload)
    emit(as_json, {"signals": payload}, text or "Aucun signal.")


@signals_group.command("mark")
@click.argument("signal_id", type=int)
@click.option("--status", required=True, type=click.Choice(["justified", "to_investigate"]))
@click.option("--comment", required=True, help="Ce qui justifie le signal, ou ce qu'il faut instruire.")
@JSON_OPTION
@with_appcontext
def signals_mark(signal_id: int, status: str, comment: str, as_json: bool) -> None:
    """Marque un signal « justifié » ou « à instruire », avec un commentaire (audité)."""
    with command_unit_of_work() as session:
        signal = signals.mark_signal(session, cli_actor(), signals.get_signal(session, signal_id), status, comment)
        payload = signals.signal_payload(signal)
    emit(as_json, payload, f"Signal n° {signal_id} : {payload['status_label']}.")


@click.group("controls")
def controls_group() -> None:
    """Plan de contrôle mensuel des lieux qualifiés."""


def _month(value: str) -> object:
    try:
        return parse_month(value, field="month")
    except InvalidInput as error:
        raise click.ClickException(error.message) from None


@controls_group.command("propose")
@click.option("--month", required=True, help="Mois AAAA-MM.")
@click.option("--size", type=int, help="Nombre de lieux (défaut : APTIC_CONTROL_SAMPLE_SIZE ou 5).")
@JSON_OPTION
@with_appcontext
def controls_propose(month: str, size: int | None, as_json: bool) -> None:
    """Propose l'échantillon de lieux à contrôler pour un mois (pondéré par les signaux)."""
    with command_unit_of_work() as session:
        payload = [controls.control_payload(c) for c in controls.propose_controls(session, cli_actor(), _month(month), size)]
    emit(as_json, {"controls": payload},
         "\n".join(f"n° {p['id']} {p['venue']} (poids {p['weight']}) : {p['status_label']}" for p in payload)
         or "Aucun lieu qualifié.")


@controls_group.command("record")
@click.argument("control_id", type=int)
@click.option("--result", required=True, type=click.Choice(["passed", "failed", "waived"]))
@click.option("--documents-checked", is_flag=True, help="Les pièces du dossier ont été revues.")
@click.option("--visited", is_flag=True, help="Le lieu a été visité.")
@click.option("--comment", required=True, help="Compte rendu.")
@click.option("--suspend", is_flag=True, help="Suspendre le lieu (contrôle non conforme).")
@JSON_OPTION
@with_appcontext
def controls_record(control_id: int, result: str, documents_checked: bool, visited: bool, comment: str, suspend: bool,
                    as_json: bool) -> None:
    """Enregistre le résultat d'un contrôle."""
    with command_unit_of_work() as session:
        control = controls.record_outcome(session, cli_actor(), controls.get_control(session, control_id), result,
                                          documents_checked=documents_checked, visited=visited, comment=comment,
                                          suspend=suspend)
        payload = controls.control_payload(control)
    emit(as_json, payload, f"Contrôle n° {control_id} : {payload['status_label']}"
         + (" ; lieu suspendu." if payload["venue_suspended"] else "."))


commands = [signals_group, controls_group]
