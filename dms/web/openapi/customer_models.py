"""The customers' request and response shapes (issue 14: master data) for the OpenAPI document.

Like dms/web/openapi/models.py, these only describe: the views parse with dms/customer_input.py,
whose limits they use. Values the configuration decides (statuses, groups, branches, custom
attributes) are `x-choices` markers that `customer_choices(settings)` turns into an `enum` or an
object schema of the running server's configuration.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from dms.customer_config import customer_config
from dms.customer_fields import ADDRESS_KINDS, CHANNELS, LANGUAGE_PATTERN, LIMITS, MAX_ITEMS, PHONE_PATTERN
from dms.web.openapi.models import (
    CHOICES,
    VISIBLE,
    Email,
    Emails,
    FileFolder,
    Limit,
    Name,
    NumberInput,
    Offset,
    Omitted,
    Request,
    Response,
    Tags,
)

Status = Annotated[str, WithJsonSchema({CHOICES: "customer_statuses"}),
                   Field(description="A status of the configuration (`[customers] statuses`).")]
Group = Annotated[str, WithJsonSchema({CHOICES: "customer_groups"})]
Branch = Annotated[str, WithJsonSchema({CHOICES: "customer_branches"}),
                   Field(description="A branch (Filiale) of the configuration (`[customers] branches`).")]
Attributes = Annotated[dict[str, Any], WithJsonSchema({CHOICES: "customer_attributes"}),
                       Field(description="Custom attributes `{key: value}` as defined by the configuration "
                             "(`GET /api/v1/customers/attributes`); replaces all of them.")]
Kind = Literal["natural", "legal"]
Day = date  # a field named `date` hides the type
Language = Annotated[str, Field(max_length=LIMITS["language"], pattern=f"^(?:{LANGUAGE_PATTERN[1:-1]})?$")]


def _text(limit: str, description: str = "") -> Any:
    return Annotated[str | None, Field(max_length=LIMITS[limit], description=description or None)]


def _name(limit: str) -> Any:
    return Annotated[str, Field(min_length=1, max_length=LIMITS[limit], pattern=VISIBLE)]


# --- sub-lists (requests) ------------------------------------------------------------------------


class AddressInput(Request):
    kind: Literal[ADDRESS_KINDS] | None = Field(  # type: ignore[valid-type]
        None, description="Default: `main` for the first address without a kind (unless another is), else `other`. "
        "At most one `main`."
    )
    street: _text("street") = None
    postal_code: _text("postal_code", "Checked per country (DE, AT, CH, LI, NL, FR, IT, ES, PL, BE, LU, DK).") = None
    city: _text("city") = None
    country: _text("country", "ISO 3166 alpha-2 (also a country name such as `Deutschland`); default `DE`.") = None
    addition: _text("addition") = None
    normalized: str | None = Field(None, description="Ignored (the server computes it).")


class ContactInput(Request):
    name: _name("contact_name")
    role: _text("role") = None
    phones: list[Annotated[str, Field(max_length=LIMITS["phone"], pattern=PHONE_PATTERN)]] | None = Field(
        None, max_length=MAX_ITEMS["phones"], description="Phone numbers (digits, spaces, `+()/.-`)."
    )
    email: Email | None = None
    availability: _text("availability", "When and how to reach the contact.") = None
    relation: _text("relation", "Relation to the customer (e.g. Tochter, Hausarzt).") = None
    emergency: bool | Omitted = Field(False, description="An emergency contact.")


class BankAccountInput(Request):
    iban: str = Field(max_length=LIMITS["iban"], description="Checked (mod-97, length per country); stored "
                      "compact in upper case. A masked IBAN as shown (`**** 3000`) keeps the stored account it "
                      "stands for.")
    bic: _text("bic", "8 or 11 characters.") = None
    holder: _text("holder") = None
    label: _text("label") = None
    masked: bool | Omitted = Field(None, description="Ignored (as received).")


class ConsentInput(Request):
    purpose: Annotated[str, Field(min_length=1, max_length=LIMITS["purpose"], pattern=VISIBLE)] = Field(
        description="e.g. `email`, `phone`, `newsletter`; one consent per purpose."
    )
    granted: bool
    date: Day | None = None
    source: _text("source", "Where it was given (form, call, …).") = None


class CommunicationInput(Request):
    preferred_channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    language: Language | None = Field(None, description="e.g. `de`, `en`, `de-CH`.")
    no_advertising: bool | Omitted = None


# --- customers -----------------------------------------------------------------------------------


class _MasterData(Request):
    salutation: Literal["Herr", "Frau", "Divers", ""] | None = None
    title: _text("title", "e.g. `Dr.`") = None
    first_name: _name("first_name") | None = None
    last_name: _name("last_name") | None = None
    birth_date: date | None = Field(None, description="Not in the future, not before 1900.")
    legal_form: _text("legal_form") = None
    register_court: _text("register_court") = None
    register_number: _text("register_number") = None
    vat_id: _text("vat_id", "USt-IdNr., format checked per country prefix.") = None
    external_number: _text("external_number", "Number in an older system or the ERP; unique (409 "
                           "`external_number_exists`); read-only once set when `external_number_editable = false`."
                           ) = None
    groups: list[Group] | None = Field(None, max_length=MAX_ITEMS["groups"], description="Groups of the "
                                       "configuration (`null`: none).")
    addresses: list[AddressInput] | None = Field(None, max_length=MAX_ITEMS["addresses"])
    contacts: list[ContactInput] | None = Field(None, max_length=MAX_ITEMS["contacts"],
                                                description="In priority order.")
    bank_accounts: list[BankAccountInput] | None = Field(None, max_length=MAX_ITEMS["bank_accounts"])
    consents: list[ConsentInput] | None = Field(None, max_length=MAX_ITEMS["consents"])
    communication: CommunicationInput | None = None
    attributes: Attributes | None = None


_NAMED = {"anyOf": [{"required": ["name"]},
                    {"required": ["first_name"], "properties": {"first_name": {"type": "string"}}},
                    {"required": ["last_name"], "properties": {"last_name": {"type": "string"}}}]}


class CustomerCreate(_MasterData):
    """A new customer: `name`, or for a person first and/or last name (the name is then "first last")."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=_NAMED)
    name: Name | Omitted = None
    number: NumberInput | Literal[""] | None = Field(None, description="Omitted, empty or null: the next free number.")
    kind: Kind | None = Field("legal", description="`null`: the default.")
    status: Status | None = Field(None, description="`null` or omitted: `[customers] default_status`.")
    branch: Branch | None = Field(None, description="`null` or omitted: `[customers] default_branch`.")
    tags: Tags | None = []
    emails: Emails | None = []
    force: bool | Omitted = Field(None, description="Create even if probable duplicates exist (audited).")


