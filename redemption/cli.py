"""Operator commands of the pass: sponsors, orders, printing, codes, distribution, statements.

Every command takes `--json`, so the path from order to statement can be scripted; venue API keys
for scanners are created with `aptic api-keys create --organisation ORG --venue VENUE`.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from directory import api as directory_api
from directory import french
from directory.cli import cli_actor, command_unit_of_work, emit
from directory.models import LegalForm
from redemption import invoices, printing, vigilance_cli
from redemption.covers import public_base_url
from redemption.booklets import cancel_booklet, get_booklet, order_codes
from redemption.allowances import allow_distributor, order_allowances, revoke_distributor
from redemption.beneficiaries import platform_key, read_beneficiary
from redemption.distribution import record_distribution, undo_distribution
from redemption.redeeming_rights import change_redemption_right
from redemption.fees import change_fee_rule
from redemption.models import FeeRuleKind
from redemption.months import parse_month
from redemption.orders import (
    close_order,
    confirm_order,
    create_order,
    create_sponsor,
    get_order,
    issue_order,
    order_summary,
    pay_order,
)
from redemption.statements import close_month, statement_payload, statements_csv

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")


@click.group("sponsors")
def sponsors() -> None:
    """Commanditaires (organisations qui achètent des pass)."""


@sponsors.command("create")
@click.option("--name", required=True, help="Raison sociale.")
@click.option("--legal-form", type=click.Choice([f.value for f in LegalForm]), required=True)
@click.option("--siret")
@click.option("--rna")
@click.option("--code-insee", help="Commune du siège.")
@click.option("--distributor", is_flag=True, help="Distribue aussi ses pass (aiguilleur).")
@JSON_OPTION
@with_appcontext
def sponsors_create(name: str, legal_form: str, siret: str | None, rna: str | None, code_insee: str | None,
                    distributor: bool, as_json: bool) -> None:
    """Crée un commanditaire."""
    with command_unit_of_work() as session:
        sponsor = create_sponsor(session, cli_actor(), name=name, legal_form=legal_form, siret=siret, rna=rna,
                                     code_insee=code_insee, is_distributor=distributor)
        payload = {"id": sponsor.id, "name": sponsor.name, "roles": sponsor.roles}
    emit(as_json, payload, f"Commanditaire n° {payload['id']} créé : {payload['name']}.")


@click.group("orders")
def orders() -> None:
    """Commandes de carnets de chèques."""


@orders.command("create")
@click.option("--sponsor", "sponsor_id", type=int, required=True, help="Organisation commanditaire.")
@click.option("--booklets", type=int, required=True, help="Nombre de carnets.")
@click.option("--cheques-per-booklet", type=int, default=10, show_default=True)
@click.option("--value-cents", type=int, default=1000, show_default=True, help="Valeur d'un chèque en centimes.")
@click.option("--vintage", type=int, help="Millésime (année) ; par défaut l'année en cours.")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]),
              help="Dernier jour de validité (AAAA-MM-JJ), au plus la date du millésime ; par défaut celle-ci.")
@click.option("--territory", "territories", multiple=True, required=True,
              help="Territoire d'usage niveau:code (region:75, departement:33, epci:…, commune:33063) ; répétable.")
@click.option("--level", "levels", type=click.IntRange(1, 3), multiple=True, help="Niveau du référentiel autorisé ; répétable.")
@click.option("--distribution-required/--no-distribution-required", default=True, show_default=True,
              help="Refuser les chèques d'un carnet non distribué.")
@click.option("--minimum-exception", help="Motif de l'exception accordée par APTIC à une première commande sous le minimum.")
@JSON_OPTION
@with_appcontext
def orders_create(sponsor_id: int, booklets: int, cheques_per_booklet: int, value_cents: int, vintage: int | None,
                  expires, territories: tuple[str, ...], levels: tuple[int, ...],
                  distribution_required: bool, minimum_exception: str | None,
                  as_json: bool) -> None:
    """Crée une commande (brouillon) ; les frais APTIC sont calculés selon la règle en vigueur.

    Un cofinancement (appel à projets de l'État) passe par une candidature : `aptic cofunding applications cover`."""
    with command_unit_of_work() as session:
        sponsor = directory_api.get_organisation(session, sponsor_id)
        order = create_order(
            session, cli_actor(), sponsor, booklets=booklets, vintage=vintage,
            expires_on=expires.date() if expires else None, territories=list(territories),
            cheques_per_booklet=cheques_per_booklet, cheque_value_cents=value_cents, allowed_levels=list(levels),
            requires_distribution=distribution_required,
            minimum_exception=minimum_exception,
        )
        payload = order_summary(order)
    emit(as_json, payload, f"Commande n° {payload['id']} créée (brouillon) : {payload['booklets']} carnets, "
                           f"millésime {payload['vintage']}, valeur faciale {french.euros(payload['face_value_cents'])}, "
                           f"frais {french.euros(payload['fee_cents'])}.")


def _transition(name: str, verb: str, function) -> click.Command:
    @click.command(name)
    @click.argument("order_id", type=int)
    @JSON_OPTION
    @with_appcontext
    def command(order_id: int, as_json: bool) -> None:
        with command_unit_of_work() as session:
            order = function(session, cli_actor(), get_order(session, order_id))
            payload = order_summary(order)
        emit(as_json, payload, f"Commande n° {order_id} {verb}.")

    command.help = f"Commande : passe au statut suivant ({verb})."
    return command


orders.add_command(_transition("confirm", "confirmée", confirm_order))
orders.add_command(_transition("pay", "payée", pay_order))
orders.add_command(_transition("issue", "émise (carnets et codes créés)", issue_order))
orders.add_command(_transition("close", "clôturée", close_order))


@orders.command("print")
@click.argument("order_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True, help="Fichier PDF.")
@JSON_OPTION
@with_appcontext
def orders_print(order_id: int, out: Path, as_json: bool) -> None:
    """Imprime les carnets d'une commande émise : une couverture par carnet, puis ses chèques (code-barres Code 128).

    Le QR code de la couverture renvoie à la carte publique (APTIC_PUBLIC_URL) ; le PDF est écrit au fil de l'eau."""
    with command_unit_of_work() as session:
        base_url = public_base_url(current_app.config)
        pages = printing.print_order(session, get_order(session, order_id), out, base_url)
    emit(as_json, {"order": order_id, "file": str(out), "pages": pages}, f"{pages} pages écrites dans {out}.")


@orders.command("codes")
@click.argument("order_id", type=int)
@JSON_OPTION
@with_appcontext
def orders_codes(order_id: int, as_json: bool) -> None:
    """Liste les carnets et les codes des chèques d'une commande."""
    with command_unit_of_work() as session:
        rows = order_codes(session, get_order(session, order_id))
    emit(as_json, {"order": order_id, "cheques": rows},
         "\n".join(f"{r['booklet']}\t{r['position']}\t{r['printed']}\t{r['status']}" for r in rows))


@click.group("booklets")
def booklets() -> None:
    """Carnets de chèques."""


@booklets.command("cancel")
@click.argument("number")
@click.option("--reason", required=True, help="Motif (perte, vol…).")
@JSON_OPTION
@with_appcontext
def booklets_cancel(number: str, reason: str, as_json: bool) -> None:
    """Annule les chèques non utilisés d'un carnet perdu ou volé."""
    with command_unit_of_work() as session:
        cancelled = cancel_booklet(session, cli_actor(), get_booklet(session, number), reason)
    emit(as_json, {"booklet": number, "cancelled": cancelled}, f"Carnet {number} : {cancelled} chèques annulés.")


@click.group("distributions")
def distributions() -> None:
    """Remise des carnets aux bénéficiaires."""


@distributions.command("record")
@click.option("--booklet", "number", required=True, help="Numéro du carnet.")
@click.option("--distributor", "distributor_id", type=int, required=True, help="Organisation aiguilleur.")
@click.option("--nom", "last_name", required=True, help="Nom du bénéficiaire (non conservé).")
@click.option("--prenom", "first_name", required=True, help="Prénom du bénéficiaire (non conservé).")
@click.option("--date-naissance", "birth_date", required=True, help="Date de naissance AAAA-MM-JJ (non conservée).")
@JSON_OPTION
@with_appcontext
def distributions_record(number: str, distributor_id: int, last_name: str, first_name: str, birth_date: str,
                         as_json: bool) -> None:
    """Enregistre la remise d'un carnet ; seul un pseudonyme de la personne est gardé (un carnet par millésime)."""
    with command_unit_of_work() as session:
        beneficiary = read_beneficiary(last_name, first_name, birth_date)
        booklet = record_distribution(session, cli_actor(), directory_api.get_organisation(session, distributor_id),
                                      get_booklet(session, number), beneficiary, platform_key(current_app.config))
        payload = {"booklet": booklet.number, "order": booklet.order_id, "distributor_id": distributor_id,
                   "distributed_at": booklet.distributed_at.isoformat()}
    emit(as_json, payload, f"Carnet {number} remis.")


@distributions.command("undo")
@click.option("--booklet", "number", required=True, help="Numéro du carnet.")
@click.option("--distributor", "distributor_id", type=int, required=True, help="Organisation qui l'a remis.")
@click.option("--reason", default="", help="Motif.")
@JSON_OPTION
@with_appcontext
def distributions_undo(number: str, distributor_id: int, reason: str, as_json: bool) -> None:
    """Annule une remise (dans les 24 heures, tant qu'aucun chèque n'est utilisé)."""
    with command_unit_of_work() as session:
        booklet = undo_distribution(session, cli_actor(), directory_api.get_organisation(session, distributor_id),
                                    get_booklet(session, number), reason)
        payload = {"booklet": booklet.number, "order": booklet.order_id, "distributed": False}
    emit(as_json, payload, f"Remise du carnet {number} annulée.")


def _allowance_payload(allowance) -> dict:
    return {"order": allowance.order_id, "distributor_id": allowance.distributor_id,
            "distributor": allowance.distributor.name, "first": allowance.first_sequence, "last": allowance.last_sequence}


@orders.command("allow-distributor")
@click.argument("order_id", type=int)
@click.option("--distributor", "distributor_id", type=int, required=True, help="Organisation aiguilleur.")
@click.option("--first", help="Premier carnet de la plage (rang ou numéro) ; sans plage : toute la commande.")
@click.option("--last", help="Dernier carnet de la plage (rang ou numéro).")
@JSON_OPTION
@with_appcontext
def orders_allow_distributor(order_id: int, distributor_id: int, first: str | None, last: str | None,
                             as_json: bool) -> None:
    """Autorise un aiguilleur à remettre les carnets d'une commande (ou une plage de carnets)."""
    with command_unit_of_work() as session:
        allowance = allow_distributor(session, cli_actor(), get_order(session, order_id),
                                      directory_api.get_organisation(session, distributor_id), first, last)
        payload = _allowance_payload(allowance)
    scope = "tous les carnets" if payload["first"] is None else f"carnets {payload['first']} à {payload['last']}"
    emit(as_json, payload, f"Commande n° {order_id} : « {payload['distributor']} » autorisé ({scope}).")


@orders.command("revoke-distributor")
@click.argument("order_id", type=int)
@click.option("--distributor", "distributor_id", type=int, required=True, help="Organisation aiguilleur.")
@JSON_OPTION
@with_appcontext
def orders_revoke_distributor(order_id: int, distributor_id: int, as_json: bool) -> None:
    """Retire l'autorisation d'un aiguilleur (les carnets déjà remis le restent)."""
    with command_unit_of_work() as session:
        revoke_distributor(session, cli_actor(), get_order(session, order_id),
                           directory_api.get_organisation(session, distributor_id))
    emit(as_json, {"order": order_id, "distributor_id": distributor_id, "revoked": True},
         f"Commande n° {order_id} : aiguilleur n° {distributor_id} retiré.")


@orders.command("distributors")
@click.argument("order_id", type=int)
@JSON_OPTION
@with_appcontext
def orders_distributors(order_id: int, as_json: bool) -> None:
    """Liste les aiguilleurs autorisés d'une commande."""
    with command_unit_of_work() as session:
        rows = [_allowance_payload(a) for a in order_allowances(session, get_order(session, order_id))]
    emit(as_json, {"order": order_id, "distributors": rows},
         "\n".join(f"{r['distributor_id']}\t{r['distributor']}\t"
                   f"{'tous' if r['first'] is None else str(r['first']) + '-' + str(r['last'])}" for r in rows)
         or "Aucun aiguilleur autorisé.")


@click.group("redeeming-right")
def redeeming_right() -> None:
    """Droit d'encaisser : organisations et lieux en « distribution seulement »."""


@redeeming_right.command("set")
@click.option("--organisation", "organisation_id", type=int, help="Organisation.")
@click.option("--venue", "venue_id", type=int, help="Lieu.")
@click.option("--distribution-only/--can-redeem", required=True,
              help="Distribution seulement (refusé à l'encaissement) ou autorisé à encaisser.")
@click.option("--reason", required=True, help="Motif (enregistré dans le journal).")
@JSON_OPTION
@with_appcontext
def redeeming_right_set(organisation_id: int | None, venue_id: int | None, distribution_only: bool, reason: str,
                        as_json: bool) -> None:
    """Marque une organisation ou un lieu en distribution seulement, ou lui rend le droit d'encaisser."""
    if (organisation_id is None) == (venue_id is None):
        raise click.UsageError("Indiquez --organisation ou --venue (l'un des deux).")
    kind, record_id = ("venue", venue_id) if venue_id is not None else ("organisation", organisation_id)
    with command_unit_of_work() as session:
        record, changed = change_redemption_right(session, cli_actor(), kind, record_id, distribution_only, reason)
        payload = {"kind": kind, "id": record.id, "distribution_only": record.distribution_only, "changed": changed}
    state = "en distribution seulement" if distribution_only else "autorisé à encaisser"
    emit(as_json, payload, f"{'Lieu' if kind == 'venue' else 'Organisation'} n° {record_id} {state}"
                           f"{'' if changed else ' (inchangé)'}.")


@click.group("statements")
def statements() -> None:
    """Relevés mensuels de remboursement des lieux."""


@statements.command("close")
@click.option("--month", required=True, help="Mois à clore (AAAA-MM).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Export CSV.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Export PDF.")
@JSON_OPTION
@with_appcontext
def statements_close(month: str, csv_path: Path | None, pdf_path: Path | None, as_json: bool) -> None:
    """Clôt un mois : un relevé par lieu, numéros sans trou ; relancer ne change rien."""
    with command_unit_of_work() as session:
        summary = close_month(session, cli_actor(), parse_month(month))
        statements_ = summary["statements"]
        if csv_path:
            csv_path.write_text(statements_csv(statements_), encoding="utf-8")
        if pdf_path:
            invoices.statements_pdf(statements_, invoices.Issuer.from_config(current_app.config), pdf_path)
        payload = {"month": summary["month"], "created": summary["created"], "already_closed": summary["already_closed"],
                   "statements": [statement_payload(s) for s in statements_]}
    paid, due, carried = (sum(s[key] for s in payload["statements"]) for key in ("paid_cents", "due_cents",
                                                                                  "carried_out_cents"))
    emit(as_json, payload, f"Mois {payload['month']} : {french.count(payload['created'], 'relevé créé', 'relevés créés')}, "
                           f"{french.count(payload['already_closed'], 'déjà clos', 'déjà clos')} ; versé aux lieux "
                           f"{french.euros(paid)}, reporté {french.euros(carried)}, dû à APTIC {french.euros(due)}.")


@click.group("fee-rules")
def fee_rules() -> None:
    """Règles tarifaires (commission, frais de commande, forfait mensuel) datées."""


@fee_rules.command("set")
@click.option("--kind", type=click.Choice([k.value for k in FeeRuleKind]), required=True)
@click.option("--value", type=int, required=True, help="Points de base (1 % = 100) ou centimes pour le forfait.")
@click.option("--from", "valid_from", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Premier jour d'un mois.")
@JSON_OPTION
@with_appcontext
def fee_rules_set(kind: str, value: int, valid_from, as_json: bool) -> None:
    """Nouvelle valeur d'une règle à partir d'une date ; le passé n'est jamais réécrit."""
    with command_unit_of_work() as session:
        rule = change_fee_rule(session, cli_actor(), kind, value, valid_from.date())
        payload = {"id": rule.id, "kind": rule.kind.value, "value": rule.value, "valid_from": rule.valid_from.isoformat()}
    emit(as_json, payload, f"Règle {kind} = {value} à partir du {valid_from:%d/%m/%Y}.")


commands = [sponsors, orders, booklets, distributions, redeeming_right, statements, fee_rules,
            *vigilance_cli.commands]

# `aptic cofunding …` (calls for projects, applications, follow-up) lives in its own module.
from redemption.cofunding_cli import commands as cofunding_commands  # noqa: E402

commands += cofunding_commands
