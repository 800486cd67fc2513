"""The decision sentences, in French that agrees with its numbers (Babel, fr_FR, through directory.french).

Each sentence states the figures the decision used; the quota rule is stated as the code applies it
(`quotas.compute_quota`: one venue per full block of `ratio` inhabitants, at least one).
"""

from __future__ import annotations

from directory import french
from qualification.density import TerritoryDensity


def quota_rule(figures: TerritoryDensity) -> str:
    if figures.quota_rule.startswith("quota fixé"):
        return figures.quota_rule
    return (f"{figures.quota_rule} : 1 lieu par tranche complète de {french.number(figures.ratio)} habitants, "
            "au moins 1")


def situation(figures: TerritoryDensity) -> str:
    return (f"{figures.name} ({french.count(figures.population, 'habitant')}) compte "
            f"{french.count(figures.qualified, 'lieu qualifié', 'lieux qualifiés')} pour un quota de "
            f"{french.number(figures.quota)} ({quota_rule(figures)})")


def effect(before: float, after: float, gain: int, conditional: bool) -> str:
    """What qualifying the venue does (or would do, in the conditional mood, for a waitlisted one)."""
    moves = "passerait" if conditional else "passe"
    gains = french.plural(gain, "gagnerait", "gagneraient") if conditional else french.plural(gain, "gagne", "gagnent")
    return (f"l'accessibilité du territoire {moves} de {french.number(before, 2)} à {french.number(after, 2)} "
            f"lieu pour 10 000 habitants et {french.count(gain, 'habitant')} {gains} un lieu de même niveau "
            "à moins de 10 km")


def qualified(figures: TerritoryDensity, after: float, gain: int) -> str:
    return (f"Qualifié : {situation(figures)} ; ce lieu porte le nombre à {french.number(figures.qualified + 1)}, "
            f"et {effect(figures.accessibility, after, gain, conditional=False)}.")


def waitlisted(figures: TerritoryDensity, after: float, gain: int) -> str:
    return (f"Mis en liste d'attente : {situation(figures)}, le quota est atteint. "
            f"S'il était qualifié, {effect(figures.accessibility, after, gain, conditional=True)}.")


def promoted(figures: TerritoryDensity, after: float, gain: int) -> str:
    return (f"Qualifié depuis la liste d'attente : {situation(figures)}, une place est libre ; "
            f"{effect(figures.accessibility, after, gain, conditional=False)}.")


TEMPLATES = (qualified, waitlisted, promoted)
