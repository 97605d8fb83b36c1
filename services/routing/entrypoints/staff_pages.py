"""One sign-in for people (issue 21 item 1): routing's server-rendered staff pages.

- `/staff/masuk`: sign in with username and password; a session (server-side, revocable) in the
  HttpOnly cookie `pengaduan_sesi`. Failures make the account (briefly) and the client address
  (longer) wait (domain/staff.py `Backoff`), answered 429 with `Retry-After`.
- The session hands the browser a short-lived staff JWT (shared/auth.py's format and secret) in the
  HttpOnly cookie `STAFF_COOKIE_NAME`, renewed on every page of a live session. Intake's and sla's
  pages and read APIs accept that cookie (shared/auth.py `require_staff`, GET/HEAD only), so
  neither reads routing's database; on a 401 they send the person to `/staff/masuk?next=…`, which
  with a live session renews the token and sends them straight back. Why a cookie and not a
  token handed to page script: no script ever holds it (an injected script cannot carry it off),
  and the existing verification accepts it unchanged.
- `/staff/sandi` (the person's account: change password; the address of their staff e-mails,
  entrypoints/staff_address_pages.py), `/staff/keluar` (logout), `/staff/akun` (admins and
  coordinators: create accounts, disable leavers, one-time password-reset links),
  `/staff/atur-sandi/{token}` (spend such a link).
- Every form carries a CSRF token: the session's (synchronizer token), or before a session (sign-in,
  reset link) a double-submit cookie. A missing or wrong one is a 403 and changes nothing.
- No script on these pages at all; the policy says so (`staff_csp`).

With `ROUTING_OIDC_ISSUER` set, sign-in goes through the pemda's OpenID Connect provider instead
(entrypoints/staff_oidc.py sets `app[EXTERNAL_SIGN_IN]`): `/staff/masuk` sends the person there,
the password forms are refused, and logout also ends the provider's session when it can.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, Protocol
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.routing.domain.staff import (
    Account,
    AccountError,
    check_email,
    check_password,
    check_username,
    may_manage,
    scoped,
)
from services.routing.entrypoints.ratelimit import RoutingRateSettings
from services.routing.ports import StaffDirectory
from services.routing.settings import RoutingSettings
from shared import clock
from shared.auth import ROLE_LABELS, ROLES, STAFF_AUTH, mint
from shared.http import browser_headers, database_free
from shared.ratelimit import client_address

ROOT = Path(__file__).resolve().parent.parent
SESSION_COOKIE = "pengaduan_sesi"
CSRF_COOKIE = "pengaduan_csrf"


def staff_csp(return_origins: list[str]) -> str:
    """No script at all. `form-action` also lists the origins a sign-in may return to: browsers
    apply it to the redirect that follows a form's post, which would otherwise be blocked."""
    targets = " ".join(["'self'", *return_origins])
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"form-action {targets}; frame-ancestors 'none'"
    )


MAX_FORM_BYTES = 16 * 1024

DIRECTORY = web.AppKey("staff_directory", StaffDirectory)
PAGE_SETTINGS = web.AppKey("staff_page_settings", RoutingSettings)
PROXIES = web.AppKey("staff_trusted_proxies", tuple)


class ExternalSignIn(Protocol):
    """Sign-in at an identity provider (entrypoints/staff_oidc.py), replacing the password's."""

    origins: list[str]  # where its pages are: the logout form's answer redirects there

    async def begin(self, request: web.Request, target: str) -> web.HTTPFound: ...
    async def logout_url(self, request: web.Request, id_token: str | None) -> str | None: ...


EXTERNAL_SIGN_IN = web.AppKey("staff_external_sign_in", ExternalSignIn)


# --- plumbing ----------------------------------------------------------------------------------


def directory(request: web.Request) -> StaffDirectory:
    return request.app[DIRECTORY]


def _settings(request: web.Request) -> RoutingSettings:
    return request.app[PAGE_SETTINGS]


