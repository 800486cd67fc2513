"""`aptic cofunding …`: calls for projects, applications, decisions and follow-up, every command with `--json`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from directory import api as directory_api
from directory import french
from directory.cli import cli_actor, command_unit_of_work, emit
from redemption import applications, calls
from redemption.cofunding_followup import follow_up, follow_up_csv
from redemption.cofunding_models import AuthorityKind, FileSection
from redemption.orders import get_order

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
KINDS = click.Choice([kind.value for kind in AuthorityKind])


@click.group("cofunding")
def cofunding() -> None:
    """Cofinancement : appels à projets (État), candidatures des collectivités, parts et enveloppes."""


@cofunding.group("calls")
def calls_group() -> None:
    """Appels à projets."""


@calls_group.command("create")
@click.option("--name", required=True)
@click.option("--funder", default="État", show_default=True)
@click.option("--share-bp", type=int, default=5_000, show_default=True, help="Part du financeur (5 000 = 50 %).")
@click.option("--envelope-cents", type=int, required=True, help="Enveloppe en centimes (15 M€ = 1500000000).")
@click.option("--opens", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--closes", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Dernier jour de dépôt.")
@click.option("--kind", "kinds", type=KINDS, multiple=True, help="Type de candidat éligible ; répétable (défaut : "
              "toutes les collectivités et leurs groupements).")
@click.option("--section", "sections", type=click.Choice([s.value for s in FileSection]), multiple=True,
              help="Rubrique obligatoire du dossier ; répétable (défaut : toutes).")
@JSON_OPTION
@with_appcontext
def calls_create(name, funder, share_bp, envelope_cents, opens, closes, kinds, sections, as_json) -> None:
    """Ouvre un appel à projets."""
    with command_unit_of_work() as session:
        call = calls.create_call(session, cli_actor(), name=name, funder=funder, share_bp=share_bp,
                                 envelope_cents=envelope_cents, opens_on=opens.date(), closes_on=closes.date(),
                                 eligible_kinds=list(kinds) or None, required_sections=list(sections) or None)
        payload, sentence = calls.call_summary(call), calls.call_sentence(call)
    emit(as_json, payload, f"Appel à projets n° {payload['id']} « {payload['name']} » : {sentence}.")


@calls_group.command("close")
@click.argument("call_id", type=int)
@JSON_OPTION
@with_appcontext
def calls_close(call_id: int, as_json: bool) -> None:
    """Clôt un appel : plus aucun dépôt ; les candidatures déposées restent à décider."""
    with command_unit_of_work() as session:
        payload = calls.call_summary(calls.close_call(session, cli_actor(), calls.get_call(session, call_id)))
    emit(as_json, payload, f"Appel à projets n° {call_id} clos.")


@calls_group.command("list")
@JSON_OPTION
@with_appcontext
def calls_list(as_json: bool) -> None:
    """Liste les appels, leur enveloppe et ce qui est engagé."""
    with command_unit_of_work() as session:
        listed = calls.list_calls(session)
        payload = {"calls": [calls.call_summary(call) for call in listed]}
        lines = [f"{call.id}\t{call.name}\t{calls.call_sentence(call)}\tengagé {french.euros(call.committed_cents)}"
                 for call in listed]
    emit(as_json, payload, "\n".join(lines) or "Aucun appel à projets.")


@cofunding.group("applications")
def applications_group() -> None:
    """Candidatures aux appels à projets."""


def _show(session, application, as_json: bool, text: str) -> None:
    emit(as_json, applications.application_payload(session, application), text)


@applications_group.command("create")
@click.option("--call", "call_id", type=int, required=True)
@click.option("--lead", "lead_id", type=int, required=True, help="Organisation chef de file.")
@click.option("--lead-kind", type=KINDS, required=True)
@click.option("--member", "members", multiple=True, help="Autre membre ORGANISATION:TYPE (ex. 12:commune) ; répétable.")
@JSON_OPTION
@with_appcontext
def applications_create(call_id, lead_id, lead_kind, members, as_json) -> None:
    """Crée une candidature (brouillon), seule ou en groupement."""
    with command_unit_of_work() as session:
        partners = []
        for member in members:
            organisation_id, _, kind = member.partition(":")
            if not organisation_id.strip().isdigit():
                raise click.BadParameter("format attendu ORGANISATION:TYPE (ex. 12:commune)", param_hint="--member")
            partners.append((directory_api.get_organisation(session, int(organisation_id)), kind))
        application = applications.create_application(
            session, cli_actor(), calls.get_call(session, call_id), directory_api.get_organisation(session, lead_id),
            lead_kind, partners)
        _show(session, application, as_json, f"Candidature n° {application.id} créée (brouillon).")


@applications_group.command("file")
@click.argument("application_id", type=int)
@click.option("--priority-publics", type=int, help="Personnes des publics prioritaires (une moitié).")
@click.option("--precarity-publics", type=int, help="Personnes en grande précarité numérique (l'autre moitié).")
@click.option("--how-to-reach")
@click.option("--area", "area", multiple=True, help="Territoire de déploiement niveau:code ; répétable.")
@click.option("--structuring")
@click.option("--european-funds")
@click.option("--partners")
@click.option("--budget-cents", type=int)
@click.option("--budget-notes")
@JSON_OPTION
@with_appcontext
def applications_file(application_id, area, as_json, **fields) -> None:
    """Remplit le dossier d'une candidature en brouillon."""
    with command_unit_of_work() as session:
        application = applications.get_application(session, application_id)
        applications.update_file(session, cli_actor(), application, area=list(area) or None, **fields)
        _show(session, application, as_json, f"Dossier de la candidature n° {application_id} enregistré.")


