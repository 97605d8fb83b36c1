"""Which account an OIDC provider's claims give (services/routing/domain/oidc.py): role names mapped,
lists of groups with exactly one role, nested claims, and every refusal in plain Indonesian."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.routing.domain.oidc import ClaimNames, OidcRefusal, parse_role_map, person

HANDLER = {"preferred_username": "Budi.PUPR", "name": "  Budi   Santoso ", "role": "handler"}
HANDLER |= {"pemda": "33.74", "opd": "33.74/dinas-pupr", "email": "budi@example.go.id"}


def test_a_handler_with_a_full_opd_id() -> None:
    account = person(HANDLER, ClaimNames())
    assert (account.id, account.name, account.role) == ("budi.pupr", "Budi Santoso", "handler")
    assert (account.pemda, account.opd, account.email) == ("33.74", "33.74/dinas-pupr", "budi@example.go.id")


def test_an_opd_slug_and_nested_mapped_roles() -> None:
    names = ClaimNames(
        role="realm_access.roles",
        pemda="attrs.pemda",
        opd="attrs.opd",
        role_map=parse_role_map("petugas-opd=handler, koordinator=coordinator"),
    )
    claims: dict[str, Any] = {
        "preferred_username": "budi",
        "realm_access": {"roles": ["offline_access", "uma_authorization", "petugas-opd"]},
        "attrs": {"pemda": "33.74", "opd": "dlh"},
    }
    account = person(claims, names)
    assert (account.role, account.opd, account.name) == ("handler", "33.74/dlh", "budi")
    province = person({"preferred_username": "ani", "role": "coordinator", "pemda": "33"}, ClaimNames())
    assert province.pemda == "33"


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"role": "bendahara"}, "Peran Anda di penyedia identitas (bendahara) tidak dikenal"),
        ({"role": None}, "Peran Anda di penyedia identitas (tidak ada) tidak dikenal"),
        ({"role": ["handler", "admin"]}, "lebih dari satu peran"),
        ({"pemda": "99.99"}, "Pemda 99.99 tidak dikenal"),
        ({"pemda": "33.74.01"}, "Pemda 33.74.01 tidak dikenal"),  # a kecamatan is no pemda
        ({"pemda": "31.71", "opd": "31.71/dlh"}, "Pemda 31.71 tidak dilayani"),
        ({"opd": "33.72/dlh"}, "OPD Anda tidak berada di pemda Anda"),
        ({"opd": None}, "Petugas OPD harus memiliki OPD"),
        ({"preferred_username": "a b"}, "nama pengguna yang dapat dipakai"),
        ({"preferred_username": None}, "nama pengguna yang dapat dipakai"),
    ],
)
def test_refusals(claims: dict[str, Any], says: str) -> None:
    with pytest.raises(OidcRefusal, match=re.escape(says)):
        person(HANDLER | claims, ClaimNames(), frozenset({"33.74", "33.72"}))


def test_a_role_map_with_a_typo_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="peta peran"):
        parse_role_map("petugas=handlr")
    with pytest.raises(ValueError, match="peta peran"):
        parse_role_map("petugas")
    assert parse_role_map("") == {}


def test_settings_need_the_client_with_the_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.routing.settings import RoutingSettings

    monkeypatch.setenv("ROUTING_OIDC_ISSUER", "https://sso.example.go.id/realms/pemkot")
    with pytest.raises(ValueError, match="ROUTING_OIDC_CLIENT_ID"):
        RoutingSettings()
    monkeypatch.setenv("ROUTING_OIDC_CLIENT_ID", "pengaduan")
    monkeypatch.setenv("ROUTING_OIDC_CLIENT_SECRET", "rahasia")
    assert RoutingSettings().oidc_client_id == "pengaduan"
