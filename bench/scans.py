"""Generated scans of German business letters and word accuracy against their known text."""

from __future__ import annotations

import io
import random
import re
from collections import Counter
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

DPI = 300
FONT, FONT_SIZE, LEADING = "Helvetica", 11, 15.5
LEFT, TOP, BOTTOM, TEXT_WIDTH = 72.0, 790.0, 70.0, 451.0


# ----------------------------------------------------------------------------- documents

MALE_NAMES = ["Lukas", "Thomas", "Jürgen", "Michael", "Stefan", "Andreas", "Frank", "Markus", "Tobias", "Jörg"]
FEMALE_NAMES = ["Anna", "Sabine", "Claudia", "Petra", "Monika", "Katharina", "Ursula", "Birgit", "Heike", "Renate"]
FIRST_NAMES = MALE_NAMES + FEMALE_NAMES
LAST_NAMES = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
              "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Zimmermann",
              "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "Maier", "Günther"]
COMPANIES = ["Elektro Hartmann GmbH", "Bäckerei Sonnenschein KG", "Autohaus Brenner GmbH & Co. KG",
             "Stadtwerke Rosenheim", "Versicherungskontor Nord AG", "Gartenbau Lindner e.K.",
             "Steuerberatung Krämer & Partner", "Druckerei Weißenfels GmbH", "Hausverwaltung Seeblick GmbH",
             "Sanitär Öztürk GmbH", "Möbelhaus Kranich KG", "Ingenieurbüro Falkenstein",
             "Spedition Großmann GmbH", "Praxis für Physiotherapie Berger", "Kanzlei Dr. Vogt und Kollegen"]
STREETS = ["Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße", "Goethestraße",
           "Marktplatz", "Am Mühlbach", "Kirchgasse", "Industriestraße", "Rosenstraße", "Bergstraße"]
CITIES = ["80331 München", "50667 Köln", "20095 Hamburg", "70173 Stuttgart", "90402 Nürnberg", "04109 Leipzig",
          "01067 Dresden", "28195 Bremen", "30159 Hannover", "65183 Wiesbaden", "83022 Rosenheim", "93047 Regensburg"]
SUBJECTS = ["Rechnung Nr. {n}", "Mahnung zur Rechnung {n}", "Angebot Nr. {n} für Ihre Anfrage",
            "Auftragsbestätigung {n}", "Kündigung des Wartungsvertrags {n}", "Änderung Ihres Tarifs {n}",
            "Schadensmeldung zum Vorgang {n}", "Nebenkostenabrechnung {y}", "Beitragsanpassung ab {d}",
            "Lieferschein {n}", "Gutschrift zur Reklamation {n}", "Terminbestätigung Kundendienst {d}"]
SENTENCES = [
    "Wir bedanken uns für Ihren Auftrag vom {d} und berechnen Ihnen die erbrachten Leistungen wie folgt.",
    "Bitte überweisen Sie den Gesamtbetrag von {a} Euro innerhalb von vierzehn Tagen auf unser Konto.",
    "Leider konnten wir bis heute keinen Zahlungseingang für die oben genannte Rechnung feststellen.",
    "Sollten Sie die Zahlung bereits veranlasst haben, betrachten Sie dieses Schreiben bitte als gegenstandslos.",
    "Gemäß unserer Vereinbarung erhalten Sie anbei die Unterlagen zur weiteren Bearbeitung.",
    "Die Lieferung erfolgt voraussichtlich in der Kalenderwoche {w} an die angegebene Adresse.",
    "Für Rückfragen steht Ihnen unser Kundenservice montags bis freitags von acht bis siebzehn Uhr zur Verfügung.",
    "Wir weisen darauf hin, dass die Gewährleistung nur bei sachgemäßer Verwendung der Geräte besteht.",
    "Die Mehrwertsteuer in Höhe von neunzehn Prozent ist im Rechnungsbetrag bereits enthalten.",
    "Ihr Vertrag verlängert sich automatisch um ein weiteres Jahr, sofern er nicht fristgerecht gekündigt wird.",
    "Die Kündigungsfrist beträgt drei Monate zum Ende des jeweiligen Vertragsjahres.",
    "Im Rahmen der jährlichen Überprüfung haben wir die Beiträge an die gestiegenen Kosten angepasst.",
    "Der Schaden wurde am {d} von unserem Gutachter besichtigt und fotografisch dokumentiert.",
    "Bitte senden Sie uns die unterschriebene Vollmacht bis spätestens {d} zurück.",
    "Die Abrechnung umfasst den Zeitraum vom ersten Januar bis zum einunddreißigsten Dezember.",
    "Aus der Abrechnung ergibt sich ein Guthaben zu Ihren Gunsten, das wir mit der nächsten Zahlung verrechnen.",
    "Unser Techniker wird Sie am {d} zwischen neun und zwölf Uhr aufsuchen.",
    "Wir bitten um Verständnis, dass sich die Bearbeitung aufgrund der hohen Nachfrage verzögert hat.",
    "Die Ersatzteile wurden bereits bestellt und treffen voraussichtlich Ende nächster Woche ein.",
    "Beiliegend erhalten Sie eine Kopie des Prüfberichts sowie die aktuelle Preisliste.",
    "Bei Zahlung innerhalb von zehn Tagen gewähren wir Ihnen zwei Prozent Skonto.",
    "Die Grundstücksverwaltung hat die Hausordnung zum Beginn des neuen Jahres überarbeitet.",
    "Wir freuen uns, Ihnen ein individuelles Angebot für die Sanierung Ihrer Heizungsanlage unterbreiten zu dürfen.",
    "Sämtliche Preise verstehen sich zuzüglich Anfahrtspauschale und Entsorgungskosten.",
    "Bitte geben Sie bei allen Zahlungen stets die Kundennummer und die Rechnungsnummer an.",
    "Die Reklamation wurde geprüft und als berechtigt anerkannt; den Betrag schreiben wir Ihnen gut.",
]
ITEMS = ["Wartung Heizungsanlage", "Austausch Thermostatventil", "Arbeitszeit Monteur", "Anfahrtspauschale",
         "Kleinmaterial", "Druckprüfung Leitungssystem", "Entsorgung Altgerät", "Beratungsgespräch vor Ort",
         "Reinigung Brenner", "Ersatzteil Umwälzpumpe", "Dichtungssatz", "Abgasmessung"]


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2019, 2025)}"


