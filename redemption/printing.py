"""PDF documents of the pass: the booklets to print (reportlab); statements are in `invoices`.

Each booklet starts on a new page with its cover (`covers`), then its cheques, ten coupons a page.
The document is produced in chunks of `CHUNK_BOOKLETS` booklets: each chunk is read from the database
as plain rows, rendered by reportlab and handed to `PdfStream`, which copies it out at once; memory
holds one chunk whatever the size of the order.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.errors import Conflict
from redemption import codes as cheque_codes
from redemption.covers import Cover, cover_of, draw_cover, draw_cover_form
from redemption.models import Booklet, Cheque, Order
from redemption.pdfstream import PdfStream

COLUMNS, ROWS = 2, 5
CHUNK_BOOKLETS = 100


def euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", " ") + f",{rest:02d} €"


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def pages_per_booklet(order: Order) -> int:
    return 1 + math.ceil(order.cheques_per_booklet / (COLUMNS * ROWS))


def page_count(order: Order) -> int:
    return order.booklet_count * pages_per_booklet(order)


def check_printable(order: Order) -> None:
    if order.issued_at is None:
        raise Conflict(f"La commande n° {order.id} n'est pas encore émise : rien à imprimer.", code="order_not_issued")


def order_pdf(session: Session, order: Order, base_url: str, chunk_booklets: int = CHUNK_BOOKLETS) -> Iterator[bytes]:
    """The order's booklets as a PDF, piece by piece (write or send each piece as it comes).

    `base_url` is the site's public address, for the covers' QR codes (`covers.public_base_url`).
    """
    check_printable(order)
    cover = cover_of(session, order, base_url)
    stream = PdfStream(f"Pass numérique APTIC — commande n° {order.id}", "APTIC")
    yield stream.begin()
    after = 0
    while True:
        booklets = session.execute(
            select(Booklet.id, Booklet.sequence, Booklet.number)
            .where(Booklet.order_id == order.id, Booklet.sequence > after)
            .order_by(Booklet.sequence).limit(chunk_booklets)
        ).all()
        if not booklets:
            break
        after = booklets[-1].sequence
        cheques: dict[int, list[tuple[int, str]]] = {booklet.id: [] for booklet in booklets}
        for booklet_id, position, code in session.execute(
            select(Cheque.booklet_id, Cheque.position, Cheque.code)
            .where(Cheque.booklet_id.in_(list(cheques))).order_by(Cheque.booklet_id, Cheque.position)
        ):
            cheques[booklet_id].append((position, code))
        yield stream.add(_chunk(order, cover, [(b.number, cheques[b.id]) for b in booklets]))
    yield stream.end()


def print_order(session: Session, order: Order, out: Path, base_url: str) -> int:
    """Write the order's booklets to `out` as they are rendered; returns the number of pages."""
    check_printable(order)
    with open(out, "wb") as file:
        for piece in order_pdf(session, order, base_url):
            file.write(piece)
    return page_count(order)


def _chunk(order: Order, cover: Cover, booklets: list[tuple[str, list[tuple[int, str]]]]) -> bytes:
    """A few booklets, cover then coupons, as a PDF of their own (reportlab, compressed pages)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    draw_cover_form(canvas, cover)
    width, height = A4
    cell_w, cell_h = width / COLUMNS, height / ROWS
    for number, cheques in booklets:
        draw_cover(canvas, number)
        canvas.showPage()
        for start in range(0, len(cheques), COLUMNS * ROWS):
            for index, (position, code) in enumerate(cheques[start : start + COLUMNS * ROWS]):
                col, row = index % COLUMNS, index // COLUMNS
                _coupon(canvas, order, number, position, code, col * cell_w, height - (row + 1) * cell_h,
                        cell_w, cell_h)
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _coupon(canvas: Canvas, order: Order, booklet_number: str, position: int, code: str, x: float, y: float,
            w: float, h: float) -> None:
    canvas.setDash(3, 3)
    canvas.setStrokeGray(0.6)
    canvas.rect(x, y, w, h)
    canvas.setDash()
    canvas.setStrokeGray(0)
    left, top = x + 8 * mm, y + h - 9 * mm
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(left, top, "#APTIC — pass numérique")
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawRightString(x + w - 8 * mm, top, euros(order.cheque_value_cents))
    canvas.setFont("Helvetica", 8)
    canvas.drawString(left, top - 5 * mm, f"Offert par {order.sponsor.name}"[:70])
    canvas.drawString(left, top - 9 * mm, f"Carnet n° {booklet_number} — chèque {position}/{order.cheques_per_booklet}")
    canvas.drawString(left, top - 13 * mm,
                      f"Millésime {order.vintage} — valable jusqu'au {_day(order.expires_on)} dans un lieu qualifié APTIC")
    barcode = Code128(code, barHeight=14 * mm, barWidth=0.95, humanReadable=False, quiet=True)
    barcode.drawOn(canvas, x + (w - barcode.width) / 2, y + 11 * mm)
    canvas.setFont("Courier-Bold", 13)
    canvas.drawCentredString(x + w / 2, y + 5 * mm, cheque_codes.grouped(code))
