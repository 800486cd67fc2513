"""The cartography's part of `aptic demo`: publish the demo venues as Monday's rebuild would."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from directory.api import Actor
from maps.rebuild import rebuild_cartography


def seed_demo(session: Session, actor: Actor, echo: Any) -> None:
    """Publish the demo's cartography and its coverage figures the way Monday's rebuild does."""
    run = rebuild_cartography(session, actor, trigger="demo")
    echo(f"Cartographie reconstruite : {run.published} lieux publiés ({run.seconds:.1f} s).")
