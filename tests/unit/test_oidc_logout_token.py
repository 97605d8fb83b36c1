"""The claims checks of a back-channel Logout Token (services/routing/domain/oidc.py
`logout_request`, OpenID Connect Back-Channel Logout 1.0 §2.4 and §2.6): what a valid token asks,
and each claim whose absence or wrong value refuses it, naming that claim."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.routing.domain.oidc import (
    BACKCHANNEL_EVENT,
    LOGOUT_MAX_AGE_SECONDS,
    LogoutRequest,
    LogoutTokenError,
    logout_request,
)

ISSUER, CLIENT = "https://sso.semarangkota.go.id", "pengaduan-routing"
NOW, LEEWAY = 1_800_000_000, 60
VALID: dict[str, Any] = {
    "iss": ISSUER,
    "aud": CLIENT,
    "iat": NOW - 2,
    "exp": NOW + 118,
    "jti": "jti-1",
    "sub": "budi.pupr",
    "sid": "sesi-1",
    "events": {BACKCHANNEL_EVENT: {}},
}


def _check(claims: dict[str, Any]) -> LogoutRequest:
    return logout_request(claims, issuer=ISSUER, client_id=CLIENT, now=NOW, leeway=LEEWAY)


def test_a_valid_token_names_the_session_and_how_long_its_jti_is_kept() -> None:
    wanted = _check(VALID)
    assert (wanted.jti, wanted.sub, wanted.sid) == ("jti-1", "budi.pupr", "sesi-1")
    # kept as long as a token with that `jti` could still be accepted
    assert wanted.remember_until == NOW - 2 + LOGOUT_MAX_AGE_SECONDS + 2 * LEEWAY
    lasting = {k: v for k, v in VALID.items() if k != "exp"}
    last = wanted.remember_until - LEEWAY  # the last second it is accepted, by a clock behind
    assert logout_request(lasting, issuer=ISSUER, client_id=CLIENT, now=last, leeway=LEEWAY).jti == "jti-1"
    with pytest.raises(LogoutTokenError, match=r"^iat: older than"):
        logout_request(lasting, issuer=ISSUER, client_id=CLIENT, now=last + 1, leeway=LEEWAY)


def test_only_a_sub_or_only_a_sid_and_an_audience_list() -> None:
    only_sub = {k: v for k, v in VALID.items() if k != "sid"} | {"aud": ["lain", CLIENT]}
    assert (_check(only_sub).sub, _check(only_sub).sid) == ("budi.pupr", None)
    only_sid = {k: v for k, v in VALID.items() if k not in ("sub", "exp")}
    assert (_check(only_sid).sub, _check(only_sid).sid) == (None, "sesi-1")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"iss": "https://penyedia-lain.example"}, "iss"),
        ({"iss": None}, "iss"),
        ({"aud": "klien-lain"}, "aud"),
        ({"aud": ["klien-lain"]}, "aud"),
        ({"aud": None}, "aud"),
        ({"iat": None}, "iat: missing"),
        ({"iat": "kemarin"}, "iat: not a number"),
        ({"iat": True}, "iat: not a number"),
        ({"iat": float("nan")}, "iat: not a number"),
        ({"iat": float("inf")}, "iat: not a number"),
        ({"exp": float("-inf")}, "exp: not a number"),
        ({"iat": NOW + LEEWAY + 1}, "iat: in the future"),
        ({"iat": NOW - LOGOUT_MAX_AGE_SECONDS - LEEWAY - 1}, "iat: older than"),
        ({"exp": NOW - LEEWAY - 1}, "exp: expired"),
        ({"exp": "besok"}, "exp: not a number"),
        ({"jti": None}, "jti: missing"),
        ({"jti": ""}, "jti"),
        ({"jti": 7}, "jti"),
        ({"jti": "x" * 256}, "jti"),
        ({"events": None}, "events"),
        ({"events": {}}, "events"),
        ({"events": [BACKCHANNEL_EVENT]}, "events"),
        ({"events": {BACKCHANNEL_EVENT: "ya"}}, "events"),
        ({"events": {"http://schemas.openid.net/event/lain": {}}}, "events"),
        ({"nonce": "n-0S6_WzA2Mj"}, "nonce"),
        ({"sub": None, "sid": None}, "sub, sid: neither"),
        ({"sub": 42}, "sub"),
        ({"sid": ["sesi-1"]}, "sid"),
    ],
)
def test_refused_claims_are_named(change: dict[str, Any], says: str) -> None:
    claims = {k: v for k, v in (VALID | change).items() if v is not None}
    with pytest.raises(LogoutTokenError, match=f"^{re.escape(says)}"):
        _check(claims)
