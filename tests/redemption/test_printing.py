"""Printed booklets: a cover then the cheques, barcodes and QR codes read back from the rendered pages, streamed
in chunks into one valid PDF."""

from urllib.parse import urlsplit

import pypdfium2
import pytest
from pyzbar import pyzbar

from directory import french
from directory.errors import Conflict
from redemption import api, codes, covers, printing
from tests.builders import ACTOR, aptic_staff, make_order, make_venue, set_venue_point, sign_in

BASE = "https://carte.aptic.fr"


def _pages(path):
    """Per page: its text and the (type, data) of every symbol zbar finds at 288 dpi (at 144 dpi it misses bars)."""
    pdf = pypdfium2.PdfDocument(str(path))
    pages = []
    for index in range(len(pdf)):
        image = pdf[index].render(scale=4).to_pil()
        symbols = [(symbol.type, symbol.data.decode()) for symbol in pyzbar.decode(image)]
        pages.append((pdf[index].get_textpage().get_text_range(), symbols))
    return pages


def test_printed_barcodes_decode_to_exactly_the_issued_codes(session, world, tmp_path):
    order = make_order(session, world.sponsor, booklets=2, cheques_per_booklet=12)
    out = tmp_path / "carnets.pdf"
    pages = printing.print_order(session, order, out, BASE)
    assert pages == 6  # per booklet: its cover, a full page of 10 cheques and a second page
    read = _pages(out)
    assert len(read) == 6
    decoded = [data for _text, symbols in read for kind, data in symbols if kind == "CODE128"]
    issued = [row["code"] for row in api.order_codes(session, order)]
    assert sorted(decoded) == sorted(issued) and len(decoded) == 24
    text = "\n".join(text for text, _symbols in read)
    first = order.booklets[0]
    assert codes.grouped(first.cheques[0].code) in text
    assert f"Carnet n° {first.number}" in text and world.sponsor.name in text
    assert "10,00" in text and f"Millésime {order.vintage} — valable jusqu'au {order.expires_on:%d/%m/%Y}" in text


def test_each_booklet_starts_with_its_cover_then_its_cheques(session, world, tmp_path):
    order = make_order(session, world.sponsor, booklets=2)
    out = tmp_path / "carnets.pdf"
    assert printing.print_order(session, order, out, BASE) == 4
    read = _pages(out)
    for index, booklet in enumerate(order.booklets):
        cover_text, cover_symbols = read[2 * index]
        cheques_text, cheque_symbols = read[2 * index + 1]
        # The cover: the booklet's number, no cheque; then one page with its ten cheques.
        assert f"Carnet n° {booklet.number}" in cover_text and "Comment ça marche" in cover_text
        assert [kind for kind, _data in cover_symbols] == ["QRCODE"]
        assert sorted(data for kind, data in cheque_symbols if kind == "CODE128") == sorted(
            cheque.code for cheque in booklet.cheques)
        assert "Comment ça marche" not in cheques_text and f"Carnet n° {booklet.number} — chèque 10/10" in cheques_text


def test_the_cover_explains_the_pass_where_and_until_when(session, world, tmp_path):
    order = make_order(session, world.sponsor, booklets=1)
    out = tmp_path / "carnets.pdf"
    printing.print_order(session, order, out, BASE)
    text, symbols = _pages(out)[0]
    flat = " ".join(text.split())  # wrapped lines joined
    assert "Pass numérique APTIC" in flat and f"Offert par {world.sponsor.name}" in flat
    assert "10 chèques de 10,00" in flat
    assert "deux chèques au plus pour un même service" in flat
    assert "Gironde (département)" in flat and "sur ce territoire" in flat
    assert f"Millésime {order.vintage} : chèques valables jusqu'au" in flat
    assert f"jusqu'au {french.long_date(order.expires_on)} inclus" in flat
    assert "Cachet de la structure qui vous remet ce carnet" in flat and "Remis le" in flat
    assert symbols == [("QRCODE", f"{BASE}/embed?territoire=33&niveau=departement&accepte_pass=1")]


def test_one_qr_code_per_territory_of_the_order(session, world, tmp_path):
    order = make_order(session, world.sponsor, booklets=1, territories=["departement:33", "commune:69123"])
    out = tmp_path / "carnets.pdf"
    printing.print_order(session, order, out, BASE)
    text, symbols = _pages(out)[0]
    assert sorted(data for kind, data in symbols if kind == "QRCODE") == [
        f"{BASE}/embed?territoire=33&niveau=departement&accepte_pass=1",
        f"{BASE}/embed?territoire=69123&niveau=commune&accepte_pass=1",
    ]
    assert "Lyon (commune)" in " ".join(text.split()) and "ces territoires" in " ".join(text.split())


def test_an_order_over_many_territories_gets_one_qr_code_to_the_territories_index(session, world):
    territories = ["departement:33", "departement:24", "departement:40", "departement:47", "departement:64"]
    order = make_order(session, world.sponsor, booklets=1, territories=territories)
    cover = covers.cover_of(session, order, BASE)
    assert len(cover.places) == 5 and [code.url for code in cover.codes] == [f"{BASE}/territoires"]


