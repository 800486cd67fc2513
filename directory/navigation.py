"""The tools each role reaches from its home page, declared once by the package that owns them.

Each package's web module calls `menu_entry(...)` at import time; the shell builds the signed-in
home and the header menu from `entries_for(roles)`. Endpoints are resolved with `url_for` when
rendered, so a package only names its own views.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from directory.models import Role


@dataclass(frozen=True)
class MenuEntry:
    role: Role
    label: str
    endpoint: str
    description: str = ""
    order: int = 100
    values: dict[str, str] = field(default_factory=dict)


_ENTRIES: dict[tuple[Role, str], MenuEntry] = {}


def menu_entry(role: Role, label: str, endpoint: str, description: str = "", order: int = 100,
               **values: str) -> MenuEntry:
    """Declare that `role` reaches the view `endpoint` from its home (idempotent per role and endpoint)."""
    entry = MenuEntry(role, label, endpoint, description, order, dict(values))
    _ENTRIES[(role, endpoint)] = entry
    return entry


def entries_for(role: Role) -> list[MenuEntry]:
    """The tools of one role, in their declared order."""
    return sorted((e for e in _ENTRIES.values() if e.role == role), key=lambda e: (e.order, e.label))
