"""Shared test data builders and constants: the actor, sign-in, venues, applications, orders, import files.

Fixtures stay in the conftest files; every test module imports its plain helpers from here.
"""

from __future__ import annotations

import csv
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from pyproj import Geod
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from directory import api as directory_api
from directory.factories import fake_siret
from directory.models import Organisation, Role, Venue, VenueStatus
from ingestion import standard
from qualification import api as qualification_api
from redemption import api as redemption_api
from redemption.models import Order

ACTOR = directory_api.Actor.system("tests")
PASSWORD = "correct horse battery"
_numbers = count(1)


# --- Web forms ---------------------------------------------------------------------------------

def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    """Post the sign-in form with its CSRF token; returns the form's answer (302 on success)."""
    token = csrf_token_from(client.get("/connexion").get_data(as_text=True))
    return client.post("/connexion", data={"email": email, "password": password, "csrf_token": token})


# --- Places and published venues ---------------------------------------------------------------

GEOD = Geod(ellps="WGS84")
# Cahors (46042) is the centre of the CA du Grand Cahors (EPCI 200023737, 42 325 inhabitants: quota 2).
CAHORS = (1.44062, 44.44683)
GRAND_CAHORS = "200023737"
# Tour-de-Faure, in the same EPCI, 20 km east of Cahors.
TOUR_DE_FAURE = (1.68998, 44.46875)


def offset(lon: float, lat: float, metres: float, bearing: float = 90.0) -> tuple[float, float]:
    """The point `metres` away on the WGS84 ellipsoid, towards `bearing` (degrees: 0 north, 90 east)."""
    new_lon, new_lat, _ = GEOD.fwd(lon, lat, bearing, metres)
    return new_lon, new_lat


def publish_venue(session, lon, lat, *, published=True, status=VenueStatus.QUALIFIED, **fields):
    """A venue on the public cartography (or not), created through the directory's rules."""
    base = {
        "nom": "Espace numérique",
        "adresse": "1 place de la Mairie",
        "code_postal": "69001",
        "commune": "Lyon",
        "longitude": lon,
        "latitude": lat,
        "horaires": "Mo-Fr 09:00-12:00,14:00-17:00",
        "services": ["premiers-pas"],
        "frais_a_charge": ["Gratuit"],
        "modalites_accompagnement": ["Accompagnement individuel"],
        "accepts_pass": True,
    }
    base.update(fields)
    venue = directory_api.create_venue(session, ACTOR, base)
    venue.status = status
    venue.published = published
    session.flush()
    return venue


# --- Qualification: organisations, sites, complete applications --------------------------------

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
BIC = "AGRIFRPP"


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
    application = qualification_api.create_application(session, ACTOR, organisation)
    for index in range(sites):
        qualification_api.add_site(session, ACTOR, application, site_fields(offset(*point, index * 500), services))
    qualification_api.set_bank_details(session, ACTOR, application, iban=IBAN, bic=BIC,
                                       account_holder=organisation.name)
    for kind in qualification_api.required_documents(legal_form):
        qualification_api.store_document(session, ACTOR, application, kind, f"{kind}.pdf", PDF, storage)
    qualification_api.submit_application(session, ACTOR, application)
    qualification_api.mark_complete(session, ACTOR, application)
    return application


# --- Redemption: a small pass world (the `world` fixture of tests/redemption builds it) ---------

@dataclass
class World:
    sponsor: Organisation
    distributor: Organisation
    operator: Organisation
    venue: Venue  # qualified, Bordeaux, offers premiers-pas (level 1) and demarches-en-ligne
    other_venue: Venue  # qualified, Mérignac (same département), same operator
    far_venue: Venue  # qualified, Lyon: outside the order's territory
    candidate_venue: Venue  # not qualified
    order: Order
    tokens: dict[str, str] = field(default_factory=dict)

    def booklet(self, index: int = 0):
        return self.order.booklets[index]

    def codes(self, index: int = 0) -> list[str]:
        return [c.code for c in self.booklet(index).cheques]


