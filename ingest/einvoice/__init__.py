"""Electronic invoices: ZUGFeRD 1/2, Factur-X and XRechnung (UN/CEFACT CII and OASIS UBL).

Public API: detect_invoice_syntax, parse_invoice_xml, extract_invoice_xml_from_pdf, render_invoice_html.
"""

from .detect import detect_invoice_syntax
from .model import InvoiceData, InvoiceLine
from .parser import parse_invoice_xml
from .pdf import extract_invoice_xml_from_pdf
from .render import render_invoice_html
from .xmlsafe import MAX_XML_BYTES

__all__ = [
    "MAX_XML_BYTES",
    "InvoiceData",
    "InvoiceLine",
    "detect_invoice_syntax",
    "extract_invoice_xml_from_pdf",
    "parse_invoice_xml",
    "render_invoice_html",
]