def _amount(rng: random.Random) -> str:
    return f"{rng.randint(12, 9800):,}".replace(",", ".") + f",{rng.randint(0, 99):02d}"


def _fill(template: str, rng: random.Random) -> str:
    return template.format(n=rng.randint(10000, 999999), d=_date(rng), a=_amount(rng), w=rng.randint(1, 52),
                           y=rng.randint(2019, 2025))


def _wrap(text: str) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if stringWidth(candidate, FONT, FONT_SIZE) > TEXT_WIDTH and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def letter_lines(rng: random.Random, extra: str | None = None, max_lines: int = 44) -> list[str]:
    """One page of a German business letter: sender, address, subject, body, items, closing."""
    company, city = rng.choice(COMPANIES), rng.choice(CITIES)
    male = rng.random() < 0.5
    first, last = rng.choice(MALE_NAMES if male else FEMALE_NAMES), rng.choice(LAST_NAMES)
    sentences = [_fill(s, rng) for s in rng.sample(SENTENCES, 10)]
    body = " ".join(sentences[:6])
    lines = [
        f"{company} · {rng.choice(STREETS)} {rng.randint(1, 120)} · {city}",
        "",
        f"{'Herrn' if male else 'Frau'} {first} {last}",
        f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        rng.choice(CITIES),
        "",
        f"Kundennummer {rng.randint(10000, 99999)}    Datum {_date(rng)}",
        "",
        _fill(rng.choice(SUBJECTS), rng),
        "",
        f"Sehr geehrte{'r Herr' if male else ' Frau'} {last},",
    ]
    lines += _wrap(body[0].lower() + body[1:]) + [""]
    for pos, item in enumerate(rng.sample(ITEMS, rng.randint(3, 5)), start=1):
        lines.append(f"{pos}  {item}  {rng.randint(1, 9)} Stück  {_amount(rng)} EUR")
    lines.append("")
    lines += _wrap(" ".join(sentences[6:]))
    if extra:
        lines += ["", extra]
    lines += ["", "Mit freundlichen Grüßen", "", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", company]
    return lines[:max_lines]


def make_pdf(pages: list[list[str]]) -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    for lines in pages:
        pdf.setFont(FONT, FONT_SIZE)
        y = TOP
        for line in lines:
            if y < BOTTOM:
                break
            pdf.drawString(LEFT, y, line)
            y -= LEADING
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    """A little scanner reality: skew up to ±2°, sensor noise and some specks."""
    angle = rng.uniform(-2.0, 2.0)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=255)
    noise = Image.effect_noise(image.size, 18).convert("L")
    image = ImageChops.add(image, noise, scale=1.0, offset=-128)
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for _ in range(250):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randint(1, 3)
        draw.ellipse((x, y, x + r, y + r), fill=rng.randint(0, 90))
    return image


@dataclass
class ScanSet:
    pdf: bytes
    pages: int
    known_text: str
    degraded: list[int]


def make_scans(pages: int, seed: int = 4711) -> ScanSet:
    """A scanned PDF (one JPEG page image per page, no text layer) and the text printed on it."""
    rng = random.Random(seed)
    page_lines = [letter_lines(rng) for _ in range(pages)]
    born = pdfium.PdfDocument(make_pdf(page_lines))
    images, degraded = [], []
    try:
        for index in range(pages):
            image = born[index].render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
            if index % 2 == 1:  # every second page skewed and noisy
                image = degrade(image, rng)
                degraded.append(index + 1)
            images.append(image)
    finally:
        born.close()
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", resolution=DPI, save_all=True, append_images=images[1:], quality=85)
    known = "\n".join("\n".join(lines) for lines in page_lines)
    return ScanSet(buf.getvalue(), pages, known, degraded)


# ----------------------------------------------------------------------------- accuracy

_WORD_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> Counter[str]:
    """Normalised word multiset: lower-case, punctuation stripped (split at it)."""
    return Counter(_WORD_RE.findall(text.lower()))


def word_recall(known: str, recognised: str) -> float:
    """Fraction of known words (with multiplicity) found in the recognised words (bag-of-words recall)."""
    expected, got = words(known), words(recognised)
    total = sum(expected.values())
    return sum(min(n, got[w]) for w, n in expected.items()) / total if total else 0.0


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        parts = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            parts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return "\n".join(parts)
    finally:
        pdf.close()

