"""Statements as French invoices for APTIC's part: commission and monthly fee excluding tax, VAT, including tax.

The 4 % commission and the 7 € monthly fee are amounts including VAT (the scheme's figures are what
the venue pays): the amount excluding tax is taken back from them, rounded half up to the cent, and
VAT is the difference, so the lines always add up to what the statement keeps. The cheques reimbursed
are not APTIC's turnover: they are shown apart, at face value.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from directory import french
from directory.csv_files import SafeWriter
from redemption.fees import round_half_up
from redemption.models import Booklet, Redemption, Statement


@dataclass(frozen=True)
class Issuer:
    """APTIC's legal identity on its invoices (settings ISSUER_NAME, ISSUER_SIRET, ISSUER_ADDRESS)."""

    name: str
    siret: str
    address: str

    @classmethod
    def from_config(cls, config: Any) -> Issuer:
        return cls(config["ISSUER_NAME"], config["ISSUER_SIRET"], config["ISSUER_ADDRESS"])


def excluding_tax(including_cents: int, vat_rate_bp: int) -> int:
    return round_half_up(including_cents * 10_000, 10_000 + vat_rate_bp)


def invoice(statement: Statement, issuer: Issuer) -> dict[str, Any]:
    """The figures of a statement as an invoice: APTIC's lines HT / TVA / TTC, the cheques apart, both parties."""
    rate = statement.vat_rate_bp
    lines = []
    for label, including in ((f"Commission APTIC ({french.percent(statement.commission_rate_bp / 10_000, 2)} "
                              f"de {french.euros(statement.gross_cents)})", statement.commission_cents),
                             ("Forfait mensuel (gestion et douchette)", statement.fee_cents)):
        excluding = excluding_tax(including, rate)
        lines.append({"label": label, "excluding_tax_cents": excluding, "vat_cents": including - excluding,
                      "including_tax_cents": including})
    total_excluding = sum(line["excluding_tax_cents"] for line in lines)
    total_including = statement.commission_cents + statement.fee_cents
    venue = statement.venue
    organisation = venue.organisation
    return {
        "number": statement.number,
        "month": statement.month,
        "closed_at": statement.closed_at,
        "issuer": {"name": issuer.name, "siret": issuer.siret, "address": issuer.address},
        "customer": {
            "name": organisation.name if organisation else venue.nom,
            "siret": organisation.siret if organisation else None,
            "rna": organisation.rna if organisation else None,
            "venue": venue.nom, "address": f"{venue.adresse}, {venue.code_postal} {venue.commune}",
        },
        "vat_rate_bp": rate,
        "lines": lines,
        "total_excluding_tax_cents": total_excluding,
        "total_vat_cents": total_including - total_excluding,
        "total_including_tax_cents": total_including,
        "cheques": statement.cheque_count,
        "cheques_cents": statement.gross_cents,
        "net_cents": statement.net_cents,
        "carried_in_cents": statement.carried_in_cents,
        "carried_out_cents": statement.carried_out_cents,
        "paid_cents": statement.paid_cents,
        "due_cents": statement.due_cents,
        "final": statement.final,
    }


def statement_redemptions(session: Session, statement: Statement) -> list[Redemption]:
    """The deliveries behind a statement, oldest first."""
    return list(session.scalars(
        select(Redemption).where(Redemption.statement_id == statement.id)
        .options(joinedload(Redemption.service), joinedload(Redemption.booklet).joinedload(Booklet.order))
        .order_by(Redemption.created_at, Redemption.id)
    ).unique())


def _settlement_lines(document: dict[str, Any]) -> list[tuple[str, int]]:
    rows = [(f"Chèques remboursés ({french.count(document['cheques'], 'chèque')}), valeur faciale",
             document["cheques_cents"]),
            ("Part APTIC TTC retenue", -document["total_including_tax_cents"])]
    if document["carried_in_cents"]:
        rows.append(("Solde reporté du relevé précédent", -document["carried_in_cents"]))
    return rows


def settlement_label(document: dict[str, Any]) -> tuple[str, int]:
    """What the statement comes to: paid to the venue, carried to the next statement, or due to APTIC."""
    if document["due_cents"]:
        return "Montant dû à APTIC (relevé final)", document["due_cents"]
    if document["carried_out_cents"]:
        return "Solde reporté sur le relevé suivant", document["carried_out_cents"]
    return "Montant versé au lieu", document["paid_cents"]


