"""A real OpenID Connect provider for the staff sign-in tests: panva's `oidc-provider` (npm, fetched
once by devtools/infra.py `ensure_oidc_provider`) run by node with `provider.mjs` beside this file,
on a free loopback port; and routing's app configured to sign people in through it.

The provider's development login form accepts any login whose claims are in `people` (a JSON
file the provider reads at every sign-in, so a test may add people while it runs), then asks for
consent; PKCE is required of the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from joserfc import jwt
from joserfc.jwk import RSAKey
from pymongo.asynchronous.database import AsyncDatabase

import services.routing.bootstrap as routing_app
from devtools import infra
from services.routing.settings import RoutingSettings
from shared.mongo import mongo_client
from tests.service_apps import Client, _prefix, _without_consumers
from tests.waiting import eventually

SCRIPT = Path(__file__).resolve().parent / "provider.mjs"
CLIENT_ID, CLIENT_SECRET = "pengaduan-routing", "rahasia-klien-routing-untuk-uji-saja"


def signing_key(kid: str = "uji-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Provider:
    issuer: str
    people_file: Path
    log_file: Path

    signing_key: RSAKey

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None, **header: Any) -> str:
        """A JWT signed with the provider's own key (or `key`), as the provider would sign it."""
        key = key or self.signing_key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key)

    def log(self) -> str:
        """What the provider printed so far (its back-channel calls' outcomes among it)."""
        return self.log_file.read_text(errors="replace")

    def add(self, login: str, **claims: Any) -> None:
        people = json.loads(self.people_file.read_text())
        people[login] = claims
        self.people_file.write_text(json.dumps(people))


@contextlib.asynccontextmanager
async def running_provider(
    port: int,
    redirect_uris: list[str],
    logout_uris: list[str],
    workdir: Path,
    backchannel_logout_uri: str = "",
) -> AsyncIterator[Provider]:
    module = await asyncio.to_thread(infra.ensure_oidc_provider)
    issuer = f"http://127.0.0.1:{port}"
    people = workdir / "oidc-people.json"
    people.write_text("{}")
    key = signing_key()
    jwks = workdir / "oidc-jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    log = (workdir / "oidc-provider.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        env={
            **os.environ,
            "OIDC_PROVIDER_MODULE": str(module),
            "ISSUER": issuer,
            "PORT": str(port),
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "REDIRECT_URIS": ",".join(redirect_uris),
            "POST_LOGOUT_REDIRECT_URIS": ",".join(logout_uris),
            "ACCOUNTS_FILE": str(people),
            "BACKCHANNEL_LOGOUT_URI": backchannel_logout_uri,
            "JWKS_FILE": str(jwks),
        },
        stdout=log,
        stderr=log,
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def answers() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"oidc-provider exited {process.returncode}; see {log.name}")
                try:
                    async with http.get(f"{issuer}/.well-known/openid-configuration") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(answers, within=60, what="oidc-provider's discovery document")
        yield Provider(issuer, people, workdir / "oidc-provider.log", key)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        log.close()


@dataclass
class OidcRouting:
    routing: Client
    db: AsyncDatabase[dict[str, Any]]
    provider: Provider

    @property
    def base(self) -> str:
        return str(self.routing.make_url("")).rstrip("/")


@contextlib.asynccontextmanager
async def routing_with_provider(
    endpoints: infra.Endpoints, workdir: Path, **settings: Any
) -> AsyncIterator[OidcRouting]:
    """Routing's real app (its database of its own, no consumers: tests/service_apps.py) signing
    people in through a real provider started for it; the OPD catalog loaded."""
    from services.routing.adapters.catalog import load_catalog

    provider_port, routing_port = free_port(), free_port()
    base = f"http://127.0.0.1:{routing_port}"
    routing_settings = RoutingSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{_prefix()}routing",
        oidc_issuer=f"http://127.0.0.1:{provider_port}",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_scopes="openid profile email pengaduan",
        **settings,
    )
    mongo = mongo_client(endpoints.mongo_uri)
    db = mongo[routing_settings.mongo_db]
    await load_catalog(db)
    with mock.patch.object(routing_app, "with_consumers", _without_consumers):
        app = routing_app.create_app(routing_settings)
    client: Client = TestClient(TestServer(app, host="127.0.0.1", port=routing_port))
    try:
        async with running_provider(
            provider_port,
            [f"{base}/staff/masuk/oidc"],
            [f"{base}/staff/masuk?pesan=keluar"],
            workdir,
            f"{base}/staff/oidc/backchannel-logout",
        ) as provider:
            await client.start_server()
            try:
                yield OidcRouting(client, db, provider)
            finally:
                await client.close()
    finally:
        await mongo.drop_database(routing_settings.mongo_db)
        await mongo.close()
