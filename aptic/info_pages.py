"""Public-service pages every visitor reaches from the footer: accessibility statement, legal notices and
"Comment ça marche" for each audience (beneficiary, distributor, venue, sponsor)."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from flask import Blueprint, abort, current_app, render_template

from directory import french
from directory.errors import DomainError
from directory.web import request_session
from redemption import api as redemption_api
from redemption.models import FeeRuleKind

bp = Blueprint("info", __name__)

# audience slug in the URL → (template, title)
AUDIENCES: dict[str, tuple[str, str]] = {
    "beneficiaire": ("aptic/info/how_beneficiary.html", "Vous avez reçu un carnet de chèques APTIC"),
    "aiguilleur": ("aptic/info/how_distributor.html", "Vous remettez des carnets (aiguilleurs)"),
    "lieu": ("aptic/info/how_venue.html", "Vous accompagnez au numérique (lieux de médiation)"),
    "commanditaire": ("aptic/info/how_sponsor.html", "Vous financez des chèques (commanditaires)"),
}

# The figures of the scheme's rules (rules.md) when no dated rule is in force in the database.
DEFAULT_FIGURES = {
    FeeRuleKind.COMMISSION_BP: 400, FeeRuleKind.ORDER_FEE_BP: 400, FeeRuleKind.MONTHLY_FEE_CENTS: 700,
    FeeRuleKind.ORDER_MINIMUM_CENTS: 2_000_000, FeeRuleKind.VINTAGE_EXPIRY_MMDD: 131,
}


def figures_in_force(on: date | None = None) -> dict[str, Any]:
    """Today's dated fee rules, in words for the pages (a rule APTIC changes shows here the day it applies)."""
    on = on or date.today()
    values: dict[FeeRuleKind, int] = {}
    for kind, default in DEFAULT_FIGURES.items():
        try:
            values[kind] = redemption_api.rule_in_force(request_session(), kind, on).value
        except DomainError:
            values[kind] = default
    commission = values[FeeRuleKind.COMMISSION_BP]
    expiry = values[FeeRuleKind.VINTAGE_EXPIRY_MMDD]
    return {
        "commission": french.percent(commission / 10_000, 0 if commission % 100 == 0 else 2),
        "order_fee": french.percent(values[FeeRuleKind.ORDER_FEE_BP] / 10_000,
                                    0 if values[FeeRuleKind.ORDER_FEE_BP] % 100 == 0 else 2),
        "venue_gets": french.euros(1000 - round(1000 * commission / 10_000)),
        "monthly_fee": french.euros(values[FeeRuleKind.MONTHLY_FEE_CENTS]),
        "order_minimum": french.euros(values[FeeRuleKind.ORDER_MINIMUM_CENTS]),
        "expiry": format_date(date(2000, expiry // 100, expiry % 100), "d MMMM", locale="fr_FR"),
    }


@bp.get("/comment-ca-marche")
def how_it_works() -> str:
    return render_template("aptic/info/how_index.html", audiences=AUDIENCES)


@bp.get("/comment-ca-marche/<audience>")
def how_it_works_for(audience: str) -> str:
    if audience not in AUDIENCES:
        abort(404)
    template, title = AUDIENCES[audience]
    return render_template(template, title=title, audiences=AUDIENCES, audience=audience, figures=figures_in_force())


@bp.get("/accessibilite")
def accessibility() -> str:
    return render_template("aptic/info/accessibility.html", contact=current_app.config["CONTACT_EMAIL"],
                           publisher=current_app.config["ISSUER_NAME"])


@bp.get("/mentions-legales")
def legal_notices() -> str:
    config = current_app.config
    return render_template("aptic/info/legal.html", publisher=config["ISSUER_NAME"], siret=config["ISSUER_SIRET"],
                           address=config["ISSUER_ADDRESS"], contact=config["CONTACT_EMAIL"],
                           host=config["HOSTING_PROVIDER"], director=config["PUBLICATION_DIRECTOR"])
