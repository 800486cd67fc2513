"""The national-scale synthetic dataset: venues, sponsors, orders, booklets, cheques, one month of redemptions.

    from scale_data import PRESETS, build
    summary = build(session, PRESETS["20k"])   # in the caller's transaction; commit it yourself

Filled by bulk SQL, not by the domain functions (which would take hours at this volume), but with
rows the domain could have written: every CHECK, unique index and foreign key holds, and the money
is consistent (a redeemed cheque has exactly one active redemption line, its booklet was handed out
before, at a qualified venue of the order's territory offering the service, two cheques at most per
booklet and service). PostgreSQL loads with COPY into tables stripped of their secondary indexes and
constraints, rebuilt (and so checked) at the end; SQLite with executemany in large batches. Cheque
codes are valid and unique, derived from the cheque ids with numpy (see `codes_of`).

Left out on purpose: the audit events of the bulk rows (nothing measured reads them) and the
booklet covers (printing draws its own).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate, repeat
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from directory import factories
from directory.db import SRID, utcnow
from directory.factories import fake_siret
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
from qualification.models import Application, ApplicationStatus, ApplicationVenue, VenueOutcome
from redemption import codes as cheque_codes
from redemption import shares
from redemption.cofunding_models import ApplicationStatus as CofundingStatus
from redemption.cofunding_models import AuthorityKind, CofundingApplication, CofundingCall, CofundingMember
from redemption.fees import round_half_up, rule_in_force
from redemption.models import (
    BeneficiaryClaim,
    Booklet,
    Cheque,
    ChequeStatus,
    DistributionAllowance,
    FeeRuleKind,
    Order,
    OrderStatus,
    Redemption,
    RedemptionCheque,
    RedemptionStatus,
)
from redemption.months import month_bounds, paris_date
from redemption.orders import vintage_expiry

CHEQUES_PER_BOOKLET = 10
CHEQUE_VALUE_CENTS = 1_000
ACTOR_LABEL = "system:bench-scale"
DISTRIBUTED_SHARE = 0.7  # booklets handed out to a beneficiary before the month
CALL_ORDER_BOOKLETS = 3_000  # the co-funded orders are cut into orders of about this size
SEED = 19
BULK_TABLES = ("booklet", "beneficiary_claim", "cheque", "redemption", "redemption_cheque")


@dataclass(frozen=True)
class Scale:
    name: str
    venues: int
    sponsors: int
    booklets: int  # all orders together
    redemptions: int  # in the month
    redeeming_venues: int
    big_order_booklets: int  # the order whose sponsor report is measured
    call_cheques: int  # cheques of the orders covered by the co-funding call
    applications: int  # waitlisted qualification applications (cartography rebuild)

    @property
    def cheques(self) -> int:
        return self.booklets * CHEQUES_PER_BOOKLET


PRESETS = {
    "tiny": Scale("tiny", venues=500, sponsors=10, booklets=2_000, redemptions=1_500, redeeming_venues=200,
                  big_order_booklets=200, call_cheques=6_000, applications=50),
    "20k": Scale("20k", venues=20_000, sponsors=200, booklets=100_000, redemptions=100_000, redeeming_venues=4_000,
                 big_order_booklets=3_350, call_cheques=300_000, applications=1_000),
    "100k": Scale("100k", venues=100_000, sponsors=1_000, booklets=1_000_000, redemptions=1_000_000,
                  redeeming_venues=20_000, big_order_booklets=3_350, call_cheques=3_000_000, applications=5_000),
}


@dataclass
class Built:
    """What `build` made: the ids the measurements need and the time spent per table."""

    scale: str
    month: date
    big_order_id: int
    call_id: int
    order_ids: list[int]
    redemption_count: int
    redeemed_cents: int
    redeemed_cheques: int
    timings: dict[str, float] = field(default_factory=dict)


def previous_month(now: datetime) -> date:
    """The last complete Europe/Paris month: the one the redemptions fall in and the bench closes."""
    return (paris_date(now).replace(day=1) - timedelta(days=1)).replace(day=1)


# --- cheque codes ----------------------------------------------------------------------------------------

BASE = len(cheque_codes.ALPHABET)  # 29, prime
DIGITS = cheque_codes.RANDOM_LENGTH - 1  # the first character is fixed, the others spell a number
MODULUS = BASE**DIGITS  # 29**12 ≈ 3.5e17, and id × MULTIPLIER stays below 2**63 for ids < 3e7
MULTIPLIER = 300_000_000_007  # not a multiple of 29: id ↦ id × MULTIPLIER mod 29**12 is one-to-one
FIRST = cheque_codes.ALPHABET.index("B")


# --- bulk writing ----------------------------------------------------------------------------------------

BATCH = 20_000


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def bulk_insert(session: Session, model: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert tuples of `columns` into the table of `model`: COPY on PostgreSQL, executemany on SQLite."""
    table = model.__table__
    count = 0
    if _is_postgres(session):
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    statement = insert(table)
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) == BATCH:
            session.execute(statement, batch)
            count += len(batch)
            batch = []
    if batch:
        session.execute(statement, batch)
        count += len(batch)
    return count