def statement_csv(session: Session, statement: Statement, issuer: Issuer) -> str:
    """One statement: the invoice figures, then one row per delivery behind it."""
    document = invoice(statement, issuer)
    out = io.StringIO()
    writer = SafeWriter(out, delimiter=";")
    writer.writerow(["rubrique", "libelle", "montant_ht_centimes", "tva_centimes", "montant_ttc_centimes"])
    writer.writerow(["emetteur", f"{issuer.name} — SIRET {issuer.siret}", "", "", ""])
    customer = document["customer"]
    writer.writerow(["client", f"{customer['name']} — {_identifiers(customer)}", "", "", ""])
    for line in document["lines"]:
        writer.writerow(["part_aptic", line["label"], line["excluding_tax_cents"], line["vat_cents"],
                         line["including_tax_cents"]])
    writer.writerow(["part_aptic", "Total", document["total_excluding_tax_cents"], document["total_vat_cents"],
                     document["total_including_tax_cents"]])
    for label, amount in _settlement_lines(document) + [settlement_label(document)]:
        writer.writerow(["reglement", label, "", "", amount])
    writer.writerow([])
    writer.writerow(["encaissement", "date", "service", "carnet", "millesime", "cheques", "montant_centimes"])
    for redemption in statement_redemptions(session, statement):
        writer.writerow([redemption.id, french.paris_time(redemption.created_at), redemption.service.label,
                         redemption.booklet.number, redemption.booklet.order.vintage, redemption.cheque_count,
                         redemption.amount_cents])
    return out.getvalue()


def _identifiers(party: dict[str, Any]) -> str:
    parts = [f"SIRET {party['siret']}" if party.get("siret") else "", f"RNA {party['rna']}" if party.get("rna") else ""]
    return " — ".join(part for part in parts if part) or "identifiant légal non renseigné"


def statements_pdf(statements: list[Statement], issuer: Issuer, out: Path | io.BytesIO) -> int:
    """One page per statement, laid out as an invoice for APTIC's part."""
    canvas = Canvas(out if isinstance(out, io.BytesIO) else str(out), pagesize=A4)
    canvas.setTitle("Relevés de remboursement APTIC")
    canvas.setAuthor(issuer.name)
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    for statement in statements:
        document = invoice(statement, issuer)
        customer = document["customer"]
        y = height - 22 * mm
        canvas.setFont("Helvetica-Bold", 15)
        canvas.drawString(left, y, f"Relevé et facture n° {document['number']}")
        canvas.setFont("Helvetica", 10)
        y -= 7 * mm
        canvas.drawString(left, y, f"Période : {french.month_year(document['month'])} — émis le {french.short_date(document['closed_at'])}"
                                   + (" — relevé final" if document["final"] else ""))
        y -= 10 * mm
        for title, lines, x in (
            ("Émetteur", [issuer.name, f"SIRET {issuer.siret}", issuer.address], left),
            ("Client", [customer["name"], _identifiers(customer), customer["venue"], customer["address"]],
             width / 2 + 5 * mm),
        ):
            canvas.setFont("Helvetica-Bold", 10)
            canvas.drawString(x, y, title)
            canvas.setFont("Helvetica", 9)
            for index, line in enumerate(lines):
                canvas.drawString(x, y - (index + 1) * 4.5 * mm, line[:60])
        y -= 28 * mm
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(left, y, f"Part APTIC (TVA {french.percent(document['vat_rate_bp'] / 10_000, 0)})")
        for x, header in ((right - 60 * mm, "HT"), (right - 30 * mm, "TVA"), (right, "TTC")):
            canvas.drawRightString(x, y, header)
        canvas.setFont("Helvetica", 9)
        rows = [(line["label"], line["excluding_tax_cents"], line["vat_cents"], line["including_tax_cents"])
                for line in document["lines"]]
        rows.append(("Total", document["total_excluding_tax_cents"], document["total_vat_cents"],
                     document["total_including_tax_cents"]))
        for label, excluding, vat, including in rows:
            y -= 6 * mm
            canvas.setFont("Helvetica-Bold" if label == "Total" else "Helvetica", 9)
            canvas.drawString(left, y, label)
            for x, amount in ((right - 60 * mm, excluding), (right - 30 * mm, vat), (right, including)):
                canvas.drawRightString(x, y, french.euros(amount))
        y -= 12 * mm
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(left, y, "Règlement")
        canvas.setFont("Helvetica", 9)
        for label, amount in _settlement_lines(document):
            y -= 6 * mm
            canvas.drawString(left, y, label)
            canvas.drawRightString(right, y, french.euros(amount))
        canvas.line(left, y - 3 * mm, right, y - 3 * mm)
        label, amount = settlement_label(document)
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(left, y - 9 * mm, label)
        canvas.drawRightString(right, y - 9 * mm, french.euros(amount))
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(left, 15 * mm, "Les chèques remboursés ne sont pas soumis à TVA : ils sont la contrepartie "
                                         "des prestations rendues aux bénéficiaires.")
        canvas.showPage()
    canvas.save()
    return len(statements)

