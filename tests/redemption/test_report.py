"""The sponsor report: what happened to the cheques, where passes are lost, and who was paid."""

import csv
import io
from datetime import date, timedelta

from directory import api as directory_api
from directory.db import utcnow
from directory.models import Role
from redemption import api
from tests.builders import ACTOR, PASSWORD, csrf_token_from, distribute, sign_in


def test_report_figures(session, world):
    distribute(session, world, 0)
    distribute(session, world, 1)
    codes0, codes1 = world.codes(0), world.codes(1)
    api.redeem(session, ACTOR, world.venue, codes0[:2], "premiers-pas")
    api.redeem(session, ACTOR, world.other_venue, codes0[2:3], "demarches-en-ligne")
    api.redeem(session, ACTOR, world.venue, codes1[:1], "premiers-pas")
    cancelled, _ = api.redeem(session, ACTOR, world.venue, codes1[1:2], "premiers-pas")
    api.cancel_redemption(session, ACTOR, world.venue, cancelled.id)
    api.cancel_booklet(session, ACTOR, world.booklet(2), "perdu")
    report = api.sponsor_report(session, world.order)
    assert report["totals"] == {"issued": 30, "distributed": 20, "redeemed": 4, "expired": 0, "valid": 16, "cancelled": 10}
    assert report["usage_rate"] == round(4 / 30, 4)
    assert report["order"]["vintage"] == world.order.vintage
    assert report["lost"] == {"never_distributed": 0, "distributed_unused": 16}
    month = utcnow().astimezone(api.PARIS_TZ).strftime("%Y-%m")
    this_month = next(m for m in report["months"] if m["month"] == month)
    assert this_month["issued"] == 30 and this_month["distributed"] == 20 and this_month["redeemed"] == 4
    assert this_month["redeemed_cents"] == 4000
    gironde = next(t for t in report["territories"] if t["departement"] == "33")
    assert gironde["redeemed"] == 4 and gironde["distributed"] == 20
    assert [(v["venue"], v["cheques"]) for v in report["venues"]] == [(world.venue.nom, 3), (world.other_venue.nom, 1)]
    assert {s["service"]: s["cheques"] for s in report["services"]} == {
        "Prendre en main un ordinateur, une tablette ou un smartphone": 3,
        next(s.label for s in directory_api.services_by_slugs(session, ["demarches-en-ligne"])): 1,
    }
    # After the expiry date, what was not used is expired, never "valid".
    expired = api.sponsor_report(session, world.order, today=world.order.expires_on + timedelta(days=1))
    assert expired["totals"]["expired"] == 16 and expired["totals"]["valid"] == 0


def test_never_distributed_booklets_show_as_lost_there(session, world):
    distribute(session, world, 0)
    report = api.sponsor_report(session, world.order, today=date.today())
    assert report["lost"] == {"never_distributed": 20, "distributed_unused": 10}


def test_report_page_and_csv_for_the_sponsor_only(client, session, world):
    distribute(session, world, 0)
    api.redeem(session, ACTOR, world.venue, world.codes(0)[:1], "premiers-pas")
    for email, organisation, role in (("finance@gironde.fr", world.sponsor, Role.SPONSOR),
                                      ("ccas@bordeaux.fr", world.distributor, Role.DISTRIBUTOR)):
        user = directory_api.create_user(session, ACTOR, email=email, full_name="Test", password=PASSWORD)
        directory_api.add_membership(session, ACTOR, user, organisation, role)

    def switch_to(email):
        client.post("/deconnexion", data={"csrf_token": csrf_token_from(client.get("/connexion").get_data(as_text=True))})
        sign_in(client, email)

    switch_to("ccas@bordeaux.fr")
    assert client.get(f"/pass/commandes/{world.order.id}").status_code == 403
    switch_to("finance@gironde.fr")
    listing = client.get("/pass/commandes")
    assert listing.status_code == 200 and f"/pass/commandes/{world.order.id}" in listing.get_data(as_text=True)
    page = client.get(f"/pass/commandes/{world.order.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-key="redeemed">1<' in html and world.venue.nom in html
    assert "3 carnets de 10 chèques de 10,00\xa0€" in html and f"millésime {world.order.vintage}" in html
    assert 'data-key="usage_rate">3,3\u202f%<' in html  # 1 of 30 cheques, the French way
    response = client.get(f"/pass/commandes/{world.order.id}/rapport.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True)), delimiter=";"))
    figures = {(r["section"], r["indicateur"]): r["valeur"] for r in rows if r["section"] in ("total", "perdus")}
    assert figures[("total", "redeemed")] == "1" and figures[("total", "issued")] == "30"
    assert figures[("perdus", "never_distributed")] == "20"
    assert figures[("total", "vintage")] == str(world.order.vintage)


def test_a_formula_in_a_venue_or_commune_comes_out_inert_in_the_report_csv(session, world):
    distribute(session, world, 0)
    world.venue.nom, world.venue.commune = "@SUM(A1:A9)", "+33 Bordeaux"
    api.redeem(session, ACTOR, world.venue, world.codes(0)[:1], "premiers-pas")
    rows = list(csv.reader(io.StringIO(api.report_csv(api.sponsor_report(session, world.order))), delimiter=";"))
    venue_row = next(r for r in rows if r[1] == "lieu")
    assert venue_row[2] == "'+33 Bordeaux" and venue_row[4] == "cheques:@SUM(A1:A9)"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
