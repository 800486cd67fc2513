"""State machines: one transition table per record kind, one helper that checks, applies and audits a move."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from directory.audit import Actor, record_audit
from directory.db import utcnow
from directory.errors import InvalidInput, InvalidTransition

State = TypeVar("State", bound=enum.Enum)


@dataclass(frozen=True)
class StateMachine(Generic[State]):
    """The allowed moves of one kind of record, and how a refused move reads in French.

    `refusal` is formatted with `record` (the record), `current` and `target` (their French labels).
    The record keeps its state in `status` and, when `stamp` names an attribute, the time of the
    last move there.
    """

    kind: str
    states: type[State]
    moves: Mapping[State, frozenset[State]]
    labels: Mapping[State, str]
    refusal: str
    reason_required: bool = True
    stamp: str | None = "status_changed_at"
    on_move: Mapping[State, Callable[[Any], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = set(self.states) - set(self.moves)
        if missing:
            raise ValueError(f"{self.kind}: no moves declared from {sorted(s.value for s in missing)}")

    def allows(self, current: State, target: State) -> bool:
        return target in self.moves[current]

    def states_moving_to(self, target: State) -> list[State]:
        """The states a bulk UPDATE may move to `target`: its WHERE clause, taken from the table."""
        return [state for state in self.states if self.allows(state, target)]

    def parse(self, value: State | str) -> State:
        try:
            return self.states(value)
        except ValueError:
            raise InvalidInput(f"Le statut « {value} » n'existe pas.", field="status", code="invalid_status") from None

    def check(self, record: Any, target: State | str) -> State:
        """The target state if the record may move there; `invalid_transition` otherwise."""
        target = self.parse(target)
        if not self.allows(record.status, target):
            raise InvalidTransition(
                self.refusal.format(record=record, current=self.labels[record.status], target=self.labels[target]),
                field="status",
            )
        return target

    def move(self, session: Session, actor: Actor, record: Any, target: State | str, reason: str | None = None,
             **audit_data: Any) -> State:
        """Move the record, stamp the time, audit `<kind>.status_changed` with before, after and reason."""
        if self.reason_required and not (reason or "").strip():
            raise InvalidInput("Indiquez le motif du changement de statut.", field="reason", code="required")
        target = self.check(record, target)
        previous = record.status
        record.status = target
        if self.stamp:
            setattr(record, self.stamp, utcnow())
        if target in self.on_move:
            self.on_move[target](record)
        session.flush()
        if reason:
            audit_data["reason"] = reason.strip()
        record_audit(session, actor, f"{self.kind}.status_changed", self.kind, record.id,
                     before=previous.value, after=target.value, **audit_data)
        return previous
