"""Orders: lifecycle, amounts in cents, issue of booklets with unique codes, distribution rules."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from directory import api as directory_api
from directory.errors import DomainError
from directory.models import AuditEvent
from redemption import api, codes
from redemption.models import Booklet, Cheque, OrderStatus
from tests.builders import ACTOR, BENEFICIARY_KEY, distribute, hand_out, person

NEXT_YEAR = date.today() + timedelta(days=365)
STAFF_EXCEPTION = {"minimum_exception": "commande de test"}  # these small orders are below the first-order minimum


def test_order_lifecycle_amounts_and_audit(session, world):
    order = api.create_order(session, ACTOR, world.sponsor, **STAFF_EXCEPTION, booklets=25, expires_on=NEXT_YEAR,
                             territories=["region:75", {"level": "epci", "code": "243300316"}, "commune:33063"],
                             allowed_levels=[2, 1])
    assert order.status == OrderStatus.DRAFT
    assert order.face_value_cents == 25 * 10 * 1000 == 250_000
    assert order.fee_cents == 10_000  # 4 % of the face value
    assert order.allowed_levels == [1, 2]
    assert order.territories[0] == {"level": "region", "code": "75"}
    with pytest.raises(DomainError) as refused:
        api.issue_order(session, ACTOR, order)
    assert refused.value.code == "invalid_transition" and refused.value.status == 409
    api.confirm_order(session, ACTOR, order)
    api.pay_order(session, ACTOR, order)
    api.issue_order(session, ACTOR, order)
    session.refresh(order)
    assert order.status == OrderStatus.ISSUED and len(order.booklets) == 25
    all_codes = [c.code for b in order.booklets for c in b.cheques]
    assert len(all_codes) == len(set(all_codes)) == 250
    assert all(codes.normalize(code) == code for code in all_codes)
    assert len({b.number for b in order.booklets}) == 25
    with pytest.raises(DomainError) as refused:
        api.close_order(session, ACTOR, order)
    assert refused.value.code == "invalid_transition"
    api.close_order(session, ACTOR, order, today=NEXT_YEAR + timedelta(days=1))
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "order",
                                                              AuditEvent.target_id == str(order.id))
                             .order_by(AuditEvent.id)).all()
    assert actions == ["order.created"] + ["order.status_changed"] * 4
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "booklet.issued")) >= 25


def test_fee_rounds_half_up_in_cents(session, world):
    order = api.create_order(session, ACTOR, world.sponsor, **STAFF_EXCEPTION, booklets=1, cheques_per_booklet=1, cheque_value_cents=1_013,
                             expires_on=NEXT_YEAR, territories=["departement:33"])
    assert order.fee_cents == 41  # 40.52 → 41
    order = api.create_order(session, ACTOR, world.sponsor, **STAFF_EXCEPTION, booklets=1, cheques_per_booklet=1, cheque_value_cents=1_012,
                             expires_on=NEXT_YEAR, territories=["departement:33"])
    assert order.fee_cents == 40  # 40.48 → 40


@pytest.mark.parametrize("changes, field, code", [
    ({"booklets": 0}, "booklets", "invalid_number"),
    ({"booklets": "3"}, "booklets", "invalid_number"),
    ({"cheques_per_booklet": 51}, "cheques_per_booklet", "invalid_number"),
    ({"cheque_value_cents": -5}, "cheque_value_cents", "invalid_number"),
    ({"expires_on": date.today()}, "expires_on", "invalid_expiry"),
    ({"territories": []}, "territories", "required"),
    ({"territories": ["33"]}, "territories", "invalid_territory"),
    ({"territories": ["departement:999"]}, "code", "unknown_territory"),
    ({"territories": ["canton:33"]}, "level", "invalid_territory_level"),
    ({"allowed_levels": [4]}, "allowed_levels", "invalid_level"),
])
def test_bad_orders_are_refused_naming_the_field(session, world, changes, field, code):
    fields = {"booklets": 2, "expires_on": NEXT_YEAR, "territories": ["departement:33"], **changes}
    with pytest.raises(DomainError) as refused:
        api.create_order(session, ACTOR, world.sponsor, **STAFF_EXCEPTION, **fields)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert 400 <= refused.value.status < 500


def test_only_a_sponsor_orders(session, world):
    with pytest.raises(DomainError) as refused:
        api.create_order(session, ACTOR, world.distributor, **STAFF_EXCEPTION, booklets=1, expires_on=NEXT_YEAR, territories=["departement:33"])
    assert refused.value.code == "not_a_sponsor"


def test_distribution_one_booklet_per_beneficiary_pseudonymous(session, world):
    distribute(session, world, 0, "DOSSIER-2026-001")
    booklet = world.booklet(0)
    assert booklet.distributed_at is not None and booklet.distributor_id == world.distributor.id
    # Only the keyed pseudonym is kept: 64 hexadecimal characters, nothing of the name.
    assert re.fullmatch(r"[0-9a-f]{64}", booklet.beneficiary_ref) and "camille" not in booklet.beneficiary_ref
    for index, ref, code in [
        (0, "DOSSIER-2026-002", "already_distributed"),
        (1, "DOSSIER-2026-001", "beneficiary_already_served"),
    ]:
        with pytest.raises(DomainError) as refused:
            api.record_distribution(session, ACTOR, world.distributor, world.booklet(index), person(ref), BENEFICIARY_KEY)
        assert refused.value.code == code
    with pytest.raises(DomainError) as refused:
        api.record_distribution(session, ACTOR, world.operator, world.booklet(1), person("DOSSIER-2026-003"),
                                BENEFICIARY_KEY)
    assert refused.value.code == "not_a_distributor"


def test_a_venue_operator_can_also_distribute(session, world):
    operator = directory_api.create_organisation(session, ACTOR, name="Centre social", legal_form="association",
                                                 rna="W332000777", is_venue_operator=True, is_distributor=True)
    hand_out(session, operator, world.booklet(2), ref="CS-0001")


def test_cancelling_a_booklet_spares_used_cheques(session, world):
    distribute(session, world, 0)
    api.redeem(session, ACTOR, world.venue, [world.codes(0)[0]], "premiers-pas")
    assert api.cancel_booklet(session, ACTOR, world.booklet(0), "volé") == 9
    statuses = session.scalars(select(Cheque.status).where(Cheque.booklet_id == world.booklet(0).id)).all()
    assert sorted(s.value for s in statuses) == ["cancelled"] * 9 + ["redeemed"]


def test_an_order_has_a_vintage_and_its_expiry_follows_the_dated_rule(session, world):
    today = date(2026, 12, 3)
    order = api.create_order(session, ACTOR, world.sponsor, booklets=200, territories=["departement:33"], today=today)
    assert (order.vintage, order.expires_on) == (2026, date(2027, 1, 31))
    shorter = api.create_order(session, ACTOR, world.sponsor, booklets=200, vintage=2027, expires_on=date(2027, 6, 30),
                               territories=["departement:33"], today=today)
    assert (shorter.vintage, shorter.expires_on) == (2027, date(2027, 6, 30))
    for fields, code in [({"vintage": 2027, "expires_on": date(2035, 1, 1)}, "expiry_outside_rule"),
                         ({"expires_on": date(2035, 1, 1)}, "expiry_outside_rule"),
                         ({"vintage": 2031}, "invalid_vintage"), ({"vintage": "2026"}, "invalid_vintage"),
                         ({"vintage": 2025}, "invalid_vintage")]:
        with pytest.raises(DomainError) as refused:
            api.create_order(session, ACTOR, world.sponsor, booklets=200, territories=["departement:33"], today=today,
                             **fields)
        assert refused.value.code == code and refused.value.status == 422
    assert "31 janvier 2028" in str(_refusal(session, world, vintage=2027, expires_on=date(2028, 2, 1)).message)
    api.change_fee_rule(session, ACTOR, "vintage_expiry_mmdd", 331, date(2026, 12, 1))
    later = api.create_order(session, ACTOR, world.sponsor, booklets=200, territories=["departement:33"], today=today)
    assert later.expires_on == date(2027, 3, 31)
    assert api.order_summary(later)["vintage"] == 2026


def _refusal(session, world, **fields):
    with pytest.raises(DomainError) as refused:
        api.create_order(session, ACTOR, world.sponsor, booklets=200, territories=["departement:33"],
                         today=date(2026, 12, 3), **fields)
    return refused.value


def test_a_first_order_on_a_territory_reaches_the_minimum_unless_staff_record_an_exception(session, world):
    with pytest.raises(DomainError) as refused:
        api.create_order(session, ACTOR, world.sponsor, booklets=5, territories=["departement:24"])
    assert (refused.value.code, refused.value.status, refused.value.field) == ("order_below_minimum", 422, "booklets")
    assert "20\u202f000,00\xa0€" in refused.value.message and "500,00\xa0€" in refused.value.message
    # The world's order (3 booklets in Gironde) went through with a staff exception, recorded on the order;
    # once started on a territory, the sponsor orders there in any amount, but a new territory needs the minimum.
    assert world.order.minimum_exception == "commande de test"
    api.create_order(session, ACTOR, world.sponsor, booklets=5, territories=["departement:33"])
    with pytest.raises(DomainError) as refused:
        api.create_order(session, ACTOR, world.sponsor, booklets=5, territories=["departement:33", "departement:24"])
    assert refused.value.details["territories"] == [{"level": "departement", "code": "24"}]
    assert api.create_order(session, ACTOR, world.sponsor, booklets=200, territories=["departement:24"]).id
    api.change_fee_rule(session, ACTOR, "order_minimum_cents", 500_000, date.today().replace(day=1))
    assert api.create_order(session, ACTOR, world.sponsor, booklets=50, territories=["departement:40"]).id


@pytest.mark.parametrize("kind, value", [("vintage_expiry_mmdd", 1340), ("vintage_expiry_mmdd", 230),
                                         ("vat_rate_bp", 12_000), ("order_minimum_cents", -1)])
def test_dated_settings_refuse_values_that_mean_nothing(session, kind, value):
    with pytest.raises(DomainError) as refused:
        api.change_fee_rule(session, ACTOR, kind, value, date(2031, 1, 1))
    assert (refused.value.code, refused.value.field) == ("invalid_fee_rule", "value")
