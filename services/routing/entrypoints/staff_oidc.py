"""Staff sign-in through the pemda's OpenID Connect provider (issue 21 item 1), when
`ROUTING_OIDC_ISSUER` is set: then `/staff/masuk` sends people to the provider instead of asking
for a password (entrypoints/staff_pages.py asks `app[EXTERNAL_SIGN_IN]`).

1. `GET /staff/masuk` (no session): a new state, nonce and PKCE verifier (adapters/oidc.py); the
   attempt is kept server-side under the state's hash for `ROUTING_OIDC_LOGIN_MINUTES`, bound to
   this browser by a random value in the HttpOnly cookie `pengaduan_oidc` (only its hash is
   stored); 302 to the provider's authorization endpoint. A sign-in begun in a second tab
   replaces the cookie, so the first tab's return asks the person to start again.
2. `GET /staff/masuk/oidc?code&state` (the redirect URI): the attempt is taken once, only with the
   browser's binding cookie (a state replayed, forged, or carried to another browser finds
   nothing); the provider's `iss` parameter (RFC 9207) must be its own; the code is exchanged with
   the verifier; the ID token's signature, iss, aud, exp and nonce are checked; its claims give
   the role and scope (domain/oidc.py, refused in plain Indonesian when unknown or outside the
   deployment); the person's local account is created or brought up to date (a disabled one is
   refused); then the same session and staff token cookies as a password sign-in.
3. Logout ends the local session, then sends the browser to the provider's
   `end_session_endpoint` (with the ID token as `id_token_hint`) when it offers one.
4. `POST /staff/oidc/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0, register it as the
   client's `backchannel_logout_uri`): the provider, server to server, posts a Logout Token when a
   person logs out there (or is logged out by an admin); its signature (the ID token's key set)
   and claims are checked (domain/oidc.py `logout_request`), its `jti` is remembered so a replay
   ends nothing, and the local sessions it names end: the one opened with its `sid` (recorded
   from the ID token at sign-in), or every session of its `sub`. No session or CSRF token: the
   signed token is the credential.

Why a local account per person: e-mail notifications (issue 21 item 4) and the staff page read
routing's accounts; an admin can disable a leaver here at once, whatever the provider still says;
sessions and the identity audit name the same username either way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from services.routing.adapters.accounts import new_token, token_hash
from services.routing.adapters.oidc import LogoutTokenRejected, OidcClient, OidcError
from services.routing.domain.oidc import ClaimNames, OidcRefusal, parse_role_map, person
from services.routing.entrypoints.staff_pages import (
    EXTERNAL_SIGN_IN,
    SESSION_COOKIE,
    Refusal,
    _safe_next,
    _set_cookie,
    _settings,
    directory,
    issue_token,
    page,
)
from services.routing.ports import Catalog
from services.routing.settings import RoutingSettings
from shared.http import ProblemError
from shared.ratelimit import RATE_LIMITS

log = logging.getLogger(__name__)

CALLBACK = "/staff/masuk/oidc"
BACK_CHANNEL_LOGOUT = "/staff/oidc/backchannel-logout"
# A Logout Token is a signed JWT of a few hundred bytes; a larger body is not the provider's.
MAX_LOGOUT_BODY = 16 * 1024
BINDING_COOKIE = "pengaduan_oidc"
CATALOG = web.AppKey("staff_oidc_catalog", Catalog)


EXPIRED = Refusal(
    400,
    "Proses masuk tidak dikenal",
    "Proses masuk ini sudah kedaluwarsa, sudah dipakai, atau dimulai di peramban lain. "
    "Buka kembali halaman masuk untuk mencoba lagi.",
)
UNREACHABLE = Refusal(
    503,
    "Penyedia identitas tidak dapat dihubungi",
    "Layanan masuk pemda sedang tidak dapat dihubungi. Coba lagi beberapa saat lagi; bila berlanjut, "
    "hubungi admin.",
)
UNTRUSTED = Refusal(
    502,
    "Proses masuk gagal",
    "Jawaban layanan masuk pemda tidak dapat diterima. Buka kembali halaman masuk untuk mencoba lagi; "
    "bila berlanjut, hubungi admin.",
)


class OidcSignIn:
    """The `ExternalSignIn` of staff_pages.py for one provider."""

    def __init__(self, settings: RoutingSettings) -> None:
        self.client = OidcClient(
            settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret, settings.oidc_scopes
        )
        self.names = ClaimNames(
            username=settings.oidc_username_claim,
            name=settings.oidc_name_claim,
            email=settings.oidc_email_claim,
            role=settings.oidc_role_claim,
            pemda=settings.oidc_pemda_claim,
            opd=settings.oidc_opd_claim,
            role_map=parse_role_map(settings.oidc_role_map),
        )
        self.pemdas = frozenset(p.strip() for p in settings.oidc_pemdas.split(",") if p.strip())
        self.login_lifetime = timedelta(minutes=settings.oidc_login_minutes)
        issuer = urlsplit(settings.oidc_issuer)
        # The logout form's answer redirects there: `form-action` of the pages' policy must allow it.
        self.origins = [f"{issuer.scheme}://{issuer.netloc}"]

    async def begin(self, request: web.Request, target: str) -> web.HTTPFound:
        try:  # before anything is stored: a flood of visits is refused, not remembered
            await request.app[RATE_LIMITS].check_request("oidc_sign_in", request)
        except ProblemError as exc:
            wait = exc.headers.get("Retry-After", "60")
            raise Refusal(
                429,
                "Terlalu banyak percobaan masuk",
                f"Terlalu banyak percobaan masuk dari alamat ini. Coba lagi dalam {wait} detik.",
                {"Retry-After": wait},
            ) from None
        redirect_uri = _base_url(request) + CALLBACK
        try:
            auth = await self.client.authorization_request(redirect_uri)
        except OidcError as exc:
            log.warning("OIDC sign-in cannot start: %s", exc)
            raise UNREACHABLE from None
        binding = new_token()
        attempt = {
            "binding": token_hash(binding),
            "nonce": auth.nonce,
            "verifier": auth.verifier,
            "next": target,
            "redirect_uri": redirect_uri,
        }
        await directory(request).begin_oidc(auth.state, attempt, self.login_lifetime)
        response = web.HTTPFound(auth.url)
        response.headers["Cache-Control"] = "no-store"
        _set_cookie(request, response, BINDING_COOKIE, binding, int(self.login_lifetime.total_seconds()))
        return response

    async def logout_url(self, request: web.Request, id_token: str | None) -> str | None:
        return await self.client.end_session_url(id_token, _base_url(request) + "/staff/masuk?pesan=keluar")

    async def finish(self, request: web.Request) -> web.StreamResponse:
        state, binding = request.query.get("state", ""), request.cookies.get(BINDING_COOKIE, "")
        attempt = await directory(request).take_oidc(state, binding) if state and binding else None
        if attempt is None:
            raise EXPIRED
        if "error" in request.query:
            log.info("OIDC sign-in refused by the provider: %s", request.query.get("error", "")[:100])
            raise Refusal(
                403,
                "Masuk dibatalkan",
                "Penyedia identitas tidak meneruskan proses masuk (dibatalkan atau ditolak). "
                "Buka kembali halaman masuk untuk mencoba lagi.",
            )
        try:
            claims, id_token = await self._verified(request, attempt)
        except OidcError as exc:
            log.warning("OIDC sign-in refused: %s", exc)
            raise UNTRUSTED from None
        try:
            wanted = person(claims, self.names, self.pemdas)
        except OidcRefusal as exc:
            raise Refusal(403, "Tidak dapat masuk", f"{exc} Hubungi admin pemda Anda.") from None
        if wanted.opd and not await request.app[CATALOG].opd_exists(wanted.opd):
            raise Refusal(
                403,
                "Tidak dapat masuk",
                f"OPD {wanted.opd} tidak ada dalam katalog. Hubungi admin pemda Anda.",
            )
        subject, sid = f"{claims['iss']}#{claims['sub']}", claims.get("sid")
        account = await directory(request).oidc_account(wanted, subject)
        if account is None:
            raise Refusal(
                409,
                "Tidak dapat masuk",
                f"Nama pengguna {wanted.id} sudah dipakai akun lain di sistem ini. Hubungi admin.",
            )
        if not account.active:
            raise Refusal(403, "Akun nonaktif", "Akun Anda telah dinonaktifkan. Hubungi admin pemda Anda.")
        lifetime = timedelta(hours=_settings(request).staff_session_hours)
        token, _ = await directory(request).open_session(
            account.id,
            lifetime,
            id_token,
            oidc_subject=subject,
            oidc_sid=sid if isinstance(sid, str) and 0 < len(sid) <= 255 else None,
        )
        response = web.HTTPFound(_safe_next(request, attempt.get("next")))
        _set_cookie(request, response, SESSION_COOKIE, token, int(lifetime.total_seconds()))
        response.del_cookie(BINDING_COOKIE, path="/")
        issue_token(request, response, account)
        raise response

    async def _verified(self, request: web.Request, attempt: dict[str, str]) -> tuple[dict[str, object], str]:
        meta = await self.client.metadata()
        iss = request.query.get("iss")
        # RFC 9207: an answer naming another issuer is a mix-up; a provider that promises the
        # parameter and leaves it out is not trusted either.
        if iss is not None and iss != self.client.issuer:
            raise OidcError(f"callback: iss {iss!r}")
        if iss is None and meta.get("authorization_response_iss_parameter_supported") is True:
            raise OidcError("callback: no iss although the provider sends it")
        code = request.query.get("code", "")
        if not code or len(code) > 4096:
            raise OidcError("callback: no usable code")
        tokens = await self.client.exchange(code, attempt["verifier"], attempt["redirect_uri"])
        access = tokens.get("access_token")
        claims = await self.client.verify_id_token(
            tokens["id_token"], attempt["nonce"], access if isinstance(access, str) else None
        )
        return claims, tokens["id_token"]

    async def back_channel_logout(self, request: web.Request) -> web.Response:
        """Back-Channel Logout 1.0 §2.5-2.8: the provider posts a Logout Token; a valid one ends
        the sessions it names (200, also when none was open any more); a replayed one (its `jti`
        seen before) or anything else is a 400 naming the reason, and ends nothing."""
        if request.content_type != "application/x-www-form-urlencoded":
            return _logout_refused("the body must be application/x-www-form-urlencoded")
        if request.content_length is not None and request.content_length > MAX_LOGOUT_BODY:
            return _logout_refused(f"the body is larger than {MAX_LOGOUT_BODY} bytes", status=413)
        body = b""  # read to the end, but never more than the bound (a chunked body has no length)
        while len(body) <= MAX_LOGOUT_BODY and (
            chunk := await request.content.read(MAX_LOGOUT_BODY + 1 - len(body))
        ):
            body += chunk
        if len(body) > MAX_LOGOUT_BODY:
            return _logout_refused(f"the body is larger than {MAX_LOGOUT_BODY} bytes", status=413)
        try:
            form = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return _logout_refused("the body is not a form")
        tokens = form.get("logout_token", [])
        if len(tokens) != 1 or not tokens[0]:
            return _logout_refused("logout_token: exactly one is required")
        try:
            wanted = await self.client.verify_logout_token(tokens[0])
        except LogoutTokenRejected as exc:
            log.warning("OIDC back-channel logout refused: %s", exc)
            return _logout_refused(str(exc))
        except OidcError as exc:  # the key set cannot be read: the token cannot be judged now
            log.warning("OIDC back-channel logout cannot be verified: %s", exc)
            raise ProblemError(
                503, "the provider's keys cannot be read now", headers={"Retry-After": "5"}
            ) from None
        staff = directory(request)
        if not await staff.first_logout(wanted.jti, datetime.fromtimestamp(wanted.remember_until, UTC)):
            log.warning("OIDC back-channel logout refused: jti seen before")
            return _logout_refused("logout_token: jti: already received (a replay)")
        subject = f"{self.client.issuer}#{wanted.sub}" if wanted.sub is not None else None
        try:
            ended = await staff.end_oidc_sessions(subject, wanted.sid)
        except Exception:  # the provider does not retry, but an admin may log the person out again
            await staff.forget_logout(wanted.jti)
            raise
        log.info("OIDC back-channel logout: %d session(s) ended", ended)
        return web.Response(status=200, headers={"Cache-Control": "no-store"})


def _logout_refused(reason: str, status: int = 400) -> web.Response:
    """The error answer of Back-Channel Logout 1.0 §2.8 (`error`, `error_description`), written as
    an RFC 9457 problem like every other error of this service (both in one JSON object)."""
    body = {
        "type": "about:blank",
        "title": "Bad Request" if status == 400 else "Content Too Large",
        "status": status,
        "detail": reason,
        "errors": [{"field": "logout_token", "message": reason}],
        "error": "invalid_request",
        "error_description": reason,
    }
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers={"Cache-Control": "no-store"},
    )


def _base_url(request: web.Request) -> str:
    public = _settings(request).staff_public_url.rstrip("/")
    return public or f"{request.scheme}://{request.host}"


async def _callback(request: web.Request) -> web.StreamResponse:
    sign_in = request.app.get(EXTERNAL_SIGN_IN)
    if not isinstance(sign_in, OidcSignIn):
        raise web.HTTPNotFound()
    return await sign_in.finish(request)


async def _back_channel_logout(request: web.Request) -> web.StreamResponse:
    sign_in = request.app.get(EXTERNAL_SIGN_IN)
    if not isinstance(sign_in, OidcSignIn):
        raise ProblemError(404, "no OpenID Connect provider is configured (ROUTING_OIDC_ISSUER)")
    return await sign_in.back_channel_logout(request)


def add_routes(app: web.Application, settings: RoutingSettings) -> None:
    """With `ROUTING_OIDC_ISSUER` set: the provider's sign-in replaces the password's. The
    callback and back-channel logout routes exist either way (answering 404 without a provider),
    so the route table is the same in every deployment."""
    if settings.oidc_issuer:
        sign_in = OidcSignIn(settings)
        app[EXTERNAL_SIGN_IN] = sign_in

        async def close(app: web.Application) -> None:
            await sign_in.client.close()

        app.on_cleanup.append(close)
    app.router.add_get(CALLBACK, page(_callback))
    app.router.add_post(BACK_CHANNEL_LOGOUT, _back_channel_logout)
