"""The pass's public entry point: the business functions the shell, other packages and tests may call.

They live in one module per subject (fees, orders, booklets, distribution, redemptions, statements,
reports, demo); this module re-exports them so that callers keep one import.
"""

from __future__ import annotations

from directory.db import PARIS_TZ
from redemption.allowances import allow_distributor, check_allowed, order_allowances, revoke_distributor
from redemption.beneficiaries import Beneficiary, platform_key, read_beneficiary
from redemption.booklets import cancel_booklet, get_booklet, order_codes
from redemption.distribution import handed_out, record_distribution, undo_distribution
from redemption.fees import change_fee_rule, round_half_up, rule_in_force
from redemption.months import month_bounds, paris_date, parse_month
from redemption.orders import (
    close_order,
    confirm_order,
    create_order,
    create_sponsor,
    get_order,
    issue_order,
    order_summary,
    pay_order,
    sponsor_orders,
)
from redemption.redemptions import (
    cancel_redemption,
    get_redemption,
    recent_redemptions,
    redeem,
    redemption_payload,
    venue_in_territories,
)
from redemption.redeeming_rights import change_redemption_right
from redemption.reports import report_csv, sponsor_report
from redemption.signals import SIGNALS_JOB, compute_signals
from redemption.statements import SCHEDULED_JOBS as STATEMENT_JOBS
from redemption.statements import (
    close_month,
    statement_payload,
    statements_csv,
    statements_for_month,
)
from redemption.volumes import cheques_in_circulation_by_commune, redemptions_by_commune

SCHEDULED_JOBS = [*STATEMENT_JOBS, SIGNALS_JOB]

__all__ = [
    "Beneficiary",
    "allow_distributor",
    "cheques_in_circulation_by_commune",
    "redemptions_by_commune",
    "change_redemption_right",
    "check_allowed",
    "handed_out",
    "order_allowances",
    "platform_key",
    "read_beneficiary",
    "revoke_distributor",
    "undo_distribution",
    "PARIS_TZ",
    "SCHEDULED_JOBS",
    "cancel_booklet",
    "cancel_redemption",
    "change_fee_rule",
    "close_month",
    "close_order",
    "compute_signals",
    "confirm_order",
    "create_order",
    "create_sponsor",
    "get_booklet",
    "get_order",
    "get_redemption",
    "issue_order",
    "month_bounds",
    "order_codes",
    "order_summary",
    "paris_date",
    "parse_month",
    "pay_order",
    "recent_redemptions",
    "record_distribution",
    "redeem",
    "redemption_payload",
    "report_csv",
    "round_half_up",
    "rule_in_force",
    "sponsor_orders",
    "sponsor_report",
    "statement_payload",
    "statements_csv",
    "statements_for_month",
    "venue_in_territories",
]
