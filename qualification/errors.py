"""Errors of the qualification, each with a stable code and a French message."""

from __future__ import annotations

from directory.errors import InvalidInput, InvalidTransition


class ApplicationIncomplete(InvalidTransition):
    """The file cannot move on while items of its checklist are missing; `details["missing"]` lists them."""

    code = "application_incomplete"


class DocumentRejected(InvalidInput):
    code = "invalid_document"


class BankDetailsInvalid(InvalidInput):
    code = "invalid_bank_details"


class QuotaReached(InvalidTransition):
    """Qualifying would take the territory over its quota; only a recorded staff override may."""

    code = "quota_reached"
    status = 409


class NoOpenApplication(InvalidTransition):
    code = "no_open_application"
