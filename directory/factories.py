"""Realistic synthetic records, shared by the demo, the tests and the benchmarks.

Venues are spread over real communes in proportion to their population, at a real commune
centre (a few hundred metres off), with plausible names, addresses, services and hours.
Everything is drawn from a seeded generator: the same seed gives the same data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from stdnum import luhn

from directory.audit import Actor, record_audits
from directory.db import SRID, utcnow
from directory.models import (
    LegalForm,
    Organisation,
    Service,
    Territory,
    TerritoryLevel,
    TerritoryPostcode,
    Venue,
    VenueService,
    VenueStatus,
)
from directory.territories import name_with_preposition

VENUE_KINDS = [
    # (name pattern, typologie, legal form of the operator, weight)
    ("Médiathèque {de}", "BIB", LegalForm.LOCAL_AUTHORITY, 5),
    ("Espace numérique {de}", "EPN", LegalForm.LOCAL_AUTHORITY, 4),
    ("France Services {de}", "MDS", LegalForm.LOCAL_AUTHORITY, 3),
    ("Centre social {de}", "CS", LegalForm.ASSOCIATION, 3),
    ("CCAS {de}", "CCAS", LegalForm.LOCAL_AUTHORITY, 2),
    ("Tiers-lieu numérique {de}", "TIERS_LIEUX", LegalForm.ASSOCIATION, 2),
    ("Maison des jeunes et de la culture {de}", "MJC", LegalForm.ASSOCIATION, 2),
    ("Association Connexions {de}", "ASSO", LegalForm.ASSOCIATION, 1),
    ("Atelier solidaire du numérique {de}", "ASSO", LegalForm.COOPERATIVE, 1),
]
STREETS = [
    "rue de la République", "place de la Mairie", "avenue Jean Jaurès", "rue Victor Hugo",
    "rue de l'Église", "place du Marché", "boulevard Pasteur", "rue des Écoles",
    "avenue de la Gare", "rue Jules Ferry", "rue du Général de Gaulle", "allée des Tilleuls",
]
HOURS = [
    "Mo-Fr 09:00-12:00,14:00-17:30",
    "Tu-Sa 10:00-12:30,14:00-18:00; PH off",
    "Mo,We,Fr 09:00-12:00; Tu,Th 14:00-18:00",
    "Mo-Th 08:30-12:00,13:30-17:00; Fr 08:30-12:00",
    "We 14:00-18:00; Sa 09:00-12:00",
    "Mo-Fr 09:00-18:00; Sa 09:00-12:00; PH off",
]
ACCOMPANIMENT = ["Accompagnement individuel", "Dans un atelier collectif", "En autonomie", "À distance"]
ACCESS = ["Se présenter", "Téléphoner", "Contacter par mail", "Prendre un RDV en ligne"]
PUBLICS = ["Jeunes", "Étudiants", "Familles et/ou enfants", "Seniors", "Femmes"]
SPECIFIC_CARE = ["Surdité", "Handicaps moteurs", "Illettrisme", "Langues étrangères (anglais)", "Déficience visuelle"]
STATUS_WEIGHTS = [(VenueStatus.QUALIFIED, 80), (VenueStatus.CANDIDATE, 15), (VenueStatus.SUSPENDED, 3), (VenueStatus.CLOSED, 2)]
JITTER_M = 600
SYNTHETIC_ACTOR = Actor.system("demo")


def fake_siret(rng: random.Random) -> str:
    """A SIRET with valid Luhn keys on the SIREN and on the whole number."""
    siren_body = "".join(rng.choice("0123456789") for _ in range(8))
    siren = siren_body + luhn.calc_check_digit(siren_body)
    nic_body = f"{rng.randint(1, 9999):04d}"
    return siren + nic_body + luhn.calc_check_digit(siren + nic_body)


@dataclass
class CommuneSample:
    code: str
    name: str
    tncc: int
    population: int
    postcode: str
    lon: float
    lat: float
    with_preposition: str


def sample_communes(session: Session) -> list[CommuneSample]:
    """Communes that have a centre, with their first postcode."""
    first_postcode = (
        select(TerritoryPostcode.commune_id, func.min(TerritoryPostcode.postcode).label("postcode"))
        .group_by(TerritoryPostcode.commune_id)
        .subquery()
    )
    rows = session.execute(
        select(Territory, func.ST_X(Territory.centre), func.ST_Y(Territory.centre), first_postcode.c.postcode)
        .join(first_postcode, first_postcode.c.commune_id == Territory.id)
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.centre.is_not(None), Territory.population > 0)
        .order_by(Territory.code)
    ).all()
    return [
        CommuneSample(t.code, t.name, t.tncc, t.population, postcode, lon, lat, name_with_preposition(t))
        for t, lon, lat, postcode in rows
    ]


def _jitter(rng: random.Random, lon: float, lat: float) -> tuple[float, float]:
    distance = JITTER_M * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111_320
    dlon = distance * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
    return round(lon + dlon, 6), round(lat + dlat, 6)


def _services_for(rng: random.Random, services: list[Service]) -> list[Service]:
    by_level = {level: [s for s in services if s.level_number == level] for level in (1, 2, 3)}
    top_level = rng.choices([1, 2, 3], weights=[2, 5, 3])[0]
    chosen: list[Service] = []
    for level in range(1, top_level + 1):
        pool = by_level[level]
        chosen += rng.sample(pool, k=rng.randint(1, len(pool)))
    return chosen


def generate_venues(
    session: Session,
    count: int,
    *,
    seed: int = 2026,
    actor: Actor = SYNTHETIC_ACTOR,
) -> list[int]:
    """Insert `count` synthetic venues (and their operators) in bulk; return the venue ids."""
    rng = random.Random(seed)
    communes = sample_communes(session)
    if not communes:
        raise RuntimeError("Chargez d'abord les territoires (aptic territories load).")
    services = list(session.scalars(select(Service).where(Service.active).order_by(Service.position)))
    if not services:
        raise RuntimeError("Chargez d'abord le référentiel (aptic referential load).")
    statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
    kinds_weights = [kind[3] for kind in VENUE_KINDS]
    picked = rng.choices(communes, weights=[c.population for c in communes], k=count)
    now = utcnow()

    organisation_rows, venue_rows, venue_services = [], [], []
    for index, commune in enumerate(picked):
        pattern, typology, legal_form, _ = rng.choices(VENUE_KINDS, weights=kinds_weights)[0]
        name = pattern.format(de=commune.with_preposition)
        if index and rng.random() < 0.5:
            name = f"{name} — {rng.choice(['centre', 'quartier', 'annexe', 'point relais'])} {index}"
        lon, lat = _jitter(rng, commune.lon, commune.lat)
        status = rng.choices(statuses, weights=weights)[0]
        organisation_rows.append({
            "name": f"{pattern.split(' {')[0]} {commune.with_preposition}",
            "legal_form": legal_form,
            "siret": fake_siret(rng),
            "is_venue_operator": True,
            "is_distributor": rng.random() < 0.3,
            "address": f"{rng.randint(1, 120)} {rng.choice(STREETS)}, {commune.postcode} {commune.name}",
            "code_insee": commune.code,
            "created_at": now,
        })
        venue_rows.append({
            "nom": name,
            "adresse": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
            "code_postal": commune.postcode,
            "commune": commune.name,
            "code_insee": commune.code,
            "location": f"SRID={SRID};POINT({lon} {lat})",
            "horaires": rng.choice(HOURS),
            "telephone": f"+33{rng.choice('12345')}{rng.randint(10_000_000, 99_999_999)}",
            "courriels": [f"contact.{index}@exemple-mediation.fr"],
            "site_web": [],
            "typologie": [typology],
            "itinerance": ["Fixe"],
            "publics_specifiquement_adresses": rng.sample(PUBLICS, k=rng.randint(0, 2)),
            "prise_en_charge_specifique": rng.sample(SPECIFIC_CARE, k=rng.randint(0, 2)),
            "frais_a_charge": rng.choice([["Gratuit"], ["Gratuit sous condition"], ["Gratuit", "Payant"]]),
            "dispositif_programmes_nationaux": rng.sample(["Conseillers numériques", "France Services", "Aidants Connect"], k=rng.randint(0, 2)),
            "formations_labels": [],
            "autres_formations_labels": [],
            "modalites_acces": rng.sample(ACCESS, k=rng.randint(1, 3)),
            "modalites_accompagnement": rng.sample(ACCOMPANIMENT, k=rng.randint(1, 3)),
            "standard_services": [],
            "source": "démonstration APTIC",
            "date_maj": (now.date().replace(day=1)),
            "accepts_pass": status == VenueStatus.QUALIFIED,
            "aptic_label": status == VenueStatus.QUALIFIED,
            "status": status,
            "status_changed_at": now,
            "published": status == VenueStatus.QUALIFIED,
            "created_at": now,
            "updated_at": now,
        })
        venue_services.append(_services_for(rng, services))

    organisation_ids = _insert_returning_ids(session, Organisation, organisation_rows)
    for row, organisation_id, chosen in zip(venue_rows, organisation_ids, venue_services, strict=True):
        row["organisation_id"] = organisation_id
        row["standard_services"] = sorted({name for s in chosen for name in s.standard_services})
    venue_ids = _insert_returning_ids(session, Venue, venue_rows)
    session.execute(
        insert(VenueService),
        [{"venue_id": vid, "service_id": s.id} for vid, chosen in zip(venue_ids, venue_services, strict=True) for s in chosen],
    )
    record_audits(session, actor, "venue.created", "venue", [(vid, {"synthetic": True, "seed": seed}) for vid in venue_ids])
    session.flush()
    return venue_ids


def _insert_returning_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert keeping the order of the ids (both backends support RETURNING)."""
    ids: list[int] = []
    for start in range(0, len(rows), 1_000):
        batch = rows[start : start + 1_000]
        ids += session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), batch).all()
    return ids
