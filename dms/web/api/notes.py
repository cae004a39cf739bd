"""A customer's timeline, its notes/calls/visits and the follow-ups: HTTP in, a use case, JSON out
(`dms.app.timeline`, `dms.app.notes`)."""

from __future__ import annotations

from urllib.parse import quote

from flask import jsonify

from dms.app import notes as uc
from dms.app.principal import CUSTOMERS_READ, CUSTOMERS_WRITE
from dms.app.timeline import timeline as read_timeline
from dms.web.api import api_bp, services
from dms.web.auth import require
from dms.web.body import json_object
from dms.web.idempotency import idempotent
from dms.web.openapi import Header, Reply, operation
from dms.web.openapi import note_models as nm
from dms.web.params import choice_arg, int_arg, str_arg

NOT_FOUND = {404: "`customer_not_found`, `note_not_found` (also a note of another customer)."}


@api_bp.get("/customers/<number>/timeline")
@operation("The customer's timeline: documents, mail, notes, calls, visits, master-data changes",
           permission=CUSTOMERS_READ, query=nm.TimelineQuery, reply=nm.Timeline, tag="customers",
           errors={404: "`customer_not_found`."})
def customer_timeline(number: str):
    """Newest first, by cursor pages; `document` and `mail` entries need `documents:read` too (else left out).
    Every read is audited (`customer.timeline`)."""
    principal = require(CUSTOMERS_READ)
    page = read_timeline(services(), principal, number, types=str_arg("type", max_length=100),
                         cursor=str_arg("cursor", max_length=100), limit=int_arg("limit", 50, minimum=1, maximum=200))
    return jsonify({"customer_number": page.customer.number, "types": page.types, "entries": page.entries,
                    "next_cursor": page.next_cursor, "has_more": page.has_more})


@api_bp.post("/customers/<number>/notes")
@operation("Log a note, call or visit (optionally a follow-up)", permission=CUSTOMERS_WRITE, body=nm.NoteCreate,
           tag="customers", status=201,
           reply=Reply(nm.Note, "Logged", headers={"Location": Header("The customer's timeline", required=True)}),
           errors={404: "`customer_not_found`.", 400: "Invalid request; `unknown_assignee`: no active user of "
                   "that name (`DMS_AUTH_MODE=users`)."})
@idempotent(CUSTOMERS_WRITE)
def create_note(number: str):
    principal = require(CUSTOMERS_WRITE)
    note = uc.create_note(services(), principal, number, json_object())
    response = jsonify(note.to_dict())
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/customers/{quote(note.customer_number, safe='')}/timeline"
    return response


@api_bp.patch("/customers/<number>/notes/<note_id>")
@operation("Change a note: text, follow-up (due, assignee), done", permission=CUSTOMERS_WRITE, body=nm.NoteUpdate,
           reply=nm.Note, tag="customers", errors=NOT_FOUND)
def update_note(number: str, note_id: str):
    principal = require(CUSTOMERS_WRITE)
    return jsonify(uc.update_note(services(), principal, number, note_id, json_object()).to_dict())


@api_bp.get("/followups")
@operation("Open follow-ups (Wiedervorlagen) of a user", permission=CUSTOMERS_READ, query=nm.FollowUpQuery,
           reply=nm.FollowUpList, tag="customers")
def followups():
    """Earliest due first; done ones are not listed. `assignee=me` (default): the caller's own."""
    principal = require(CUSTOMERS_READ)
    assignee = str_arg("assignee", max_length=64) or "me"
    due = choice_arg("due", uc.DUE_CHOICES) or "today"
    found = uc.followups(services(), principal, assignee=assignee, due=due,
                         limit=int_arg("limit", 100, minimum=1, maximum=500),
                         offset=int_arg("offset", 0, maximum=1_000_000))
    who = principal.name if assignee == "me" else assignee
    return jsonify({"assignee": who, "due": due, "followups": [f.to_dict() for f in found]})
