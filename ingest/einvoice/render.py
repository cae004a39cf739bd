"""Self-contained German HTML preview of an e-invoice (all invoice content escaped)."""

from __future__ import annotations

import datetime
import decimal
from html import escape

from dms.errors import IngestError

from .model import InvoiceData, InvoiceLine, german_amount, german_date

MAX_RENDERED_LINES = 500
_CSP = "default-src 'none'; style-src 'unsafe-inline'"

_UNITS = {
    "C62": "Stück", "H87": "Stück", "XPP": "Stück", "EA": "Stück", "HUR": "Std.", "MIN": "Min.",
    "DAY": "Tag(e)", "WEE": "Woche(n)", "MON": "Monat(e)", "ANN": "Jahr(e)", "KGM": "kg", "GRM": "g",
    "MTR": "m", "KMT": "km", "MTK": "m²", "MTQ": "m³", "LTR": "l", "KWH": "kWh", "LS": "pauschal",
    "P1": "%", "SET": "Satz",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;color:#222;margin:2em auto;
max-width:60em;padding:0 1em;line-height:1.4}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc;padding-bottom:.2em}
.sub{color:#666;font-size:.9em;margin-top:0}
table{border-collapse:collapse;width:100%}th,td{padding:.3em .5em;text-align:left;vertical-align:top}
table.meta th{width:14em;color:#555;font-weight:normal}
table.lines th{border-bottom:2px solid #999}table.lines td{border-bottom:1px solid #e4e4e4}
td.num,th.num{text-align:right;white-space:nowrap}
table.sums{width:auto;margin-left:auto}table.sums tr.total td{font-weight:bold;border-top:2px solid #999}
.note{color:#666;font-size:.9em}
""".strip()


def render_invoice_html(invoice: InvoiceData, xml: bytes | None = None) -> str:
    """Readable German HTML page for previewing a bare XML invoice."""
    kind = "Gutschrift" if invoice.is_credit_note else "Rechnung"
    lines = invoice.lines or _lines_from_xml(xml)
    cur = invoice.currency or ""
    title = f"{kind} {invoice.invoice_number}" if invoice.invoice_number else kind
    parts = [
        "<!DOCTYPE html>",
        '<html lang="de"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">Elektronische {kind} · Format {escape(invoice.syntax)}'
        + (f" · Profil {escape(invoice.profile)}" if invoice.profile else "")
        + "</p>",
        _meta_table(invoice, kind),
    ]
    if lines:
        parts.append(_lines_table(lines, cur))
    parts.append(_sums_table(invoice, cur))
    parts.append("</body></html>")
    return "\n".join(parts)


def _meta_table(invoice: InvoiceData, kind: str) -> str:
    rows = [
        (f"{kind}snummer", invoice.invoice_number),
        (f"{kind}sdatum", _date(invoice.issue_date)),
        ("Fälligkeitsdatum", _date(invoice.due_date)),
        ("Verkäufer", invoice.seller_name),
        ("Käufer", invoice.buyer_name),
        ("Kundennummer", invoice.buyer_id),
        ("Käuferreferenz (Leitweg-ID)", invoice.buyer_reference),
        ("Währung", invoice.currency),
    ]
    body = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in rows if value
    )
    return f'<h2>Angaben</h2><table class="meta">{body}</table>'


def _lines_table(lines: list[InvoiceLine], cur: str) -> str:
    head = (
        '<tr><th>Pos.</th><th>Bezeichnung</th><th class="num">Menge</th><th>Einheit</th>'
        f'<th class="num">Einzelpreis{_cur(cur)}</th><th class="num">Gesamt{_cur(cur)}</th></tr>'
    )
    rows = []
    for index, line in enumerate(lines[:MAX_RENDERED_LINES], start=1):
        unit = _UNITS.get(line.unit_code or "", line.unit_code or "")
        rows.append(
            f"<tr><td>{escape(line.line_id or str(index))}</td><td>{escape(line.name or '')}</td>"
            f'<td class="num">{_num(line.quantity, amount=False)}</td><td>{escape(unit)}</td>'
            f'<td class="num">{_num(line.unit_price, trim=True)}</td>'
            f'<td class="num">{_num(line.line_total)}</td></tr>'
        )
    note = ""
    if len(lines) > MAX_RENDERED_LINES:
        note = f'<p class="note">… und {len(lines) - MAX_RENDERED_LINES} weitere Positionen.</p>'
    return f'<h2>Positionen</h2><table class="lines">{head}{"".join(rows)}</table>{note}'


def _sums_table(invoice: InvoiceData, cur: str) -> str:
    rows = [
        ("Summe netto", invoice.net_total, ""),
        ("MwSt", invoice.tax_total, ""),
        ("Summe brutto", invoice.gross_total, ' class="total"'),
    ]
    if invoice.due_payable is not None and invoice.due_payable != invoice.gross_total:
        rows.append(("Zahlbetrag", invoice.due_payable, ' class="total"'))
    suffix = escape(f" {cur}") if cur else ""
    body = "".join(
        f'<tr{css}><td>{escape(label)}</td><td class="num">{_num(value)}{suffix}</td></tr>'
        for label, value, css in rows
        if value is not None
    )
    if not body:
        return '<h2>Summen</h2><p class="note">Keine Summen angegeben.</p>'
    return f'<h2>Summen</h2><table class="sums">{body}</table>'


def _lines_from_xml(xml: bytes | None) -> list[InvoiceLine]:
    if not xml:
        return []
    from .parser import parse_invoice_xml  # local import: parser does not depend on rendering

    try:
        return parse_invoice_xml(xml).lines
    except IngestError:
        return []


def _date(value: datetime.date | None) -> str | None:
    return german_date(value) if value else None


def _num(value: decimal.Decimal | None, *, amount: bool = True, trim: bool = False) -> str:
    """German number; `trim` drops zeros beyond two decimals (9.9000 -> 9,90), quantities as given."""
    if value is None:
        return ""
    if trim:
        value = value.normalize()
    if amount:
        return escape(german_amount(value))
    return escape(format(value.normalize(), "f").replace(".", ","))


def _cur(cur: str) -> str:
    return f" ({escape(cur)})" if cur else ""
