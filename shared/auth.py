"""Staff authentication (DESIGN §6 "Staff auth"): a JWT with `role`, `pemda` and `opd` claims,
checked on every staff endpoint, and the scope rules every service applies to what it shows.

- Locally: HS256 with the secret in `STAFF_JWT_SECRET` (the dev default is for `make run` and the
  tests only: a service listening beyond loopback refuses to start with it, shared/startup.py).
  Deployments: their own secret of at least 32 bytes, or RS256 with keys from `STAFF_JWKS_URL`
  (an OIDC provider such as Keycloak: claim names, issuer, audience and the longest lifetime are
  settings, see `StaffAuthSettings`).
- Roles: `handler` (one OPD: `opd` claim), `coordinator` (one pemda), `supervisor` (one OPD when
  `opd` is set, else one pemda), `admin` (everything).
- `python -m shared.auth mint --role handler --opd 33.74/disdukcapil` prints a development token.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from aiohttp import web
from jwt.types import Options
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import clock
from shared.http import ProblemError
from shared.settings import FileSettings
from shared.startup import Secret, register_secret

Role = Literal["handler", "coordinator", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("handler", "coordinator", "supervisor", "admin")
# What people read for each role (pages, the dashboard).
ROLE_LABELS: dict[str, str] = {
    "handler": "Petugas OPD",
    "coordinator": "Admin Koordinator",
    "supervisor": "Pengawas",
    "admin": "Admin",
}
DEV_SECRET = "pengaduan-dev-secret-change-me-in-deployments"
ISSUER = "pengaduan"


@dataclass(frozen=True)
class Staff:
    sub: str
    role: Role
    pemda: str | None
    opd: str | None
    # A person's display name (the `name` claim of tokens routing issues at sign-in); None for
    # systems' tokens. Recorded by audits next to `sub`.
    name: str | None = None

    def covers(self, *, opd_id: str | None, pemda: str | None) -> bool:
        """May this staff member see/act on a complaint held by `opd_id` in `pemda`?

        A complaint's pemda is its region's pemda (who triages it); its OPD may sit in another
        pemda (a province-level category), whose coordinators and supervisors also cover it.
        """
        if self.role == "admin":
            return True
        if self.role == "handler" or (self.role == "supervisor" and self.opd):
            return opd_id is not None and opd_id == self.opd
        opd_pemda = opd_id.split("/", 1)[0] if opd_id else None
        return self.pemda is not None and self.pemda in (pemda, opd_pemda)


class StaffAuthSettings(FileSettings):
    """`STAFF_*` variables, shared by the three services."""

    model_config = SettingsConfigDict(env_prefix="STAFF_", extra="ignore")

    # HS256 secret (`STAFF_JWT_SECRET`); empty: the development default, refused beyond loopback
    # (shared/startup.py). Unused when keys come from `STAFF_JWKS_URL` (RS256).
    jwt_secret: str = ""
    # RS256: the identity provider's key set (JWKS) URL; set, it replaces `STAFF_JWT_SECRET`.
    jwks_url: str = ""
    # Checked when set: the token's `iss` and `aud` (an OIDC provider's realm URL and client id).
    jwt_issuer: str = ""
    # The `aud` every token must carry, when set (the OIDC client id).
    jwt_audience: str = ""
    # Longest accepted lifetime (`exp` - `iat`, so `iat` is required); 0 = no limit.
    jwt_max_lifetime_seconds: int = Field(default=24 * 3600, ge=0)
    # Where the claims are: a name or a dotted path into nested claims. A list value (Keycloak's
    # `realm_access.roles`, a multivalued attribute) must hold exactly one of the known values.
    jwt_role_claim: str = "role"
    # The claim (or dotted path) holding the staff member's pemda code.
    jwt_pemda_claim: str = "pemda"
    # The claim (or dotted path) holding the staff member's OPD id (`<pemda>/<slug>`).
    jwt_opd_claim: str = "opd"
    # A person's display name (tokens of routing's sign-in carry it; audits record it).
    jwt_name_claim: str = "name"
    # The cookie in which routing's sign-in hands people their short-lived token (HttpOnly, so no
    # page script reads it). Accepted for reads (GET/HEAD) only: a write still needs the
    # `Authorization` header, so a cookie a browser sends by itself never changes anything.
    cookie_name: str = "pengaduan_staff_token"
    # JWKS: the key set is cached this long; a token with an unknown `kid` makes at most one
    # re-fetch per `jwks_refetch_seconds` (PyJWKClient's cooldown), so random kids cannot make
    # every request fetch the key set.
    jwks_lifespan_seconds: float = Field(default=300.0, gt=0)
    # At most one re-fetch of the key set per this many seconds for an unknown `kid`.
    jwks_refetch_seconds: float = Field(default=60.0, ge=0)


@register_secret
def _staff_jwt_secret() -> Secret | None:
    settings = StaffAuthSettings()
    if settings.jwks_url:
        return None  # RS256 keys from the provider; the HS256 secret is not used
    value = settings.jwt_secret
    return Secret("STAFF_JWT_SECRET", value, is_default=value in ("", DEV_SECRET))


class StaffAuth:
    """Verifies bearer tokens; one per process (the JWKS client caches keys)."""

    def __init__(
        self,
        secret: str | None = None,
        jwks_url: str | None = None,
        settings: StaffAuthSettings | None = None,
    ) -> None:
        self.settings = settings or StaffAuthSettings()
        self._secret = secret or self.settings.jwt_secret or DEV_SECRET
        url = jwks_url or self.settings.jwks_url
        self._jwks = (
            jwt.PyJWKClient(
                url,
                cache_keys=True,
                lifespan=self.settings.jwks_lifespan_seconds,
                cooldown_duration=self.settings.jwks_refetch_seconds,
                timeout=10,
            )
            if url
            else None
        )

    async def verify(self, token: str) -> Staff:
        s = self.settings
        required = ["exp", *(["iat"] if s.jwt_max_lifetime_seconds else [])]
        required += [*(["iss"] if s.jwt_issuer else []), *(["aud"] if s.jwt_audience else [])]
        # Without an audience setting, a provider's `aud` (e.g. Keycloak's "account") is not checked.
        options: Options = {"require": required, "verify_aud": bool(s.jwt_audience)}
        checks: dict[str, Any] = {"issuer": s.jwt_issuer or None, "audience": s.jwt_audience or None}
        try:
            if self._jwks is not None:
                key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                claims = jwt.decode(token, key.key, algorithms=["RS256"], options=options, **checks)
            else:
                claims = jwt.decode(token, self._secret, algorithms=["HS256"], options=options, **checks)
        except jwt.PyJWTError as exc:
            raise ProblemError(401, f"token staf tidak sah: {exc}") from None
        if s.jwt_max_lifetime_seconds and claims["exp"] - claims["iat"] > s.jwt_max_lifetime_seconds:
            raise ProblemError(
                401, f"masa berlaku token staf melebihi batas ({s.jwt_max_lifetime_seconds} detik)"
            )
        return _staff(claims, s)


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _one(value: Any, name: str, known: tuple[str, ...] | None = None) -> str | None:
    """A claim's single string value; a list gives its one (known) member."""
    if isinstance(value, list):
        members = [v for v in value if isinstance(v, str) and (known is None or v in known)]
        if len(members) > 1:
            raise ProblemError(401, f"klaim {name} token staf berisi lebih dari satu nilai")
        value = members[0] if members else None
    return value if isinstance(value, str) and value else None


