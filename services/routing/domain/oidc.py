"""Signing people in through the pemda's OpenID Connect provider (issue 21 item 1): which person,
role and scope a verified ID token's claims give. Pure: the protocol (discovery, PKCE, the code
exchange, the token's signature and claims checks) is in adapters/oidc.py, the pages in
entrypoints/staff_oidc.py.

The provider decides who someone is and what they may do (their role, pemda and OPD are the
provider's claims, read at every sign-in); routing keeps a local account for each such person
(adapters/accounts.py `oidc_account`), linked by the provider's stable `iss` + `sub`, so that the
people show in the staff page, can be told by e-mail, and can be disabled here at once.

A logout at the provider reaches routing as a Logout Token (Back-Channel Logout 1.0):
`logout_request` holds the rules its claims must meet once its signature is verified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.routing.domain.staff import Account, AccountError, check_username, scoped
from shared.auth import ROLES
from shared.regions import lookup


class OidcRefusal(ValueError):
    """A sign-in through the provider that is refused; the message is for the person."""


@dataclass(frozen=True)
class ClaimNames:
    """Where the ID token carries each thing: a claim name or a dotted path into nested claims
    (Keycloak's `realm_access.roles`)."""

    username: str = "preferred_username"
    name: str = "name"
    email: str = "email"
    role: str = "role"
    pemda: str = "pemda"
    opd: str = "opd"
    # The provider's role names → this system's roles (`handler`, `coordinator`, `supervisor`,
    # `admin`); a name absent here counts as itself.
    role_map: Mapping[str, str] = field(default_factory=dict)


def parse_role_map(text: str) -> dict[str, str]:
    """`petugas=handler,koordinator=coordinator` → a mapping; an unknown target role is an error
    (a typo fails at start-up, not at the first sign-in)."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        source, sep, target = (s.strip() for s in pair.partition("="))
        if not sep or not source or target not in ROLES:
            raise ValueError(f"peta peran {pair!r}: tulis <peran penyedia>=<{'|'.join(ROLES)}>")
        mapping[source] = target
    return mapping


def claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _role(claims: Mapping[str, Any], names: ClaimNames) -> str:
    raw = claim(claims, names.role)
    values = raw if isinstance(raw, list) else [raw]
    # A list (groups, realm roles) may hold many unrelated entries: the ones that map to a role of
    # ours count, and exactly one must.
    roles = {names.role_map.get(v, v) for v in values if isinstance(v, str)} & set(ROLES)
    if len(roles) != 1:
        shown = ", ".join(sorted(str(v) for v in values if v is not None)) or "tidak ada"
        if len(roles) > 1:
            raise OidcRefusal(f"Akun Anda di penyedia identitas memiliki lebih dari satu peran ({shown}).")
        raise OidcRefusal(f"Peran Anda di penyedia identitas ({shown}) tidak dikenal oleh sistem ini.")
    return roles.pop()


def person(
    claims: Mapping[str, Any], names: ClaimNames, allowed_pemdas: frozenset[str] = frozenset()
) -> Account:
    """The account a verified ID token describes (its id is the username claim). Refused: no
    usable username, an unknown role, a pemda that is not a pemda or not one of this deployment's
    (`allowed_pemdas`, when given), an OPD outside the pemda. Whether the OPD exists in the
    catalog is checked by the caller (it needs the database)."""
    try:
        username = check_username(_text(claim(claims, names.username)) or "")
    except AccountError:
        raise OidcRefusal(
            f"Penyedia identitas tidak mengirim nama pengguna yang dapat dipakai (klaim {names.username})."
        ) from None
    role = _role(claims, names)
    pemda = _text(claim(claims, names.pemda))
    opd = _text(claim(claims, names.opd))
    region = lookup(pemda) if pemda is not None else None
    if pemda is not None and (region is None or region.level > 2):  # a province or a kab/kota
        raise OidcRefusal(f"Pemda {pemda} tidak dikenal.")
    if pemda is not None and allowed_pemdas and pemda not in allowed_pemdas:
        raise OidcRefusal(f"Pemda {pemda} tidak dilayani oleh sistem ini.")
    if opd is not None and "/" in opd:  # the full id `<pemda>/<slug>`, as the staff token has it
        opd_pemda, _, opd = opd.partition("/")
        if opd_pemda != pemda:
            raise OidcRefusal("OPD Anda tidak berada di pemda Anda.")
    try:
        role_, pemda_, opd_ = scoped(role, pemda, opd)
    except AccountError as exc:
        raise OidcRefusal(f"Peran dan cakupan Anda di penyedia identitas tidak lengkap: {exc}.") from None
    name = (_text(claim(claims, names.name)) or username)[:120]
    email = _text(claim(claims, names.email))
    return Account(
        id=username,
        name=" ".join(name.split()),
        role=role_,
        pemda=pemda_,
        opd=opd_,
        email=email[:254] if email else None,
    )


# --- back-channel logout (OpenID Connect Back-Channel Logout 1.0) --------------------------------

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# A Logout Token is posted by the provider the moment the person logs out there: one issued longer
# ago than this is refused (§2.6 lets the relying party bound `iat`), so the `jti`s seen need to be
# remembered only this long (plus the clocks' leeway) for a replay to be recognised.
LOGOUT_MAX_AGE_SECONDS = 300
_MAX_CLAIM = 255  # longer `sub`, `sid` or `jti` values are nobody's


class LogoutTokenError(ValueError):
    """A Logout Token whose claims must not be acted on; the message is for the log and the
    provider's error body (it names the claim)."""


@dataclass(frozen=True)
class LogoutRequest:
    """What a verified Logout Token asks: end the session `sid` of the person `sub` (either may be
    absent, not both). `jti` must be remembered until `remember_until` (Unix seconds): a second
    token with it is refused."""

    jti: str
    sub: str | None
    sid: str | None
    remember_until: int


def _claim_text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_CLAIM:
        raise LogoutTokenError(f"{name}: not a string of 1-{_MAX_CLAIM} characters")
    return value


def _seconds(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    # Python's JSON reader takes `Infinity` and `NaN`: not a time either.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LogoutTokenError(f"{name}: not a number")
    return int(value)


def logout_request(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, now: int, leeway: int
) -> LogoutRequest:
    """The claims checks of Back-Channel Logout 1.0 §2.6 for a token whose signature has been
    verified: `iss` the provider, `aud` this client, `iat` present and recent, `exp` (if any) not
    passed, `jti` present, `events` holding the back-channel logout event as a JSON object, `sub`
    and/or `sid`, and no `nonce` (which is how an ID token could otherwise pass for one)."""
    if claims.get("iss") != issuer:
        raise LogoutTokenError("iss: not the provider's")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise LogoutTokenError("aud: not this client")
    iat = _seconds(claims, "iat")
    if iat is None:
        raise LogoutTokenError("iat: missing")
    if iat > now + leeway:
        raise LogoutTokenError("iat: in the future")
    if iat < now - LOGOUT_MAX_AGE_SECONDS - leeway:
        raise LogoutTokenError(f"iat: older than {LOGOUT_MAX_AGE_SECONDS} seconds")
    exp = _seconds(claims, "exp")
    if exp is not None and exp < now - leeway:
        raise LogoutTokenError("exp: expired")
    jti = _claim_text(claims, "jti")
    if jti is None:
        raise LogoutTokenError("jti: missing")
    events = claims.get("events")
    if not isinstance(events, Mapping) or not isinstance(events.get(BACKCHANNEL_EVENT), Mapping):
        raise LogoutTokenError(f"events: no {BACKCHANNEL_EVENT} member")
    if "nonce" in claims:
        raise LogoutTokenError("nonce: a Logout Token carries none")
    sub, sid = _claim_text(claims, "sub"), _claim_text(claims, "sid")
    if sub is None and sid is None:
        raise LogoutTokenError("sub, sid: neither is present")
    return LogoutRequest(jti=jti, sub=sub, sid=sid, remember_until=iat + LOGOUT_MAX_AGE_SECONDS + 2 * leeway)
