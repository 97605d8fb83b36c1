"""Staff authentication (DESIGN §6 "Staff auth"): a JWT with `role`, `pemda` and `opd` claims,
checked on every staff endpoint, and the scope rules every service applies to what it shows.

- Locally: HS256 with the secret in `STAFF_JWT_SECRET` (the dev default is for `make run` and the
  tests only; a deployment sets its own). Deployments: RS256 with keys from `STAFF_JWKS_URL`.
- Roles: `handler` (one OPD: `opd` claim), `coordinator` (one pemda), `supervisor` (one OPD when
  `opd` is set, else one pemda), `admin` (everything).
- `python -m shared.auth mint --role handler --opd 33.74/disdukcapil` prints a development token.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from typing import Any, Literal, cast

import jwt
from aiohttp import web

from shared import clock
from shared.http import ProblemError

Role = Literal["handler", "coordinator", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("handler", "coordinator", "supervisor", "admin")
DEV_SECRET = "pengaduan-dev-secret-change-me-in-deployments"
ISSUER = "pengaduan"


@dataclass(frozen=True)
class Staff:
    sub: str
    role: Role
    pemda: str | None
    opd: str | None

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


class StaffAuth:
    """Verifies bearer tokens; one per process (the JWKS client caches keys)."""

    def __init__(self, secret: str | None = None, jwks_url: str | None = None) -> None:
        self._secret = secret or os.environ.get("STAFF_JWT_SECRET") or DEV_SECRET
        url = jwks_url or os.environ.get("STAFF_JWKS_URL")
        self._jwks = jwt.PyJWKClient(url, cache_keys=True) if url else None

    async def verify(self, token: str) -> Staff:
        try:
            if self._jwks is not None:
                key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                claims = jwt.decode(token, key.key, algorithms=["RS256"], options={"require": ["exp"]})
            else:
                claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.PyJWTError as exc:
            raise ProblemError(401, f"token staf tidak sah: {exc}") from None
        return _staff(claims)


def _staff(claims: dict[str, Any]) -> Staff:
    role, pemda, opd = claims.get("role"), claims.get("pemda"), claims.get("opd")
    if role not in ROLES:
        raise ProblemError(401, "token staf tanpa peran yang dikenal")
    if role != "admin" and not pemda:
        raise ProblemError(401, "token staf tanpa klaim pemda")
    if role == "handler" and not opd:
        raise ProblemError(401, "token petugas OPD tanpa klaim opd")
    if opd and pemda and not str(opd).startswith(f"{pemda}/"):
        raise ProblemError(401, "klaim opd tidak berada di pemda token")
    return Staff(sub=str(claims.get("sub") or "?"), role=cast(Role, role), pemda=pemda, opd=opd)


STAFF_AUTH = web.AppKey("staff_auth", StaffAuth)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


async def require_staff(request: web.Request, *roles: Role) -> Staff:
    """The caller's verified staff identity: 401 without a valid token, 403 for another role."""
    token = bearer(request)
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
) -> str:
    """A signed HS256 development token (the local secret)."""
    if opd and not pemda:
        pemda = opd.split("/", 1)[0]
    now = int(clock.wall().timestamp())  # token lifetimes are wall time (PyJWT checks them so)
    claims: dict[str, Any] = {"sub": sub, "role": role, "iss": ISSUER, "iat": now, "exp": now + ttl_seconds}
    if pemda:
        claims["pemda"] = pemda
    if opd:
        claims["opd"] = opd
    return jwt.encode(claims, secret or os.environ.get("STAFF_JWT_SECRET") or DEV_SECRET, algorithm="HS256")


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
