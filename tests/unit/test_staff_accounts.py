"""People's staff accounts (services/routing/domain/staff.py): who may manage whom, what an
account's role and scope may be, and how long sign-in waits after failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.domain.staff import (
    AccountError,
    Backoff,
    check_email,
    check_password,
    check_username,
    may_manage,
    scoped,
)
from shared.auth import Staff

COORDINATOR = Staff(sub="koord", role="coordinator", pemda="33.74", opd=None)
ADMIN = Staff(sub="admin", role="admin", pemda=None, opd=None)
HANDLER = Staff(sub="budi", role="handler", pemda="33.74", opd="33.74/dinas-pupr")


def test_a_coordinator_manages_handlers_and_supervisors_of_their_own_pemda_only() -> None:
    assert may_manage(COORDINATOR, "33.74", "handler") and may_manage(COORDINATOR, "33.74", "supervisor")
    assert not may_manage(COORDINATOR, "33.71", "handler")  # another pemda
    assert not may_manage(COORDINATOR, "33.74", "coordinator")  # never their equal
    assert not may_manage(COORDINATOR, None, "admin")  # nor above them
    assert may_manage(ADMIN, "33.71", "coordinator") and may_manage(ADMIN, None, "admin")
    assert not may_manage(HANDLER, "33.74", "handler")


def test_roles_carry_the_scope_the_jwt_needs() -> None:
    assert scoped("handler", "33.74", "dinas-pupr") == ("handler", "33.74", "33.74/dinas-pupr")
    assert scoped("supervisor", "33.74", None) == ("supervisor", "33.74", None)
    assert scoped("admin", "33.74", "dinas-pupr") == ("admin", None, None)
    for role, pemda, opd in (
        ("handler", "33.74", None),
        ("coordinator", "33.74", "dlh"),
        ("handler", None, "dlh"),
        ("raja", "33.74", None),
    ):
        with pytest.raises(AccountError):
            scoped(role, pemda, opd)


def test_usernames_and_passwords() -> None:
    assert check_username("  Budi.PUPR ") == "budi.pupr"
    for bad in ("ab", "budi pupr", "<script>", "x" * 65):
        with pytest.raises(AccountError):
            check_username(bad)
    for bad in ("pendek", "budi.pupr1", "x" * 257):
        with pytest.raises(AccountError):
            check_password(bad, "budi.pupr1")
    assert check_password("sandi-yang-cukup-panjang", "budi.pupr")


def test_e_mail_addresses_are_checked_and_kept_as_mail_software_reads_them() -> None:
    assert check_email("  Budi.Santoso@PUPR.Semarangkota.GO.ID ") == "Budi.Santoso@pupr.semarangkota.go.id"
    assert check_email("") is None and check_email("   ") is None  # none given
    for bad in ("budi", "budi@", "@pupr.go.id", "budi@pupr", "budi santoso@pupr.go.id", "a@b.test",
                "budi@pupr.go.id\nBcc: x@y.id", "x" * 250 + "@pupr.go.id"):  # fmt: skip
        with pytest.raises(AccountError, match="Alamat e-mail tidak valid"):
            check_email(bad)


def test_backoff_grows_from_the_free_attempts_and_stops_at_its_cap() -> None:
    policy = Backoff(free=3, base=timedelta(seconds=2), cap=timedelta(seconds=60))
    assert [policy.wait_after(n).total_seconds() for n in range(1, 10)] == [0, 0, 0, 2, 4, 8, 16, 32, 60]
    assert policy.wait_after(10**6) == timedelta(seconds=60)  # a stranger's hammering cannot make it longer
    last = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert policy.blocked_until(5, last) == last + timedelta(seconds=4)


def test_a_sign_in_returns_only_to_routings_paths_or_allowed_origins() -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from services.routing.entrypoints.staff_pages import PAGE_SETTINGS, _safe_next
    from services.routing.settings import RoutingSettings

    app = web.Application()
    app[PAGE_SETTINGS] = RoutingSettings(staff_return_origins="https://sla.contoh.go.id")
    request = make_mocked_request("GET", "/staff/masuk", app=app)
    allowed = ["/staff/akun", "https://sla.contoh.go.id/dashboard/?pemda=33.74"]
    assert [_safe_next(request, t) for t in allowed] == allowed
    refused = [
        None,
        "",
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "/x\n",
    ]
    assert {_safe_next(request, t) for t in refused} == {"/staff/"}
