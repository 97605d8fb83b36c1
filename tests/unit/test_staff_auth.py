"""Staff token checks (shared/auth.py): issuer, audience, the longest lifetime and configurable
claim names (a Keycloak-style token: roles in `realm_access.roles`, attributes as lists)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from shared import clock
from shared.auth import StaffAuth, StaffAuthSettings
from shared.http import ProblemError

SECRET = "rahasia-uji-" + "s" * 32


def token(claims: dict[str, Any], *, ttl: int = 3600, iat: bool = True) -> str:
    now = int(clock.wall().timestamp())  # PyJWT checks exp against wall time
    base: dict[str, Any] = {"sub": "uji", "exp": now + ttl, **({"iat": now} if iat else {})}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


def auth(**settings: Any) -> StaffAuth:
    return StaffAuth(settings=StaffAuthSettings(jwt_secret=SECRET, **settings))


HANDLER = {"role": "handler", "pemda": "33.74", "opd": "33.74/dinas-pupr"}


async def refused(staff_auth: StaffAuth, jwt_token: str, reason: str) -> None:
    with pytest.raises(ProblemError) as caught:
        await staff_auth.verify(jwt_token)
    assert caught.value.status == 401 and reason in str(caught.value.detail), caught.value.detail


async def test_issuer_is_checked_when_set() -> None:
    checked = auth(jwt_issuer="https://sso.contoh.id/realms/pemda")
    assert (await checked.verify(token({**HANDLER, "iss": "https://sso.contoh.id/realms/pemda"}))).opd
    await refused(checked, token({**HANDLER, "iss": "https://penyusup.contoh.id"}), "ssuer")
    await refused(checked, token(HANDLER), "iss")
    assert (await auth().verify(token({**HANDLER, "iss": "apa-saja"}))).role == "handler"


async def test_audience_is_checked_when_set_and_ignored_otherwise() -> None:
    checked = auth(jwt_audience="pengaduan")
    assert (await checked.verify(token({**HANDLER, "aud": ["account", "pengaduan"]}))).role == "handler"
    await refused(checked, token({**HANDLER, "aud": "account"}), "Audience")
    await refused(checked, token(HANDLER), "aud")
    # No audience setting: a provider's own `aud` does not make the token invalid.
    assert (await auth().verify(token({**HANDLER, "aud": "account"}))).role == "handler"


async def test_tokens_living_longer_than_the_maximum_are_refused() -> None:
    limited = auth(jwt_max_lifetime_seconds=3600)
    assert (await limited.verify(token(HANDLER, ttl=3600))).role == "handler"
    await refused(limited, token(HANDLER, ttl=3601), "melebihi batas (3600 detik)")
    await refused(limited, token(HANDLER, iat=False), "iat")  # the lifetime cannot be told
    assert (await auth(jwt_max_lifetime_seconds=0).verify(token(HANDLER, ttl=10**7, iat=False))).role


async def test_keycloak_style_claims_with_configured_names() -> None:
    keycloak = auth(
        jwt_role_claim="realm_access.roles", jwt_pemda_claim="pemda_kode", jwt_opd_claim="attrs.opd"
    )
    claims = {
        "realm_access": {"roles": ["offline_access", "uma_authorization", "handler"]},
        "pemda_kode": ["33.74"],
        "attrs": {"opd": "33.74/dinas-pupr"},
        "preferred_username": "budi",
    }
    staff = await keycloak.verify(token(claims))
    assert (staff.role, staff.pemda, staff.opd) == ("handler", "33.74", "33.74/dinas-pupr")
    two_roles = {**claims, "realm_access": {"roles": ["handler", "admin"]}}
    await refused(keycloak, token(two_roles), "lebih dari satu nilai")
    no_role = {**claims, "realm_access": {"roles": ["offline_access"]}}
    await refused(keycloak, token(no_role), "tanpa peran")
    # The default names do not read Keycloak's claims.
    await refused(auth(), token(claims), "tanpa peran")


async def test_the_sign_in_cookie_is_accepted_for_reads_only_and_carries_the_name() -> None:
    """Routing's sign-in hands people their token as a cookie (a browser sends it by itself, even
    on a request another site makes it send): it authenticates a read, never a write."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from shared.auth import STAFF_AUTH, require_staff
    from shared.http import json_response, problem_middleware

    async def who(request: web.Request) -> web.Response:
        staff = await require_staff(request)
        return json_response({"sub": staff.sub, "name": staff.name})

    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = auth()
    app.router.add_get("/who", who)
    app.router.add_post("/who", who)
    person = token({**HANDLER, "sub": "budi.pupr", "name": "Budi Santoso"})
    async with TestClient(TestServer(app)) as client:
        cookie = {"Cookie": f"pengaduan_staff_token={person}"}
        read = await client.get("/who", headers=cookie)
        assert read.status == 200 and await read.json() == {"sub": "budi.pupr", "name": "Budi Santoso"}
        assert (await client.post("/who", headers=cookie)).status == 401
        bearer = {"Authorization": f"Bearer {person}"}
        assert (await client.post("/who", headers=bearer)).status == 200
        assert (await client.get("/who", headers={"Cookie": "pengaduan_staff_token=nonsense"})).status == 401
