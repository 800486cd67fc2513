"""The cover of a printed booklet: what the beneficiary needs to use the pass, on the booklet's first page.

How the pass works in plain French, where its cheques are valid, its vintage and last day, the
two-cheques-per-service rule, a QR code to the public map of the venues that accept the pass in each
territory of the order, and a box for the distributor's stamp.

Everything but the booklet's number is the same for every booklet of an order: it is drawn once per
chunk of pages as a PDF form (`draw_cover_form`) that each cover page reuses (`draw_cover`), so a
cover costs a few bytes and no QR encoding per booklet.

QR codes: reportlab's own encoder (`reportlab.graphics.barcode.qrencoder`, the engine of its
`QrCodeWidget`) rather than segno. reportlab is already the PDF library of the project (one
maintained dependency instead of two), and either way we get a module matrix to draw as vector
rectangles, sharp at any print resolution. Each URL is encoded once per order, and drawn as one
filled path of horizontal runs (the widget's own drawing, through reportlab's graphics renderer,
took 0.6 s per chunk). Error correction level M (15 %): enough for a page that gets folded and stamped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from reportlab.graphics.barcode import qrencoder
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory import french
from directory.errors import Conflict
from redemption.models import Order

# The public map of one territory (maps' /embed page), listing only the venues where the pass is
# accepted. A URL, not an import: redemption sits below maps (tests/redemption/test_printing.py
# follows the printed URL on the running app).
MAP_PATH = "/embed"
MAP_ALL_TERRITORIES_PATH = "/territoires"
MAX_QR_CODES = 4  # an order over more territories gets one code to the territories' index
COVER_FORM = "aptic_cover"
QR_QUIET_ZONE = 4  # modules of white around the symbol, as the standard asks
LEVEL_LABELS = {"region": "région", "departement": "département", "epci": "intercommunalité", "commune": "commune"}
TWO_CHEQUES_RULE = "deux chèques au plus pour un même service"


@dataclass(frozen=True)
class QrModules:
    count: int  # modules per side
    runs: tuple[tuple[int, int, int], ...]  # (row, first column, length) of each dark run, rows from the top


@dataclass(frozen=True)
class Place:
    label: str  # "Gironde (département)"
    url: str  # the public map of its venues accepting the pass
    qr: QrModules | None = None  # for the places that get a QR code


@dataclass(frozen=True)
class Cover:
    sponsor: str
    cheque_count: int
    cheque_value_cents: int
    vintage: int
    expires_on_text: str  # "31 janvier 2027"
    places: list[Place]
    # Where the QR codes lead: one per place, or one to the territories' index for a wide order.
    codes: list[Place]


def public_base_url(config: Mapping[str, Any]) -> str:
    """The site's public address for printed links: APTIC_PUBLIC_URL, else the app's SERVER_NAME; never the
    address a request came to (a forged Host header would end up on thousands of printed booklets)."""
    base = (config.get("PUBLIC_URL") or "").strip()
    if not base and config.get("SERVER_NAME"):
        base = f"{config.get('PREFERRED_URL_SCHEME') or 'https'}://{config['SERVER_NAME']}"
    if not base.startswith(("https://", "http://")):
        raise Conflict(
            "Indiquez l'adresse publique du site (APTIC_PUBLIC_URL, par exemple https://carte.aptic.fr) : "
            "le QR code imprimé sur chaque carnet y renvoie.", field="APTIC_PUBLIC_URL", code="public_url_missing")
    return base.rstrip("/")


def map_url(base_url: str, level: str, code: str) -> str:
    """The public map of the venues that accept the pass in one territory."""
    return f"{base_url}{MAP_PATH}?" + urlencode({"territoire": code, "niveau": level, "accepte_pass": 1})


def cover_of(session: Session, order: Order, base_url: str) -> Cover:
    places = []
    for entry in order.territories:
        territory = directory_api.territory_by_code(session, entry["level"], entry["code"])
        places.append(Place(f"{territory.name} ({LEVEL_LABELS.get(entry['level'], entry['level'])})",
                            map_url(base_url, entry["level"], entry["code"])))
    targets = places if len(places) <= MAX_QR_CODES else [
        Place("Tous les territoires", base_url + MAP_ALL_TERRITORIES_PATH)]
    codes = [Place(place.label, place.url, qr_modules(place.url)) for place in targets]
    return Cover(
        sponsor=order.sponsor.name, cheque_count=order.cheques_per_booklet,
        cheque_value_cents=order.cheque_value_cents, vintage=order.vintage,
        expires_on_text=french.long_date(order.expires_on), places=places, codes=codes,
    )


def steps() -> list[str]:
    """How the pass works, in the beneficiary's words."""
    return [
        "Ce carnet est à vous seul : la structure dont le cachet figure en bas de cette page vous l'a remis. "
        "Une personne reçoit un seul carnet par millésime.",
        "Allez dans un lieu qualifié APTIC : scannez le QR code pour voir sur la carte les lieux qui acceptent "
        "le pass près de chez vous. Un médiateur numérique vous accompagne : démarches en ligne, ordinateur, "
        "smartphone, courriels…",
        "Après l'accompagnement, le lieu détache et scanne un ou deux chèques. "
        f"Règle à retenir : {TWO_CHEQUES_RULE}. Au-delà, le lieu peut vous proposer de continuer "
        "gratuitement (atelier, jeu en groupe).",
        "Chaque chèque a un numéro unique ; vos accompagnements sont suivis de façon anonyme. "
        "Si un service coûte plus que vos chèques, le complément peut rester à votre charge : "
        "demandez-le au lieu avant.",
    ]


