"""The cartography's part of `aptic demo`: publish the demo venues as Monday's rebuild would."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from directory import api, french
from directory.api import Actor
from directory.errors import NotFound
from maps.rebuild import rebuild_cartography

# Searches that show the forgiving search (issue 13): a typo, homonyms, an arrondissement.
DEMO_SEARCHES = ("quimpr", "Saint-Denis", "Marseille 13001", "Paris 15e")


def seed_demo(session: Session, actor: Actor, echo: Any) -> None:
    """Publish the demo's cartography and its coverage figures the way Monday's rebuild does."""
    run = rebuild_cartography(session, actor, trigger="demo")
    echo(f"Cartographie reconstruite : {run.published} lieux publiés ({run.seconds:.1f} s).")
    echo_searches(session, echo)


def echo_searches(session: Session, echo: Any) -> None:
    """What to type in the search box of the demo, with what each one finds there."""
    echo("Recherche à essayer sur l'accueil (/) :")
    for query in DEMO_SEARCHES:
        try:
            result = api.nearby_venues(session, place=api.resolve_place(session, query), limit=1)
        except api.AmbiguousPlace as choice:
            echo(f"  « {query} » : au choix {', '.join(c.label for c in choice.candidates[:4])}")
            continue
        except NotFound:
            continue
        echo(f"  « {query} » : {result.place.label}, {french.count(result.total, 'lieu', 'lieux')} à moins de 10 km")
    echo("Orientation guidée : /orientation (fiche d'orientation imprimable pour chaque lieu proposé).")