def make_venue(session: Session, operator: Organisation, name: str, code_insee: str, postcode: str, commune: str,
               services: list[str], qualified: bool = True) -> Venue:
    venue = directory_api.create_venue(session, ACTOR, {
        "nom": name, "adresse": "1 place de la Mairie", "code_postal": postcode, "commune": commune,
        "code_insee": code_insee, "services": services, "organisation_id": operator.id,
    })
    if qualified:
        directory_api.set_venue_status(session, ACTOR, venue, VenueStatus.QUALIFIED, "qualifié pour le test")
    return venue


def make_order(session: Session, sponsor: Organisation, booklets: int = 3, **options) -> Order:
    """An issued order; small test orders pass the first-order minimum by a recorded staff exception."""
    options.setdefault("expires_on", date.today() + timedelta(days=365))
    options.setdefault("territories", ["departement:33"])
    options.setdefault("minimum_exception", "commande de test")
    order = redemption_api.create_order(session, ACTOR, sponsor, booklets=booklets, **options)
    redemption_api.confirm_order(session, ACTOR, order)
    redemption_api.pay_order(session, ACTOR, order)
    redemption_api.issue_order(session, ACTOR, order)
    session.refresh(order)
    return order


def pass_world(session: Session) -> World:
    """A sponsor, a distributor, a venue operator with venues in and out of the order's territory, an issued order."""
    sponsor = redemption_api.create_sponsor(session, ACTOR, name="Département de la Gironde", legal_form="collectivite",
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


BENEFICIARY_KEY = b"tests-beneficiary-key"


def person(ref: str, born: date = date(1960, 5, 17)) -> redemption_api.Beneficiary:
    """A beneficiary's identity as a distributor types it (only its pseudonym is kept)."""
    return redemption_api.Beneficiary(last_name=f"Bénéficiaire {ref}", first_name="Camille", birth_date=born)


def allow(session: Session, order: Order, distributor: Organisation, first: Any = None, last: Any = None):
    """The sponsor allows this distributor on the order (all its booklets, or a range)."""
    return redemption_api.allow_distributor(session, ACTOR, order, distributor, first, last)


def hand_out(session: Session, distributor: Organisation, booklet, beneficiary=None, ref: str | None = None):
    """A distribution of `booklet`, first allowing the distributor on its order if the sponsor had not."""
    if not any(a.distributor_id == distributor.id for a in redemption_api.order_allowances(session, booklet.order)):
        allow(session, booklet.order, distributor)
    return redemption_api.record_distribution(session, ACTOR, distributor, booklet,
                                              beneficiary or person(ref or f"BEN-{booklet.id:04d}"), BENEFICIARY_KEY)


def distribute(session: Session, world: World, index: int, ref: str | None = None) -> None:
    hand_out(session, world.distributor, world.booklet(index), ref=ref or f"BEN-{index:04d}")


def bearer(world: World, name: str = "venue") -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def venue_user(session: Session, world: World, email: str = "accueil@mediatheque-bordeaux.fr"):
    user = directory_api.create_user(session, ACTOR, email=email, full_name="Agent d'accueil", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, world.operator, Role.VENUE_STAFF)
    return user


# --- Ingestion: rows of the national standard and CSV files ------------------------------------

BORDEAUX = {"commune": "Bordeaux", "code_postal": "33000", "latitude": "44.8412", "longitude": "-0.5801"}


def row(source_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": source_id, "pivot": "00000000000000", "nom": f"Espace numérique {source_id}",
        "adresse": f"{10 + len(source_id)} rue Sainte-Catherine", "date_maj": "2024-05-02",
        "services": "Aide aux démarches administratives|Maîtrise des outils numériques du quotidien",
        **BORDEAUX,
    }
    base.update(fields)
    return base


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=standard.field_names(standard.V1))
        writer.writeheader()
        for item in rows:
            writer.writerow({name: item.get(name, "") for name in standard.field_names(standard.V1)})
    return path


def aptic_staff(session: Session, email: str = "equipe@aptic-exemple.fr"):
    """An APTIC staff member (of the APTIC organisation, created on first use)."""
    aptic = session.scalar(select(Organisation).where(Organisation.is_aptic).limit(1)) or directory_api.create_organisation(
        session, ACTOR, name="APTIC", legal_form="cooperative", siret="82023445800017", is_aptic=True)
    user = directory_api.create_user(session, ACTOR, email=email, full_name="Équipe APTIC", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, aptic, Role.APTIC_STAFF)
    return user


# --- Authorisation: two organisations of each kind, a user in each role ------------------------

