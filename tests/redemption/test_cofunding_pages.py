"""Co-funding in the browser and the API: a sponsor applies from its home page, staff decide, both follow the call."""

from __future__ import annotations

import csv
import io
import re

from directory import api as directory_api
from directory.models import Role
from redemption import api, applications
from tests.builders import (
    ACTOR,
    PASSWORD,
    aptic_staff,
    authority,
    cofunding_application,
    csrf_token_from,
    distribute,
    make_call,
    sign_in,
)


def sponsor_user(session, organisation, email="finance@gironde.fr"):
    user = directory_api.create_user(session, ACTOR, email=email, full_name="Finances", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, organisation, Role.SPONSOR)
    return user


def switch_to(client, email):
    client.post("/deconnexion", data={"csrf_token": csrf_token_from(client.get("/connexion").get_data(as_text=True))})
    assert sign_in(client, email).status_code == 302


def post_form(client, path, data, page=None):
    token = csrf_token_from(client.get(page or path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def test_follow_up_figures_per_sponsor_and_departement(session, world):
    call = make_call(session)
    application = cofunding_application(session, call, world.sponsor, orders=[world.order])
    applications.accept(session, ACTOR, application)
    distribute(session, world, 0)
    api.redeem(session, ACTOR, world.venue, world.codes(0)[:1], "premiers-pas")
    from redemption.cofunding_followup import follow_up

    report = follow_up(session, call)
    totals = report["totals"]
    assert (totals["sold_cents"], totals["committed_cents"], totals["issued_cents"], totals["distributed_cents"],
            totals["redeemed_cents"]) == (30_000, 15_000, 30_000, 10_000, 1_000)
    assert totals["redeemed_ratio"] == round(1_000 / 30_000, 4)
    assert [(row["name"], row["code"]) for row in report["by_departement"]] == [("Gironde", "33")]
    assert [row["name"] for row in report["by_sponsor"]] == [world.sponsor.name]
    other = authority(session, "Département voisin")
    assert follow_up(session, call, [other.id])["by_sponsor"] == []


def test_a_sponsor_applies_from_its_home_and_staff_accept(client, session, world):
    call = make_call(session)
    sponsor_user(session, world.sponsor)
    staff = aptic_staff(session)
    session.commit()

    sign_in(client, "finance@gironde.fr")
    home = client.get("/compte").get_data(as_text=True)
    assert "/pass/appels" in home
    call_page = client.get(f"/pass/appels/{call.id}").get_data(as_text=True)
    assert "État : 50\u202f% des chèques commandés" in call_page
    created = post_form(client, f"/pass/appels/{call.id}/candidatures",
                        {"lead_id": world.sponsor.id, "lead_kind": "departement"}, page=f"/pass/appels/{call.id}")
    assert created.status_code == 302
    application_id = int(re.search(r"/pass/candidatures/(\d+)", created.headers["Location"]).group(1))
    path = f"/pass/candidatures/{application_id}"
    unbalanced = post_form(client, path, {"priority_publics": "700", "precarity_publics": "300"})
    assert unbalanced.status_code == 302  # saved as a draft: the split is checked on submission
    refused = post_form(client, f"{path}/depot", {}, page=path)
    assert refused.status_code in (409, 422)
    saved = post_form(client, path, {
        "priority_publics": "400", "precarity_publics": "400", "how_to_reach": "CCAS et missions locales",
        "area": "departement:33", "structuring": "Réseau départemental", "european_funds": "aucun",
        "partners": "CAF", "budget_euros": "50 000", "budget_notes": "pass et animation", "orders": str(world.order.id)})
    assert saved.status_code == 302
    assert post_form(client, f"{path}/depot", {}, page=path).status_code == 302

    switch_to(client, staff.email)
    page = client.get(path).get_data(as_text=True)
    assert "Retenir" in page and "déposée" in page
    assert post_form(client, f"{path}/decision", {"decision": "accept"}, page=path).status_code == 302
    report = client.get(f"/pass/commandes/{world.order.id}").get_data(as_text=True)
    assert 'data-key="funder">150,00\xa0€<' in report and 'data-key="sponsor">150,00\xa0€<' in report
    assert 'data-key="committed">150,00\xa0€<' in client.get(f"/pass/appels/{call.id}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/pass/appels/{call.id}/suivi.csv").get_data(as_text=True)),
                               delimiter=";"))
    assert (rows[0]["section"], rows[0]["engage"], rows[0]["vendu"]) == ("total", "15000", "30000")
    assert [(r["section"], r["code"]) for r in rows[1:]] == [("commanditaire", str(world.sponsor.id)),
                                                             ("departement", "33")]


def test_the_api_shows_follow_up_and_decides_with_the_page_token(client, session, world):
    call = make_call(session, envelope_cents=10_000)
    application = cofunding_application(session, call, world.sponsor, orders=[world.order])
    sponsor_user(session, world.sponsor)
    staff = aptic_staff(session)
    session.commit()

    assert client.get(f"/api/v1/cofunding/calls/{call.id}/follow-up").status_code == 401
    listed = client.get("/api/v1/cofunding/calls").get_json()["calls"]
    assert [(c["id"], c["envelope_cents"]) for c in listed] == [(call.id, 10_000)]
    sign_in(client, "finance@gironde.fr")
    shown = client.get(f"/api/v1/cofunding/applications/{application.id}").get_json()
    assert shown["status"] == "submitted" and shown["orders"][0]["face_value_cents"] == 30_000
    assert client.post(f"/api/v1/cofunding/applications/{application.id}/decision",
                       json={"decision": "accept"}).status_code == 403

    switch_to(client, staff.email)
    token = csrf_token_from(client.get(f"/pass/candidatures/{application.id}").get_data(as_text=True))
    too_big = client.post(f"/api/v1/cofunding/applications/{application.id}/decision", json={"decision": "accept"},
                          headers={"X-CSRFToken": token})
    assert too_big.status_code == 409 and too_big.get_json()["error"]["code"] == "envelope_exceeded"
    no_reason = client.post(f"/api/v1/cofunding/applications/{application.id}/decision", json={"decision": "refuse"},
                            headers={"X-CSRFToken": token})
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["field"] == "reason"
    decided = client.post(f"/api/v1/cofunding/applications/{application.id}/decision",
                          json={"decision": "refuse", "reason": "Enveloppe épuisée"}, headers={"X-CSRFToken": token})
    assert decided.status_code == 200 and decided.get_json()["decision_reason"] == "Enveloppe épuisée"
    follow = client.get(f"/api/v1/cofunding/calls/{call.id}/follow-up").get_json()
    assert follow["totals"]["committed_cents"] == 0 and follow["scope"] == "all"
