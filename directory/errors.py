"""Domain errors: a stable machine code, an HTTP status and a French message naming the field.

Every domain package derives its errors from `DomainError`; the web layer turns them into a
4xx answer (JSON for the API, a page for people) and rolls the unit of work back.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            payload["field"] = self.field
        if self.details:
            payload["details"] = self.details
        return payload


class InvalidInput(DomainError):
    """A value that breaks a rule; `code` says which, `field` says where."""

    code = "invalid_input"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409