class CustomerUpdate(_MasterData):
    """The fields to change (a list or object replaces the whole of it)."""

    name: Name | Omitted = None
    kind: Kind | Omitted = None
    status: Status | Omitted = None
    branch: Branch | Omitted = None
    tags: Tags | None = None
    emails: Emails | None = Field(None, description="Replaces the list; `null` or `[]`: none.")
    force: bool | Omitted = Field(None, description="PUT creating a customer: create even if probable duplicates "
                                  "exist (audited).")


# --- responses -----------------------------------------------------------------------------------


class Address(Response):
    kind: str
    street: str | None
    postal_code: str | None
    city: str | None
    country: str
    addition: str | None = None
    normalized: str = Field(description="Lower case, umlauts folded, `straße` → `str`: the key for duplicate "
                            "matching (`street|postal code|city|country`).")


class Contact(Response):
    name: str
    role: str | None = None
    phones: list[str] = []
    email: str | None = None
    availability: str | None = None
    relation: str | None = None
    emergency: bool = False


class BankAccount(Response):
    iban: str = Field(description="Compact; masked (`**** 3000`) for callers without `customers:bank`.")
    masked: bool
    bic: str | None = None
    holder: str | None = None
    label: str | None = None


class Consent(Response):
    purpose: str
    granted: bool
    date: str | None = None
    source: str | None = None


