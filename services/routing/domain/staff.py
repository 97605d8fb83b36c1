"""Staff accounts of people (issue 21 item 1): who may manage whom, what a username and a password
must be, and how long a sign-in waits after failures. Pure: the store, the hashing and the pages
are elsewhere (adapters/accounts.py, entrypoints/staff_pages.py).

Roles and scope are the JWT's (shared/auth.py): a handler and an OPD supervisor have an OPD, a
coordinator and a pemda supervisor a pemda, an admin neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email

from shared.auth import ROLES, Role, Staff

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{2,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 256  # argon2 hashes any length; a megabyte "password" is only work for us


class AccountError(ValueError):
    """An account request that cannot be done as asked; the message is for the person."""


@dataclass(frozen=True)
class Account:
    id: str  # the username, lower case; also the JWT's `sub`
    name: str
    role: Role
    pemda: str | None
    opd: str | None
    active: bool = True
    email: str | None = None
    # The person's staff e-mails (domain/staff_mail.py) come as one digest a day, not one by one.
    mail_digest: bool = False

    def as_staff(self) -> Staff:
        return Staff(sub=self.id, role=self.role, pemda=self.pemda, opd=self.opd, name=self.name)


def check_username(raw: str) -> str:
    username = raw.strip().lower()
    if not USERNAME.fullmatch(username):
        raise AccountError("Nama pengguna 3–64 karakter: huruf kecil, angka, titik, garis, @ atau +")
    return username


def check_password(password: str, username: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Kata sandi sekurang-kurangnya {MIN_PASSWORD} karakter")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Kata sandi paling banyak {MAX_PASSWORD} karakter")
    if password.strip().lower() == username:
        raise AccountError("Kata sandi tidak boleh sama dengan nama pengguna")
    return password


def check_email(raw: str) -> str | None:
    """A staff member's e-mail address as it will be kept (the domain in lower case), None when
    left empty; refused with the field named when it is no address. Syntax only: no DNS lookup
    (a page must not wait on one, and a pemda's mail server may not be visible from here)."""
    text = raw.strip()
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise AccountError("Alamat e-mail tidak valid: tulis lengkap, misalnya nama@dinas.go.id") from None


def scoped(role: str, pemda: str | None, opd_slug: str | None) -> tuple[Role, str | None, str | None]:
    """The role and scope of a new account, as the JWT will carry them."""
    if role not in ROLES:
        raise AccountError("Peran tidak dikenal")
    valid: Role = next(r for r in ROLES if r == role)
    if valid == "admin":
        return valid, None, None
    if not pemda:
        raise AccountError("Pemda wajib diisi")
    opd = f"{pemda}/{opd_slug}" if opd_slug else None
    if valid == "handler" and opd is None:
        raise AccountError("Petugas OPD harus memiliki OPD")
    if valid == "coordinator" and opd is not None:
        raise AccountError("Admin koordinator berlaku untuk seluruh pemda, tanpa OPD")
    return valid, pemda, opd


def may_manage(manager: Staff, account_pemda: str | None, account_role: str) -> bool:
    """Admins manage everyone; a coordinator manages the handlers and supervisors of their pemda
    (never an admin nor another coordinator: they cannot raise anyone above themselves)."""
    if manager.role == "admin":
        return True
    if manager.role != "coordinator" or manager.pemda is None:
        return False
    return account_pemda == manager.pemda and account_role in ("handler", "supervisor")


@dataclass(frozen=True)
class Backoff:
    """How long sign-ins wait after failures, per key (an account, a client address).

    The first `free` failures cost nothing; then each doubles the wait from `base`, up to `cap`.
    An attempt during the wait is refused without checking the password and is not counted, so
    the wait never grows beyond `cap`: a stranger can slow an account's sign-in (by at most the
    account cap, kept short) but never lock it for good. Failures are forgotten after `forget`.
    """

    free: int = 3
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=15)
    forget: timedelta = timedelta(hours=1)

    def wait_after(self, failures: int) -> timedelta:
        if failures <= self.free:
            return timedelta(0)
        doublings = min(failures - self.free - 1, 30)
        wait: timedelta = self.base * (2**doublings)
        return min(self.cap, wait)

    def blocked_until(self, failures: int, last_failure: datetime) -> datetime:
        return last_failure + self.wait_after(failures)
