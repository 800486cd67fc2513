"""The co-funding part of `aptic demo`: a 2020-style State call (15 M€, 50 %) with two applications, one accepted
(covering the Gironde's demo order), one refused with its reason."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory import french
from directory.api import Actor
from directory.db import utcnow
from directory.factories import fake_siret
from directory.models import Organisation
from redemption import applications, calls
from redemption.models import Order
from redemption.months import paris_date
from redemption.orders import create_order

REFUSAL = ("Le territoire de déploiement recouvre celui de la candidature du Département de la Gironde, déjà retenue : "
           "rapprochez-vous du Département pour une candidature commune.")
FILE = {
    "priority_publics": 300, "precarity_publics": 300,
    "how_to_reach": "Orientation par les CCAS, les missions locales et France Travail ; permanences en médiathèque",
    "structuring": "Réseau des lieux de médiation numérique, formation des aidants, charte d'orientation commune",
    "european_funds": "Aucun", "partners": "CAF, France Travail, Emmaüs Connect", "budget_cents": 1_500_000,
    "budget_notes": "Pass : 6 000 € ; animation du réseau : 9 000 €",
}


def seed_cofunding(session: Session, actor: Actor, echo: Any) -> None:
    lead = session.scalar(select(Organisation).where(Organisation.is_sponsor, Organisation.legal_form == "collectivite")
                          .order_by(Organisation.id))
    order = lead and session.scalar(select(Order).where(Order.sponsor_id == lead.id).order_by(Order.id))
    if order is None:
        return
    today = paris_date(utcnow())
    call = calls.create_call(session, actor, name="Appel à projets « Pass numérique » (modèle 2020)",
                             envelope_cents=1_500_000_000, share_bp=5_000,
                             opens_on=today - timedelta(days=60), closes_on=today + timedelta(days=30))
    accepted = applications.create_application(session, actor, call, lead, "departement")
    applications.update_file(session, actor, accepted, area=["departement:33"], **FILE)
    applications.cover_order(session, actor, accepted, order)
    applications.submit(session, actor, accepted)
    applications.accept(session, actor, accepted, "Dossier complet, publics conformes à l'appel")

    rng = random.Random(2020)
    towns = [directory_api.create_organisation(session, actor, name=f"Ville de {name} (démonstration)",
                                               legal_form="collectivite", siret=fake_siret(rng), code_insee=code,
                                               is_sponsor=True)
             for name, code in (("Pessac", "33318"), ("Talence", "33522"))]
    town_order = create_order(session, actor, towns[0], booklets=120, territories=["commune:33318", "commune:33522"],
                              vintage=today.year, today=today, minimum_exception="Démonstration : groupement de communes")
    refused = applications.create_application(session, actor, call, towns[0], "commune", [(towns[1], "commune")])
    applications.update_file(session, actor, refused, area=["commune:33318", "commune:33522"], **FILE)
    applications.cover_order(session, actor, refused, town_order)
    applications.submit(session, actor, refused)
    applications.refuse(session, actor, refused, REFUSAL)
    echo(f"Cofinancement : appel n° {call.id} « {call.name} » ({calls.call_sentence(call)}) ; candidature n° "
         f"{accepted.id} retenue ({french.euros(accepted.granted_cents)} de l'État sur la commande n° {order.id}), "
         f"candidature n° {refused.id} refusée. Pages : /pass/appels (commanditaire@aptic.demo ou équipe APTIC).")
