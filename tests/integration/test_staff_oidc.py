"""Staff sign-in through an OpenID Connect provider (issue 21 item 1), without a browser: an HTTP
client with a cookie jar follows the redirects and submits the provider's own login and consent
forms. The provider is a real one (panva's oidc-provider, tests/oidc/), which requires PKCE;
routing is its real app on the real database.

What must hold: the person lands on the staff home with the provider's name and role, in a
session and staff token like a password sign-in's, with a local account linked to the provider's
subject; the token's `sub` and `name` are what intake's identity audit records; a callback from
another browser, a replayed or made-up state, a changed nonce, another attempt's code (PKCE), an
answer naming another issuer, an unknown role or a scope outside the deployment are refused with a
page and open no session; logout ends the session here and at the provider; a logout at the
provider ends the session here through its back-channel Logout Token (and only that session), a
token naming only the person ends all their sessions, and a forged, misdirected, replayed or
malformed token is answered 400 and ends nothing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import aiohttp
import pytest
from joserfc import jws
from yarl import URL

from devtools import infra
from services.routing.adapters.accounts import token_hash
from services.routing.adapters.oidc import OidcClient, OidcError
from services.routing.domain.oidc import BACKCHANNEL_EVENT
from services.routing.domain.staff import Account
from services.routing.entrypoints.staff_pages import DIRECTORY
from shared import clock
from shared.auth import StaffAuth
from shared.ratelimit import MONOTONIC, RATE_LIMITS, TokenBuckets
from tests.intake_app import running_intake
from tests.oidc import CLIENT_ID, CLIENT_SECRET, OidcRouting, free_port, routing_with_provider, signing_key
from tests.waiting import eventually

pytestmark = pytest.mark.integration

TOKEN_COOKIE = "pengaduan_staff_token"


@pytest.fixture(scope="module")
async def oidc(
    endpoints: infra.Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OidcRouting]:
    async with routing_with_provider(
        endpoints,
        tmp_path_factory.mktemp("oidc"),
        oidc_pemdas="33.74,33.72",
        oidc_role_map="petugas-opd=handler,koordinator=coordinator",
    ) as running:
        running.provider.add(
            "budi.pupr",
            name="Budi Santoso",
            email="budi@semarangkota.go.id",
            role=["staf", "petugas-opd"],
            pemda="33.74",
            opd="33.74/dinas-pupr",
        )
        running.provider.add("sri.koord", name="Sri Wahyuni", role="koordinator", pemda="33.74")
        running.provider.add("bendahara", name="Bendahara", role="bendahara", pemda="33.74")
        running.provider.add("luar.daerah", name="Orang Jakarta", role="coordinator", pemda="31.71")
        running.provider.add("opd.palsu", name="OPD Palsu", role="handler", pemda="33.74", opd="dinas-sihir")
        yield running


def _browser() -> aiohttp.ClientSession:
    # unsafe: the servers are 127.0.0.1, whose cookies aiohttp's jar drops otherwise.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def _hidden_fields(page: str) -> dict[str, str]:
    fields = re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in fields}


async def _start(http: aiohttp.ClientSession, oidc: OidcRouting, target: str = "/staff/") -> str:
    """Routing's sign-in page: the provider's authorization URL it redirects to."""
    r = await http.get(f"{oidc.base}/staff/masuk", params={"next": target}, allow_redirects=False)
    assert r.status == 302, await r.text()
    location = r.headers["Location"]
    assert location.startswith(f"{oidc.provider.issuer}/auth?")
    return location


async def _at_provider(http: aiohttp.ClientSession, oidc: OidcRouting, url: str, login: str) -> str:
    """Through the provider's login and consent forms, as a person would submit them: the
    callback URL it sends the browser back to (not followed)."""
    for _ in range(12):
        r = await http.get(url, allow_redirects=False)
        if r.status in (302, 303):
            url = urljoin(url, r.headers["Location"])
            if url.startswith(oidc.base):
                return url
            continue
        page = await r.text()
        assert r.status == 200, page
        action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
        form = _hidden_fields(page)
        if form.get("prompt") == "login":
            form |= {"login": login, "password": "apa-saja"}
        if 'name="logout"' in page:  # the provider's logout: "Yes, sign me out"
            form |= {"logout": "yes"}
        r = await http.post(urljoin(url, action), data=form, allow_redirects=False)
        assert r.status in (302, 303), await r.text()
        url = urljoin(url, r.headers["Location"])
        if url.startswith(oidc.base):
            return url
    raise AssertionError("the provider never sent the browser back")


async def _sign_in(http: aiohttp.ClientSession, oidc: OidcRouting, login: str) -> aiohttp.ClientResponse:
    callback = await _at_provider(http, oidc, await _start(http, oidc), login)
    return await http.get(callback, allow_redirects=False)


def _cookie(http: aiohttp.ClientSession, oidc: OidcRouting, name: str) -> str | None:
    found = http.cookie_jar.filter_cookies(URL(oidc.base)).get(name)
    return found.value if found else None


async def test_a_person_signs_in_through_the_provider_and_the_audit_names_them(
    oidc: OidcRouting, endpoints: infra.Endpoints
) -> None:
    async with _browser() as http:
        r = await http.get(f"{oidc.base}/staff/", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/staff/masuk?next=")
        authorize = await _start(http, oidc)
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
        assert query["state"] and query["nonce"] and query["client_id"] == "pengaduan-routing"
        # The challenge is the S256 of the verifier kept server-side (never sent to the browser).
        attempt = await oidc.db["staff_oidc_logins"].find_one({"_id": token_hash(query["state"])})
        assert attempt is not None and attempt["verifier"] not in authorize
        digest = hashlib.sha256(attempt["verifier"].encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
        binding = [c for c in http.cookie_jar if c.key == "pengaduan_oidc"]
        assert binding and binding[0]["httponly"] and binding[0]["samesite"] == "Lax"

        callback = await _at_provider(http, oidc, authorize, "budi.pupr")
        assert urlsplit(callback).path == "/staff/masuk/oidc"
        r = await http.get(callback, allow_redirects=False)
        assert r.status == 302, await r.text()
        assert r.headers["Location"] == "/staff/"
        home = await http.get(f"{oidc.base}/staff/")
        text = await home.text()
        assert home.status == 200
        assert '<span id="who">Budi Santoso</span>' in text and "Petugas OPD" in text
        assert "/staff/sandi" not in text  # no password to change here
        # nor an address: the provider's claim is written over it at every sign-in
        mail_page = await (await http.get(f"{oidc.base}/staff/surel")).text()
        assert "diambil dari layanan masuk pemda" in mail_page and "/staff/sandi" not in mail_page
        csrf = re.search(r'name="csrf" value="([^"]+)"', mail_page)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "email": "lain@example.id", "current_email": "apa-saja"}
        refused = await http.post(f"{oidc.base}/staff/alamat-surel", data=form)
        assert refused.status == 404 and "ubah di sana" in await refused.text()
        assert await oidc.db["staff_oidc_logins"].find_one({"_id": token_hash(query["state"])}) is None

        token = _cookie(http, oidc, TOKEN_COOKIE)
        assert token is not None
        staff = await StaffAuth().verify(token)
        assert (staff.sub, staff.name, staff.role, staff.opd) == (
            "budi.pupr",
            "Budi Santoso",
            "handler",
            "33.74/dinas-pupr",
        )
        account = await oidc.db["staff_accounts"].find_one({"_id": "budi.pupr"})
        assert account is not None
        assert account["oidc_subject"] == f"{oidc.provider.issuer}#budi.pupr"
        assert account["email"] == "budi@semarangkota.go.id" and account["password_hash"] is None

    # Intake's identity audit records the person the token names (every attempt is audited,
    # even one for an unknown complaint).
    async with running_intake(endpoints) as (intake, intake_db):
        complaint_id = "01JQ6Z1D4QH3K6W8C2M5N7P9RT"
        r = await intake.get(
            f"/api/v1/complaints/{complaint_id}/reporter", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status == 404
        record = await intake_db["identity_audit"].find_one({"complaint_id": complaint_id})
        assert record is not None
        assert (record["who"], record["who_name"], record["role"]) == ("budi.pupr", "Budi Santoso", "handler")


async def test_the_provider_decides_role_and_scope_at_every_sign_in(oidc: OidcRouting) -> None:
    oidc.provider.add("sri.koord", name="Sri Wahyuni", role="koordinator", pemda="33.74")
    async with _browser() as http:
        assert (await _sign_in(http, oidc, "sri.koord")).status == 302
    oidc.provider.add("sri.koord", name="Sri Wahyuni, S.H.", role="koordinator", pemda="33.72")
    async with _browser() as http:
        assert (await _sign_in(http, oidc, "sri.koord")).status == 302
        text = await (await http.get(f"{oidc.base}/staff/")).text()
        assert "Sri Wahyuni, S.H." in text and "Pemda 33.72" in text
    assert await oidc.db["staff_accounts"].count_documents({"oidc_subject": {"$regex": "#sri.koord$"}}) == 1


async def test_a_callback_in_another_browser_or_replayed_or_forged_is_refused(oidc: OidcRouting) -> None:
    async with _browser() as person, _browser() as other:
        callback = await _at_provider(person, oidc, await _start(person, oidc), "budi.pupr")
        r = await other.get(callback, allow_redirects=False)  # no binding cookie there
        assert r.status == 400 and "Proses masuk tidak dikenal" in await r.text()
        assert _cookie(other, oidc, "pengaduan_sesi") is None
        forged = re.sub(r"state=[^&]+", "state=dibuat-buat", callback)
        assert (await person.get(forged, allow_redirects=False)).status == 400
        r = await person.get(callback, allow_redirects=False)  # the real browser still may
        assert r.status == 302 and _cookie(person, oidc, "pengaduan_sesi")
        r = await person.get(callback, allow_redirects=False)  # but once
        assert r.status == 400


async def test_a_changed_nonce_or_another_attempts_code_is_refused(
    oidc: OidcRouting, caplog: pytest.LogCaptureFixture
) -> None:
    async with _browser() as http:
        authorize = await _start(http, oidc)
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        callback = await _at_provider(http, oidc, authorize, "budi.pupr")
        await oidc.db["staff_oidc_logins"].update_one(
            {"_id": token_hash(state)}, {"$set": {"nonce": "nonce-lain"}}
        )
        r = await http.get(callback, allow_redirects=False)
        assert r.status == 502 and "tidak dapat diterima" in await r.text()
        assert "id_token: invalid_claim: Invalid claim: 'nonce'" in caplog.text, caplog.text
        assert _cookie(http, oidc, "pengaduan_sesi") is None

    async with _browser() as http:
        stolen = await _at_provider(http, oidc, await _start(http, oidc), "budi.pupr")
        code = parse_qs(urlsplit(stolen).query)["code"][0]
        # A second attempt in the same browser: its state and binding, the first one's code. The
        # provider refuses the exchange: the code's PKCE challenge is not this verifier's.
        second = await _start(http, oidc)
        state = parse_qs(urlsplit(second).query)["state"][0]
        r = await http.get(f"{oidc.base}/staff/masuk/oidc", params={"code": code, "state": state,
                                                                    "iss": oidc.provider.issuer},
                           allow_redirects=False)  # fmt: skip
        assert r.status == 502
        assert "HTTP 400 invalid_grant" in caplog.text, caplog.text
        assert _cookie(http, oidc, "pengaduan_sesi") is None

    async with _browser() as http:
        # An answer naming another issuer (RFC 9207: a mix-up between providers), or none at all
        # from a provider that always names itself, is refused before the code is used.
        for iss in ("http://penyedia-lain.example", None):
            callback = await _at_provider(http, oidc, await _start(http, oidc), "budi.pupr")
            parts = urlsplit(callback)
            query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "iss"}
            if iss:
                query["iss"] = iss
            r = await http.get(f"{oidc.base}{parts.path}", params=query, allow_redirects=False)
            assert r.status == 502
            assert (f"callback: iss {iss!r}" if iss else "no iss although") in caplog.text
        assert _cookie(http, oidc, "pengaduan_sesi") is None


@pytest.mark.parametrize(
    ("login", "says"),
    [
        ("bendahara", "Peran Anda di penyedia identitas (bendahara) tidak dikenal"),
        ("luar.daerah", "Pemda 31.71 tidak dilayani oleh sistem ini"),
        ("opd.palsu", "OPD 33.74/dinas-sihir tidak ada dalam katalog"),
    ],
)
async def test_an_unknown_role_or_a_scope_outside_the_deployment_is_refused(
    oidc: OidcRouting, login: str, says: str
) -> None:
    async with _browser() as http:
        r = await _sign_in(http, oidc, login)
        text = await r.text()
        assert r.status == 403 and says in html.unescape(text), text
        assert _cookie(http, oidc, "pengaduan_sesi") is None
    assert await oidc.db["staff_accounts"].find_one({"_id": login}) is None


async def test_a_disabled_person_and_a_taken_username_are_refused(oidc: OidcRouting) -> None:
    directory = oidc.routing.server.app[DIRECTORY]
    await directory.create(
        Account("budi.lokal", "Budi Lokal", "handler", "33.74", "33.74/dinas-pupr"), None, "t"
    )
    oidc.provider.add("budi.lokal", name="Budi Lain", role="handler", pemda="33.74", opd="33.74/dlh")
    async with _browser() as http:
        r = await _sign_in(http, oidc, "budi.lokal")
        assert r.status == 409 and "sudah dipakai akun lain" in await r.text()
    assert (await directory.get("budi.lokal")).opd == "33.74/dinas-pupr"  # type: ignore[union-attr]

    oidc.provider.add("pensiun", name="Pak Pensiun", role="handler", pemda="33.74", opd="33.74/dlh")
    oidc.provider.add("ani.koord", name="Ani Koordinator", role="koordinator", pemda="33.74")
    async with _browser() as http, _browser() as coordinator:
        assert (await _sign_in(http, oidc, "pensiun")).status == 302
        # The pemda's coordinator (signed in through the provider too) disables the leaver in the
        # staff page; accounts are not created there, the provider's sign-in creates them.
        assert (await _sign_in(coordinator, oidc, "ani.koord")).status == 302
        page = await (await coordinator.get(f"{oidc.base}/staff/akun")).text()
        assert 'data-username="pensiun"' in page and 'id="akun-sso"' in page
        assert 'id="new-account"' not in page and "tautan-sandi" not in page
        csrf = _hidden_fields(page)["csrf"]
        r = await coordinator.post(
            f"{oidc.base}/staff/akun",
            data={"csrf": csrf, "username": "baru", "name": "Baru", "role": "handler"},
        )
        assert r.status == 409 and await oidc.db["staff_accounts"].find_one({"_id": "baru"}) is None
        r = await coordinator.post(f"{oidc.base}/staff/akun/pensiun/nonaktifkan", data={"csrf": csrf})
        assert r.status == 200 and "Akun pensiun dinonaktifkan" in await r.text()
        home = await http.get(f"{oidc.base}/staff/", allow_redirects=False)
        assert home.status == 302  # the session ended with the account
        r = await _sign_in(http, oidc, "pensiun")
        assert r.status == 403 and "dinonaktifkan" in await r.text()


async def test_logout_ends_the_session_here_and_at_the_provider(oidc: OidcRouting) -> None:
    async with _browser() as http:
        assert (await _sign_in(http, oidc, "budi.pupr")).status == 302
        home = await (await http.get(f"{oidc.base}/staff/")).text()
        csrf = _hidden_fields(home)["csrf"]
        r = await http.post(f"{oidc.base}/staff/keluar", data={"csrf": csrf}, allow_redirects=False)
        assert r.status == 302
        location = r.headers["Location"]
        assert location.startswith(f"{oidc.provider.issuer}/session/end?")
        query = parse_qs(urlsplit(location).query)
        assert query["post_logout_redirect_uri"] == [f"{oidc.base}/staff/masuk?pesan=keluar"]
        assert query["id_token_hint"][0].count(".") == 2
        assert (await http.get(f"{oidc.base}/staff/", allow_redirects=False)).status == 302
        # The provider asks to confirm, then sends the browser back to routing's page.
        back = await _at_provider(http, oidc, location, "budi.pupr")
        assert back == f"{oidc.base}/staff/masuk?pesan=keluar"
        page = await (await http.get(back)).text()
        assert "Anda sudah keluar" in page and 'id="masuk-sso"' in page

        # Passwords are not used while the provider signs people in.
        r = await http.post(f"{oidc.base}/staff/masuk", data={"username": "x", "password": "y"})
        assert r.status == 404 and "Kata sandi tidak dipakai" in await r.text()


async def test_a_provider_under_another_name_or_unreachable_is_not_used(oidc: OidcRouting) -> None:
    port = urlsplit(oidc.provider.issuer).port
    # The same provider reached as `localhost`: its discovery document names 127.0.0.1, so tokens
    # it issues would not be its own (OpenID Connect Discovery §4.3).
    renamed = OidcClient(f"http://localhost:{port}", CLIENT_ID, CLIENT_SECRET, "openid")
    with pytest.raises(OidcError, match="is not 'http://localhost"):
        await renamed.authorization_request("http://127.0.0.1/cb")
    await renamed.close()
    gone = OidcClient(f"http://127.0.0.1:{free_port()}", CLIENT_ID, CLIENT_SECRET, "openid")
    with pytest.raises(OidcError, match="ClientConnectorError"):
        await gone.metadata()
    await gone.close()


async def test_a_flood_of_sign_in_starts_is_refused_before_anything_is_stored(oidc: OidcRouting) -> None:
    """Each start stores a short-lived attempt: one client address gets `ROUTING_RATE_OIDC_SIGN_IN_
    PER_MINUTE` of them (here 2 for the test), then a page asking it to wait, storing nothing."""
    limits = oidc.routing.server.app[RATE_LIMITS]
    kept = limits.groups["oidc_sign_in"]
    limits.groups["oidc_sign_in"] = TokenBuckets(2, 100, MONOTONIC)
    try:
        async with _browser() as http:
            for _ in range(2):
                await _start(http, oidc)
            stored = await oidc.db["staff_oidc_logins"].count_documents({})
            r = await http.get(f"{oidc.base}/staff/masuk", allow_redirects=False)
            text = await r.text()
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
            assert "Terlalu banyak percobaan masuk" in text and r.content_type == "text/html"
            assert await oidc.db["staff_oidc_logins"].count_documents({}) == stored
    finally:
        limits.groups["oidc_sign_in"] = kept


# --- back-channel logout (OpenID Connect Back-Channel Logout 1.0) ------------------------------

LOGOUT = "/staff/oidc/backchannel-logout"


async def _session_doc(http: aiohttp.ClientSession, oidc: OidcRouting) -> dict[str, Any]:
    token = _cookie(http, oidc, "pengaduan_sesi")
    assert token is not None
    doc = await oidc.db["staff_sessions"].find_one({"_id": token_hash(token)})
    assert doc is not None
    return doc


async def _opens_staff_home(http: aiohttp.ClientSession, oidc: OidcRouting) -> bool:
    r = await http.get(f"{oidc.base}/staff/", allow_redirects=False)
    assert r.status in (200, 302), await r.text()
    return r.status == 200


async def test_a_logout_at_the_provider_ends_that_session_here(oidc: OidcRouting) -> None:
    async with _browser() as http, _browser() as desk:
        assert (await _sign_in(http, oidc, "budi.pupr")).status == 302
        assert (await _sign_in(desk, oidc, "budi.pupr")).status == 302  # another session there too
        mine, other = await _session_doc(http, oidc), await _session_doc(desk, oidc)
        # The ID token's `sid` (the provider's session) and the person are kept with the session.
        assert mine["oidc_subject"] == other["oidc_subject"] == f"{oidc.provider.issuer}#budi.pupr"
        assert mine["oidc_sid"] and other["oidc_sid"] and mine["oidc_sid"] != other["oidc_sid"]

        # The person logs out at the provider itself (not through routing's logout, which would
        # end the session here first): the provider posts its Logout Token to routing.
        end = f"{oidc.provider.issuer}/session/end?" + urlencode(
            {
                "id_token_hint": mine["id_token"],
                "client_id": CLIENT_ID,
                "post_logout_redirect_uri": f"{oidc.base}/staff/masuk?pesan=keluar",
            }
        )
        back = await _at_provider(http, oidc, end, "budi.pupr")
        assert back == f"{oidc.base}/staff/masuk?pesan=keluar"

        async def ended() -> bool:
            return not await _opens_staff_home(http, oidc)

        await eventually(ended, what="routing's session ended by the provider's back-channel logout")
        called = f"backchannel.success {CLIENT_ID} budi.pupr {mine['oidc_sid']}"

        async def provider_saw_200() -> bool:
            return called in oidc.provider.log()

        await eventually(provider_saw_200, what="the provider's log of its back-channel call")
        assert "backchannel.error" not in oidc.provider.log()
        # Only the session the provider ended: the person's other browser is still signed in.
        assert await _opens_staff_home(desk, oidc)
        assert await oidc.db["staff_sessions"].find_one({"_id": mine["_id"]}) is None


def _logout_claims(oidc: OidcRouting, **change: Any) -> dict[str, Any]:
    now = int(clock.wall().timestamp())
    claims: dict[str, Any] = {
        "iss": oidc.provider.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sub": "budi.pupr",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    claims |= change
    return {k: v for k, v in claims.items() if v is not None}


async def _post_logout(
    oidc: OidcRouting, body: str | bytes, content_type: str = "application/x-www-form-urlencoded"
) -> tuple[int, str | None, str]:
    async with aiohttp.ClientSession() as server:  # the provider: no cookies, no CSRF token
        r = await server.post(f"{oidc.base}{LOGOUT}", data=body, headers={"Content-Type": content_type})
        return r.status, r.headers.get("Cache-Control"), await r.text()


async def test_a_token_naming_only_the_person_ends_all_their_sessions_once(oidc: OidcRouting) -> None:
    async with _browser() as one, _browser() as two, _browser() as coordinator:
        for http, login in ((one, "budi.pupr"), (two, "budi.pupr"), (coordinator, "sri.koord")):
            assert (await _sign_in(http, oidc, login)).status == 302
        token = oidc.provider.sign(_logout_claims(oidc), typ="logout+jwt")
        status, cache, text = await _post_logout(oidc, urlencode({"logout_token": token}))
        assert (status, cache, text) == (200, "no-store", "")
        assert not await _opens_staff_home(one, oidc) and not await _opens_staff_home(two, oidc)
        assert await _opens_staff_home(coordinator, oidc)  # another person's session stays

        # The same token again (a replay) is refused and ends nothing: the person signed in again
        # after it keeps their session.
        assert (await _sign_in(one, oidc, "budi.pupr")).status == 302
        status, cache, text = await _post_logout(oidc, urlencode({"logout_token": token}))
        assert (status, cache) == (400, "no-store")
        assert json.loads(text)["error_description"] == "logout_token: jti: already received (a replay)"
        assert await _opens_staff_home(one, oidc)


def _forged_tokens(oidc: OidcRouting) -> dict[str, str]:
    stranger = signing_key()  # same kid, another key: a signature that is not the provider's
    sign = oidc.provider.sign
    unsigned = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_logout_claims(oidc)).encode()).rstrip(b"=").decode()
    return {
        "wrong signature": sign(_logout_claims(oidc), key=stranger),
        "unknown kid": sign(_logout_claims(oidc), key=signing_key("kunci-lain")),
        "alg none": f"{unsigned}.{body}.",
        "wrong aud": sign(_logout_claims(oidc, aud="klien-lain")),
        "wrong iss": sign(_logout_claims(oidc, iss="http://penyedia-lain.example")),
        "a nonce": sign(_logout_claims(oidc, nonce="n-0S6_WzA2Mj")),
        "no events": sign(_logout_claims(oidc, events=None)),
        "another event": sign(_logout_claims(oidc, events={"http://schemas.openid.net/event/lain": {}})),
        "no jti": sign(_logout_claims(oidc, jti=None)),
        "no sub nor sid": sign(_logout_claims(oidc, sub=None)),
        "issued long ago": sign(_logout_claims(oidc, iat=1_600_000_000, exp=None)),
        "iat NaN": sign(_logout_claims(oidc, iat=float("nan"))),
        "sid not a string": sign(_logout_claims(oidc, sid={"$ne": None})),
        "claims not an object": jws.serialize_compact(
            {"alg": "RS256", "kid": oidc.provider.signing_key.kid},
            b'["budi.pupr"]',
            oidc.provider.signing_key,
        ),
        "garbage": "bukan-token",
        "three dots of garbage": "a.b.c",
        "five parts (JWE)": "a.b.c.d.e",
        "bad base64": "!!!.@@@.###",
        "header not JSON": base64.urlsafe_b64encode(b"{{{").decode() + ".e30.",
    }


async def test_forged_misdirected_or_malformed_logout_tokens_are_refused_and_end_nothing(
    oidc: OidcRouting,
) -> None:
    async with _browser() as http:
        assert (await _sign_in(http, oidc, "budi.pupr")).status == 302
        for case, token in _forged_tokens(oidc).items():
            status, cache, text = await _post_logout(oidc, urlencode({"logout_token": token}))
            assert (status, cache) == (400, "no-store"), (case, status, text)
            answer = json.loads(text)
            assert answer["error"] == "invalid_request" and answer["status"] == 400, (case, answer)
            assert answer["errors"][0]["field"] == "logout_token", (case, answer)
        for case, body, content_type in (
            ("no field", "", "application/x-www-form-urlencoded"),
            ("two tokens", "logout_token=a&logout_token=b", "application/x-www-form-urlencoded"),
            ("not a form", b"\xff\xfe=\x00", "application/x-www-form-urlencoded"),
            ("JSON", json.dumps({"logout_token": "x"}), "application/json"),
        ):
            status, cache, text = await _post_logout(oidc, body, content_type)
            assert (status, json.loads(text)["error"]) == (400, "invalid_request"), (case, text)
        huge = urlencode({"logout_token": "a" * 20_000})
        status, _, text = await _post_logout(oidc, huge)
        assert status == 413 and "larger than" in json.loads(text)["detail"]
        assert await _opens_staff_home(http, oidc)  # nothing ended


async def test_the_logout_endpoint_is_limited_per_client_address(oidc: OidcRouting) -> None:
    limits = oidc.routing.server.app[RATE_LIMITS]
    kept = limits.groups["oidc_logout"]
    limits.groups["oidc_logout"] = TokenBuckets(2, 100, MONOTONIC)
    try:
        for _ in range(2):
            assert (await _post_logout(oidc, "logout_token=x"))[0] == 400
        status, _, text = await _post_logout(oidc, "logout_token=x")
        assert status == 429 and json.loads(text)["status"] == 429
    finally:
        limits.groups["oidc_logout"] = kept