def _next_id(session: Session, model: Any) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def _advance_sequences(session: Session, tables: Iterable[str]) -> None:
    """Rows written with their own ids: PostgreSQL's sequences must start after them (SQLite follows max(id))."""
    if not _is_postgres(session):
        return
    for name in tables:
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                             f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"))


# --- the dataset -----------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Who orders what where, before any row is written."""

    sponsors: list[tuple[str, str]]  # (code_insee, departement) of each sponsor's seat
    orders: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def _timed(timings: dict[str, float], label: str, report: Callable[[str, float], None] | None) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[label] = timings.get(label, 0.0) + time.perf_counter() - started
    if report is not None:
        report(label, timings[label])


def build(session: Session, scale: Scale, *, now: datetime | None = None,
          report: Callable[[str, float], None] | None = None) -> Built:
    """Fill the database of `session` at `scale` (territories and referential already loaded). Does not commit."""
    now = now or utcnow()
    rng = random.Random(SEED)
    timings: dict[str, float] = {}
    month = previous_month(now)
    start, end = month_bounds(month)
    today = paris_date(now)
    postgres = _is_postgres(session)
    if postgres:
        session.execute(text("SET LOCAL synchronous_commit = off"))
        session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))

    with _timed(timings, "venue + organisation + venue_service", report):
        _venues(session, scale.venues, rng, now)

    with _timed(timings, "qualification_application", report):
        _qualification_applications(session, scale, rng, now)

    with _timed(timings, "sponsors + distributors + call + orders", report):
        venues_by_departement, services_of = _redeeming_venues(session, scale, rng)
        plan = _plan_orders(session, scale, rng, venues_by_departement, today, month)
        call_id = _write_sponsors_call_orders(session, scale, rng, plan, now, start)

    vintage = month.year
    booklet_base = _next_id(session, Booklet)
    booklet_orders: list[int] = []  # order index of each booklet, in id order
    for index, order in enumerate(plan.orders):
        booklet_orders += [index] * order["booklet_count"]
    distributed = [rng.random() < DISTRIBUTED_SHARE for _ in booklet_orders]
    distributed_at = start - timedelta(days=3)

    restore = strip_indexes(session, BULK_TABLES)
    with _timed(timings, "booklet", report):
        bulk_insert(session, Booklet, ("id", "order_id", "sequence", "number", "distributor_id", "beneficiary_ref",
                                       "distributed_at"), _booklet_rows(plan, booklet_base, distributed, distributed_at))
    with _timed(timings, "beneficiary_claim", report):
        bulk_insert(session, BeneficiaryClaim, ("booklet_id", "vintage", "pseudonym", "distributor_id",
                                                "created_at"), (
            (booklet_base + i, vintage, _pseudonym(booklet_base + i), plan.orders[o]["distributor_id"],
             distributed_at) for i, o in enumerate(booklet_orders) if distributed[i]))
    cheque_base = _next_id(session, Cheque)
    with _timed(timings, "redemption plan (Python)", report):
        redemptions, lines, redeemed = _plan_redemptions(
            scale, rng, plan, booklet_orders, distributed, booklet_base, venues_by_departement, services_of,
            start, end, _next_id(session, Redemption), cheque_base)
    with _timed(timings, "cheque", report):
        order_of_booklet = np.array([plan.orders[o]["id"] for o in range(len(plan.orders))],
                                    dtype=np.int64)[np.array(booklet_orders, dtype=np.int64)]
        _insert_cheques(session, booklet_base, order_of_booklet, cheque_base, redeemed)
    with _timed(timings, "redemption", report):
        bulk_insert(session, Redemption, ("id", "venue_id", "service_id", "booklet_id", "order_id", "cheque_count",
                                          "amount_cents", "status", "actor", "created_at"), redemptions)
    with _timed(timings, "redemption_cheque", report):
        bulk_insert(session, RedemptionCheque, ("redemption_id", "cheque_id", "active", "booklet_id",
                                                "service_id", "service_slot"), lines)
    with _timed(timings, "indexes + constraints rebuilt", report):
        restore()
    with _timed(timings, "sequences + ANALYZE", report):
        _advance_sequences(session, ("booklet", "cheque", "redemption"))
        session.execute(text("ANALYZE"))
    big_order_id = next(order["id"] for order in plan.orders if order["big"])
    return Built(
        scale=scale.name, month=month, big_order_id=big_order_id, call_id=call_id,
        order_ids=[order["id"] for order in plan.orders], redemption_count=len(redemptions),
        redeemed_cents=sum(row[6] for row in redemptions), redeemed_cheques=len(lines), timings=timings,
    )


