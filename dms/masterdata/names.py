"""Name normalisation for duplicate matching: one spelling per name, whatever the source wrote.

`normalize_name` lower-cases, folds umlauts (ä→ae, ö→oe, ü→ue, ß→ss; other accents dropped), joins lines,
removes salutations and address prefixes (Herr, Herrn, Frau, Firma, Fa., Eheleute, academic titles Dr./Prof./
Dipl.-Ing.; an attention line "z. Hd. …" or "c/o …" after the name is dropped with its text), unifies legal forms
("Gesellschaft mit beschränkter Haftung", "G.m.b.H." → "gmbh"; "GmbH & Co. KG" → "gmbh & co kg"; also ag, ek,
ev, eg, ug, kg, ohg, gbr, mbh, kgaa, se, partg), turns "u."/"und" into "&" and drops other punctuation:
"Firma Müller G.m.b.H." → "mueller gmbh".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "oe"})
_SPACES = re.compile(r"\s+")

# Legal forms, longest first; matched on folded text with punctuation still in place.
_LEGAL_FORMS: tuple[tuple[str, str], ...] = (
    (r"(?:gmbh|gesellschaft mit beschraenkter haftung) *(?:&|und|u\.?) *co\.? *kgaa", "gmbh & co kgaa"),
    (r"(?:gmbh|gesellschaft mit beschraenkter haftung) *(?:&|und|u\.?) *co\.? *kg", "gmbh & co kg"),
    (r"(?:ag) *(?:&|und|u\.?) *co\.? *kg", "ag & co kg"),
    (r"gesellschaft mit beschraenkter haftung", "gmbh"),
    (r"g\. ?m\. ?b\. ?h\.?|ges\. ?m\. ?b\. ?h\.?|gmbh", "gmbh"),
    (r"(?:ug|unternehmergesellschaft) *\(? *haftungsbeschraenkt *\)?", "ug"),
    (r"kommanditgesellschaft auf aktien|kgaa", "kgaa"),
    (r"aktiengesellschaft|a\. ?g\.", "ag"),
    (r"eingetragene[r]? (?:kaufmann|kauffrau)|e\. ?(?:k|kfm|kfr)\.?(?=\W|$)|ek|ekfm|ekfr", "ek"),
    (r"eingetragener verein|e\. ?v\.?(?=\W|$)", "ev"),
    (r"eingetragene genossenschaft|e\. ?g\.?(?=\W|$)", "eg"),
    (r"kommanditgesellschaft|k\. ?g\.", "kg"),
    (r"offene handelsgesellschaft|o\. ?h\. ?g\.?", "ohg"),
    (r"gesellschaft (?:des )?buergerlichen rechts|g\. ?b\. ?r\.?", "gbr"),
    (r"partnerschaftsgesellschaft(?: mbb)?|partg(?: ?mbb)?", "partg"),
    (r"m\. ?b\. ?h\.?", "mbh"),
    (r"societas europaea", "se"),
)
_LEGAL_PATTERN = re.compile(
    "|".join(f"(?P<f{i}>(?<![\\w.])(?:{pattern})(?![\\w]))" for i, (pattern, _) in enumerate(_LEGAL_FORMS))
)
LEGAL_FORM_TOKENS = frozenset(
    ["gmbh", "ag", "ek", "ev", "eg", "ug", "kg", "ohg", "gbr", "mbh", "kgaa", "se", "partg", "co"]
)
# Salutations and titles, removed at the start of a name only ("Herr" is also a surname).
_PREFIXES = re.compile(
    r"^(?:(?:herrn?|frau|firma|eheleute|familie)(?!\w)|(?:fa|fam)\.|prof(?:\.|(?!\w))"
    r"|dr(?:\.(?: ?(?:med|rer\. ?nat|jur|phil)\.)?|(?!\w))|dipl\.-\w+\.?)\s*"
)
_ATTENTION = re.compile(r"(?<![\w.])(?:z\. ?hd\.?|zhd\.?|zu haenden(?: von)?|c/o|attn\.?)\s*")


def fold(text: str) -> str:
    """Lower case, umlauts folded (ü→ue, ß→ss), other accents dropped, whitespace and line breaks collapsed."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return _SPACES.sub(" ", text).strip()


def _unify_legal_forms(text: str) -> str:
    def replace(found: re.Match[str]) -> str:
        index = int(next(name for name, value in found.groupdict().items() if value is not None)[1:])
        return f" {_LEGAL_FORMS[index][1]} "

    return _LEGAL_PATTERN.sub(replace, text)


def normalize_name(text: str | None) -> str:
    """The matching form of a person's or company's name ("" for no name), see the module docstring."""
    name = fold(text or "")
    attention = _ATTENTION.search(name)
    if attention:  # "Müller GmbH z. Hd. Herrn Schmidt": the attention line names someone else
        head = name[: attention.start()].strip()
        name = head if head else name[attention.end() :]
    while (prefix := _PREFIXES.match(name)) and prefix.end():
        name = name[prefix.end() :]
    name = _unify_legal_forms(name)
    name = re.sub(r"(?<!\w)(?:u\.|und|\+)(?!\w)", "&", name)
    name = re.sub(r"[^\w&]+", " ", name).replace("_", " ")
    name = re.sub(r"(?<=\w)&(?=\w)", " & ", name)
    return _SPACES.sub(" ", name).strip()


def split_legal_form(normalized: str) -> tuple[str, str]:
    """("mueller bau", "gmbh") from "mueller bau gmbh": the name without its trailing legal form, and the form."""
    words = normalized.split()
    end = len(words)
    while end > 0 and (words[end - 1] in LEGAL_FORM_TOKENS or words[end - 1] == "&"):
        end -= 1
    form = " ".join(words[end:]).strip("& ")
    return " ".join(words[:end]), "gmbh" if form == "mbh" else form


def person_name(customer: Mapping[str, object]) -> tuple[str, str]:
    """Normalised (first name, last name) of a natural person; from `name` ("Müller, Hans" or "Hans Müller")
    when the fields are empty."""
    first = normalize_name(str(customer.get("first_name") or ""))
    last = normalize_name(str(customer.get("last_name") or ""))
    if first or last:
        return first, last
    raw = str(customer.get("name") or "")
    if raw.count(",") == 1:
        last_part, first_part = raw.split(",")
        return normalize_name(first_part), normalize_name(last_part)
    words = normalize_name(raw).split()
    return " ".join(words[:-1]), (words[-1] if words else "")


def name_key(customer: Mapping[str, object]) -> str:
    """The indexed name key of a customer dict: "first last" for natural persons, the company name without its
    legal form for legal persons ("mueller bau" for "Müller Bau GmbH")."""
    if customer.get("kind") == "legal":
        return split_legal_form(normalize_name(str(customer.get("name") or "")))[0]
    return " ".join(part for part in person_name(customer) if part)
