"""The referential and the dated fee rules are read once per process, and a change is seen at once in
this process and within the cache's lifetime in the others."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, update

from directory import api as directory_api
from directory.errors import InvalidInput
from directory.models import Service
from directory.referential import ACTIVE_SERVICES
from redemption import api as redemption_api
from redemption.fees import FEE_RULES
from redemption.models import FeeRuleKind
from tests.builders import ACTOR

HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def _statements(connection, action) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(HARNESS):
            seen.append(statement)

    event.listen(connection.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(connection.engine, "before_cursor_execute", record)
    return seen


def test_a_warm_service_lookup_reads_nothing(session, connection):
    directory_api.services_by_slugs(session, ["premiers-pas"])
    statements = _statements(connection, lambda: directory_api.services_by_slugs(session, ["premiers-pas", "messagerie"]))
    assert statements == []
    service = directory_api.services_by_slugs(session, ["messagerie"])[0]
    assert service in session and service.label and service.level.number == service.level_number


def test_a_service_deactivated_here_is_unknown_at_once(session):
    service = directory_api.services_by_slugs(session, ["messagerie"])[0]
    service.active = False
    session.flush()
    with pytest.raises(InvalidInput) as refused:
        directory_api.services_by_slugs(session, ["messagerie"])
    assert refused.value.code == "unknown_service"


def test_a_change_made_elsewhere_is_seen_when_the_cache_expires(session, connection, monkeypatch):
    directory_api.services_by_slugs(session, ["messagerie"])
    # Another process: a write that no session of this one flushes.
    connection.execute(update(Service).where(Service.slug == "messagerie").values(active=False))
    assert directory_api.services_by_slugs(session, ["messagerie"])  # still cached
    monkeypatch.setattr(ACTIVE_SERVICES, "ttl", 0.0)
    with pytest.raises(InvalidInput):
        directory_api.services_by_slugs(session, ["messagerie"])


def test_a_new_fee_rule_applies_at_once(session, connection):
    assert redemption_api.rule_in_force(session, FeeRuleKind.MONTHLY_FEE_CENTS, date(2030, 1, 1)).value == 700
    assert _statements(connection, lambda: redemption_api.rule_in_force(
        session, FeeRuleKind.COMMISSION_BP, date(2030, 1, 1))) == []
    redemption_api.change_fee_rule(session, ACTOR, FeeRuleKind.MONTHLY_FEE_CENTS, 800, date(2029, 1, 1))
    assert redemption_api.rule_in_force(session, FeeRuleKind.MONTHLY_FEE_CENTS, date(2030, 1, 1)).value == 800
    assert redemption_api.rule_in_force(session, FeeRuleKind.MONTHLY_FEE_CENTS, date(2028, 12, 31)).value == 700
    assert FEE_RULES.rows(session)
