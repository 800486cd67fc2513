"""Journeys of an order's booklets: the funnel and its losses, progression, groups under 10 hidden; page, CSV, API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from directory import api as directory_api
from redemption import journeys
from tests.builders import ACTOR, PASSWORD, make_order, plant_redemption, sign_in

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def planted(session, world):
    """30 booklets: 20 handed out by the Bordeaux CCAS, 4 by a small one, 6 never handed out.

    Of the CCAS's 20: 16 used, of which 10 on two services (level 1 then level 2: completed and progressed),
    and 3 of those at a second venue; the first use comes 2 days after the hand-out.
    """
    small = directory_api.create_organisation(session, ACTOR, name="Association Relais", legal_form="association",
                                              rna="W332000555", code_insee="33281", is_distributor=True)
    order = make_order(session, world.sponsor, booklets=30)
    for index, booklet in enumerate(order.booklets[:24]):
        booklet.distributor_id = (world.distributor if index < 20 else small).id
        booklet.beneficiary_ref = f"BEN-{index}"
        booklet.distributed_at = START + timedelta(hours=index)
    session.flush()
    for index, booklet in enumerate(order.booklets[:16]):
        first = booklet.distributed_at + timedelta(days=2)
        plant_redemption(session, world.venue, booklet, first, cheques=2)
        if index < 10:
            venue = world.other_venue if index < 3 else world.venue
            plant_redemption(session, venue, booklet, first + timedelta(days=7), service="demarches-en-ligne")
    plant_redemption(session, world.venue, order.booklets[20], START + timedelta(days=3))  # the small one's
    return order, small


def test_the_funnel_its_losses_and_the_progression(session, world):
    order, _ = planted(session, world)
    report = journeys.order_journeys(session, order, today=START.date() + timedelta(days=30))
    overall = report["overall"]
    assert not overall["hidden"] and overall["booklets"] == 30
    assert [(s["key"], s["count"], s.get("loss")) for s in overall["funnel"]] == [
        ("issued", 30, None), ("distributed", 24, 6), ("first_use", 17, 7), ("completed", 10, 7)]
    assert overall["funnel"][1]["cause"] == "jamais remis (encore valables)"
    assert overall["median_days_to_first_use"] == 2.0
    assert overall["progression"] == [{"from_level": 1, "booklets": 17, "reached": {2: 10, 3: 0}}]
    assert overall["venues_per_booklet"] == {"1": 14, "2": 3, "3+": 0}
    assert overall["cheques_per_booklet"]["3"] == 10 and overall["cheques_per_booklet"]["0"] == 7
    assert overall["new_venue_share"] == 1.0  # the sponsor's first order
    groups = {group["name"]: group for group in report["distributors"]}
    ccas, relais = groups["CCAS de Bordeaux"], groups["Association Relais"]
    assert relais["name"] == "Association Relais" and relais["hidden"] and "Moins de 10 carnets" in relais["notice"]
    assert "funnel" not in relais
    assert ccas["booklets"] == 20 and [s["count"] for s in ccas["funnel"]] == [20, 16, 10]


def test_filters_and_venues_the_sponsor_never_funded(session, world):
    order, small = planted(session, world)
    assert journeys.order_journeys(session, order, distributor_id=small.id)["overall"]["hidden"]
    in_gironde = journeys.order_journeys(session, order, territory="departement:33")["overall"]
    assert in_gironde["booklets"] == 24 and in_gironde["funnel"][0]["key"] == "distributed"
    assert journeys.order_journeys(session, order, territory="departement:69")["overall"]["hidden"]
    # a second order of the same sponsor: Bordeaux is known now, Mérignac too
    later = make_order(session, world.sponsor, booklets=10)
    for index, booklet in enumerate(later.booklets):
        booklet.distributor_id, booklet.beneficiary_ref = world.distributor.id, f"LATER-{index}"
        booklet.distributed_at = datetime.now(UTC)
        plant_redemption(session, world.venue if index < 5 else world.far_venue, booklet, datetime.now(UTC))
    assert journeys.order_journeys(session, later)["overall"]["new_venue_share"] == 0.5


def test_journeys_page_csv_and_api(client, session, world):
    order, _ = planted(session, world)
    user = directory_api.create_user(session, ACTOR, email="pilotage@gironde.fr", full_name="Pilotage",
                                     password=PASSWORD)
    from directory.models import Role

    directory_api.add_membership(session, ACTOR, user, world.sponsor, Role.SPONSOR)
    session.commit()
    assert client.get(f"/api/v1/orders/{order.id}/journeys").status_code == 401
    sign_in(client, "pilotage@gironde.fr")
    report_page = client.get(f"/pass/commandes/{order.id}").get_data(as_text=True)
    assert f"/pass/commandes/{order.id}/parcours" in report_page
    page = client.get(f"/pass/commandes/{order.id}/parcours")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'role="img"' in html and "Entonnoir des carnets" in html and "Atteignent le niveau 2" in html
    assert "Moins de 10 carnets dans ce groupe" in html
    csv_text = client.get(f"/pass/commandes/{order.id}/parcours.csv").get_data(as_text=True)
    assert f"{order.id};Ensemble;entonnoir;issued;30" in csv_text and "masque" in csv_text
    body = client.get(f"/api/v1/orders/{order.id}/journeys?territory=departement:33").get_json()
    assert body["overall"]["booklets"] == 24
    refused = client.get(f"/api/v1/orders/{order.id}/journeys?territory=pays:FR")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_territory"
