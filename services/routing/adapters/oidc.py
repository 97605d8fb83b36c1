"""The OpenID Connect client of staff sign-in (issue 21 item 1): the provider's discovery document,
the authorization request (code flow, PKCE S256, state and nonce), the code exchange at the token
endpoint, the ID token's checks, the provider's logout address, and the checks of the Logout Token
it posts for a back-channel logout (signed by the same keys; its claims rules in domain/oidc.py).

Authlib does the protocol's parts: the PKCE challenge (RFC 7636), the ID token's claims rules of
OpenID Connect Core §3.1.3.7 (`CodeIDToken`: iss, aud, exp, iat, nonce, azp, at_hash) and the
request URLs; joserfc (Authlib's own JOSE library) checks the signature against the provider's
key set. HTTP goes through aiohttp, like every other client of this project (Authlib's own async
client would bring httpx in for three requests).

Every failure is an `OidcError` whose message is for the log (the page shows a plain sentence).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from services.routing.domain.oidc import LogoutRequest, LogoutTokenError, logout_request
from shared import clock

# The ID token's `iat`/`exp` may differ this much from our clock (the provider's clock drifts).
LEEWAY_SECONDS = 60
# A token response or document larger than this is not a provider's.
MAX_BODY = 256 * 1024


class OidcError(RuntimeError):
    """The provider could not be used or answered something that must not be trusted."""


class LogoutTokenRejected(OidcError):
    """A Logout Token that is not the provider's, not for this client, or not a valid one."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """What one sign-in attempt sends the browser off with, and must find again at the callback."""

    url: str
    state: str
    nonce: str
    verifier: str