VENUE_COLUMNS = (
    "id", "organisation_id", "nom", "adresse", "code_postal", "commune", "code_insee", "location", "horaires",
    "telephone", "courriels", "site_web", "typologie", "itinerance", "standard_services",
    "publics_specifiquement_adresses", "prise_en_charge_specifique", "frais_a_charge",
    "dispositif_programmes_nationaux", "formations_labels", "autres_formations_labels", "modalites_acces",
    "modalites_accompagnement", "source", "date_maj", "accepts_pass", "aptic_label", "status", "status_changed_at",
    "published", "distribution_only", "created_at", "updated_at",
)
ORGANISATION_COLUMNS = ("id", "name", "legal_form", "siret", "is_sponsor", "is_distributor", "is_venue_operator",
                        "is_aptic", "distribution_only", "address", "code_insee", "created_at")


def _communes(session: Session) -> list[factories.CommuneSample]:
    """`factories.sample_communes` without loading each commune's polygon (seconds saved at every build)."""
    first_postcode = (select(TerritoryPostcode.commune_id, func.min(TerritoryPostcode.postcode).label("postcode"))
                      .group_by(TerritoryPostcode.commune_id).subquery())
    rows = session.execute(
        select(Territory.code, Territory.name, Territory.tncc, Territory.population, first_postcode.c.postcode,
               func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .join(first_postcode, first_postcode.c.commune_id == Territory.id)
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.centre.is_not(None), Territory.population > 0)
        .order_by(Territory.code)
    ).all()
    return [factories.CommuneSample(code, name, tncc, population, postcode, lon, lat,
                                    name_with_preposition(SimpleNamespace(name=name, tncc=tncc)))
            for code, name, tncc, population, postcode, lon, lat in rows]


