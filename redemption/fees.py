"""Dated rules: rates and amounts (order fee, commission, monthly fee, VAT, order minimum, vintage expiry)
and the rounding of amounts in cents."""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import Actor, record_audit
from directory.errors import Conflict, InvalidInput, NotFound
from directory.process_cache import ProcessCache
from redemption.models import FeeRule, FeeRuleKind, Statement


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _is_month_day(value: int) -> bool:
    month, day = divmod(value, 100)
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]  # a leap year allows 29 February


FEE_RULES = ProcessCache(FeeRule, lambda: select(FeeRule))


def rule_in_force(session: Session, kind: FeeRuleKind, on: date) -> FeeRule:
    """The rule of this kind in force on a date, from the per-process cache of the dated rules."""
    in_force = [values for values in FEE_RULES.rows(session) if values["kind"] == kind and values["valid_from"] <= on
                and (values["valid_until"] is None or values["valid_until"] > on)]
    rule = FEE_RULES.attach(session, max(in_force, key=lambda values: values["valid_from"])) if in_force else None
    if rule is None:
        raise NotFound(f"Aucune règle tarifaire « {kind.value} » n'est en vigueur le {on:%d/%m/%Y}.", field="kind",
                       code="no_fee_rule")
    return rule


def change_fee_rule(session: Session, actor: Actor, kind: FeeRuleKind | str, value: int, valid_from: date) -> FeeRule:
    """A new rate from a date on; the rule it replaces keeps applying before that date."""
    try:
        kind = FeeRuleKind(kind)
    except ValueError:
        raise InvalidInput(f"La règle « {kind} » n'existe pas.", field="kind", code="invalid_fee_rule") from None
    if not isinstance(value, int) or value < 0:
        raise InvalidInput("La valeur d'une règle est un entier positif.", field="value", code="invalid_fee_rule")
    if kind in (FeeRuleKind.VAT_RATE_BP, FeeRuleKind.ORDER_FEE_BP, FeeRuleKind.COMMISSION_BP) and value > 10_000:
        raise InvalidInput("Un taux s'exprime en points de base, 10 000 (100 %) au plus.", field="value",
                           code="invalid_fee_rule")
    if kind == FeeRuleKind.VINTAGE_EXPIRY_MMDD and not _is_month_day(value):
        raise InvalidInput("La fin de validité d'un millésime s'écrit MMJJ (131 pour le 31 janvier).", field="value",
                           code="invalid_fee_rule")
    if valid_from.day != 1:
        raise InvalidInput("Une règle tarifaire prend effet le premier jour d'un mois.", field="valid_from",
                           code="invalid_fee_rule")
    latest = session.scalar(select(FeeRule).where(FeeRule.kind == kind).order_by(FeeRule.valid_from.desc()).limit(1))
    if latest is not None and valid_from <= latest.valid_from:
        raise Conflict("Une règle plus récente existe déjà : une règle ne réécrit jamais le passé.", field="valid_from",
                       code="fee_rule_in_the_past")
    if session.scalar(select(Statement.id).where(Statement.month >= valid_from).limit(1)):
        raise Conflict("Des relevés sont déjà clos pour cette période : choisissez une date ultérieure.",
                       field="valid_from", code="fee_rule_in_the_past")
    if latest is not None and latest.valid_until is None:
        latest.valid_until = valid_from
    rule = FeeRule(kind=kind, value=value, valid_from=valid_from)
    session.add(rule)
    session.flush()
    record_audit(session, actor, "fee_rule.created", "fee_rule", rule.id, kind=kind, value=value, valid_from=valid_from)
    return rule
