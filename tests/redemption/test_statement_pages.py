"""Venue statements in the browser, and statements as French invoices (VAT inside the commission and the fee)."""

import csv
import io
from datetime import UTC, date, datetime

import pypdfium2
import pytest

from directory import api as directory_api
from directory.models import Role
from directory.navigation import entries_for
from redemption import api, invoices
from tests.builders import ACTOR, PASSWORD, distribute, make_venue, sign_in, aptic_staff, venue_user

AFTER_ALL = datetime(2030, 1, 1, tzinfo=UTC)
ISSUER = invoices.Issuer("APTIC", "88888888800017", "1 rue de l'Exemple, 44000 Nantes")


@pytest.fixture
def closed(session, world):
    """August to October 2026 closed: Bordeaux 3 cheques in August, none in September, 2 in October;
    a venue of another operator with one cheque in August."""
    world.order.expires_on = date(2027, 1, 31)
    for index in (0, 1, 2):
        distribute(session, world, index)
    first, second = world.codes(0), world.codes(1)
    api.redeem(session, ACTOR, world.venue, first[0:2], "premiers-pas", now=datetime(2026, 8, 10, 9, tzinfo=UTC))
    api.redeem(session, ACTOR, world.venue, first[2:3], "demarches-en-ligne", now=datetime(2026, 8, 20, 9, tzinfo=UTC))
    api.redeem(session, ACTOR, world.venue, second[0:2], "premiers-pas", now=datetime(2026, 10, 5, 9, tzinfo=UTC))
    other_operator = directory_api.create_organisation(session, ACTOR, name="Centre social du Lac", legal_form="association",
                                                       rna="W332000555", code_insee="33063", is_venue_operator=True)
    stranger = make_venue(session, other_operator, "Centre social du Lac", "33063", "33300", "Bordeaux", ["premiers-pas"])
    api.redeem(session, ACTOR, stranger, world.codes(2)[0:1], "premiers-pas", now=datetime(2026, 8, 12, 9, tzinfo=UTC))
    for month in (8, 9, 10):
        api.close_month(session, ACTOR, date(2026, month, 1), now=AFTER_ALL)
    session.commit()
    return {s.month.month: s for s in api.statements_for_month(session, date(2026, 8, 1))
            + api.statements_for_month(session, date(2026, 9, 1)) + api.statements_for_month(session, date(2026, 10, 1))
            if s.venue_id == world.venue.id}, stranger


def test_a_statement_is_an_invoice_with_vat_inside_the_commission_and_the_fee(session, world, closed):
    by_month, _ = closed
    october = invoices.invoice(by_month[10], ISSUER)
    # 80 cents of commission and 7 € of fee, VAT 20 % included: 0,67 + 0,13 and 5,83 + 1,17.
    assert [(line["excluding_tax_cents"], line["vat_cents"], line["including_tax_cents"])
            for line in october["lines"]] == [(67, 13, 80), (583, 117, 700)]
    assert (october["total_excluding_tax_cents"], october["total_vat_cents"], october["total_including_tax_cents"]) == (
        650, 130, 780)
    assert (october["cheques_cents"], october["carried_in_cents"], october["paid_cents"]) == (2000, 700, 520)
    assert october["issuer"]["siret"] == "88888888800017" and october["customer"]["rna"] == "W332000999"
    september = invoices.invoice(by_month[9], ISSUER)
    assert invoices.settlement_label(september) == ("Solde reporté sur le relevé suivant", 700)
    # A new VAT rate applies from its date: November's fee of 7 € is then 6,36 € + 0,64 €.
    api.change_fee_rule(session, ACTOR, "vat_rate_bp", 1000, date(2026, 11, 1))
    november = api.close_month(session, ACTOR, date(2026, 11, 1), now=AFTER_ALL)["statements"][0]
    assert november.vat_rate_bp == 1000 and by_month[10].vat_rate_bp == 2000
    assert invoices.invoice(november, ISSUER)["lines"][1]["excluding_tax_cents"] == 636


def test_venue_staff_see_their_statements_month_by_month_and_open_each(client, session, world, closed):
    by_month, stranger = closed
    venue_user(session, world)
    session.commit()
    sign_in(client, "accueil@mediatheque-bordeaux.fr")
    page = client.get("/pass/releves")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for month in ("août 2026", "septembre 2026", "octobre 2026"):
        assert month in html
    assert "3 relevés" in html and "Centre social du Lac" not in html
    assert "versé : 5,20\xa0€" in html and "versé : 21,80\xa0€" in html
    detail = client.get(f"/pass/releves/{by_month[10].id}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "1 encaissement" in text and "(2 chèques)" in text and "Montant versé au lieu" in text
    assert "6,50\xa0€" in text and "1,30\xa0€" in text and "7,80\xa0€" in text  # HT, TVA, TTC
    september = client.get(f"/pass/releves/{by_month[9].id}").get_data(as_text=True)
    assert "Aucun chèque ce mois-ci" in september and "Solde reporté sur le relevé suivant" in september
    pdf = client.get(f"/pass/releves/{by_month[10].id}/releve.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    document = pypdfium2.PdfDocument(pdf.data)
    pdf_text = document[0].get_textpage().get_text_range()
    assert by_month[10].number in pdf_text and "5,20" in pdf_text and "RNA W332000999" in pdf_text
    rows = list(csv.reader(io.StringIO(client.get(f"/pass/releves/{by_month[10].id}/releve.csv").get_data(as_text=True)),
                           delimiter=";"))
    assert ["part_aptic", "Total", "650", "130", "780"] in rows
    assert ["reglement", "Montant versé au lieu", "", "", "520"] in rows
    assert sum(1 for row in rows if row and row[0].isdigit()) == 1  # one delivery of two cheques
    # Another operator's statement does not exist for them.
    others = api.statements_for_month(session, date(2026, 8, 1))
    foreign = next(s for s in others if s.venue_id == stranger.id)
    for url in (f"/pass/releves/{foreign.id}", f"/pass/releves/{foreign.id}/releve.pdf",
                f"/pass/releves/{foreign.id}/releve.csv", "/pass/releves/99999999999"):
        assert client.get(url).status_code == 404


def test_staff_see_every_venue_and_filter(client, session, world, closed):
    _, stranger = closed
    aptic_staff(session)
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    html = client.get("/pass/releves").get_data(as_text=True)
    # Staff start from the last closed month, every venue.
    assert "Mois affiché : octobre 2026" in html and "2 relevés" in html
    assert "Centre social du Lac</td>" in html and "Médiathèque de Bordeaux</td>" in html
    filtered = client.get(f"/pass/releves?venue_id={stranger.id}").get_data(as_text=True)
    assert "3 relevés" in filtered and "Médiathèque de Bordeaux</td>" not in filtered
    assert "2 relevés" in client.get("/pass/releves?month=2026-09").get_data(as_text=True)
    bad = client.get("/pass/releves?month=septembre")
    assert bad.status_code in (400, 422) and "AAAA-MM" in bad.get_data(as_text=True)


def test_other_roles_do_not_reach_statements(client, session, world):
    user = directory_api.create_user(session, ACTOR, email="ccas@exemple.fr", full_name="Aiguilleur", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, world.distributor, Role.DISTRIBUTOR)
    session.commit()
    assert client.get("/pass/releves").status_code == 302
    sign_in(client, "ccas@exemple.fr")
    assert client.get("/pass/releves").status_code == 403


def test_the_statements_page_is_on_the_venue_and_staff_menus(app):
    for role in (Role.VENUE_STAFF, Role.APTIC_STAFF):
        assert "redemption.statements" in [entry.endpoint for entry in entries_for(role)]