def _venues(session: Session, count: int, rng: random.Random, now: datetime) -> None:
    """Venues and their operators as `directory.factories.generate_venues` makes them (same kinds, spread by
    population, statuses, services; published and taking the pass when qualified), written by COPY:
    `generate_venues` inserts through the ORM, minutes at 100,000 venues. JSON columns go in as JSON text
    on PostgreSQL, as lists through SQLAlchemy on SQLite."""
    communes = _communes(session)
    services = list(session.scalars(select(Service).where(Service.active).order_by(Service.position)))
    statuses, status_weights = zip(*factories.STATUS_WEIGHTS, strict=True)
    kind_weights = list(accumulate(kind[3] for kind in factories.VENUE_KINDS))
    encoded: dict[tuple[str, ...], str] = {}  # the same few lists come back again and again

    def as_json(value: list[str]) -> Any:
        if not postgres:
            return value
        key = tuple(value)
        if key not in encoded:
            encoded[key] = json.dumps(value)
        return encoded[key]

    postgres = _is_postgres(session)
    population = list(accumulate(c.population for c in communes))
    organisation_base, venue_base = _next_id(session, Organisation), _next_id(session, Venue)
    organisations, venues, venue_services = [], [], []
    for index, commune in enumerate(rng.choices(communes, cum_weights=population, k=count)):
        pattern, typology, legal_form, _ = rng.choices(factories.VENUE_KINDS, cum_weights=kind_weights)[0]
        name = pattern.format(de=commune.with_preposition)
        if index and rng.random() < 0.5:
            name = f"{name} — {rng.choice(['centre', 'quartier', 'annexe', 'point relais'])} {index}"
        lon, lat = factories._jitter(rng, commune.lon, commune.lat)
        status = rng.choices(statuses, weights=status_weights)[0]
        qualified = status == VenueStatus.QUALIFIED
        chosen = factories._services_for(rng, services)
        organisation_id, venue_id = organisation_base + index, venue_base + index
        organisations.append((
            organisation_id, f"{pattern.split(' {')[0]} {commune.with_preposition}", legal_form.value,
            fake_siret(rng), False, rng.random() < 0.3, True, False, False,
            f"{rng.randint(1, 120)} {rng.choice(factories.STREETS)}, {commune.postcode} {commune.name}",
            commune.code, now))
        venues.append((
            venue_id, organisation_id, name, f"{rng.randint(1, 120)} {rng.choice(factories.STREETS)}",
            commune.postcode, commune.name, commune.code, f"SRID={SRID};POINT({lon} {lat})",
            rng.choice(factories.HOURS), f"+33{rng.choice('12345')}{rng.randint(10_000_000, 99_999_999)}",
            as_json([f"contact.{index}@exemple-mediation.fr"]), as_json([]), as_json([typology]), as_json(["Fixe"]),
            as_json(sorted({standard for service in chosen for standard in service.standard_services})),
            as_json(rng.sample(factories.PUBLICS, k=rng.randint(0, 2))),
            as_json(rng.sample(factories.SPECIFIC_CARE, k=rng.randint(0, 2))),
            as_json(rng.choice([["Gratuit"], ["Gratuit sous condition"], ["Gratuit", "Payant"]])),
            as_json(rng.sample(["Conseillers numériques", "France Services", "Aidants Connect"], k=rng.randint(0, 2))),
            as_json([]), as_json([]), as_json(rng.sample(factories.ACCESS, k=rng.randint(1, 3))),
            as_json(rng.sample(factories.ACCOMPANIMENT, k=rng.randint(1, 3))), "démonstration APTIC",
            now.date().replace(day=1), qualified, qualified, status.value, now, qualified, False, now, now))
        venue_services += [(venue_id, service.id) for service in chosen]
    bulk_insert(session, Organisation, ORGANISATION_COLUMNS, organisations)
    bulk_insert(session, Venue, VENUE_COLUMNS, venues)
    bulk_insert(session, VenueService, ("venue_id", "service_id"), venue_services)
    _advance_sequences(session, ("organisation", "venue"))


def _pseudonym(booklet_id: int) -> str:
    return hashlib.sha256(b"bench-scale:%d" % booklet_id).hexdigest()


def _qualification_applications(session: Session, scale: Scale, rng: random.Random, now: datetime) -> None:
    """Waitlisted applications on candidate venues, as the weekly rebuild finds them (see bench/rebuild_national.py)."""
    candidates = session.execute(
        select(Venue.id, Venue.organisation_id).where(Venue.status == VenueStatus.CANDIDATE,
                                                      Venue.location.is_not(None),
                                                      ~Venue.id.in_(select(ApplicationVenue.venue_id)))
        .order_by(Venue.id)
    ).all()
    chosen = rng.sample(candidates, min(scale.applications, len(candidates)))
    first = _next_id(session, Application)
    bulk_insert(session, Application, ("id", "organisation_id", "status", "iban", "bic", "account_holder",
                                       "created_at", "submitted_at", "status_changed_at"), (
        (first + i, organisation_id, ApplicationStatus.WAITLISTED.value, "FR7630006000011234567890189", "AGRIFRPP",
         "Structure", now, now, now) for i, (_, organisation_id) in enumerate(chosen)))
    bulk_insert(session, ApplicationVenue, ("application_id", "venue_id", "outcome", "waitlisted_at"), (
        (first + i, venue_id, VenueOutcome.WAITLISTED.value, now) for i, (venue_id, _) in enumerate(chosen)))
    _advance_sequences(session, ("qualification_application",))


