"""Fixtures of the qualification tests: organisations, points de présence, complete applications."""

from __future__ import annotations

import math
import random
from itertools import count

import pytest

from directory import api as directory_api
from directory.factories import fake_siret
from directory.models import VenueStatus
from qualification import api

ACTOR = directory_api.Actor.system("test")
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
BIC = "AGRIFRPP"
# Cahors (46042) is the centre of the CA du Grand Cahors (EPCI 200023737, 42 325 inhabitants: quota 2).
CAHORS = (1.44062, 44.44683)
GRAND_CAHORS = "200023737"
# Tour-de-Faure, in the same EPCI, 20 km east of Cahors.
TOUR_DE_FAURE = (1.68998, 44.46875)
_numbers = count(1)


def offset(point: tuple[float, float], east_km: float = 0.0, north_km: float = 0.0) -> tuple[float, float]:
    lon, lat = point
    return lon + east_km / (111.195 * math.cos(math.radians(lat))), lat + north_km / 111.195


@pytest.fixture
def storage(tmp_path):
    return tmp_path / "uploads"


def make_organisation(session, legal_form="association", siret=True):
    number = next(_numbers)
    return directory_api.create_organisation(
        session, ACTOR, name=f"Structure {number}", legal_form=legal_form,
        siret=fake_siret(random.Random(number * 7919)) if siret else None,
        rna=None if siret else f"W{number:09d}", is_venue_operator=True,
    )


def site_fields(point=CAHORS, services=("premiers-pas",), name=None):
    return {
        "nom": name or f"Lieu {next(_numbers)}", "adresse": "1 place de la Mairie", "code_postal": "46000",
        "commune": "Cahors", "longitude": point[0], "latitude": point[1], "services": list(services),
        "horaires": "Mo-Fr 09:00-12:00",
    }


def qualified_venue(session, point=CAHORS, services=("premiers-pas",)):
    """A venue already qualified (and published, as the previous rebuild left it)."""
    venue = directory_api.create_venue(session, ACTOR, site_fields(point, services))
    directory_api.set_venue_status(session, ACTOR, venue, VenueStatus.QUALIFIED, "Qualifié auparavant.")
    venue.published = True
    session.flush()
    return venue


def complete_application(session, storage, point=CAHORS, services=("premiers-pas",), legal_form="entreprise", sites=1):
    organisation = make_organisation(session, legal_form)
    application = api.create_application(session, ACTOR, organisation)
    for index in range(sites):
        api.add_site(session, ACTOR, application, site_fields(offset(point, east_km=index * 0.5), services))
    api.set_bank_details(session, ACTOR, application, iban=IBAN, bic=BIC, account_holder=organisation.name)
    for kind in api.required_documents(legal_form):
        api.store_document(session, ACTOR, application, kind, f"{kind}.pdf", PDF, storage)
    api.submit_application(session, ACTOR, application)
    api.mark_complete(session, ACTOR, application)
    return application
