"""The secrets: argon2id password hashes and API tokens (`dms_<id>_<secret>`, stored as sha256).

Password checks are deliberately expensive, so they are bounded: moderate argon2 parameters
(OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane, about 20-40 ms) and at most
`PasswordChecker.slots` checks at once per process; one more waits briefly, then gets 503
`busy`. Nothing is cached: every Basic request verifies its password again (API clients that
call often should use tokens, whose check is one sha256).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dms.errors import ServiceBusy, ValidationError

TOKEN_PREFIX = "dms_"
TOKEN_ID_BYTES = 6  # 12 hex characters: the public lookup key
TOKEN_SECRET_BYTES = 32  # 256 bits: sha256 of it needs no slow hash
TOKEN_RE = re.compile(rf"^{TOKEN_PREFIX}([0-9a-f]{{{2 * TOKEN_ID_BYTES}}})_([0-9a-f]{{{2 * TOKEN_SECRET_BYTES}}})$")

MIN_PASSWORD = 10
MAX_PASSWORD = 1024

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)


# --- passwords -------------------------------------------------------------------------------


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"Das Passwort ist zu kurz (mindestens {MIN_PASSWORD} Zeichen).", field="password")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"Das Passwort ist zu lang (höchstens {MAX_PASSWORD} Zeichen).", field="password")
    return password


def hash_password(password: str) -> str:
    return HASHER.hash(check_new_password(password))


class PasswordChecker:
    """Verifies passwords with a bounded number of argon2 computations at once."""

    def __init__(self, slots: int = 2, wait_seconds: float = 5.0) -> None:
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(slots)
        self._dummy: str | None = None

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = HASHER.hash(secrets.token_hex(16))
        return self._dummy

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; an unknown user (None) costs the same as a wrong password."""
        if len(password) > MAX_PASSWORD:
            return False
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise ServiceBusy("Zu viele Anmeldungen gleichzeitig; bitte gleich noch einmal versuchen.")
        try:
            try:
                HASHER.verify(stored_hash or self._dummy_hash(), password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
            return stored_hash is not None
        finally:
            self._semaphore.release()

    @staticmethod
    def needs_rehash(stored_hash: str) -> bool:
        return HASHER.check_needs_rehash(stored_hash)


# --- API tokens ------------------------------------------------------------------------------


def new_token() -> tuple[str, str]:
    """(token id, the whole token to hand out once)."""
    token_id = secrets.token_hex(TOKEN_ID_BYTES)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_hex(TOKEN_SECRET_BYTES)}"


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token, else None."""
    match = TOKEN_RE.match(token)
    return match.group(1) if match else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_matches(stored_hash: str, token: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_token(token))


_DURATION = re.compile(r"^(\d{1,5})([hdwy])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "y": timedelta(days=365)}


def parse_expiry(value: str | None, now: datetime | None = None) -> datetime | None:
    """`365d`, `12w`, `1y`, `48h` from now, or an ISO date (end of that day, UTC); `never`/None: no expiry."""
    now = now or datetime.now(UTC)
    if value is None or value.strip().lower() in ("", "never", "nie"):
        return None
    text = value.strip().lower()
    match = _DURATION.match(text)
    if match:
        amount = int(match.group(1))
        if amount == 0:
            raise ValidationError("Die Gültigkeit muss größer als 0 sein.", field="expires")
        return now + amount * _UNITS[match.group(2)]
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"Ungültige Gültigkeit {value!r}: erwartet z. B. 365d, 12w, 1y, 48h oder ein Datum 2027-12-31.",
            field="expires",
        ) from None
    expires = day.replace(tzinfo=day.tzinfo or UTC)
    if len(text) == 10:  # a date only: valid through that day
        expires += timedelta(days=1)
    if expires <= now:
        raise ValidationError("Das Ablaufdatum liegt in der Vergangenheit.", field="expires")
    return expires
