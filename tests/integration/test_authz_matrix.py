"""Every staff route of every service × role × scope, against the real apps (tests/service_apps.py)
and real complaints (submitted to intake, routed, seen by sla).

The table is keyed by each app's route table (`app.router.routes()`): a route without a row, or a
row without a route, fails `test_every_route_has_a_row`. Public routes are listed as such.

Roles: a handler and an OPD-scoped supervisor of OWN_OPD, a coordinator and a pemda supervisor of
its pemda, an admin, a citizen (the access token of another complaint) and no token at all.
Scopes: the route's target (complaint, OPD, pemda, or report filter) is OWN_OPD's, another OPD's of
the same pemda, or another pemda's.

A cell expects "allowed" (2xx, or a 4xx other than 401/403: the test's body is minimal, so
404/409/422 are fine), 401 or 403; a 5xx fails every cell.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import pytest

from devtools.infra import Endpoints
from shared.auth import mint
from shared.openapi import DOCS_FILES, DOCS_PAGE
from tests.service_apps import Apps, Client, Seeded, running_apps, seed_complaint

pytestmark = pytest.mark.integration

PEMDA, OTHER_PEMDA = "33.74", "33.71"
OWN_OPD, OTHER_OPD, OTHER_PEMDA_OPD = "33.74/dinas-pupr", "33.74/disdukcapil", "33.71/dinas-pupr"
SCOPES = ("own-opd", "other-opd", "other-pemda")
Scope = Literal["own-opd", "other-opd", "other-pemda"]
ROLES = ("handler", "coordinator", "supervisor", "supervisor-opd", "admin", "citizen", "none")
Expected = Literal["allowed", "401", "403"]

TOKENS = {
    "handler": mint("handler", opd=OWN_OPD, sub="matrix-handler"),
    "coordinator": mint("coordinator", pemda=PEMDA, sub="matrix-coordinator"),
    "supervisor": mint("supervisor", pemda=PEMDA, sub="matrix-supervisor"),
    "supervisor-opd": mint("supervisor", opd=OWN_OPD, sub="matrix-supervisor-opd"),
    "admin": mint("admin", sub="matrix-admin"),
}
OPD_SCOPED = ("handler", "supervisor-opd")
PEMDA_SCOPED = ("coordinator", "supervisor")
ALL_STAFF = frozenset({"handler", "coordinator", "supervisor", "admin"})


@dataclass(frozen=True)
class Row:
    """A staff route: the JWT roles it admits and what its scope is checked on:
    `complaint`/`opd`/`reports` follow the target's OPD (an OPD-scoped token covers only its own
    OPD, a pemda-scoped one its pemda), `pemda` the pemda alone (OPD-scoped tokens never),
    `any` nothing (every admitted role, every pemda)."""

    roles: frozenset[str]
    target: Literal["complaint", "opd", "pemda", "reports", "any"]


PUBLIC = "public"


def staff(
    *roles: str, target: Literal["complaint", "opd", "pemda", "reports", "any"], admin: bool = True
) -> Row:
    return Row(frozenset(roles or ALL_STAFF) | ({"admin"} if admin else set()), target)


HANDLER_ONLY = staff("handler", target="complaint", admin=False)

# Every service's Swagger UI page and its files (shared/docs.py).
DOCS_PAGES = {
    (service, "GET", path): PUBLIC + ": API documentation"
    for service in ("intake", "routing", "sla")
    for path in (DOCS_PAGE, *DOCS_FILES)
}

# (service, METHOD, path) → Row, or PUBLIC with the reason.
TABLE: dict[tuple[str, str, str], Row | str] = {
    # --- intake ---
    ("intake", "GET", "/healthz"): PUBLIC,
    ("intake", "GET", "/readyz"): PUBLIC,
    ("intake", "GET", "/openapi.json"): PUBLIC,
    ("intake", "GET", "/metrics"): PUBLIC,  # by network instead (METRICS_ALLOW): tests are on loopback
    **DOCS_PAGES,
    ("intake", "POST", "/api/v1/complaints"): PUBLIC + ": a citizen submits",
    ("intake", "GET", "/api/v1/complaints"): PUBLIC + ": the public listing",
    ("intake", "GET", "/api/v1/complaints/{id}"): PUBLIC + ": public view, or the reporter's with the token",
    ("intake", "POST", "/api/v1/complaints/{id}/information"): PUBLIC + ": the reporter (access token)",
    ("intake", "POST", "/api/v1/complaints/{id}/feedback"): PUBLIC + ": the reporter (access token)",
    ("intake", "POST", "/api/v1/complaints/{id}/survey"): PUBLIC + ": the reporter (access token)",
    ("intake", "GET", "/api/v1/survey"): PUBLIC + ": the SKM questionnaire in force",
    ("intake", "POST", "/api/v1/complaints/{id}/reopen"): PUBLIC + ": the reporter (access token)",
    ("intake", "POST", "/api/v1/complaints/{id}/withdraw"): PUBLIC + ": the reporter (access token)",
    ("intake", "GET", "/api/v1/complaints/{id}/commands/{command_id}"): PUBLIC + ": the reporter",
    ("intake", "POST", "/api/v1/complaints/{id}/attachments"): PUBLIC + ": the reporter (access token)",
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): PUBLIC + ": Open311",
    ("intake", "GET", "/open311/v2/services.{fmt}"): PUBLIC + ": Open311",
    ("intake", "GET", "/open311/v2/services/{code}.{fmt}"): PUBLIC + ": Open311",
    ("intake", "GET", "/open311/v2/requests.{fmt}"): PUBLIC + ": Open311",
    ("intake", "POST", "/open311/v2/requests.{fmt}"): PUBLIC + ": Open311 (API key)",
    ("intake", "GET", "/open311/v2/requests/{id}.{fmt}"): PUBLIC + ": Open311",
    ("intake", "GET", "/open311/v2/tokens/{token}.{fmt}"): PUBLIC + ": Open311",
    ("intake", "GET", "/open311/v2/{tail}"): PUBLIC + ": Open311's 404 for unknown paths",
    ("intake", "POST", "/open311/v2/{tail}"): PUBLIC + ": Open311's 404 for unknown paths",
    ("intake", "GET", "/api/v1/complaints/{id}/notifications/opt-out"): PUBLIC + ": the signed opt-out link",
    ("intake", "POST", "/api/v1/complaints/{id}/notifications/opt-out"): PUBLIC + ": the signed opt-out link",
    ("intake", "GET", "/lapor"): PUBLIC + ": the citizen's form page",
    ("intake", "POST", "/lapor"): PUBLIC + ": a citizen submits from the form page",
    ("intake", "GET", "/api/v1/regions"): PUBLIC + ": the region picker's levels",
    ("intake", "GET", "/halaman/{name}"): PUBLIC + ": the pages' script and style",
    ("intake", "GET", "/lacak"): PUBLIC + ": the tracking page (code + PIN form)",
    ("intake", "POST", "/lacak"): PUBLIC + ": tracking code + PIN from the page → a session",
    ("intake", "POST", "/api/v1/complaints/{id}/halaman"): PUBLIC + ": the reporter (session cookie + CSRF)",
    ("intake", "GET", "/api/v1/complaints/{id}/track"): PUBLIC + ": the signed tracking link → a session",
    ("intake", "POST", "/api/v1/tracking"): PUBLIC + ": tracking code + PIN → a session",
    ("intake", "GET", "/api/v1/complaints/{id}/reporter"): staff(target="complaint"),
    ("intake", "GET", "/api/v1/complaints/{id}/reporter/audit"): staff(
        "coordinator", "supervisor", target="complaint"
    ),
    **{  # a person's page: routing's sign-in cookie and the page's CSRF token decide, not a bearer JWT
        # (tests/integration/test_coordinator_pages.py)
        ("intake", method, "/staff/pelapor/{id}"): PUBLIC + ": a person's page (sign-in cookie, CSRF token)"
        for method in ("GET", "POST")
    },
    ("intake", "GET", "/api/v1/complaints/{id}/attachments"): staff(target="complaint"),
    ("intake", "GET", "/api/v1/complaints/{id}/attachments/{aid}"): staff(target="complaint"),
    # --- routing ---
    ("routing", "GET", "/healthz"): PUBLIC,
    ("routing", "GET", "/readyz"): PUBLIC,
    ("routing", "GET", "/openapi.json"): PUBLIC,
    ("routing", "GET", "/metrics"): PUBLIC,  # by network instead (METRICS_ALLOW): tests are on loopback
    ("routing", "POST", "/api/v1/routing/explain"): PUBLIC + ": which OPD a text would go to",
    ("routing", "POST", "/staff/oidc/backchannel-logout"): PUBLIC
    + ": the OIDC provider, server to server; its signed Logout Token is the credential"
    " (tests/integration/test_staff_oidc.py)",
    ("routing", "GET", "/api/v1/staff/complaints/{id}"): staff(target="complaint"),
    ("routing", "PATCH", "/api/v1/staff/complaints/{id}"): staff("coordinator", target="complaint"),
    **{  # the OPD's own clerks only: an admin does not act for an OPD
        ("routing", "POST", f"/api/v1/staff/complaints/{{id}}/{action}"): HANDLER_ONLY
        for action in ("claim", "answer", "request-info", "tier", "resolve", "transfer")
    },
    ("routing", "POST", "/api/v1/staff/complaints/{id}/dispose"): staff("coordinator", target="complaint"),
    ("routing", "POST", "/api/v1/staff/complaints/{id}/archive"): staff("coordinator", target="complaint"),
    ("routing", "POST", "/api/v1/staff/complaints/{id}/notes"): staff(
        "handler", "coordinator", target="complaint"
    ),
    ("routing", "GET", "/api/v1/staff/complaints/{id}/notes"): staff(target="complaint"),
    ("routing", "GET", "/api/v1/staff/complaints/{id}/duplicates"): staff(
        "handler", "coordinator", target="complaint"
    ),
    ("routing", "POST", "/api/v1/staff/complaints/{id}/merge"): staff("coordinator", target="complaint"),
    ("routing", "GET", "/api/v1/opd/{pemda}/{slug}/queue"): staff(target="opd"),
    ("routing", "GET", "/api/v1/opd/{pemda}/{slug}/feed"): staff(target="opd"),
    ("routing", "PUT", "/api/v1/opd/{pemda}/{slug}/webhook"): staff("handler", "coordinator", target="opd"),
    ("routing", "GET", "/api/v1/opd/{pemda}/{slug}/webhook/deliveries"): staff(target="opd"),
    ("routing", "PUT", "/api/v1/admin/opds/{pemda}/{slug}"): staff("coordinator", target="pemda"),
    ("routing", "GET", "/api/v1/pemda/{pemda}/triage"): staff("coordinator", "supervisor", target="pemda"),
    ("routing", "GET", "/api/v1/pemda/{pemda}/rule-suggestions"): staff("coordinator", target="pemda"),
    **{
        ("routing", "POST", f"/api/v1/pemda/{{pemda}}/rule-suggestions/{{id}}/{verdict}"): staff(
            "coordinator", target="pemda"
        )
        for verdict in ("accept", "reject")
    },
    ("routing", "PUT", "/api/v1/admin/rules/{pemda}/{category}"): staff("coordinator", target="pemda"),
    ("routing", "DELETE", "/api/v1/admin/rules/{pemda}/{category}"): staff("coordinator", target="pemda"),
    **{  # people's pages: the session cookie decides (tests/e2e/test_staff_sign_in.py), not a JWT
        ("routing", method, path): PUBLIC + ": a person's page (sign-in session, CSRF token)"
        for method, path in (
            ("GET", "/staff"),
            ("GET", "/staff/"),
            ("GET", "/staff/masuk"),
            ("POST", "/staff/masuk"),
            ("POST", "/staff/keluar"),
            ("GET", "/staff/sandi"),
            ("POST", "/staff/sandi"),
            ("POST", "/staff/alamat-surel"),
            ("GET", "/staff/surel"),
            ("POST", "/staff/surel"),
            ("GET", "/staff/akun"),
            ("POST", "/staff/akun"),
            ("POST", "/staff/akun/{username}/nonaktifkan"),
            ("POST", "/staff/akun/{username}/tautan-sandi"),
            ("GET", "/staff/atur-sandi/{token}"),
            ("POST", "/staff/atur-sandi/{token}"),
            ("GET", "/staff/static"),
            ("GET", "/staff/tugas"),  # the workbench: tests/integration/test_workbench_pages.py
            ("GET", "/staff/tugas/baru"),
            ("GET", "/staff/pengaduan/{id}"),
            ("GET", "/staff/pengaduan/{id}/lampiran/{aid}"),
            *(
                ("POST", f"/staff/pengaduan/{{id}}/{action}")
                for action in ("ambil", "jawab", "minta-info", "tingkat", "selesaikan", "alihkan", "catatan")
            ),
            ("GET", "/staff/masuk/oidc"),  # tests/integration/test_staff_oidc.py
            # the coordinator pages (tests/integration/test_coordinator_pages.py: roles and pemdas)
            ("GET", "/staff/triase"),
            ("GET", "/staff/triase/{id}"),
            ("POST", "/staff/triase/{id}/disposisi"),
            ("POST", "/staff/triase/{id}/arsip"),
            ("POST", "/staff/triase/{id}/privasi"),
            ("GET", "/staff/katalog"),
            ("POST", "/staff/katalog/opd"),
            ("POST", "/staff/katalog/aturan"),
            ("POST", "/staff/katalog/aturan/{category}/hapus"),
        )
    },
    # --- sla ---
    ("sla", "GET", "/healthz"): PUBLIC,
    ("sla", "GET", "/readyz"): PUBLIC,
    ("sla", "GET", "/openapi.json"): PUBLIC,
    ("sla", "GET", "/metrics"): PUBLIC,  # by network instead (METRICS_ALLOW): tests are on loopback
    ("sla", "GET", "/dashboard"): PUBLIC + ": redirect to the page",
    ("sla", "GET", "/dashboard/"): PUBLIC + ": the page; its API calls carry the token",
    ("sla", "GET", "/dashboard/static"): PUBLIC + ": the page's CSS and JS",
    ("sla", "GET", "/transparansi"): PUBLIC + ": the public transparency page (counts only)",
    ("sla", "GET", "/transparansi/transparansi.css"): PUBLIC + ": the transparency page's CSS",
    ("sla", "GET", "/api/v1/public/transparency"): PUBLIC + ": open data (counts only)",
    ("sla", "GET", "/api/v1/supervisor/me"): staff(target="any"),
    ("sla", "GET", "/api/v1/calendar/{pemda}/due"): PUBLIC + ": the working-day calendar",
    ("sla", "GET", "/api/v1/calendar/{pemda}/working-time"): PUBLIC + ": the working-day calendar",
    ("sla", "GET", "/api/v1/admin/calendar/{pemda}/extra-dates"): staff(target="any"),
    ("sla", "PUT", "/api/v1/admin/calendar/{pemda}/extra-dates"): Row(frozenset({"admin"}), "any"),
    **{
        ("sla", "GET", f"/api/v1/supervisor/{report}"): staff("coordinator", "supervisor", target="reports")
        for report in ("compliance", "trend", "breaches", "escalations", "satisfaction", "misrouting", "ikm")
    },
    # A pemda's figure (its coordinator's corrections): never an OPD-scoped token.
    ("sla", "GET", "/api/v1/supervisor/classifier/{pemda}"): staff(
        "coordinator", "supervisor", target="pemda"
    ),
    ("sla", "GET", "/api/v1/supervisor/complaints/{complaint_id}/clocks"): staff(
        "coordinator", "supervisor", target="complaint"
    ),
}

# Cells where the service does not (yet) do what the table says; each names its issue item.
KNOWN_HOLES: dict[tuple[str, str, str, str, str], str] = {}


def expected(row: Row, role: str, scope: Scope) -> Expected:
    if role in ("none", "citizen"):
        return "401"
    jwt_role = "supervisor" if role == "supervisor-opd" else role
    if jwt_role not in row.roles:
        return "403"
    if role == "admin" or row.target == "any":  # admin: every pemda
        return "allowed"
    if row.target == "pemda":
        return "allowed" if role in PEMDA_SCOPED and scope != "other-pemda" else "403"
    if role in OPD_SCOPED:
        return "allowed" if scope == "own-opd" else "403"
    return "allowed" if scope != "other-pemda" else "403"


def outcome(status: int) -> str:
    if status in (401, 403):
        return str(status)
    return "allowed" if status < 500 else f"server error {status}"


# --- fixtures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    apps: Apps
    complaints: dict[str, Seeded]  # scope → a complaint held by that scope's OPD


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints) -> AsyncIterator[World]:
    async with running_apps(endpoints) as apps:
        seeds = {
            "own-opd": ("jalan-jembatan", "33.74.01.1001"),
            "other-opd": ("kependudukan", "33.74.01.1001"),
            "other-pemda": ("jalan-jembatan", "33.71.01.1003"),
        }
        seeded = await asyncio.gather(
            *(
                seed_complaint(apps, endpoints.kafka_bootstrap, category=c, region_code=r)
                for c, r in seeds.values()
            )
        )
        complaints = dict(zip(seeds, seeded, strict=True))
        held = {scope: c.opd_id for scope, c in complaints.items()}
        assert held == {"own-opd": OWN_OPD, "other-opd": OTHER_OPD, "other-pemda": OTHER_PEMDA_OPD}
        yield World(apps, complaints)


def _request(world: World, path: str, target: str, scope: Scope) -> str:
    """`path` with its parameters (and, for the reports, the scope filter) for this scope."""
    opd = {"own-opd": OWN_OPD, "other-opd": OTHER_OPD, "other-pemda": OTHER_PEMDA_OPD}[scope]
    pemda, slug = opd.split("/")
    complaint = world.complaints[scope].id
    filled = (
        path.replace("{id}", complaint)
        .replace("{complaint_id}", complaint)
        .replace("{slug}", slug)
        .replace("{pemda}", pemda)
        .replace("{category}", "jalan-jembatan")
        .replace("{aid}", "01J0000000000000000000000A")
    )
    if target == "reports":
        filled += f"?pemda={OTHER_PEMDA}" if scope == "other-pemda" else f"?opd={opd}"
    return filled


def _cells() -> list[pytest.ParameterSet]:
    cells = []
    for (service, method, path), row in TABLE.items():
        if not isinstance(row, Row):
            continue
        for role in ROLES:
            for scope in SCOPES:
                hole = KNOWN_HOLES.get((service, method, path, role, scope))
                marks = [pytest.mark.xfail(strict=True, reason=hole)] if hole else []
                name = f"{service}-{method}-{path}-{role}-{scope}"
                cells.append(pytest.param(service, method, path, role, scope, marks=marks, id=name))
    return cells


@pytest.mark.parametrize(("service", "method", "path", "role", "scope"), _cells())
async def test_staff_route_answers_by_role_and_scope(
    world: World, service: str, method: str, path: str, role: str, scope: Scope
) -> None:
    row = TABLE[(service, method, path)]
    assert isinstance(row, Row)
    client: Client = getattr(world.apps, service)
    headers = {}
    if role == "citizen":  # a real access token, of another complaint than the one targeted
        other = {"own-opd": "other-pemda", "other-opd": "own-opd", "other-pemda": "other-opd"}[scope]
        headers["Authorization"] = f"Bearer {world.complaints[other].access_token}"
    elif role != "none":
        headers["Authorization"] = f"Bearer {TOKENS[role]}"
    body = {} if method in ("POST", "PUT", "PATCH") else None
    url = _request(world, path, row.target, scope)
    response = await client.request(method, url, json=body, headers=headers)
    text = await response.text()
    assert outcome(response.status) == expected(row, role, scope), (response.status, text[:300])


async def test_every_route_has_a_row(world: World) -> None:
    routes: set[tuple[str, str, str]] = set()
    for service in ("intake", "routing", "sla"):
        client: Client = getattr(world.apps, service)
        for route in client.server.app.router.routes():
            routes.add((service, route.method, route.resource.canonical if route.resource else "?"))
    heads = {r for r in routes if r[1] == "HEAD"}
    assert {(s, "GET", p) for s, _, p in heads} <= routes  # aiohttp's automatic HEAD of a GET
    routes -= heads
    assert not routes - set(TABLE), f"routes without a row in TABLE: {sorted(routes - set(TABLE))}"
    assert not set(TABLE) - routes, f"rows without a route: {sorted(set(TABLE) - routes)}"