def test_a_multi_chunk_order_streams_into_one_valid_pdf(session, world, tmp_path):
    order = make_order(session, world.sponsor, booklets=7, cheques_per_booklet=3)
    pieces = list(printing.order_pdf(session, order, BASE, chunk_booklets=2))
    assert len(pieces) == 1 + 4 + 1  # header, four chunks (2, 2, 2, 1 booklets), page tree and cross-references
    out = tmp_path / "carnets.pdf"
    out.write_bytes(b"".join(pieces))
    pdf = pypdfium2.PdfDocument(str(out))
    assert len(pdf) == 14 == printing.page_count(order)
    numbers = [booklet.number for booklet in order.booklets]
    for index, number in enumerate(numbers):
        assert f"Carnet n° {number}" in pdf[2 * index].get_textpage().get_text_range()
        assert f"Carnet n° {number} — chèque 3/3" in pdf[2 * index + 1].get_textpage().get_text_range()
    assert pdf.get_metadata_dict()["Title"] == f"Pass numérique APTIC — commande n° {order.id}"
    last = pdf[13].render(scale=4).to_pil()
    assert sorted(s.data.decode() for s in pyzbar.decode(last)) == sorted(c.code for c in order.booklets[6].cheques)


def test_the_qr_code_leads_to_the_venues_accepting_the_pass_in_the_territory(app, session, world):
    lapsed = make_venue(session, world.operator, "Espace public de Pessac", "33318", "33600", "Pessac", ["premiers-pas"])
    france_services = make_venue(session, world.operator, "France Services de Blanquefort", "33056", "33290",
                                 "Blanquefort", ["premiers-pas"])
    for venue in (world.venue, world.other_venue, world.far_venue, lapsed, france_services):
        venue.published, venue.accepts_pass = True, True
    lapsed.accepts_pass = False
    france_services.distribution_only = True
    session.flush()
    order = make_order(session, world.sponsor, booklets=1)
    (code,) = covers.cover_of(session, order, BASE).codes
    url = urlsplit(code.url)
    page = app.test_client().get(f"{url.path}?{url.query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lieux qui acceptent le pass numérique APTIC : Gironde" in html
    assert world.venue.nom in html and world.other_venue.nom in html
    for absent in (world.far_venue, lapsed, france_services, world.candidate_venue):
        assert absent.nom not in html
    # The map's markers follow the same filter: the page asks for them with accepte_pass=1.
    assert "accepte_pass=1" in html
    for index, venue in enumerate((world.venue, world.other_venue, lapsed, france_services)):
        set_venue_point(session, venue, -0.58 + index / 100, 44.84)
    markers = app.test_client().get("/api/v1/map/venues?bbox=-2,44,0,46&accepte_pass=1").get_json()
    assert {f["properties"]["nom"] for f in markers["features"]} == {world.venue.nom, world.other_venue.nom}
    # Without the filter, the territory's map lists every published venue, as before.
    assert lapsed.nom in app.test_client().get("/embed?territoire=33&niveau=departement").get_data(as_text=True)


def test_staff_download_the_booklets_as_a_streamed_pdf(app, session, world):
    aptic_staff(session)
    order = make_order(session, world.sponsor, booklets=3)
    client = app.test_client()
    sign_in(client, "equipe@aptic-exemple.fr")
    report = client.get(f"/pass/commandes/{order.id}").get_data(as_text=True)
    assert f"/pass/commandes/{order.id}/carnets.pdf" in report
    response = client.get(f"/pass/commandes/{order.id}/carnets.pdf")
    assert response.status_code == 200 and response.is_streamed and response.mimetype == "application/pdf"
    body = response.get_data()
    assert len(pypdfium2.PdfDocument(body)) == 6
    # Without APTIC_PUBLIC_URL the QR codes point to the app's SERVER_NAME, never to the request's Host.
    image = pypdfium2.PdfDocument(body)[0].render(scale=4).to_pil()
    assert [s.data.decode() for s in pyzbar.decode(image)] == [
        "http://aptic.test/embed?territoire=33&niveau=departement&accepte_pass=1"]


def test_an_order_not_issued_is_not_printed_and_a_printed_url_is_absolute(session, world, tmp_path):
    draft = api.create_order(session, ACTOR, world.sponsor, booklets=1, territories=["departement:33"],
                             minimum_exception="test")
    with pytest.raises(Conflict) as refused:
        printing.print_order(session, draft, tmp_path / "x.pdf", BASE)
    assert refused.value.code == "order_not_issued" and not (tmp_path / "x.pdf").exists()
    with pytest.raises(Conflict) as missing:
        covers.public_base_url({"PUBLIC_URL": "", "SERVER_NAME": None})
    assert missing.value.code == "public_url_missing" and "APTIC_PUBLIC_URL" in missing.value.message
    assert covers.public_base_url({"PUBLIC_URL": "https://carte.aptic.fr/", "SERVER_NAME": "other"}) == BASE
