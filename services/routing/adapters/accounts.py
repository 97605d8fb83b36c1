"""People's staff accounts, their sessions, sign-in failures and password-reset links, in routing's
database (issue 21 item 1). Passwords are argon2id hashes (argon2-cffi, hashed off the event
loop); session and reset tokens are kept only as their SHA-256, so a copy of the database opens no
session. Times are wall time: they are compared with browsers' cookies and tokens' `exp`.

Collections: `staff_accounts` (`_id` = username), `staff_sessions` (`_id` = token hash; a TTL
index drops expired ones), `staff_failures` (`_id` = "account:<name>" or "client:<address>"),
`staff_resets` (`_id` = link token hash; single use), `staff_oidc_logins` (`_id` = the state's hash:
a sign-in through the OIDC provider under way, single use, dropped after a few minutes),
`staff_oidc_logouts` (`_id` = a back-channel Logout Token's `jti`, kept while such a token would
still be accepted, so a replay ends nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.routing.adapters.staff_mail import MongoStaffMailbox
from services.routing.domain.staff import Account, AccountError, Backoff
from services.routing.domain.staff_mail import Audience, address_changed_mail
from shared import clock
from shared.mongo import transaction

Doc = dict[str, Any]
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against for an unknown username, so that answering takes as long as for a real one.
_DUMMY_HASH = _HASHER.hash("not-a-password-of-anyone")
WRITE_TIMEOUT_S = 10.0  # an address change and its notice, one transaction


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def _verify(stored: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def _account(doc: Doc) -> Account:
    return Account(
        id=doc["_id"],
        name=doc["name"],
        role=doc["role"],
        pemda=doc.get("pemda"),
        opd=doc.get("opd"),
        active=bool(doc.get("active", True)),
        email=doc.get("email"),
        mail_digest=bool(doc.get("mail_digest", False)),
    )


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db["staff_accounts"].create_index([("pemda", ASCENDING), ("_id", ASCENDING)])
    await db["staff_accounts"].create_index([("opd", ASCENDING), ("role", ASCENDING)])
    await db["staff_sessions"].create_index([("account", ASCENDING)])
    await db["staff_sessions"].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    await db["staff_failures"].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    await db["staff_resets"].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    await db["staff_accounts"].create_index([("oidc_subject", ASCENDING)])
    await db["staff_oidc_logins"].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    await db["staff_oidc_logouts"].create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
    # sparse: only sessions opened through the provider carry them
    await db["staff_sessions"].create_index([("oidc_sid", ASCENDING)], sparse=True)
    await db["staff_sessions"].create_index([("oidc_subject", ASCENDING)], sparse=True)


class MongoStaffDirectory:
    """The `StaffDirectory` of ports.py."""

    def __init__(
        self,
        db: AsyncDatabase[Doc],
        *,
        account_backoff: Backoff | None = None,
        client_backoff: Backoff | None = None,
    ) -> None:
        self._db = db
        # An account's wait is short (anyone can make it wait); a client's may be long.
        self.account_backoff = account_backoff or Backoff(cap=timedelta(seconds=60))
        self.client_backoff = client_backoff or Backoff()

    # --- accounts -------------------------------------------------------------------------------

    async def create(self, account: Account, password: str | None, by: str) -> None:
        doc: Doc = {
            "_id": account.id,
            "name": account.name,
            "email": account.email,
            "role": account.role,
            "pemda": account.pemda,
            "opd": account.opd,
            "mail_digest": account.mail_digest,
            "active": True,
            "password_hash": await hash_password(password) if password else None,
            "created_at": clock.wall(),
            "created_by": by,
        }
        try:
            await self._db["staff_accounts"].insert_one(doc)
        except DuplicateKeyError:
            raise AccountError(f"Nama pengguna {account.id} sudah dipakai") from None

    async def get(self, username: str) -> Account | None:
        doc = await self._db["staff_accounts"].find_one({"_id": username}, {"password_hash": 0})
        return _account(doc) if doc else None

    async def addressed(self, audiences: Sequence[Audience], limit: int = 500) -> list[Account]:
        """The active accounts with an e-mail address in these audiences (domain/staff_mail.py)."""
        if not audiences:
            return []
        scopes = [
            {"role": a.role, "opd": a.opd}
            if a.opd is not None
            else {"role": a.role, "pemda": a.pemda, "opd": None}
            for a in audiences
        ]
        query: Doc = {"active": True, "email": {"$nin": [None, ""]}, "$or": scopes}
        found = self._db["staff_accounts"].find(query, {"password_hash": 0}).sort("_id", ASCENDING)
        return [_account(d) async for d in found.limit(limit)]

    async def set_mail_digest(self, username: str, digest: bool) -> bool:
        """The person's choice: staff e-mails one by one (False) or as one digest a day."""
        result = await self._db["staff_accounts"].update_one(
            {"_id": username}, {"$set": {"mail_digest": digest}}
        )
        return bool(result.matched_count)

    async def of_pemda(self, pemda: str | None, limit: int = 500) -> list[Account]:
        """The accounts of a pemda (every account for None: an admin's view), by username."""
        query: Doc = {} if pemda is None else {"pemda": pemda}
        found = self._db["staff_accounts"].find(query, {"password_hash": 0}).sort("_id", ASCENDING)
        return [_account(d) async for d in found.limit(limit)]

    async def check_password(self, username: str, password: str) -> Account | None:
        """The active account if the password is its own; None otherwise (same work either way)."""
        doc = await self._db["staff_accounts"].find_one({"_id": username})
        stored = doc.get("password_hash") if doc else None
        ok = await _verify(stored or _DUMMY_HASH, password)
        if not ok or doc is None or stored is None or not doc.get("active", True):
            return None
        if _HASHER.check_needs_rehash(stored):  # the library's parameters were raised since
            await self._db["staff_accounts"].update_one(
                {"_id": username, "password_hash": stored},
                {"$set": {"password_hash": await hash_password(password)}},
            )
        return _account(doc)

    async def set_password(self, username: str, password: str) -> None:
        """A new password; every session of the account ends (the caller opens a new one)."""
        await self._db["staff_accounts"].update_one(
            {"_id": username},
            {"$set": {"password_hash": await hash_password(password), "password_changed_at": clock.wall()}},
        )
        await self._db["staff_sessions"].delete_many({"account": username})

    async def change_email(self, username: str, email: str, by: str, tell_old: bool) -> str | None:
        """The account's new address, recorded like its other changes (when and by whom; each
        address it was given in `email_history`, the last 20); with `tell_old`, the notice to the old address
        (domain/staff_mail.py `address_changed_mail`) is staged in the same transaction, so a
        change is never without its notice nor a notice without its change. The old address, or
        None when the account had none (or is not active)."""
        accounts, old_address = self._db["staff_accounts"], None

        async def work(session: AsyncClientSession) -> None:
            nonlocal old_address
            now = clock.wall()
            before = await accounts.find_one_and_update(
                {"_id": username, "active": True},
                {
                    "$set": {"email": email, "email_changed_at": now, "email_changed_by": by},
                    "$push": {
                        "email_history": {"$each": [{"at": now, "by": by, "to": email}], "$slice": -20}
                    },
                },
                projection={"password_hash": 0},
                return_document=ReturnDocument.BEFORE,
                session=session,
            )
            old_address = before.get("email") if before else None
            if before is not None and old_address and old_address != email and tell_old:
                notice = address_changed_mail(_account(before), old_address, new_token(), clock.now())
                await MongoStaffMailbox(self._db).outbox.stage([notice], session=session)

        await transaction(self._db.client, work, timeout=WRITE_TIMEOUT_S)
        return old_address

    async def disable(self, username: str, by: str) -> bool:
        """Disable a leaver: the account cannot sign in and its sessions end now."""
        result = await self._db["staff_accounts"].update_one(
            {"_id": username}, {"$set": {"active": False, "disabled_at": clock.wall(), "disabled_by": by}}
        )
        await self._db["staff_sessions"].delete_many({"account": username})
        await self._db["staff_resets"].delete_many({"account": username})
        return result.matched_count > 0

    # --- sessions -------------------------------------------------------------------------------

    async def open_session(
        self,
        username: str,
        lifetime: timedelta,
        id_token: str | None = None,
        *,
        oidc_subject: str | None = None,
        oidc_sid: str | None = None,
    ) -> tuple[str, str]:
        """A new session: (the cookie's token, its CSRF token). `id_token`: the OIDC provider's,
        kept for its logout (`id_token_hint`); `oidc_subject` (`<iss>#<sub>`) and `oidc_sid` (the
        provider's session id from the ID token): what the provider's back-channel logout names
        (`end_oidc_sessions`)."""
        token, csrf, now = new_token(), new_token(), clock.wall()
        doc: Doc = {
            "_id": token_hash(token),
            "account": username,
            "csrf": csrf,
            "created_at": now,
            "expires_at": now + lifetime,
        }
        if id_token:
            doc["id_token"] = id_token
        if oidc_subject:
            doc["oidc_subject"] = oidc_subject
        if oidc_sid:
            doc["oidc_sid"] = oidc_sid
        await self._db["staff_sessions"].insert_one(doc)
        return token, csrf

    async def session(self, token: str) -> tuple[Account, str] | None:
        """The session's account (active) and CSRF token, if the session is open."""
        doc = await self._db["staff_sessions"].find_one({"_id": token_hash(token)})
        if doc is None or doc["expires_at"] <= clock.wall():
            return None
        account = await self.get(doc["account"])
        if account is None or not account.active:
            return None
        return account, doc["csrf"]

    async def close_session(self, token: str) -> str | None:
        """End the session; the OIDC provider's ID token it was opened with, if any."""
        doc = await self._db["staff_sessions"].find_one_and_delete({"_id": token_hash(token)})
        return doc.get("id_token") if doc else None

    async def end_oidc_sessions(self, subject: str | None, sid: str | None) -> int:
        """The provider's back-channel logout: end the session opened with its session `sid` (of
        the person `subject`, `<iss>#<sub>`, when given too), or every session of `subject` when
        no `sid` is named. How many ended."""
        query: Doc = {}
        if sid is not None:
            query["oidc_sid"] = sid
        if subject is not None:
            query["oidc_subject"] = subject
        if not query:
            return 0
        return (await self._db["staff_sessions"].delete_many(query)).deleted_count

    async def first_logout(self, jti: str, until: datetime) -> bool:
        """Record a Logout Token's `jti` until `until` (when a token carrying it stops being
        accepted anyway): True the first time, False for a replay."""
        try:
            await self._db["staff_oidc_logouts"].insert_one(
                {"_id": jti, "seen_at": clock.wall(), "expires_at": until}
            )
        except DuplicateKeyError:
            return False
        return True

    async def forget_logout(self, jti: str) -> None:
        """Undo `first_logout` when the sessions could not be ended, so the provider may retry."""
        await self._db["staff_oidc_logouts"].delete_one({"_id": jti})

    # --- sign-in through an OIDC provider -------------------------------------------------------

    async def begin_oidc(self, state: str, attempt: Doc, lifetime: timedelta) -> None:
        """Remember a sign-in sent to the provider (its nonce, PKCE verifier, the browser binding's
        hash, where to go next) under its `state`, for `lifetime`."""
        now = clock.wall()
        await self._db["staff_oidc_logins"].insert_one(
            {**attempt, "_id": token_hash(state), "created_at": now, "expires_at": now + lifetime}
        )

    async def take_oidc(self, state: str, binding: str) -> Doc | None:
        """The sign-in of this `state` begun in the browser holding `binding`, once (atomically):
        None if unknown, spent, expired or begun in another browser (which leaves it in place)."""
        doc = await self._db["staff_oidc_logins"].find_one_and_delete(
            {"_id": token_hash(state), "binding": token_hash(binding)}
        )
        if doc is None or doc["expires_at"] <= clock.wall():
            return None
        return doc

    async def oidc_account(self, person: Account, subject: str) -> Account | None:
        """The local account of the provider's person `subject` (`<iss>#<sub>`): created at their
        first sign-in, its name, e-mail, role and scope brought up to date with the provider's
        claims at each one. A disabled account stays disabled (returned so; the caller refuses).
        None: the username is another account's (a password account, or another person's)."""
        accounts = self._db["staff_accounts"]
        for _ in range(2):  # a second pass only after losing a race to insert the same person
            doc = await accounts.find_one({"oidc_subject": subject}, {"password_hash": 0})
            if doc is not None:
                if not doc.get("active", True):
                    return _account(doc)
                fields: Doc = {"name": person.name, "email": person.email, "role": person.role}
                fields |= {"pemda": person.pemda, "opd": person.opd, "signed_in_at": clock.wall()}
                updated = await accounts.find_one_and_update(
                    {"_id": doc["_id"], "active": {"$ne": False}},
                    {"$set": fields},
                    projection={"password_hash": 0},
                    return_document=ReturnDocument.AFTER,
                )
                return _account(updated or doc)
            try:
                await accounts.insert_one(
                    {
                        "_id": person.id,
                        "name": person.name,
                        "email": person.email,
                        "role": person.role,
                        "pemda": person.pemda,
                        "opd": person.opd,
                        "active": True,
                        "password_hash": None,  # signs in at the provider only
                        "oidc_subject": subject,
                        "created_at": clock.wall(),
                        "created_by": "oidc",
                        "signed_in_at": clock.wall(),
                    }
                )
                return person
            except DuplicateKeyError:
                taken = await accounts.find_one({"_id": person.id}, {"oidc_subject": 1})
                if taken is None or taken.get("oidc_subject") != subject:
                    return None
        return None

    # --- sign-in failures -----------------------------------------------------------------------

    async def blocked_until(self, keys: list[str]) -> datetime | None:
        """The latest instant until which one of these keys must wait, if any is waiting."""
        now, latest = clock.wall(), None
        async for doc in self._db["staff_failures"].find({"_id": {"$in": keys}}):
            policy = self.backoff_of(doc["_id"])
            until = policy.blocked_until(doc["failures"], doc["last_at"])
            if until > now and (latest is None or until > latest):
                latest = until
        return latest

    def backoff_of(self, key: str) -> Backoff:
        return self.account_backoff if key.startswith("account:") else self.client_backoff

    async def failed(self, keys: list[str]) -> None:
        now = clock.wall()
        for key in keys:
            await self._db["staff_failures"].update_one(
                {"_id": key},
                {
                    "$inc": {"failures": 1},
                    "$set": {"last_at": now, "expires_at": now + self.backoff_of(key).forget},
                },
                upsert=True,
            )

    async def succeeded(self, keys: list[str]) -> None:
        await self._db["staff_failures"].delete_many({"_id": {"$in": keys}})

    # --- password-reset links -------------------------------------------------------------------

    async def new_reset(self, username: str, lifetime: timedelta, by: str) -> str:
        """A one-time link token; earlier unused links of the account stop working."""
        token, now = new_token(), clock.wall()
        await self._db["staff_resets"].delete_many({"account": username})
        await self._db["staff_resets"].insert_one(
            {
                "_id": token_hash(token),
                "account": username,
                "by": by,
                "created_at": now,
                "expires_at": now + lifetime,
            }
        )
        return token

    async def reset_account(self, token: str) -> Account | None:
        """The account a link is for, if the link is unused, unexpired and the account active."""
        doc = await self._db["staff_resets"].find_one({"_id": token_hash(token), "used_at": None})
        if doc is None or doc["expires_at"] <= clock.wall():
            return None
        account = await self.get(doc["account"])
        return account if account and account.active else None

    async def use_reset(self, token: str) -> str | None:
        """Spend a link (once, atomically): the username, or None if it was spent or expired."""
        now = clock.wall()
        doc = await self._db["staff_resets"].find_one_and_update(
            {"_id": token_hash(token), "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return doc["account"] if doc else None