def _redeeming_venues(session: Session, scale: Scale, rng: random.Random):
    """The qualified venues that redeem this month, by département, and the services each offers."""
    rows = session.execute(
        select(Venue.id, Venue.code_insee, Territory.departement_code)
        .join(Territory, (Territory.level == TerritoryLevel.COMMUNE) & (Territory.code == Venue.code_insee))
        .where(Venue.status == VenueStatus.QUALIFIED, ~Venue.distribution_only).order_by(Venue.id)
    ).all()
    chosen = rng.sample(rows, min(scale.redeeming_venues, len(rows)))
    by_departement: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for venue_id, code_insee, departement in sorted(chosen):
        by_departement[departement].append((venue_id, code_insee))
    services_of: dict[int, list[int]] = defaultdict(list)
    ids = [venue_id for venue_id, _, _ in chosen]
    for start in range(0, len(ids), 5_000):
        for venue_id, service_id in session.execute(
                select(VenueService.venue_id, VenueService.service_id)
                .where(VenueService.venue_id.in_(ids[start:start + 5_000]))
                .order_by(VenueService.venue_id, VenueService.service_id)):
            services_of[venue_id].append(service_id)
    return dict(by_departement), dict(services_of)


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` cut into `parts` positive sizes of random weights (0.5 to 1.5 of the mean)."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[-1] += total - sum(sizes)
    return sizes


def _plan_orders(session: Session, scale: Scale, rng: random.Random,
                 venues_by_departement: dict[str, list[tuple[int, str]]], today: date, month: date) -> _Plan:
    departements = sorted(venues_by_departement)
    weights = [len(venues_by_departement[d]) for d in departements]
    seats = []
    for departement in rng.choices(departements, weights=weights, k=scale.sponsors):
        seats.append((rng.choice(venues_by_departement[departement])[1], departement))
    plan = _Plan(sponsors=seats)
    fee_bp = rule_in_force(session, FeeRuleKind.ORDER_FEE_BP, today).value
    vintage = month.year
    expires_on = vintage_expiry(session, vintage, today)
    call_booklets = scale.call_cheques // CHEQUES_PER_BOOKLET
    call_orders = max(1, round(call_booklets / CALL_ORDER_BOOKLETS))
    regular = scale.booklets - scale.big_order_booklets - call_booklets
    if regular < scale.sponsors:
        raise ValueError(f"{scale.name}: too few booklets for one ordinary order per sponsor")

    def order(sponsor: int, booklets: int, *, call: bool = False, big: bool = False) -> None:
        face = booklets * CHEQUES_PER_BOOKLET * CHEQUE_VALUE_CENTS
        plan.orders.append({"sponsor": sponsor, "booklet_count": booklets, "face_value_cents": face,
                            "fee_rate_bp": fee_bp, "fee_cents": round_half_up(face * fee_bp, 10_000),
                            "vintage": vintage, "expires_on": expires_on, "call": call, "big": big,
                            "territories": [{"level": "departement", "code": seats[sponsor][1]}]})

    order(0, scale.big_order_booklets, big=True)
    # The call's orders: two per applying sponsor, the applicants being the first sponsors after the big one's.
    for index, booklets in enumerate(_split(call_booklets, call_orders, rng)):
        order(1 + (index // 2) % (scale.sponsors - 1), booklets, call=True)
    for sponsor, booklets in enumerate(_split(regular, scale.sponsors, rng)):
        order(sponsor, booklets)
    return plan


def _write_sponsors_call_orders(session: Session, scale: Scale, rng: random.Random, plan: _Plan, now: datetime,
                                start: datetime) -> int:
    """Sponsors (local authorities) with a distributor each, the accepted co-funding applications, the orders."""
    sponsor_ids = session.scalars(insert(Organisation).returning(Organisation.id, sort_by_parameter_order=True), [
        {"name": f"Conseil départemental {departement} — commanditaire {index + 1}",
         "legal_form": LegalForm.LOCAL_AUTHORITY, "siret": fake_siret(rng), "is_sponsor": True,
         "address": f"Hôtel du département, {code_insee}", "code_insee": code_insee, "created_at": now}
        for index, (code_insee, departement) in enumerate(plan.sponsors)
    ]).all()
    distributor_ids = session.scalars(insert(Organisation).returning(Organisation.id, sort_by_parameter_order=True), [
        {"name": f"CCAS aiguilleur {index + 1}", "legal_form": LegalForm.PUBLIC_BODY, "siret": fake_siret(rng),
         "is_distributor": True, "address": f"Mairie, {code_insee}", "code_insee": code_insee, "created_at": now}
        for index, (code_insee, _) in enumerate(plan.sponsors)
    ]).all()
    call_orders = [order for order in plan.orders if order["call"]]
    call = CofundingCall(
        name="Appel à projets national pass numérique (banc d'essai)", share_bp=5_000,
        envelope_cents=sum(order["face_value_cents"] for order in call_orders),  # the funder's half fits twice
        committed_cents=0, opens_on=start.date() - timedelta(days=90), closes_on=start.date() - timedelta(days=30),
    )
    session.add(call)
    session.flush()
    applications: dict[int, CofundingApplication] = {}
    for order in call_orders:
        sponsor = order["sponsor"]
        if sponsor not in applications:
            applications[sponsor] = CofundingApplication(
                call_id=call.id, lead_id=sponsor_ids[sponsor], status=CofundingStatus.ACCEPTED,
                priority_publics=500, precarity_publics=500, how_to_reach="Par les CCAS et les France Services.",
                area=order["territories"], structuring="Réseau départemental.", european_funds="aucun",
                partners="CCAS", budget_cents=order["face_value_cents"], budget_notes="",
                granted_cents=0, decision_reason="Dossier complet.", status_changed_at=now,
                members=[CofundingMember(organisation_id=sponsor_ids[sponsor], kind=AuthorityKind.DEPARTEMENT)])
            session.add(applications[sponsor])
    session.flush()
    issued_at = start - timedelta(days=20)
    for order in plan.orders:
        order["sponsor_id"] = sponsor_ids[order["sponsor"]]
        order["distributor_id"] = distributor_ids[order["sponsor"]]
        computed = shares.compute(order["face_value_cents"], order["fee_cents"], 5_000 if order["call"] else 0)
        application = applications.get(order["sponsor"]) if order["call"] else None
        if application is not None:
            application.granted_cents += computed.funder_cents
            call.committed_cents += computed.funder_cents
        order["row"] = {
            "sponsor_id": order["sponsor_id"], "status": OrderStatus.ISSUED, "booklet_count": order["booklet_count"],
            "cheques_per_booklet": CHEQUES_PER_BOOKLET, "cheque_value_cents": CHEQUE_VALUE_CENTS,
            "face_value_cents": order["face_value_cents"], "fee_rate_bp": order["fee_rate_bp"],
            "fee_cents": order["fee_cents"], "vintage": order["vintage"], "expires_on": order["expires_on"],
            "territories": order["territories"], "allowed_levels": [],
            "application_id": application.id if application is not None else None,
            "funder_share_bp": computed.share_bp, "funder_share_cents": computed.funder_cents,
            "sponsor_share_cents": computed.sponsor_cents, "requires_distribution": True,
            "created_at": issued_at - timedelta(days=10), "status_changed_at": issued_at, "issued_at": issued_at,
        }
    order_ids = session.scalars(insert(Order).returning(Order.id, sort_by_parameter_order=True),
                                [order["row"] for order in plan.orders]).all()
    for order, order_id in zip(plan.orders, order_ids, strict=True):
        order["id"] = order_id
    session.execute(insert(DistributionAllowance), [
        {"order_id": order["id"], "distributor_id": order["distributor_id"], "created_at": issued_at}
        for order in plan.orders])
    session.flush()
    return call.id


def _booklet_rows(plan: _Plan, base: int, distributed: list[bool], at: datetime):
    booklet_id = base
    for order in plan.orders:
        for sequence in range(1, order["booklet_count"] + 1):
            handed = distributed[booklet_id - base]
            yield (booklet_id, order["id"], sequence, f"{order['id']:05d}-{sequence:05d}",
                   order["distributor_id"] if handed else None, _pseudonym(booklet_id) if handed else None,
                   at if handed else None)
            booklet_id += 1


def _plan_redemptions(scale: Scale, rng: random.Random, plan: _Plan, booklet_orders: list[int], distributed: list[bool],
                      booklet_base: int, venues_by_departement: dict[str, list[tuple[int, str]]],
                      services_of: dict[int, list[int]], start: datetime, end: datetime, redemption_base: int,
                      cheque_base: int):
    """One to three deliveries of one or two cheques per used booklet (about 1.5 cheques per delivery), each at
    a redeeming venue of the order's département, each on a service of its own (so two cheques at most per
    booklet and service, slots 1 and 2). Returns the redemption rows, the line rows and how many cheques of
    each booklet (by index) are redeemed: positions 1 to that number."""
    handed = [index for index, is_handed in enumerate(distributed) if is_handed]
    used_booklets = sorted(rng.sample(handed, min(len(handed), scale.redemptions // 2)))
    seconds = int((end - start).total_seconds()) - 1
    redemptions: list[tuple] = []
    lines: list[tuple] = []
    redeemed = np.zeros(len(booklet_orders), dtype=np.int64)
    redemption_id = redemption_base
    for index in used_booklets:
        order = plan.orders[booklet_orders[index]]
        venues = venues_by_departement[order["territories"][0]["code"]]
        booklet_id = booklet_base + index
        taken_services: set[int] = set()
        position = 0
        for _ in range(rng.choices((1, 2, 3), weights=(1, 2, 1))[0]):
            venue_id, _ = rng.choice(venues)
            free = [s for s in services_of[venue_id] if s not in taken_services]
            if not free:
                continue
            service_id = rng.choice(free)
            taken_services.add(service_id)
            count = rng.choice((1, 2))
            at = start + timedelta(seconds=rng.randint(0, seconds))
            redemptions.append((redemption_id, venue_id, service_id, booklet_id, order["id"], count,
                                count * CHEQUE_VALUE_CENTS, RedemptionStatus.REDEEMED.value, ACTOR_LABEL, at))
            for slot in range(1, count + 1):
                position += 1
                cheque_id = cheque_base + index * CHEQUES_PER_BOOKLET + position - 1
                lines.append((redemption_id, cheque_id, True, booklet_id, service_id, slot))
            redemption_id += 1
        redeemed[index] = position
    return redemptions, lines, redeemed


def _cheque_columns(cheque_base: int, booklet_base: int, order_of_booklet: np.ndarray, redeemed: np.ndarray,
                    first: int, stop: int) -> dict[str, np.ndarray]:
    """The cheques of booklet indexes [first, stop) as columns: ids follow the booklets (cheque_base + 10 ×
    booklet index + position - 1, as the redemption lines computed), positions 1 to `redeemed` are redeemed."""
    index = np.repeat(np.arange(first, stop, dtype=np.int64), CHEQUES_PER_BOOKLET)
    position = np.tile(np.arange(1, CHEQUES_PER_BOOKLET + 1, dtype=np.int64), stop - first)
    return {"id": cheque_base + index * CHEQUES_PER_BOOKLET + position - 1, "booklet_id": booklet_base + index,
            "order_id": order_of_booklet[index], "position": position, "redeemed": position <= redeemed[index]}


def codes_of(ids: np.ndarray) -> np.ndarray:
    """Each id's own valid cheque code, as an (n, 14) array of ASCII bytes.

    The 12 characters after a fixed first one are the base-29 digits of id × MULTIPLIER mod 29**12, a
    bijection on ids (so the codes are unique and the same on every run); the last is the ISO 7064
    MOD 29-2 check character, the checksum being linear in the digits (weights 2**k mod 29)."""
    number = ids * MULTIPLIER % MODULUS
    digits = np.empty((len(ids), DIGITS), dtype=np.int64)
    for k in range(DIGITS - 1, -1, -1):
        number, digits[:, k] = np.divmod(number, BASE)
    weights = np.array([pow(2, DIGITS - 1 - k, BASE) for k in range(DIGITS)], dtype=np.int64)
    checksum = (FIRST * pow(2, DIGITS, BASE) + digits @ weights) % BASE
    check = (1 - 2 * checksum) % BASE
    alphabet = np.frombuffer(cheque_codes.ALPHABET.encode(), dtype=np.uint8)
    return np.column_stack([np.full(len(ids), alphabet[FIRST]), alphabet[digits], alphabet[check]]).astype(np.uint8)


def _decimal(values: np.ndarray, width: int) -> np.ndarray:
    """Integers as zero-padded ASCII digits (PostgreSQL reads 0042 as 42), an (n, width) byte array."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 10 + ord("0")).astype(np.uint8)


def _copy_text(columns: list[np.ndarray | bytes], rows: int) -> bytes:
    """Fixed-width COPY text lines: byte arrays and constant byte strings, tab-separated."""
    parts = []
    for index, part in enumerate(columns):
        if index:
            parts.append(np.full((rows, 1), ord("\t"), dtype=np.uint8))
        parts.append(part if isinstance(part, np.ndarray)
                     else np.tile(np.frombuffer(part, dtype=np.uint8), (rows, 1)))
    parts.append(np.full((rows, 1), ord("\n"), dtype=np.uint8))
    return np.hstack(parts).tobytes()


CHEQUE_COLUMNS = ("id", "code", "booklet_id", "order_id", "position", "value_cents", "status")


def _insert_cheques(session: Session, booklet_base: int, order_of_booklet: np.ndarray, cheque_base: int,
                    redeemed: np.ndarray) -> None:
    """Every booklet's cheques with their codes, the used ones already redeemed; by slices of 100,000 booklets."""
    booklets = len(order_of_booklet)
    step = 100_000
    cursor = session.connection().connection.driver_connection.cursor() if _is_postgres(session) else None
    widths = [len(str(cheque_base + booklets * CHEQUES_PER_BOOKLET)), len(str(booklet_base + booklets)),
              len(str(int(order_of_booklet.max())))]
    for first in range(0, booklets, step):
        columns = _cheque_columns(cheque_base, booklet_base, order_of_booklet, redeemed, first,
                                  min(first + step, booklets))
        codes = codes_of(columns["id"])
        if cursor is None:
            bulk_insert(session, Cheque, CHEQUE_COLUMNS, zip(
                columns["id"].tolist(), codes.view("S14").ravel().astype(str).tolist(),
                columns["booklet_id"].tolist(), columns["order_id"].tolist(), columns["position"].tolist(),
                repeat(CHEQUE_VALUE_CENTS),
                np.where(columns["redeemed"], ChequeStatus.REDEEMED.value, ChequeStatus.ISSUED.value).tolist()))
            continue
        with cursor.copy(f"COPY cheque ({', '.join(CHEQUE_COLUMNS)}) FROM STDIN") as copy:
            for status in (ChequeStatus.ISSUED, ChequeStatus.REDEEMED):  # each status its own fixed width
                rows = columns["redeemed"] == (status == ChequeStatus.REDEEMED)
                count = int(rows.sum())
                if count:
                    copy.write(_copy_text([
                        _decimal(columns["id"][rows], widths[0]), codes[rows],
                        _decimal(columns["booklet_id"][rows], widths[1]), _decimal(columns["order_id"][rows], widths[2]),
                        _decimal(columns["position"][rows], 2), str(CHEQUE_VALUE_CENTS).encode(), status.value.encode(),
                    ], count))


def strip_indexes(session: Session, tables: Sequence[str]) -> Callable[[], None]:
    """PostgreSQL: drop the secondary indexes, unique and foreign-key constraints of `tables` before a load;
    returns what builds them again from their own definitions (a sorted index build and one validation
    query per foreign key beat millions of row-by-row checks; the constraints are checked all the same,
    at the end). SQLite: nothing to do."""
    if not _is_postgres(session):
        return lambda: None
    constraints = session.execute(text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('u', 'f') ORDER BY contype DESC"
    ), {"tables": list(tables)}).all()
    indexes = session.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:tables) AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))"
    ), {"tables": list(tables)}).all()
    for table_name, name, _ in constraints:
        session.execute(text(f'ALTER TABLE {table_name} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))

    def restore() -> None:
        for _, definition in indexes:
            session.execute(text(definition))
        for table_name, name, definition in reversed(constraints):  # the unique ones, then the foreign keys
            session.execute(text(f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}'))

    return restore
