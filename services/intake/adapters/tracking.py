"""Tracking codes and sessions (domain/tracking.py) in intake's database.

- `tracking_codes`: one document per code (`_id` the code): its complaint, the PIN's HMAC and the
  wrong-PIN count with the instant the next try is allowed. Reserved before the complaint is
  written (a taken code is drawn again); a reservation whose complaint was never stored leads
  nowhere (the exchange finds no complaint) and is removed when the submit knows it.
- `tracking_devices`: `_id` the hash of a code with the id of a browser that proved it
  (domain/tracking.py `device_key`): that browser's own wrong-PIN count and next allowed try, and
  when the trust expires (a TTL index; renewed at each proof).
- `tracking_sessions`: `_id` the session's hash, its complaint and when it expires (a TTL index
  removes it; the read checks the instant too, as the TTL monitor runs once a minute).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.intake.domain.tracking import Backoff, new_code, session_hash
from shared import clock

_NONCE_BYTES = 12
_DRAWS = 5  # a 40-bit code collides about never; five draws in a row would mean a bug


class CodeSpaceExhausted(Exception):
    pass


# The PIN for the "received" notification: the worker sends it after the answer, so a copy is kept
# sealed (AES-GCM under the tracking key, the complaint id as associated data) on the complaint
# until every "received" notification is settled (adapters/notifications.py `forget_pin`), and
# only when the reporter is notified at all. The PIN itself is checked against its hash only.


def _pin_cipher(key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(f"pin-seal:{key}".encode()).digest())


def seal_pin(key: str, complaint_id: str, pin: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _pin_cipher(key).encrypt(nonce, pin.encode(), complaint_id.encode())


def open_pin(key: str, complaint_id: str, sealed: bytes | None) -> str | None:
    """The sealed PIN, or None (none kept, or sealed under another key)."""
    if not sealed:
        return None
    raw = bytes(sealed)
    try:
        return (
            _pin_cipher(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], complaint_id.encode()).decode()
        )
    except InvalidTag:
        return None


class MongoTrackingStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._codes = db["tracking_codes"]
        self._sessions = db["tracking_sessions"]
        self._devices = db["tracking_devices"]

    async def reserve_code(self, complaint_id: str, pin_hash_of: Callable[[str], str]) -> str:
        """A fresh code for `complaint_id`, stored with `pin_hash_of(code)`."""
        for _ in range(_DRAWS):
            code = new_code()
            with contextlib.suppress(DuplicateKeyError):
                await self._codes.insert_one(
                    {"_id": code, "complaint_id": complaint_id, "pin_hash": pin_hash_of(code),
                     "failures": 0, "retry_at": None}
                )  # fmt: skip
                return code
        raise CodeSpaceExhausted(f"{_DRAWS} tracking codes in a row were taken")

    async def release_code(self, code: str) -> None:
        await self._codes.delete_one({"_id": code})

    async def code(self, code: str) -> dict[str, Any] | None:
        return await self._codes.find_one({"_id": code})

    async def take_try(
        self, counter: str, failures: int, now: datetime, backoff: Backoff, *, device: bool = False
    ) -> dict[str, Any] | None:
        """Count one try as wrong before its PIN is checked (so concurrent guesses cannot all pass
        before any is counted), on the code's shared counter or a trusted device's own
        (`device`), if a try is allowed now and nobody counted one since `failures` was read: the
        document after it, or None (another try came first)."""
        delay = backoff.retry_after(failures + 1)
        return await (self._devices if device else self._codes).find_one_and_update(
            {"_id": counter, "failures": failures, "$or": [{"retry_at": None}, {"retry_at": {"$lte": now}}]},
            {"$set": {"failures": failures + 1, "retry_at": now + timedelta(seconds=delay)}},
            return_document=ReturnDocument.AFTER,
        )

    async def right_pin(self, counter: str, *, device: bool = False) -> None:
        await (self._devices if device else self._codes).update_one(
            {"_id": counter}, {"$set": {"failures": 0, "retry_at": None}}
        )

    async def device(self, key: str) -> dict[str, Any] | None:
        return await self._devices.find_one({"_id": key, "expires_at": {"$gt": clock.wall()}})

    async def trust_device(self, key: str, ttl: timedelta) -> None:
        await self._devices.update_one(
            {"_id": key},
            {"$set": {"expires_at": clock.wall() + ttl}, "$setOnInsert": {"failures": 0, "retry_at": None}},
            upsert=True,
        )

    async def open_session(self, session: str, complaint_id: str, ttl: timedelta) -> None:
        now = clock.wall()  # a TTL index expires it: the database's clock
        await self._sessions.insert_one(
            {
                "_id": session_hash(session),
                "complaint_id": complaint_id,
                "created_at": now,
                "expires_at": now + ttl,
            }
        )

    async def session_complaint(self, session: str) -> str | None:
        found = await self._sessions.find_one(
            {"_id": session_hash(session), "expires_at": {"$gt": clock.wall()}}
        )
        return None if found is None else str(found["complaint_id"])


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db["tracking_sessions"].create_index("expires_at", expireAfterSeconds=0)
    await db["tracking_devices"].create_index("expires_at", expireAfterSeconds=0)
