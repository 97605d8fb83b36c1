"""Following a complaint without an `Authorization` header (issue 20 item 2; DESIGN §3).

Three ways in, each exchanged for the same session cookie (entrypoints/tracking.py):

- the **link** in every notification: `…/api/v1/complaints/{id}/track?t=<token>`, the token an
  HMAC-SHA256 of the complaint id under intake's tracking key (derived from
  `INTAKE_IDEMPOTENCY_SECRET`), 192 bits of it in 32 characters for an SMS: indistinguishable
  from random without the key, so ≥ 128 bits as DESIGN §3 asks, and the worker can make it at
  send time without a stored copy. Opened, it is swapped for the cookie and a 303 to the clean URL, so the
  token stays in no address bar, history or Referer;
- a **tracking code and PIN** a person can type: the code (`YK-7F3K-Q9`: 8 symbols of an alphabet
  without 0/O, 1/I/L, ~40 bits) finds the complaint, the 6-digit PIN proves it is theirs. The PIN
  is stored as an HMAC under the same key (a copy of the database alone cannot try the million
  PINs). Wrong PINs slow that code down (`retry_after`): a few free tries, then a delay doubling per
  wrong try up to `max_delay`, never a lockout: after the delay the right PIN works again. A
  stranger who keeps guessing keeps that shared delay going, so a browser that has once proven the
  code (the right PIN, or the notification link) is trusted with it: it holds a device cookie (a
  random id; the database keeps its hash per code) and its tries count on a backoff of its own
  (OWASP's "device cookies"), so the citizen's phone never waits for a stranger's guesses, while
  guesses without that cookie share the code's backoff (the link and access token never wait);
- the access token (the API's bearer) as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# No 0/O, 1/I/L: what a person reads off a phone screen and types back cannot be misread.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_SYMBOLS = 8
PIN_DIGITS = 6
_SEPARATORS = str.maketrans("", "", " -._")


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    return f"{raw[:2]}-{raw[2:6]}-{raw[6:]}"


def normal_code(typed: str) -> str | None:
    """A typed code as stored (`YK-7F3K-Q9`: any case, with or without separators), or None when
    it cannot be one."""
    raw = typed.upper().translate(_SEPARATORS)
    if len(raw) != CODE_SYMBOLS or any(c not in ALPHABET for c in raw):
        return None
    return f"{raw[:2]}-{raw[2:6]}-{raw[6:]}"


def new_pin() -> str:
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def pin_hash(secret: str, code: str, pin: str) -> str:
    return hmac.new(secret.encode(), f"pin:{code}:{pin}".encode(), hashlib.sha256).hexdigest()


def pin_matches(secret: str, code: str, pin: str, stored: str) -> bool:
    return hmac.compare_digest(pin_hash(secret, code, pin), stored)


def link_token(secret: str, complaint_id: str) -> str:
    """The token of a complaint's tracking link (module docstring)."""
    mac = hmac.new(secret.encode(), f"track:{complaint_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def link_valid(secret: str, complaint_id: str, token: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a False).
    return hmac.compare_digest(link_token(secret, complaint_id).encode(), token.encode())


def session_hash(session: str) -> str:
    # A session is 256 random bits: a plain SHA-256 is enough (nothing to brute-force).
    return hashlib.sha256(f"session:{session}".encode()).hexdigest()


def new_device() -> str:
    """A browser's device id (the device cookie's value): 192 random bits."""
    return secrets.token_urlsafe(24)


def device_key(code: str, device: str) -> str | None:
    """The stored key of a device trusted with `code`, or None when `device` cannot be an id."""
    if not 16 <= len(device) <= 64 or not device.isascii():
        return None
    return hashlib.sha256(f"device:{code}:{device}".encode()).hexdigest()


@dataclass(frozen=True)
class Backoff:
    """Per-code delay after wrong PINs."""

    free_tries: int = 3
    first_delay: float = 2.0
    max_delay: float = 900.0

    def retry_after(self, failures: int) -> float:
        """Seconds before the next try once `failures` wrong PINs are counted (0: at once)."""
        if failures < self.free_tries:
            return 0.0
        return float(min(self.max_delay, self.first_delay * 2 ** (failures - self.free_tries)))
