"""A small pass world: a sponsor, a distributor, venues in and out of the order's territory."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from directory import api as directory_api
from redemption import api
from tests.builders import ACTOR, World, make_order, make_venue


@pytest.fixture
def world(session: Session) -> World:
    sponsor = api.create_sponsor(session, ACTOR, name="Département de la Gironde", legal_form="collectivite",
                                 siret="22330001300016", code_insee="33063")
    distributor = directory_api.create_organisation(session, ACTOR, name="CCAS de Bordeaux", legal_form="etablissement_public",
                                                    siret="26330040200017", code_insee="33063", is_distributor=True)
    operator = directory_api.create_organisation(session, ACTOR, name="Réseau des médiathèques", legal_form="association",
                                                 rna="W332000999", code_insee="33063", is_venue_operator=True)
    far_operator = directory_api.create_organisation(session, ACTOR, name="EPN de Lyon", legal_form="association",
                                                     rna="W691000999", code_insee="69123", is_venue_operator=True)
    services = ["premiers-pas", "demarches-en-ligne"]
    venue = make_venue(session, operator, "Médiathèque de Bordeaux", "33063", "33000", "Bordeaux", services)
    other = make_venue(session, operator, "Médiathèque de Mérignac", "33281", "33700", "Mérignac", services)
    far = make_venue(session, far_operator, "EPN de Lyon", "69123", "69001", "Lyon", services)
    candidate = make_venue(session, operator, "Tiers-lieu de Talence", "33522", "33400", "Talence", services,
                           qualified=False)
    order = make_order(session, sponsor)
    world = World(sponsor, distributor, operator, venue, other, far, candidate, order)
    for name, v in (("venue", venue), ("other", other), ("far", far), ("candidate", candidate)):
        _, world.tokens[name] = directory_api.create_api_key(session, ACTOR, v.organisation, f"douchette {name}", v)
    session.flush()
    return world
