"""Printed booklets: the barcodes read back from the rendered pages are exactly the issued codes."""

import pypdfium2
from pyzbar import pyzbar

from redemption import api, codes, printing
from tests.builders import make_order


def test_printed_barcodes_decode_to_exactly_the_issued_codes(session, world, tmp_path):
    order = make_order(session, world.sponsor, booklets=2, cheques_per_booklet=12)
    out = tmp_path / "carnets.pdf"
    pages = printing.print_order(session, order, out)
    assert pages == 4  # 12 cheques: a full page of 10 and a second page, per booklet
    pdf = pypdfium2.PdfDocument(str(out))
    decoded, texts = [], []
    for index in range(len(pdf)):
        image = pdf[index].render(scale=4).to_pil()  # 288 dpi: at 144 dpi zbar misses some bars
        decoded += [symbol.data.decode() for symbol in pyzbar.decode(image) if symbol.type == "CODE128"]
        texts.append(pdf[index].get_textpage().get_text_range())
    issued = [row["code"] for row in api.order_codes(session, order)]
    assert sorted(decoded) == sorted(issued) and len(decoded) == 24
    text = "\n".join(texts)
    first = order.booklets[0]
    assert codes.grouped(first.cheques[0].code) in text
    assert f"Carnet n° {first.number}" in text and world.sponsor.name in text
    assert "10,00" in text and f"Millésime {order.vintage} — valable jusqu'au {order.expires_on:%d/%m/%Y}" in text