@applications_group.command("cover")
@click.argument("application_id", type=int)
@click.option("--order", "order_ids", type=int, multiple=True, required=True, help="Commande couverte ; répétable.")
@JSON_OPTION
@with_appcontext
def applications_cover(application_id, order_ids, as_json) -> None:
    """Ajoute des commandes de ses membres à une candidature en brouillon."""
    with command_unit_of_work() as session:
        application = applications.get_application(session, application_id)
        for order_id in order_ids:
            applications.cover_order(session, cli_actor(), application, get_order(session, order_id))
        _show(session, application, as_json, f"Candidature n° {application_id} : {len(order_ids)} commande(s) couverte(s).")


@applications_group.command("submit")
@click.argument("application_id", type=int)
@JSON_OPTION
@with_appcontext
def applications_submit(application_id, as_json) -> None:
    """Dépose une candidature : l'éligibilité est vérifiée, le premier manquement refuse le dépôt."""
    with command_unit_of_work() as session:
        application = applications.submit(session, cli_actor(), applications.get_application(session, application_id))
        _show(session, application, as_json, f"Candidature n° {application_id} déposée.")


@applications_group.command("accept")
@click.argument("application_id", type=int)
@click.option("--reason", help="Commentaire de la décision.")
@JSON_OPTION
@with_appcontext
def applications_accept(application_id, reason, as_json) -> None:
    """Retient une candidature : les parts sont comptées, l'enveloppe est engagée (jamais au-delà)."""
    with command_unit_of_work() as session:
        application = applications.get_application(session, application_id)
        grant = applications.accept(session, cli_actor(), application, reason)
        _show(session, application, as_json, f"Candidature n° {application_id} retenue : {french.euros(grant)} engagés, "
                                             f"reste {french.euros(application.call.remaining_cents)}.")


@applications_group.command("refuse")
@click.argument("application_id", type=int)
@click.option("--reason", required=True, help="Motif, communiqué au candidat.")
@JSON_OPTION
@with_appcontext
def applications_refuse(application_id, reason, as_json) -> None:
    """Refuse une candidature, avec son motif."""
    with command_unit_of_work() as session:
        application = applications.refuse(session, cli_actor(), applications.get_application(session, application_id),
                                          reason)
        _show(session, application, as_json, f"Candidature n° {application_id} refusée : {reason}")


@applications_group.command("show")
@click.argument("application_id", type=int)
@JSON_OPTION
@with_appcontext
def applications_show(application_id, as_json) -> None:
    """Affiche une candidature, ses commandes et leurs parts."""
    with command_unit_of_work() as session:
        application = applications.get_application(session, application_id)
        payload = applications.application_payload(session, application)
    lines = [f"Candidature n° {payload['id']} ({payload['status']}), accordé {french.euros(payload['granted_cents'])}"]
    lines += [f"  commande n° {o['id']} : valeur faciale {french.euros(o['face_value_cents'])}, frais APTIC "
              f"{french.euros(o['fee_cents'])}, financeur {french.euros(o['funder_cents'])}, commanditaire "
              f"{french.euros(o['sponsor_cents'])}" for o in payload["orders"]]
    emit(as_json, payload, "\n".join(lines))


@cofunding.command("follow-up")
@click.argument("call_id", type=int)
@click.option("--sponsor", "sponsor_ids", type=int, multiple=True, help="Limiter aux candidatures d'un commanditaire.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Export CSV.")
@JSON_OPTION
@with_appcontext
def follow_up_command(call_id, sponsor_ids, csv_path, as_json) -> None:
    """Suivi d'un appel : enveloppe, engagé, émis, distribué, encaissé, par commanditaire et département."""
    with command_unit_of_work() as session:
        report = follow_up(session, calls.get_call(session, call_id), list(sponsor_ids) or None)
    if csv_path:
        csv_path.write_text(follow_up_csv(report), encoding="utf-8")
    totals = report["totals"]
    ratio = french.percent(totals["redeemed_ratio"]) if totals["redeemed_ratio"] is not None else "—"
    emit(as_json, report, f"{report['call']['name']} : enveloppe {french.euros(totals['envelope_cents'])}, engagé "
                          f"{french.euros(totals['committed_cents'])}, émis {french.euros(totals['issued_cents'])}, "
                          f"distribué {french.euros(totals['distributed_cents'])}, encaissé "
                          f"{french.euros(totals['redeemed_cents'])} ({ratio} de la valeur faciale vendue).")


commands = [cofunding]
