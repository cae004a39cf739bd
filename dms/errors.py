"""One exception tree with stable error codes; the API maps them to HTTP statuses."""

from __future__ import annotations


class DmsError(Exception):
    """Base of every error the service reports to a user."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        body.update(self.details)
        return body


class ValidationError(DmsError):
    code = "invalid_request"
    http_status = 400


class NotFound(DmsError):
    code = "not_found"
    http_status = 404


class Conflict(DmsError):
    code = "conflict"
    http_status = 409


class DuplicateDocument(Conflict):
    code = "duplicate"


class Moved(DmsError):
    """The record has a new address for good (a merged customer's old number names the survivor): the API
    answers 308 with `Location`; `number` in the details is the new number."""

    code = "moved"
    http_status = 308


class Unauthorized(DmsError):
    code = "unauthorized"
    http_status = 401


class Forbidden(DmsError):
    code = "forbidden"
    http_status = 403


class PayloadTooLarge(DmsError):
    code = "too_large"
    http_status = 413


class IngestError(DmsError):
    """A pipeline stage refused the document; it ends `failed` with this reason, original kept."""

    code = "ingest_failed"
    http_status = 422


class UnsupportedType(IngestError):
    code = "unsupported_type"
    http_status = 415


class BackendUnavailable(DmsError):
    """A backend (object store, index, queue, database) did not answer; retryable."""

    code = "backend_unavailable"
    http_status = 503


class ServiceBusy(DmsError):
    """Too much work of one kind at once (e.g. searches); the client may try again shortly."""

    code = "busy"
    http_status = 503


class SearchTimeout(DmsError):
    """A query ran longer than the configured time limit and was stopped."""

    code = "search_timeout"
    http_status = 503


class InvalidMetadata(DmsError):
    """Metadata sent with a document is malformed; `fields` names each bad field with its message."""

    code = "invalid_metadata"
    http_status = 422


class PreconditionFailed(DmsError):
    """`If-Match` names a state the resource is no longer in; nothing was changed."""

    code = "precondition_failed"
    http_status = 412


class IdempotencyKeyReused(DmsError):
    """The `Idempotency-Key` was used before for a different request."""

    code = "idempotency_key_reused"
    http_status = 422


class IdempotencyInProgress(Conflict):
    """A request with the same `Idempotency-Key` is still being answered; retry shortly."""

    code = "idempotency_in_progress"


class TooManyRequests(DmsError):
    """Too many attempts (failed logins): try again later."""

    code = "too_many_requests"
    http_status = 429