def _staff(claims: dict[str, Any], settings: StaffAuthSettings | None = None) -> Staff:
    s = settings or StaffAuthSettings()
    role = _one(_claim(claims, s.jwt_role_claim), s.jwt_role_claim, ROLES)
    pemda = _one(_claim(claims, s.jwt_pemda_claim), s.jwt_pemda_claim)
    opd = _one(_claim(claims, s.jwt_opd_claim), s.jwt_opd_claim)
    if role not in ROLES:
        raise ProblemError(401, "token staf tanpa peran yang dikenal")
    if role != "admin" and not pemda:
        raise ProblemError(401, "token staf tanpa klaim pemda")
    if role == "handler" and not opd:
        raise ProblemError(401, "token petugas OPD tanpa klaim opd")
    if opd and pemda and not str(opd).startswith(f"{pemda}/"):
        raise ProblemError(401, "klaim opd tidak berada di pemda token")
    name = _claim(claims, s.jwt_name_claim)
    name = name[:200] if isinstance(name, str) and name.strip() else None
    return Staff(sub=str(claims.get("sub") or "?"), role=role, pemda=pemda, opd=opd, name=name)


STAFF_AUTH = web.AppKey("staff_auth", StaffAuth)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def staff_cookie(request: web.Request) -> str | None:
    """The token of routing's sign-in (a person's browser), for reads only."""
    if request.method not in ("GET", "HEAD"):
        return None
    value = request.cookies.get(request.app[STAFF_AUTH].settings.cookie_name, "")
    return value if looks_like_jwt(value) else None


async def require_staff(request: web.Request, *roles: Role) -> Staff:
    """The caller's verified staff identity: 401 without a valid token, 403 for another role.
    The token is the `Authorization` header's, else (reads) the sign-in cookie's."""
    token = bearer(request) or staff_cookie(request)
    if token is None:
        raise ProblemError(401, "token staf diperlukan", headers={"WWW-Authenticate": "Bearer"})
    staff = await request.app[STAFF_AUTH].verify(token)
    if roles and staff.role not in roles:
        raise ProblemError(403, f"peran {staff.role} tidak boleh melakukan ini")
    return staff


def mint(
    role: Role,
    *,
    pemda: str | None = None,
    opd: str | None = None,
    sub: str = "dev",
    ttl_seconds: int = 8 * 3600,
    secret: str | None = None,
    name: str | None = None,
) -> str:
    """A signed HS256 token (the local secret): development tokens, and the short-lived token
    routing's sign-in issues to a person (with their `name`)."""
    if opd and not pemda:
        pemda = opd.split("/", 1)[0]
    now = int(clock.wall().timestamp())  # token lifetimes are wall time (PyJWT checks them so)
    claims: dict[str, Any] = {"sub": sub, "role": role, "iss": ISSUER, "iat": now, "exp": now + ttl_seconds}
    if pemda:
        claims["pemda"] = pemda
    if opd:
        claims["opd"] = opd
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret or StaffAuthSettings().jwt_secret or DEV_SECRET, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.auth", description="Mint a development staff JWT."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint")
    m.add_argument("--role", choices=ROLES, required=True)
    m.add_argument("--pemda")
    m.add_argument("--opd", help="full OPD id, e.g. 33.74/disdukcapil")
    m.add_argument("--sub", default="dev")
    m.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    args = parser.parse_args()
    print(mint(args.role, pemda=args.pemda, opd=args.opd, sub=args.sub, ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
