"""Orientation for people who do not know what to ask: plain questions → level and services → place and
availability → nearby venues that accept the pass, and a one-page "fiche d'orientation".

Nothing is stored: the answers travel in the address of the pages (so a distributor can print or send
the sheet), and no question asks who the person is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from directory import api
from directory.db import PARIS_TZ, utcnow
from directory.errors import InvalidInput
from directory.french import long_date
from directory.models import Service
from maps.places import nearby_search
from maps.public import service_levels

# What the person wants to do, in plain words, and the services of the referential it calls for.
NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "appareil": ("Me servir d'un ordinateur, d'une tablette ou d'un smartphone", ("premiers-pas", "acces-equipement")),
    "courriels": ("Envoyer et recevoir des courriels", ("messagerie",)),
    "demarches": ("Faire mes démarches en ligne (CAF, impôts, santé, retraite…)", ("demarches-en-ligne",)),
    "securite": ("Éviter les arnaques, protéger mes données", ("securite", "identite-numerique")),
    "fichiers": ("Ranger mes photos et mes documents, les envoyer", ("fichiers-et-dossiers",)),
    "emploi": ("Chercher un emploi, une formation", ("emploi-et-formation",)),
    "enfants": ("Accompagner mes enfants sur les écrans", ("parentalite", "usage-raisonne")),
    "equipement": ("Trouver un ordinateur ou un téléphone pas cher", ("equipement-solidaire", "acces-equipement")),
    "creer": ("Créer, publier, partager (site, vidéos, réseaux)", ("creation-numerique",)),
    "decouvrir": ("Comprendre ce que le numérique peut m'apporter", ("decouverte-numerique",)),
}
# What the person can already do, and the level of the referential to start from.
SKILLS: dict[str, tuple[str, int]] = {
    "jamais": ("Je n'ai presque jamais utilisé d'ordinateur ni de smartphone", 1),
    "bases": ("J'allume l'appareil, j'appelle, mais je suis vite perdu", 1),
    "courant": ("Je me débrouille pour l'essentiel (internet, messages)", 2),
    "aise": ("Je suis à l'aise et je veux aller plus loin", 3),
}
# Beginners start with these whatever they want to do: the first steps make the rest possible.
FIRST_STEPS = ("premiers-pas",)
# When the person can go: a moment of the coming week at Paris time (weekday, hour), or "now".
WHEN: dict[str, tuple[str, tuple[tuple[int, ...], time] | None]] = {
    "": ("Peu importe", None),
    "maintenant": ("Maintenant", None),
    "semaine-matin": ("En semaine, le matin", ((0, 1, 2, 3, 4), time(10, 0))),
    "semaine-apres-midi": ("En semaine, l'après-midi", ((0, 1, 2, 3, 4), time(15, 0))),
    "samedi": ("Le samedi", ((5,), time(10, 30))),
}
ORIENTATION_RADIUS_KM = 20.0
ORIENTATION_LIMIT = 10


@dataclass(frozen=True)
class Advice:
    """What the answers suggest: the level to start from and the services to ask for, in order."""

    level: int
    level_label: str
    services: list[Service]
    needs: list[str]
    skill: str | None

    @property
    def slugs(self) -> list[str]:
        return [service.slug for service in self.services]


def advise(session: Session, needs: list[str], skill: str | None) -> Advice:
    """The level and services the answers call for (unknown answers are refused, naming the question)."""
    unknown = [need for need in needs if need not in NEEDS]
    if unknown:
        raise InvalidInput(f"La réponse « {unknown[0]} » n'existe pas pour « Que voulez-vous faire ? ».",
                           field="besoin", code="invalid_parameter", status=400)
    if skill and skill not in SKILLS:
        raise InvalidInput(f"La réponse « {skill} » n'existe pas pour « Que savez-vous déjà faire ? ».",
                           field="sait", code="invalid_parameter", status=400)
    by_slug = {service.slug: service for service in api.active_services(session)}
    wanted: list[str] = []
    start = SKILLS[skill][1] if skill else None
    if start == 1:
        wanted += FIRST_STEPS
    for need in needs:
        wanted += NEEDS[need][1]
    services = [by_slug[slug] for slug in dict.fromkeys(wanted) if slug in by_slug]
    if start is None:
        start = min((service.level_number for service in services), default=1)
    return Advice(start, service_levels(session).get(start, ""), services, list(needs), skill)


def moment_for(when: str, now: datetime | None = None) -> tuple[datetime | None, bool]:
    """(open_at, open_now) for a choice of `WHEN`: the next such moment of the week, at Paris time."""
    if when not in WHEN:
        raise InvalidInput(f"La réponse « {when} » n'existe pas pour « Quand pouvez-vous y aller ? ».",
                           field="quand", code="invalid_parameter", status=400)
    if when == "maintenant":
        return None, True
    rule = WHEN[when][1]
    if rule is None:
        return None, False
    days, hour = rule
    local = (now or utcnow()).astimezone(PARIS_TZ)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        candidate = datetime.combine(day, hour, PARIS_TZ)
        if day.weekday() in days and candidate > local:
            return candidate, False
    return None, False  # pragma: no cover - a week always holds such a day


def orientation_venues(session: Session, advice: Advice, *, search: dict[str, Any], when: str,
                       before_geocoding: Any = None) -> tuple[api.NearbyResult, bool]:
    """Venues accepting the pass near the place, offering the first suggested service (else one of the
    level), open when the person can go. True when the service had to be relaxed to find any."""
    open_at, open_now = moment_for(when)
    common = dict(search, radius_km=ORIENTATION_RADIUS_KM, limit=ORIENTATION_LIMIT, accepts_pass=True,
                  open_at=open_at, open_now=open_now, before_geocoding=before_geocoding)
    focus = [s for s in advice.services if s.level_number >= advice.level] or advice.services
    if focus:
        result = nearby_search(session, service=[focus[0].slug], **common)
        if result.venues:
            return result, False
    return nearby_search(session, level=advice.level, **common), bool(focus)


def week_for_sheet(venue: Any, now: datetime | None = None) -> list[tuple[str, str]] | None:
    """The opening hours of the coming seven days, as ("lundi 7 décembre", "09:00–12:00, 14:00–17:00")."""
    moment = now or utcnow()
    today = moment.astimezone(api.venue_timezone(venue)).date()
    this_week = api.week_hours(venue, today)
    if this_week is None:
        return None
    next_week = api.week_hours(venue, today + timedelta(days=7)) or []
    days = [d for d in [*this_week, *next_week] if today <= d.day < today + timedelta(days=7)]
    names = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    return [
        (f"{names[d.day.weekday()]} {long_date(d.day).rsplit(' ', 1)[0]}",
         ", ".join(f"{begin}–{end}" for begin, end in d.periods) or "fermé")
        for d in days
    ]


def phone_for_print(number: str | None) -> str | None:
    """+33298000000 → "02 98 00 00 00" (as people write it); other numbers as stored."""
    if number and number.startswith("+33") and len(number) == 12 and number[3:].isdigit():
        local = "0" + number[3:]
        return " ".join(local[i:i + 2] for i in range(0, 10, 2))
    return number


BRING = (
    "Le carnet de chèques APTIC (pass numérique) que l'on vous a remis : chaque chèque paie une séance.",
    "Votre téléphone, votre tablette ou votre ordinateur, si vous en avez un.",
    "Vos identifiants (adresse de courriel, mots de passe) si vous en avez déjà.",
)
