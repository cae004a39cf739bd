"""Customer master data checks and matching: pure functions, no I/O, no configuration.

IBAN/BIC (`iban`), VAT ids (`vat`), postal codes, countries and address keys (`postal`), name normalisation
(`names`) and the duplicate rules (`duplicates`). Every check returns the stored form of its input or raises
`dms.errors.ValidationError` with a stable `code` and a German message.
"""

from __future__ import annotations

from dms.masterdata.duplicates import Candidate, Match, blocking_keys, damerau_levenshtein, find_duplicates, match
from dms.masterdata.iban import check_bic, check_iban, format_iban, mask_iban
from dms.masterdata.names import fold, name_key, normalize_name, person_name, split_legal_form
from dms.masterdata.postal import address_key, check_country, check_postal_code, normalize_address
from dms.masterdata.vat import check_vat_id

__all__ = [
    "Candidate",
    "Match",
    "address_key",
    "blocking_keys",
    "check_bic",
    "check_country",
    "check_iban",
    "check_postal_code",
    "check_vat_id",
    "damerau_levenshtein",
    "find_duplicates",
    "fold",
    "format_iban",
    "mask_iban",
    "match",
    "name_key",
    "normalize_address",
    "normalize_name",
    "person_name",
    "split_legal_form",
]