class OidcClient:
    """One per process: the discovery document and the key set are cached for `metadata_seconds`
    (the key set is fetched again for an unknown `kid`, at most once per `jwks_refetch_seconds`)."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: str,
        *,
        metadata_seconds: float = 3600.0,
        jwks_refetch_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id, self._secret = client_id, client_secret
        self.scopes = " ".join(dict.fromkeys(["openid", *scopes.split()]))
        self._metadata_seconds, self._refetch = metadata_seconds, jwks_refetch_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        return self._http

    async def _json(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        try:
            async with self._session().request(method, url, allow_redirects=False, **kw) as response:
                body = await response.content.read(MAX_BODY + 1)
                if len(body) > MAX_BODY:
                    raise OidcError(f"{url}: answer larger than {MAX_BODY} bytes")
                try:
                    data = await asyncio.to_thread(_loads, body)
                except ValueError:
                    raise OidcError(f"{url}: HTTP {response.status}, not JSON") from None
                if response.status != 200:
                    error = data.get("error") if isinstance(data, dict) else None
                    raise OidcError(f"{url}: HTTP {response.status} {error or ''}".rstrip())
                if not isinstance(data, dict):
                    raise OidcError(f"{url}: not a JSON object")
                return data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OidcError(f"{url}: {exc.__class__.__name__} {exc}") from None

    # --- discovery --------------------------------------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its `issuer` must be the configured one exactly
        (OpenID Connect Discovery §4.3), or tokens of another provider could be taken for its."""
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > self._metadata_seconds:
                doc = await self._json("GET", f"{self.issuer}/.well-known/openid-configuration")
                if doc.get("issuer") != self.issuer:
                    raise OidcError(f"discovery: issuer {doc.get('issuer')!r} is not {self.issuer!r}")
                for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(doc.get(needed), str):
                        raise OidcError(f"discovery: no {needed}")
                methods = doc.get("code_challenge_methods_supported")
                if isinstance(methods, list) and "S256" not in methods:
                    raise OidcError("discovery: the provider does not offer PKCE S256")
                self._metadata, self._metadata_at = doc, time.monotonic()
            return self._metadata

    # --- the authorization request --------------------------------------------------------------

    async def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        meta = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = add_params_to_uri(
            meta["authorization_endpoint"],
            [
                ("response_type", "code"),
                ("client_id", self.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", self.scopes),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", create_s256_code_challenge(verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, verifier=verifier)

    # --- the callback ---------------------------------------------------------------------------

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token endpoint's answer for this code (client_secret_basic, the PKCE verifier)."""
        meta = await self.metadata()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        basic = aiohttp.encode_basic_auth(_form_escape(self.client_id), _form_escape(self._secret))
        tokens = await self._json("POST", meta["token_endpoint"], data=data, headers={"Authorization": basic})
        if not isinstance(tokens.get("id_token"), str):
            raise OidcError("token endpoint: no id_token")
        return tokens

    async def _key_set(self, refresh: bool) -> KeySet:
        meta = await self.metadata()
        age = time.monotonic() - self._keys_at
        # Re-read with the discovery document (a key the provider withdrew stops counting), and
        # for an unknown `kid` (a rotation) at most once per `jwks_refetch_seconds`.
        if self._keys is None or age > self._metadata_seconds or (refresh and age > self._refetch):
            doc = await self._json("GET", meta["jwks_uri"])
            try:
                self._keys, self._keys_at = KeySet.import_key_set(doc), time.monotonic()  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise OidcError(f"jwks: {exc}") from None
        return self._keys

    async def _decoded(self, token: str) -> jwt.Token:
        """The token's header and claims once its signature is one of the provider's keys' (for
        both the ID token and the Logout Token, which the same keys sign)."""
        meta = await self.metadata()
        algorithms = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        # Only the provider's public keys sign: never "none", never HS* (the client secret as key).
        registry = JWSRegistry(algorithms=[a for a in algorithms if a != "none" and not a.startswith("HS")])
        try:
            return jwt.decode(token, await self._key_set(refresh=False), registry=registry)
        except InvalidKeyIdError:  # the provider rotated its keys
            return jwt.decode(token, await self._key_set(refresh=True), registry=registry)

    async def verify_id_token(self, id_token: str, nonce: str, access_token: str | None) -> dict[str, Any]:
        """The ID token's claims, once its signature (the provider's key set), `iss`, `aud`, `exp`,
        `iat`, `nonce`, `azp` and `at_hash` hold."""
        try:
            token = await self._decoded(id_token)
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
            if access_token:
                params["access_token"] = access_token
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": self.issuer},
                    "aud": {"essential": True, "value": self.client_id},
                    "nonce": {"essential": True},
                },
                params,
            )
            claims.validate(now=int(clock.wall().timestamp()), leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"id_token: {exc}") from None
        return dict(claims)

    async def verify_logout_token(self, logout_token: str) -> LogoutRequest:
        """What a Logout Token (Back-Channel Logout 1.0 §2.4) asks, once its signature (the same
        key set as the ID token's) and claims (domain/oidc.py `logout_request`) hold. A token that
        fails is a `LogoutTokenRejected`; a provider that cannot be reached, an `OidcError`."""
        try:
            token = await self._decoded(logout_token)
        except (JoseError, ValueError, TypeError, IndexError, KeyError) as exc:
            # KeyError, IndexError: a header naming no usable key or algorithm in made-up input.
            raise LogoutTokenRejected(f"logout_token: {exc.__class__.__name__} {exc}"[:300]) from None
        try:
            return logout_request(
                token.claims,
                issuer=self.issuer,
                client_id=self.client_id,
                now=int(clock.wall().timestamp()),
                leeway=LEEWAY_SECONDS,
            )
        except LogoutTokenError as exc:
            raise LogoutTokenRejected(f"logout_token: {exc}") from None

    async def end_session_url(self, id_token_hint: str | None, after: str) -> str | None:
        """The provider's RP-initiated logout address, if it offers one."""
        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except OidcError:
            return None  # the provider is down: the local logout still happened
        if not isinstance(endpoint, str):
            return None
        params = [("client_id", self.client_id), ("post_logout_redirect_uri", after)]
        if id_token_hint:
            params.append(("id_token_hint", id_token_hint))
        return str(add_params_to_uri(endpoint, params))


def _form_escape(value: str) -> str:
    """RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Basic encoding."""
    return quote_plus(value)


def _loads(body: bytes) -> Any:
    return json.loads(body)
