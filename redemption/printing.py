"""PDF documents of the pass: the booklets to print (reportlab); statements are in `invoices`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory.errors import Conflict
from redemption import codes as cheque_codes
from redemption.models import Booklet, Order

COLUMNS, ROWS = 2, 5


def euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", " ") + f",{rest:02d} €"


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def print_order(session: Session, order: Order, out: Path) -> int:
    """Write the order's booklets to `out`, one booklet from the top of a page, ten coupons a page.

    Each coupon carries the code as a Code 128 barcode (what the handheld scanner reads) and in
    clear, grouped for reading. Returns the number of pages.
    """
    if order.issued_at is None:
        raise Conflict(f"La commande n° {order.id} n'est pas encore émise : rien à imprimer.", code="order_not_issued")
    booklets = session.scalars(
        select(Booklet).where(Booklet.order_id == order.id).options(selectinload(Booklet.cheques)).order_by(Booklet.sequence)
    ).all()
    canvas = Canvas(str(out), pagesize=A4)
    canvas.setTitle(f"Pass numérique APTIC — commande n° {order.id}")
    canvas.setAuthor("APTIC")
    width, height = A4
    cell_w, cell_h = width / COLUMNS, height / ROWS
    pages = 0
    for booklet in booklets:
        for start in range(0, len(booklet.cheques), COLUMNS * ROWS):
            for index, cheque in enumerate(booklet.cheques[start : start + COLUMNS * ROWS]):
                col, row = index % COLUMNS, index // COLUMNS
                _coupon(canvas, order, booklet, cheque.position, cheque.code, col * cell_w, height - (row + 1) * cell_h,
                        cell_w, cell_h)
            canvas.showPage()
            pages += 1
    canvas.save()
    return pages


def _coupon(canvas: Canvas, order: Order, booklet: Booklet, position: int, code: str, x: float, y: float,
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
    canvas.drawString(left, top - 9 * mm, f"Carnet n° {booklet.number} — chèque {position}/{order.cheques_per_booklet}")
    canvas.drawString(left, top - 13 * mm,
                      f"Millésime {order.vintage} — valable jusqu'au {_day(order.expires_on)} dans un lieu qualifié APTIC")
    barcode = Code128(code, barHeight=14 * mm, barWidth=0.95, humanReadable=False, quiet=True)
    barcode.drawOn(canvas, x + (w - barcode.width) / 2, y + 11 * mm)
    canvas.setFont("Courier-Bold", 13)
    canvas.drawCentredString(x + w / 2, y + 5 * mm, cheque_codes.grouped(code))