def _paragraph(canvas: Canvas, text: str, x: float, y: float, width: float, font: str = "Helvetica",
               size: float = 11, leading: float = 14) -> float:
    """Draw `text` wrapped to `width` from the baseline `y` down; returns the baseline after it."""
    canvas.setFont(font, size)
    for line in simpleSplit(text, font, size, width):
        canvas.drawString(x, y, line)
        y -= leading
    return y


def qr_modules(url: str) -> QrModules:
    """The QR code of `url` (error correction M) as its size in modules and its dark horizontal runs."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(url)
    qr.make()
    runs = []
    for row, cells in enumerate(qr.modules):
        column = 0
        for dark, group in groupby(bool(cell) for cell in cells):
            length = len(list(group))
            if dark:
                runs.append((row, column, length))
            column += length
    return QrModules(qr.getModuleCount(), tuple(runs))


def _qr(canvas: Canvas, modules: QrModules, x: float, y: float, size: float) -> None:
    """Draw the symbol in a `size` square whose lower left corner is (x, y), with its 4-module quiet zone."""
    box = size / (modules.count + 2 * QR_QUIET_ZONE)
    path = canvas.beginPath()
    for row, column, length in modules.runs:
        path.rect(x + (column + QR_QUIET_ZONE) * box, y + size - (row + QR_QUIET_ZONE + 1) * box, length * box, box)
    canvas.drawPath(path, stroke=0, fill=1)


def draw_cover_form(canvas: Canvas, cover: Cover) -> None:
    """The cover's parts shared by every booklet of the order, as the PDF form `COVER_FORM` of this canvas."""
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    text_width = right - left
    canvas.beginForm(COVER_FORM)
    canvas.setFillColorRGB(0, 0, 0.57)
    canvas.rect(0, height - 38 * mm, width, 38 * mm, stroke=0, fill=1)
    canvas.setFillGray(1)
    canvas.setFont("Helvetica-Bold", 26)
    canvas.drawString(left, height - 20 * mm, "Pass numérique APTIC")
    canvas.setFont("Helvetica", 12)
    canvas.drawString(left, height - 29 * mm,
                      f"{french.count(cover.cheque_count, 'chèque')} de {french.euros(cover.cheque_value_cents)} "
                      f"pour vous faire accompagner dans le numérique"[:95])
    canvas.setFillGray(0)
    y = _paragraph(canvas, f"Offert par {cover.sponsor}", left, height - 48 * mm, text_width, "Helvetica-Bold", 12)

    y -= 4 * mm
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawString(left, y, "Comment ça marche ?")
    y -= 7 * mm
    for number, step in enumerate(steps(), start=1):
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(left, y, f"{number}.")
        y = _paragraph(canvas, step, left + 7 * mm, y, text_width - 7 * mm) - 2 * mm

    y -= 3 * mm
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawString(left, y, "Où utiliser vos chèques ?")
    y -= 7 * mm
    y = _paragraph(canvas, "Dans les lieux qualifiés APTIC qui acceptent le pass, sur "
                   + french.plural(len(cover.places), "ce territoire", "ces territoires") + " : "
                   + ", ".join(place.label for place in cover.places) + ".", left, y, text_width)

    y -= 3 * mm
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawString(left, y, "Jusqu'à quand ?")
    y -= 7 * mm
    y = _paragraph(canvas, f"Millésime {cover.vintage} : chèques valables jusqu'au {cover.expires_on_text} inclus. "
                   "Après cette date, un lieu ne peut plus les accepter.", left, y, text_width)

    # The QR codes, side by side, each with the territory it shows.
    size = 38 * mm if len(cover.codes) <= 2 else 30 * mm
    gap = (text_width - size * len(cover.codes)) / max(len(cover.codes), 1)
    top = y - 6 * mm
    for index, place in enumerate(cover.codes):
        x = left + gap / 2 + index * (size + gap)
        _qr(canvas, place.qr, x, top - size, size)
        canvas.setFont("Helvetica", 8)
        for row, line in enumerate(simpleSplit(place.label, "Helvetica", 8, size + gap - 4 * mm)[:2]):
            canvas.drawCentredString(x + size / 2, top - size - (4 + 3.5 * row) * mm, line)
    canvas.setFont("Helvetica-Oblique", 9)
    canvas.drawString(left, top - size - 13 * mm,
                      "Scannez un QR code avec l'appareil photo de votre téléphone pour voir la carte des lieux.")

    # The distributor's stamp.
    box_h = 45 * mm
    canvas.setStrokeGray(0.3)
    canvas.rect(left, 15 * mm, text_width, box_h)
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(left + 4 * mm, 15 * mm + box_h - 6 * mm, "Cachet de la structure qui vous remet ce carnet")
    canvas.setFont("Helvetica", 10)
    canvas.drawString(left + 4 * mm, 20 * mm, "Remis le : ____ / ____ / ________")
    canvas.endForm()


def draw_cover(canvas: Canvas, booklet_number: str) -> None:
    """One booklet's cover page: the order's form and the booklet's own number."""
    width, height = A4
    canvas.doForm(COVER_FORM)
    canvas.setFillGray(1)
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawRightString(width - 20 * mm, height - 20 * mm, f"Carnet n° {booklet_number}")
    canvas.setFillGray(0)