@dataclass
class Cast:
    """Who is who in the authorisation tests: `users[role]`, and what organisation A owns (`ids`)."""

    users: dict[str, Any]
    ids: dict[str, int]
    tokens: dict[str, str]


def two_of_each_kind(session: Session) -> Cast:
    """APTIC staff, and for sponsor, distributor and venue operator an organisation A and a B with one user each.

    A owns an order, a distributed booklet with one redemption at its venue, an application and two API keys
    (`tokens['venue']` for its scanner, `ids['key']` a spare one).
    """
    aptic = directory_api.create_organisation(session, ACTOR, name="APTIC", legal_form="association",
                                              rna="W751000001", is_aptic=True)
    orgs = {
        "sponsor": [redemption_api.create_sponsor(session, ACTOR, name=f"Département {s}", legal_form="collectivite",
                                                  siret=fake_siret(random.Random(ord(s))), code_insee="33063")
                    for s in "AB"],
        "distributor": [directory_api.create_organisation(session, ACTOR, name=f"CCAS {s}", legal_form="etablissement_public",
                                                          rna=f"W33200{i}001", code_insee="33063", is_distributor=True)
                        for i, s in enumerate("AB")],
        "venue": [directory_api.create_organisation(session, ACTOR, name=f"Réseau {s}", legal_form="association",
                                                    rna=f"W33300{i}001", code_insee="33063", is_venue_operator=True)
                  for i, s in enumerate("AB")],
    }
    roles = {"sponsor": Role.SPONSOR, "distributor": Role.DISTRIBUTOR, "venue": Role.VENUE_STAFF}
    users: dict[str, Any] = {}
    staff = directory_api.create_user(session, ACTOR, email="equipe@aptic-exemple.fr", full_name="Équipe", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, staff, aptic, Role.APTIC_STAFF)
    users["staff"] = staff
    for kind, pair in orgs.items():
        for organisation, suffix in zip(pair, ("", "_b"), strict=True):
            user = directory_api.create_user(session, ACTOR, email=f"{kind}{suffix}@aptic-exemple.fr", full_name=kind,
                                             password=PASSWORD)
            directory_api.add_membership(session, ACTOR, user, organisation, roles[kind])
            users[kind + suffix] = user
    venue = make_venue(session, orgs["venue"][0], "Médiathèque A", "33063", "33000", "Bordeaux", ["premiers-pas"])
    venue_b = make_venue(session, orgs["venue"][1], "Médiathèque B", "33063", "33000", "Bordeaux", ["premiers-pas"])
    order = make_order(session, orgs["sponsor"][0], booklets=1)
    make_order(session, orgs["sponsor"][1], booklets=1)
    booklet = order.booklets[0]
    hand_out(session, orgs["distributor"][0], booklet, ref="BEN-A")
    redemption, _ = redemption_api.redeem(session, ACTOR, venue, [booklet.cheques[0].code], "premiers-pas")
    # A statement of A's venue: a cheque redeemed last month, and that month closed.
    last_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=15)
    redemption_api.redeem(session, ACTOR, venue, [booklet.cheques[1].code], "premiers-pas",
                          now=datetime.combine(last_month, datetime.min.time(), UTC))
    (statement,) = redemption_api.close_month(session, ACTOR, last_month)["statements"]
    application = qualification_api.create_application(session, ACTOR, orgs["venue"][0])
    _, token = directory_api.create_api_key(session, ACTOR, orgs["venue"][0], "douchette A", venue)
    key, _ = directory_api.create_api_key(session, ACTOR, orgs["venue"][0], "douchette de secours A", venue)
    _, token_b = directory_api.create_api_key(session, ACTOR, orgs["venue"][1], "douchette B", venue_b)
    session.flush()
    ids = {"order": order.id, "redemption": redemption.id, "application": application.id, "venue": venue.id,
           "key": key.id, "user": users["venue"].id, "organisation": orgs["venue"][0].id,
           "sponsor_organisation": orgs["sponsor"][0].id, "statement": statement.id,
           "open_venue": imported_venue(session).id, "booklet": booklet.id}
    return Cast(users=users, ids=ids, tokens={"venue": token, "venue_b": token_b})


# --- Accounts: members of a structure, APTIC staff ---------------------------------------------

