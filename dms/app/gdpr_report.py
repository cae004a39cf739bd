"""The GDPR Art. 15 report (dms.app.gdpr.report) as PDF, with reportlab (German, A4 landscape).

Sections: master data, erasure state, documents (class, dates, source, retention), mail history,
accesses from the audit trail. Table cells are plain text wrapped to the column width by us (a
Paragraph per cell made a report of 1,000 documents take ~40 s; this takes a few), and long tables
are split into blocks of `BLOCK` rows, which keeps reportlab's page splitting linear.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from retention.policy import BERLIN

BLOCK = 60  # rows per table block
_STYLES = getSampleStyleSheet()
FONT, FONT_BOLD, FONT_SIZE, LEADING, PADDING = "Helvetica", "Helvetica-Bold", 7, 8.5, 2
BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=11)
H1, H2 = _STYLES["Heading1"], _STYLES["Heading2"]
GRID = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE, LEADING),
    ("FONT", (0, 0), (-1, 0), FONT_BOLD, FONT_SIZE, LEADING),
    ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
])


def _time(value: str | None) -> str:
    """An ISO time in German time (`02.12.2026 14:05`); dates as `02.12.2026`; empty: –."""
    if not value:
        return "–"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) == 10:
        return parsed.strftime("%d.%m.%Y")
    return parsed.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M:%S")


def _cell(value: Any, width: float, font: str = FONT) -> str:
    """The value as text, wrapped to `width` points (words longer than the column are cut into pieces)."""
    text = "–" if value in (None, "", []) else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    room = width - 2 * PADDING
    lines: list[str] = []
    for line in simpleSplit(text, font, FONT_SIZE, room) or [""]:
        while len(line) > 1 and stringWidth(line, font, FONT_SIZE) > room:
            cut = len(line) - 1
            while cut > 1 and stringWidth(line[:cut], font, FONT_SIZE) > room:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return "\n".join(lines)


def _table(header: list[str], rows: Iterable[list[Any]], widths: list[float]) -> list[Flowable]:
    """Blocks of at most BLOCK rows, each with the header."""
    points = [w * mm for w in widths]
    out: list[Flowable] = []
    block: list[list[str]] = []
    for row in rows:
        block.append([_cell(v, w) for v, w in zip(row, points, strict=True)])
        if len(block) == BLOCK:
            out.append(_block(header, block, points))
            block = []
    if block or not out:
        out.append(_block(header, block or [["keine"] + [""] * (len(header) - 1)], points))
    return out


def _block(header: list[str], rows: list[list[str]], points: list[float]) -> Table:
    head = [_cell(h, w, FONT_BOLD) for h, w in zip(header, points, strict=True)]
    table = Table([head, *rows], colWidths=points, repeatRows=1)
    table.setStyle(GRID)
    return table


def _retention(document: dict[str, Any]) -> str:
    parts = []
    policy = document.get("retention_policy")
    if policy:
        parts.append(", ".join(f"{k}={v}" for k, v in sorted(policy.items()) if v is not None))
    if document.get("retained_until"):
        parts.append("aufzubewahren bis " + _time(document["retained_until"]))
    if document.get("archived_until"):
        parts.append("archiviert bis " + _time(document["archived_until"]))
    if document.get("legal_hold"):
        parts.append("Legal Hold")
    if document.get("restricted"):
        parts.append("eingeschränkt (Art. 18/17 DSGVO)")
    if document.get("trashed_at"):
        parts.append("im Papierkorb seit " + _time(document["trashed_at"]))
    return "; ".join(parts) or "keine Aufbewahrungspflicht"


MASTER_LABELS = {  # the master data of issue 14, in the report's order
    "salutation": "Anrede", "title": "Titel", "first_name": "Vorname", "last_name": "Nachname",
    "birth_date": "Geburtsdatum", "legal_form": "Rechtsform", "register_court": "Registergericht",
    "register_number": "Registernummer", "vat_id": "USt-IdNr.", "external_number": "Externe Nummer",
    "branch": "Filiale", "groups": "Gruppen", "addresses": "Anschriften", "contacts": "Ansprechpartner",
    "bank_accounts": "Bankverbindungen", "consents": "Einwilligungen", "communication": "Kommunikation",
    "attributes": "Eigene Felder",
}


def _value(value: Any) -> str:
    """A master data value as text: lists one item per line, objects as `key: value` pairs."""
    if isinstance(value, list):
        return "\n".join(_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    return str(value)


def render_pdf(data: dict[str, Any]) -> bytes:
    """The report `data` (dms.app.gdpr.report) as PDF bytes."""
    customer = data["customer"]
    story: list[Flowable] = [
        Paragraph(escape(f"Auskunft nach Art. 15 DSGVO – Kunde {customer['number']}"), H1),
        Paragraph(escape(f"Erstellt am {_time(data['generated_at'])} von {data['generated_by']}."), BODY),
        Spacer(1, 4 * mm),
        Paragraph("Stammdaten", H2),
    ]
    master = [
        ("Kundennummer", customer["number"]), ("Name", customer["name"]), ("Art", customer.get("kind")),
        ("Status", customer.get("status")), ("E-Mail-Adressen", customer.get("emails")),
        ("Schlagworte", customer.get("tags")), ("Angelegt am", _time(customer.get("created_at"))),
        ("Legal Hold", "ja" if customer.get("legal_hold") else "nein"),
        ("Löschstatus", customer.get("erasure_state") or "–"),
        ("Löschung beantragt am", _time(customer.get("erasure_requested_at"))),
    ]
    master += [(MASTER_LABELS.get(name, name), _value(customer[name])) for name in MASTER_LABELS
               if customer.get(name) not in (None, "", [], {})]
    story += _table(["Feld", "Wert"], [list(pair) for pair in master], [60, 200])
    erasure = data.get("erasure")
    if erasure:
        story += [Paragraph("Löschantrag (Art. 17 DSGVO)", H2), Paragraph(escape(
            f"Antrag {erasure['id']} vom {_time(erasure['requested_at'])} ({erasure['requested_by']}): "
            f"{erasure['status']}, Ergebnis {erasure.get('outcome') or '–'}. {erasure.get('explanation') or ''}"),
            BODY)]
    documents = data["documents"]
    story += [Paragraph(f"Dokumente ({len(documents)})", H2)]
    story += _table(
        ["Id", "Titel", "Klasse", "Ordner", "Quelle", "Datum", "Abgelegt", "Versionen", "Aufbewahrung"],
        ([d["id"], d["title"], d["class"], d["folder"], d["source"], _time(d["document_date"]), _time(d["filed_at"]),
          d["versions"], _retention(d)] for d in documents),
        [49, 44, 22, 22, 14, 18, 28, 12, 58],
    )
    mails = data["mail"]
    story += [Paragraph(f"E-Mail-Verlauf ({len(mails)})", H2)]
    story += _table(
        ["Empfangen", "Absender", "Empfänger", "Betreff", "Status", "Dokumente"],
        ([_time(m["received_at"]), m["sender"], m["recipients"], m["subject"], m["status"], m["documents"]]
         for m in mails),
        [28, 45, 45, 70, 20, 59],
    )
    notes = data.get("notes", [])
    story += [Paragraph(f"Notizen, Anrufe und Besuche ({len(notes)})", H2)]
    story += _table(
        ["Zeit", "Art", "Von", "Text", "Wiedervorlage", "Zuständig"],
        ([_time(n["at"]), n["type"], n["author"], n["text"], n.get("due") or "", n.get("assignee") or ""]
         for n in notes),
        [28, 16, 30, 140, 22, 31],
    )
    accesses = data["accesses"]
    story += [Paragraph(f"Zugriffe und Änderungen laut Audit-Protokoll ({len(accesses)})", H2)]
    story += _table(
        ["Nr.", "Zeit", "Wer", "Aktion", "Objekt", "Dokument", "Version", "IP", "Programm"],
        ([e["id"], _time(e["at"]), e["actor"], e["action"], f"{e['object_type']} {e['object_id'] or ''}".strip(),
          e["document_id"], e["version"], e["ip"], e["user_agent"]] for e in accesses),
        [12, 28, 25, 32, 45, 49, 12, 22, 42],
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm,
                            topMargin=10 * mm, bottomMargin=10 * mm,
                            title=f"DSGVO-Auskunft {customer['number']}", author="Kundenakte")
    doc.build(story)
    return out.getvalue()