class Customer(Response):
    id: str
    number: str
    name: str
    kind: str
    status: str
    tags: list[str]
    folders: list[str] = Field(description="The folders of the customer file (Aktenplan), in order.")
    created_at: datetime | None
    emails: list[str] = Field(description="Known mail addresses (lower case).")
    legal_hold: bool = Field(False, description="A legal hold covers all the customer's documents (retention).")
    legal_hold_reason: str | None = Field(None, description="Why the legal hold was set.")
    erasure_state: Literal["restricted", "erased"] | None = Field(
        None, description="GDPR Art. 17: null, `restricted` (erasure requested, retained data restricted), `erased`."
    )
    erasure_requested_at: datetime | None = Field(None, description="When erasure was requested.")
    salutation: str | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    legal_form: str | None = None
    register_court: str | None = None
    register_number: str | None = None
    vat_id: str | None = None
    external_number: str | None = None
    branch: str | None = Field(None, description="null: created before branches existed (counts as the default).")
    groups: list[str] = []
    addresses: list[Address] = []
    contacts: list[Contact] = []
    bank_accounts: list[BankAccount] = []
    consents: list[Consent] = []
    communication: dict[str, Any] = {}
    attributes: dict[str, Any] = {}


class CustomerList(Response):
    customers: list[Customer]
    total: int = Field(ge=0, description="How many customers match the filters (for paging).")


class NextNumber(Response):
    number: str


class CustomerFile(Response):
    customer: Customer
    folders: list[FileFolder]


class AttributeDefinition(Response):
    key: str
    label: str
    type: Literal["text", "multiline", "bool", "int", "decimal", "choice", "date"]
    required: bool
    regex: str | None = None
    choices: list[str] | None = None
    min: float | None = None
    max: float | None = None


class CustomerSettings(Response):
    attributes: list[AttributeDefinition]
    statuses: list[str]
    default_status: str
    groups: list[str]
    default_group: str
    branches: list[str]
    default_branch: str
    external_number_editable: bool


class CustomerQuery(BaseModel):
    q: str | None = Field(None, max_length=200, description="Number, name (also umlaut-insensitive: `mueller` "
                          "finds Müller), external number (substring). `attr.<key>=value` (any number) filters by "
                          "a custom attribute: texts by substring (case-insensitive), others by value.")
    status: Status | None = None
    tag: str | None = Field(None, max_length=64, description="Customers with this tag (case-insensitive).")
    group: Group | None = None
    branch: Branch | None = None
    limit: Limit = 100
    offset: Offset = 0


# --- configured values ---------------------------------------------------------------------------


def _attribute_schema(spec: Any) -> dict[str, Any]:
    limit = LIMITS["multiline" if spec.type == "multiline" else "text"]
    schema: dict[str, Any] = {
        "text": {"type": "string", "maxLength": limit}, "multiline": {"type": "string", "maxLength": limit},
        "bool": {"type": "boolean"}, "int": {"type": "integer"}, "decimal": {"type": "number"},
        "choice": {"enum": list(spec.choices)}, "date": {"type": "string", "format": "date"},
    }[spec.type]
    if spec.regex:
        schema["pattern"] = f"^(?:{spec.regex})$"
    for bound, key in (("min", "minimum"), ("max", "maximum")):
        if getattr(spec, bound) is not None:
            schema[key] = getattr(spec, bound)
    return {"anyOf": [schema, {"type": "null"}], "description": spec.label}


def customer_choices(settings: Any) -> dict[str, dict[str, Any]]:
    """What the customer markers stand for in the running configuration (see document._choices)."""
    config = customer_config(settings)
    return {
        "customer_statuses": {"enum": list(config.statuses)},
        "customer_groups": {"enum": list(config.groups)},
        "customer_branches": {"enum": list(config.branches)},
        "customer_attributes": {
            "type": "object", "additionalProperties": False,
            "properties": {key: _attribute_schema(spec) for key, spec in config.attributes.items()},
        },
    }