def member(session: Session, organisation: Organisation, role: Role, email: str):
    """A user of `organisation` with `role`, signing in with PASSWORD."""
    user = directory_api.create_user(session, ACTOR, email=email, full_name="Personne", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, organisation, role)
    return user


def imported_venue(session: Session, point=CAHORS, name: str = "Espace public numérique de Cahors"):
    """A candidate venue as the open-data import leaves it: no structure, no application."""
    fields = {**site_fields(point, name=name), "source": "data.inclusion"}
    return directory_api.create_venue(session, ACTOR, fields)


# --- Co-funding: a State call for projects, territorial authorities applying ---------------------

def make_call(session: Session, envelope_cents: int = 1_500_000_000, share_bp: int = 5_000, **options):
    """An open 2020-style call of the State (15 M€, 50 %) whose period includes today."""
    from redemption import calls

    options.setdefault("opens_on", date.today() - timedelta(days=30))
    options.setdefault("closes_on", date.today() + timedelta(days=30))
    return calls.create_call(session, ACTOR, name=options.pop("name", "Appel à projets pass numérique 2020"),
                             envelope_cents=envelope_cents, share_bp=share_bp, **options)


def authority(session: Session, name: str, code_insee: str = "33063") -> Organisation:
    """A territorial authority that sponsors passes."""
    return redemption_api.create_sponsor(session, ACTOR, name=name, legal_form="collectivite",
                                         siret=fake_siret(random.Random(next(_numbers) * 104729)), code_insee=code_insee)


def complete_file(session: Session, application, publics: tuple[int, int] = (500, 500)):
    from redemption import applications

    return applications.update_file(
        session, ACTOR, application, priority_publics=publics[0], precarity_publics=publics[1],
        how_to_reach="Par les CCAS et les missions locales", area=["departement:33"],
        structuring="Réseau départemental des médiateurs, formation des aidants", european_funds="FEDER : aucun",
        partners="CAF, France Travail", budget_cents=30_000_000, budget_notes="Pass 200 000 €, animation 100 000 €")


def cofunding_application(session: Session, call, lead: Organisation, kind: str = "departement", partners=(),
                          orders=(), submit: bool = True):
    """An application with a complete file covering `orders`, submitted unless told otherwise."""
    from redemption import applications

    application = applications.create_application(session, ACTOR, call, lead, kind, list(partners))
    complete_file(session, application)
    for order in orders:
        applications.cover_order(session, ACTOR, application, order)
    if submit:
        applications.submit(session, ACTOR, application)
    return application


def add_cofunding(session: Session, cast: Cast) -> None:
    """An open call and a draft application of sponsor A to it, in `cast.ids` as `call` and `cofunding_application`."""
    from redemption import applications

    call = make_call(session)
    sponsor = session.get(Organisation, cast.ids["sponsor_organisation"])
    application = applications.create_application(session, ACTOR, call, sponsor, "departement")
    cast.ids.update(call=call.id, cofunding_application=application.id)


# --- Vigilance and journeys: redemptions planted at a moment, venue points ---------------------

def plant_redemption(session: Session, venue: Venue, booklet, at: datetime, service: str = "premiers-pas",
                     cheques: int = 1):
    """A redemption row as `redeem` writes it, at a chosen moment, without its rules (planted anomalies)."""
    from redemption.models import Redemption, RedemptionStatus

    (service_record,) = directory_api.services_by_slugs(session, [service])
    redemption = Redemption(venue_id=venue.id, service_id=service_record.id, booklet_id=booklet.id,
                            order_id=booklet.order_id, cheque_count=cheques, amount_cents=1000 * cheques,
                            status=RedemptionStatus.REDEEMED, actor="test", created_at=at)
    session.add(redemption)
    session.flush()
    return redemption


def set_venue_point(session: Session, venue: Venue, lon: float, lat: float) -> None:
    from directory.db import point_wkt

    venue.location = point_wkt(lon, lat)
    session.flush()
    session.refresh(venue)


# --- A real local server (browser tests) ---------------------------------------------------------

@contextmanager
def served_app(database_url: str, **config: Any) -> Iterator[str]:
    """The app on a real local HTTP server with these settings; yields its base URL."""
    from aptic import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "served-test", **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        app.extensions["aptic.db"].engine.dispose()
