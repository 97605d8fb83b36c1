"""Staff tokens from an OIDC provider (Keycloak-style RS256 tokens, keys from a JWKS endpoint):
a real JWKS server on 127.0.0.1 counts its fetches. Tokens with unknown key ids do not make every
request fetch the key set (one re-fetch per `STAFF_JWKS_REFETCH_SECONDS` at most)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from shared import clock
from shared.auth import StaffAuth, StaffAuthSettings
from shared.http import ProblemError

pytestmark = pytest.mark.integration

ISSUER = "http://sso.contoh.id/realms/pemda-33-74"


@dataclass
class JwksServer:
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    fetches: int = 0
    url: str = ""

    async def jwks(self, request: web.Request) -> web.Response:
        self.fetches += 1
        found = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            found.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": found})


@pytest.fixture
async def provider() -> AsyncIterator[JwksServer]:
    server = JwksServer(keys={"kunci-1": rsa.generate_private_key(public_exponent=65537, key_size=2048)})
    app = web.Application()
    app.router.add_get("/certs", server.jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/certs"
    yield server
    await runner.cleanup()


def keycloak_token(key: rsa.RSAPrivateKey, kid: str, roles: list[str]) -> str:
    now = int(clock.wall().timestamp())  # PyJWT checks exp against wall time
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": ["pengaduan", "account"],
        "sub": "f3c1-uuid",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["offline_access", *roles]},
        "pemda": ["33.74"],
        "opd": "33.74/dinas-pupr",
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def settings(url: str, refetch: float) -> StaffAuthSettings:
    return StaffAuthSettings(
        jwks_url=url,
        jwt_issuer=ISSUER,
        jwt_audience="pengaduan",
        jwt_role_claim="realm_access.roles",
        jwks_refetch_seconds=refetch,
    )


async def test_keycloak_style_tokens_verify_over_jwks_and_unknown_kids_do_not_refetch_each_time(
    provider: JwksServer,
) -> None:
    staff_auth = StaffAuth(settings=settings(provider.url, refetch=60))
    staff = await staff_auth.verify(keycloak_token(provider.keys["kunci-1"], "kunci-1", ["handler"]))
    assert (staff.role, staff.pemda, staff.opd, staff.sub) == (
        "handler",
        "33.74",
        "33.74/dinas-pupr",
        "f3c1-uuid",
    )
    assert provider.fetches == 1

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(20):
        with pytest.raises(ProblemError) as caught:
            await staff_auth.verify(keycloak_token(stranger, f"kid-acak-{n}", ["admin"]))
        assert caught.value.status == 401
    assert provider.fetches == 1  # within the cooldown: no re-fetch for unknown kids
    # The known key still verifies from the cache.
    assert (await staff_auth.verify(keycloak_token(provider.keys["kunci-1"], "kunci-1", ["handler"]))).opd

    # Without a cooldown every unknown kid would fetch the key set: what the setting prevents.
    unlimited = StaffAuth(settings=settings(provider.url, refetch=0))
    before = provider.fetches
    for n in range(5):
        with pytest.raises(ProblemError):
            await unlimited.verify(keycloak_token(stranger, f"kid-acak-{n}", ["admin"]))
    assert provider.fetches - before >= 5