def _secure(request: web.Request) -> bool:
    s = _settings(request)
    if s.staff_cookie_secure is not None:
        return s.staff_cookie_secure
    return s.http_host not in ("127.0.0.1", "localhost", "::1")


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int, **kw: Any
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, secure=_secure(request), samesite="Lax", **kw
    )


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    defaults = {"role_labels": ROLE_LABELS, "password_sign_in": EXTERNAL_SIGN_IN not in request.app}
    response = aiohttp_jinja2.render_template(
        f"staff/{template}", request, {**defaults, **context}, status=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


class Refusal(Exception):
    """A page's refusal, shown to the person as a page (`pages` below), not a JSON problem."""

    def __init__(self, status: int, title: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message
        self.headers = headers or {}


View = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page(view: View) -> View:
    async def shown(request: web.Request) -> web.StreamResponse:
        try:
            return await view(request)
        except Refusal as refusal:
            shown = render(
                request, "message.html", refusal.status, title=refusal.title, message=refusal.message
            )
            shown.headers.update(refusal.headers)
            return shown

    return shown


GONE_LINK = Refusal(
    404,
    "Tautan tidak berlaku",
    "Tautan ini sudah dipakai, kedaluwarsa, atau tidak dikenal. Mintalah tautan baru kepada admin.",
)


async def read_form(request: web.Request) -> dict[str, str]:
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length or 0)
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _refuse_csrf(request: web.Request) -> NoReturn:
    raise Refusal(
        403,
        "Permintaan ditolak",
        "Formulir ini kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang halaman lalu coba lagi.",
    )


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and secrets.compare_digest(str(a), str(b))


async def _session(request: web.Request) -> tuple[Account, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    return await directory(request).session(token) if token else None


def staff_token(request: web.Request, account: Account) -> str:
    """A short-lived staff JWT of this person, as intake and sla verify it."""
    return mint(
        account.role,
        pemda=account.pemda,
        opd=account.opd,
        sub=account.id,
        name=account.name,
        ttl_seconds=_settings(request).staff_jwt_minutes * 60,
    )


def issue_token(request: web.Request, response: web.StreamResponse, account: Account) -> None:
    """The session's short-lived staff JWT, in the cookie intake and sla read."""
    s = _settings(request)
    token = staff_token(request, account)
    name = request.app[STAFF_AUTH].settings.cookie_name
    extra = {"domain": s.staff_cookie_domain} if s.staff_cookie_domain else {}
    _set_cookie(request, response, name, token, s.staff_jwt_minutes * 60, **extra)


def _end_cookies(request: web.Request, response: web.StreamResponse) -> None:
    s = _settings(request)
    response.del_cookie(SESSION_COOKIE, path="/")
    domain = s.staff_cookie_domain or None
    response.del_cookie(request.app[STAFF_AUTH].settings.cookie_name, path="/", domain=domain)


def _safe_next(request: web.Request, target: str | None) -> str:
    """Where to go after signing in: a path of routing's, or an allowed origin's page."""
    # A backslash or a control character: browsers read "/\\evil.example" as another host.
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return "/staff/"
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    origins = set(_return_origins(_settings(request)))
    if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" in origins:
        return target
    return "/staff/"


def _return_origins(settings: RoutingSettings) -> list[str]:
    return [o.strip().rstrip("/") for o in settings.staff_return_origins.split(",") if o.strip()]


def _to_sign_in(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(f"/staff/masuk?next={quote(request.path_qs, safe='')}")


async def signed_in(request: web.Request) -> tuple[Account, str]:
    found = await _session(request)
    if found is None:
        raise _to_sign_in(request)
    return found


async def signed_in_form(request: web.Request) -> tuple[Account, str, dict[str, str]]:
    """A form posted by a signed-in person: the account, the session's CSRF token and the fields,
    or a refusal page when the form did not come from this session's page."""
    account, csrf = await signed_in(request)
    form = await read_form(request)
    if not _same(form.get("csrf"), csrf):
        _refuse_csrf(request)
    return account, csrf, form


def _client_key(request: web.Request) -> str:
    """The client address a sign-in counts against (behind the same trusted proxies as the rate
    limits, `TRUSTED_PROXIES`)."""
    return f"client:{client_address(request, request.app[PROXIES])}"


def _csrf_value(request: web.Request) -> str:
    """The double-submit token of the forms shown before a session (sign-in, reset link)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _csrf_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, value, path="/staff/", httponly=True, secure=_secure(request), samesite="Strict"
    )


# --- sign-in, logout, home ----------------------------------------------------------------------


async def home(request: web.Request) -> web.Response:
    account, csrf = await signed_in(request)
    response = render(
        request,
        "home.html",
        account=account,
        csrf=csrf,
        manages=account.role in ("admin", "coordinator"),
        dashboard_url=_settings(request).staff_dashboard_url,
    )
    issue_token(request, response, account)
    return response


async def sign_in_form(request: web.Request) -> web.Response:
    target = _safe_next(request, request.query.get("next"))
    found = await _session(request)
    if found is not None:  # already signed in: renew the token and go on
        onward = web.HTTPFound(target)
        issue_token(request, onward, found[0])
        raise onward
    external = request.app.get(EXTERNAL_SIGN_IN)
    if external is not None:
        if "pesan" not in request.query:  # straight to the provider; after a logout, a link there
            raise await external.begin(request, target)
        return render(request, "sign_in.html", next=target, notice=request.query.get("pesan"))
    csrf = _csrf_value(request)
    response = render(request, "sign_in.html", next=target, csrf=csrf, notice=request.query.get("pesan"))
    _csrf_cookie(request, response, csrf)
    return response


def _passwords_off(request: web.Request) -> None:
    if EXTERNAL_SIGN_IN in request.app:
        raise Refusal(
            404,
            "Kata sandi tidak dipakai",
            "Staf masuk melalui layanan masuk pemda; kata sandi dan alamat e-mail dikelola di sana, "
            "bukan di sini.",
        )


async def sign_in(request: web.Request) -> web.Response:
    _passwords_off(request)
    form = await read_form(request)
    if not _same(form.get("csrf"), request.cookies.get(CSRF_COOKIE)):
        return _refuse_csrf(request)
    target = _safe_next(request, form.get("next"))
    username = form.get("username", "").strip().lower()[:64]
    keys = [f"account:{username}", _client_key(request)]
    staff = directory(request)
    until = await staff.blocked_until(keys)
    if until is not None:
        wait = max(1, int((until - clock.wall()).total_seconds()) + 1)
        response = render(
            request,
            "sign_in.html",
            429,
            next=target,
            csrf=form.get("csrf"),
            username=username,
            error=f"Terlalu banyak percobaan gagal. Coba lagi dalam {wait} detik.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    account = await staff.check_password(username, form.get("password", "")[:512])
    if account is None:
        await staff.failed(keys)
        return render(
            request,
            "sign_in.html",
            401,
            next=target,
            csrf=form.get("csrf"),
            username=username,
            error="Nama pengguna atau kata sandi salah.",
        )
    await staff.succeeded(keys[:1])  # the client's count stays: it may be trying many accounts
    lifetime = timedelta(hours=_settings(request).staff_session_hours)
    token, _ = await staff.open_session(account.id, lifetime)
    response = web.HTTPFound(target)
    _set_cookie(request, response, SESSION_COOKIE, token, int(lifetime.total_seconds()))
    issue_token(request, response, account)
    raise response


async def sign_out(request: web.Request) -> web.Response:
    found = await _session(request)
    form = await read_form(request)
    if found is None or not _same(form.get("csrf"), found[1]):
        return _refuse_csrf(request)
    id_token = await directory(request).close_session(request.cookies[SESSION_COOKIE])
    external = request.app.get(EXTERNAL_SIGN_IN)
    at_provider = await external.logout_url(request, id_token) if external else None
    response = web.HTTPFound(at_provider or "/staff/masuk?pesan=keluar")
    _end_cookies(request, response)
    raise response


# --- password -----------------------------------------------------------------------------------


def _new_password_refused(form: dict[str, str], username: str, differ: str) -> str | None:
    """Why the form's new password (typed twice) is refused, or None: `differ` when the two
    differ, else the password rule's reason (domain/staff.py `check_password`)."""
    if form.get("new", "") != form.get("repeat", ""):
        return differ
    try:
        check_password(form.get("new", ""), username)
    except AccountError as exc:
        return str(exc)
    return None


async def password_form(request: web.Request) -> web.Response:
    account, csrf = await signed_in(request)
    _passwords_off(request)
    return render(request, "password.html", account=account, csrf=csrf)


async def change_password(request: web.Request) -> web.Response:
    account, csrf, form = await signed_in_form(request)
    _passwords_off(request)
    staff = directory(request)
    if await staff.check_password(account.id, form.get("current", "")[:512]) is None:
        error: str | None = "Kata sandi saat ini salah."
    else:
        error = _new_password_refused(form, account.id, "Kedua kata sandi baru tidak sama.")
    if error:
        return render(request, "password.html", 422, account=account, csrf=csrf, error=error)
    await staff.set_password(account.id, form["new"])  # ends every session, this one too
    lifetime = timedelta(hours=_settings(request).staff_session_hours)
    token, csrf = await staff.open_session(account.id, lifetime)
    response = render(request, "password.html", account=account, csrf=csrf, done=True)
    _set_cookie(request, response, SESSION_COOKIE, token, int(lifetime.total_seconds()))
    issue_token(request, response, account)
    return response


# --- managing staff -----------------------------------------------------------------------------


def _must_manage(account: Account) -> None:
    if account.role not in ("admin", "coordinator"):
        raise Refusal(403, "Bukan wewenang Anda", "Halaman ini hanya untuk admin dan Admin Koordinator.")


async def _manager(request: web.Request) -> tuple[Account, str]:
    account, csrf = await signed_in(request)
    _must_manage(account)
    return account, csrf


async def _manager_form(request: web.Request) -> tuple[Account, str, dict[str, str]]:
    account, csrf, form = await signed_in_form(request)
    _must_manage(account)
    return account, csrf, form


async def _accounts_page(
    request: web.Request, manager: Account, csrf: str, status: int = 200, **context: Any
) -> web.Response:
    accounts = await directory(request).of_pemda(None if manager.role == "admin" else manager.pemda)
    response = render(
        request,
        "accounts.html",
        status,
        account=manager,
        csrf=csrf,
        accounts=accounts,
        roles=[r for r in ROLES if manager.role == "admin" or r in ("handler", "supervisor")],
        **context,
    )
    issue_token(request, response, manager)
    return response


async def accounts(request: web.Request) -> web.Response:
    manager, csrf = await _manager(request)
    return await _accounts_page(request, manager, csrf)


def _reset_url(request: web.Request, token: str) -> str:
    return f"{request.scheme}://{request.host}/staff/atur-sandi/{token}"


async def create_account(request: web.Request) -> web.Response:
    manager, csrf, form = await _manager_form(request)
    if EXTERNAL_SIGN_IN in request.app:
        raise Refusal(
            409,
            "Akun dibuat oleh layanan masuk",
            "Akun staf dibuat sendiri saat seseorang pertama kali masuk melalui layanan masuk pemda; "
            "peran dan cakupannya diatur di sana.",
        )
    pemda = manager.pemda if manager.role == "coordinator" else (form.get("pemda") or "").strip() or None
    try:
        username = check_username(form.get("username", ""))
        name = " ".join(form.get("name", "").split())[:120]
        if not name:
            raise AccountError("Nama lengkap wajib diisi")
        role, pemda, opd = scoped(form.get("role", ""), pemda, (form.get("opd") or "").strip() or None)
        if not may_manage(manager.as_staff(), pemda, role):
            raise AccountError("Anda tidak boleh membuat akun dengan peran atau pemda ini")
        email = check_email((form.get("email") or "")[:512])
        account = Account(id=username, name=name, role=role, pemda=pemda, opd=opd, email=email)
        await directory(request).create(account, None, manager.id)
    except AccountError as exc:
        return await _accounts_page(request, manager, csrf, 422, error=str(exc))
    hours = _settings(request).staff_reset_hours
    token = await directory(request).new_reset(username, timedelta(hours=hours), manager.id)
    return await _accounts_page(
        request, manager, csrf, link_for=username, link=_reset_url(request, token), link_hours=hours
    )


async def _managed(request: web.Request, manager: Account) -> Account:
    account = await directory(request).get(request.match_info["username"])
    if account is None or not may_manage(manager.as_staff(), account.pemda, account.role):
        raise Refusal(404, "Akun tidak ditemukan", "Akun ini tidak ada atau di luar kewenangan Anda.")
    return account


async def disable_account(request: web.Request) -> web.Response:
    manager, csrf, _ = await _manager_form(request)
    account = await _managed(request, manager)
    if account.id == manager.id:
        return await _accounts_page(
            request, manager, csrf, 409, error="Anda tidak dapat menonaktifkan akun sendiri."
        )
    await directory(request).disable(account.id, manager.id)
    return await _accounts_page(
        request, manager, csrf, notice=f"Akun {account.id} dinonaktifkan; sesinya berakhir."
    )


async def reset_link(request: web.Request) -> web.Response:
    manager, csrf, _ = await _manager_form(request)
    _passwords_off(request)
    account = await _managed(request, manager)
    if not account.active:
        return await _accounts_page(request, manager, csrf, 409, error=f"Akun {account.id} nonaktif.")
    hours = _settings(request).staff_reset_hours
    token = await directory(request).new_reset(account.id, timedelta(hours=hours), manager.id)
    return await _accounts_page(
        request, manager, csrf, link_for=account.id, link=_reset_url(request, token), link_hours=hours
    )


# --- one-time password links --------------------------------------------------------------------


async def set_password_form(request: web.Request) -> web.Response:
    _passwords_off(request)
    account = await directory(request).reset_account(request.match_info["token"])
    if account is None:
        raise GONE_LINK
    csrf = _csrf_value(request)
    response = render(request, "set_password.html", target=account, csrf=csrf)
    _csrf_cookie(request, response, csrf)
    return response


async def set_password(request: web.Request) -> web.Response:
    _passwords_off(request)
    form = await read_form(request)
    if not _same(form.get("csrf"), request.cookies.get(CSRF_COOKIE)):
        return _refuse_csrf(request)
    token = request.match_info["token"]
    staff = directory(request)
    account = await staff.reset_account(token)
    if account is None:
        raise GONE_LINK
    error = _new_password_refused(form, account.id, "Kedua kata sandi tidak sama.")
    if error:
        return render(request, "set_password.html", 422, target=account, csrf=form.get("csrf"), error=error)
    if await staff.use_reset(token) != account.id:  # spent meanwhile (a second tab)
        raise GONE_LINK
    await staff.set_password(account.id, form["new"])
    raise web.HTTPFound("/staff/masuk?pesan=sandi")


# --- wiring -------------------------------------------------------------------------------------


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/staff"):
        external = request.app.get(EXTERNAL_SIGN_IN)
        csp = staff_csp(_return_origins(_settings(request)) + (external.origins if external else []))
        response.headers.update(browser_headers(csp))


async def _to_home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/staff/")


def add_routes(app: web.Application, settings: RoutingSettings) -> None:
    """The pages; they read the accounts through `app[DIRECTORY]` (set by bootstrap.py once the
    database is open)."""
    app[PAGE_SETTINGS] = settings
    app[PROXIES] = RoutingRateSettings().proxies
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(ROOT / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        app_key=aiohttp_jinja2.APP_KEY,
    )

    app.on_response_prepare.append(_headers)
    r = app.router
    r.add_get("/staff", _to_home)
    r.add_get("/staff/", page(home))
    r.add_get("/staff/masuk", page(sign_in_form))
    r.add_post("/staff/masuk", page(sign_in))
    r.add_post("/staff/keluar", page(sign_out))
    r.add_get("/staff/sandi", page(password_form))
    r.add_post("/staff/sandi", page(change_password))
    r.add_get("/staff/akun", page(accounts))
    r.add_post("/staff/akun", page(create_account))
    r.add_post("/staff/akun/{username}/nonaktifkan", page(disable_account))
    r.add_post("/staff/akun/{username}/tautan-sandi", page(reset_link))
    r.add_get("/staff/atur-sandi/{token}", page(set_password_form))
    r.add_post("/staff/atur-sandi/{token}", page(set_password))
    r.add_static("/staff/static/", ROOT / "static", append_version=False)
    from services.routing.entrypoints import (  # here: they import this module
        staff_address_pages,
        workbench_pages,
    )

    workbench_pages.add_routes(app)
    staff_address_pages.add_routes(app)
    database_free(app, "/staff", "/staff/static")
