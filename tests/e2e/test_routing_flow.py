"""Routing end to end with the three services as processes on real Kafka and the real database:
submit → assigned → claim → request info → the reporter replies → answer → resolve; a transfer
path; coordinator triage; and the staff scope matrix (role × endpoint × own/other scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devtools import infra
from devtools.services import ServiceSet
from shared.auth import mint
from shared.mongo import mongo_client
from tests.e2e.conftest import DB_PREFIX
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PUPR = "33.74/dinas-pupr"
DISHUB = "33.74/dinas-perhubungan"
SUBMISSION = {
    "title": "Jalan berlubang di Jl. Pemuda",
    "description": "Lubang besar di depan SD Negeri 2 Semarang, dua minggu membahayakan pengendara motor.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890"},
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


HANDLER = mint("handler", opd=PUPR, sub="budi")
HANDLER_2 = mint("handler", opd=PUPR, sub="ani")
DISHUB_HANDLER = mint("handler", opd=DISHUB, sub="tono")
COORDINATOR = mint("coordinator", pemda="33.74", sub="koor")
OTHER_COORDINATOR = mint("coordinator", pemda="33.71", sub="koor-lain")
SUPERVISOR = mint("supervisor", pemda="33.74", sub="kepala")


async def submit(services: ServiceSet, http: aiohttp.ClientSession, **changes: Any) -> str:
    async with http.post(services.url("intake") + "/api/v1/complaints", json={**SUBMISSION, **changes}) as r:
        assert r.status == 202, await r.text()
        complaint_id: str = (await r.json())["id"]
        return complaint_id


class Staff:
    def __init__(self, services: ServiceSet, http: aiohttp.ClientSession, complaint_id: str) -> None:
        self.base = services.url("routing") + f"/api/v1/staff/complaints/{complaint_id}"
        self.http = http

    async def get(self, token: str) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.base, headers=auth(token)) as r:
            return r.status, await r.json()

    async def post(
        self, action: str, token: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.base}/{action}", headers=auth(token), json=body or {}) as r:
            return r.status, await r.json()

    async def state(self, token: str = COORDINATOR) -> str | None:
        status, body = await self.get(token)
        return body.get("status") if status == 200 else None

    async def reach(self, state: str, token: str = COORDINATOR) -> None:
        async def probe() -> bool:
            return await self.state(token) == state

        await eventually(probe, within=30, what=f"status {state}")


async def test_submit_claim_ask_reply_answer_resolve_feedback(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    async with http.post(services.url("intake") + "/api/v1/complaints", json=SUBMISSION) as r:
        assert r.status == 202
        accepted = await r.json()
    complaint_id, token = accepted["id"], accepted["access_token"]
    citizen_url = services.url("intake") + f"/api/v1/complaints/{complaint_id}"
    staff = Staff(services, http, complaint_id)
    await staff.reach("assigned", HANDLER)

    # The OPD's queue lists it with its SLA due (from sla.events) once the clocks are open.
    async def queued() -> dict[str, Any] | None:
        # Every page: the queue also holds what the integration tier's submissions left at this
        # OPD, and nearest-due-first puts those (due on other days) before this one.
        url = services.url("routing") + f"/api/v1/opd/{PUPR}/queue"
        params: dict[str, str] = {"status": "assigned", "limit": "100"}
        while True:
            async with http.get(url, params=params, headers=auth(HANDLER)) as r:
                assert r.status == 200, await r.text()
                page = await r.json()
            found = next((i for i in page["items"] if i["id"] == complaint_id and i["sla_due"]), None)
            if found is not None or not page["next_cursor"]:
                return found
            params["cursor"] = page["next_cursor"]

    item = await eventually(queued, what="the complaint in the OPD queue with its due")
    assert "Sari" not in str(item) and "0812" not in str(item)  # identity stays in intake

    status, body = await staff.post("claim", HANDLER)
    assert (status, body["status"], body["claimed_by"]) == (200, "in_progress", "budi")
    status, body = await staff.post("answer", HANDLER_2, {"message": "Kami cek."})
    assert status == 409 and "budi" in body["detail"]  # the lease keeps a colleague off

    status, body = await staff.post("request-info", HANDLER, {"message": "Mohon kirim foto lokasi."})
    assert (status, body["status"]) == (200, "waiting_reporter")

    # The reporter replies through intake, which sends the command routing decides on.
    async with http.post(
        f"{citizen_url}/information", headers=auth(token), json={"message": "Foto sudah saya kirim."}
    ) as r:
        assert r.status == 202, await r.text()
    await staff.reach("in_progress", HANDLER)

    status, _ = await staff.post("answer", HANDLER, {"message": "Tim akan menambal besok."})
    assert status == 200
    status, body = await staff.post("resolve", HANDLER, {"answer": "Lubang sudah ditambal."})
    assert (status, body["status"]) == (200, "resolved")
    status, body = await staff.post("resolve", HANDLER, {"answer": "lagi"})
    assert status == 409 and "resolved" in body["detail"]

    # The citizen's view follows: resolved, with the OPD's answers in the timeline; then the
    # reporter's feedback closes it through routing.
    async def citizen(status: str) -> dict[str, Any] | None:
        async with http.get(citizen_url, headers=auth(token)) as r:
            view: dict[str, Any] = await r.json()
        return view if view["status"] == status else None

    view = await eventually(lambda: citizen("resolved"), what="the citizen's view resolved")
    assert "Lubang sudah ditambal." in str(view["timeline"])
    async with http.post(f"{citizen_url}/feedback", headers=auth(token), json={"rating": 5}) as r:
        assert r.status == 202, await r.text()
    await staff.reach("closed", HANDLER)
    await eventually(lambda: citizen("closed"), what="the citizen's view closed")

    # Internal notes: staff only.
    async with http.post(
        staff.base + "/notes", headers=auth(HANDLER), json={"text": "Koordinasi dengan UPT."}
    ) as r:
        assert r.status == 201
    async with http.get(staff.base + "/notes", headers=auth(SUPERVISOR)) as r:
        assert [n["text"] for n in (await r.json())["items"]] == ["Koordinasi dengan UPT."]


async def test_transfer_moves_the_complaint_and_both_feeds_see_it(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    complaint_id = await submit(services, http)
    staff = Staff(services, http, complaint_id)
    await staff.reach("assigned", HANDLER)
    status, body = await staff.post(
        "transfer", HANDLER, {"to_opd_id": "33.74/tidak-ada", "reason": "salah kirim"}
    )
    assert status == 409 and "katalog" in body["detail"]
    status, body = await staff.post("transfer", HANDLER, {"to_opd_id": DISHUB, "reason": "Wewenang Dishub"})
    assert (status, body["status"], body["opd_id"], body["transfers"]) == (200, "assigned", DISHUB, 1)
    assert (await staff.get(HANDLER))[0] == 403  # no longer the old OPD's
    assert (await staff.get(DISHUB_HANDLER))[0] == 200

    async def feed(opd: str, token: str) -> list[str]:
        """This complaint's entries in the OPD's feed (read in pages: other tests write too)."""
        url, types, cursor = services.url("routing") + f"/api/v1/opd/{opd}/feed", [], None
        while True:
            params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            async with http.get(url, params=params, headers=auth(token)) as r:
                assert r.status == 200
                page = await r.json()
            types += [i["type"] for i in page["items"] if i["complaint_id"] == complaint_id]
            if page["next_cursor"] is None:
                return types
            cursor = page["next_cursor"]

    async def settled(opd: str, token: str, expected: list[str]) -> bool:
        return await feed(opd, token) == expected  # entries are readable once settled (~2 s)

    await eventually(lambda: settled(PUPR, HANDLER, ["ComplaintAssigned", "ComplaintTransferred"]))
    # Dishub gets its assignment (via=transfer), not the old OPD's story.
    await eventually(lambda: settled(DISHUB, DISHUB_HANDLER, ["ComplaintAssigned"]))


async def test_uncategorised_goes_to_triage_and_the_coordinator_disposes(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    complaint_id = await submit(
        services,
        http,
        category=None,
        title="Keluhan warga",
        description="Ada masalah di lingkungan kami yang perlu ditangani segera oleh pemda.",
    )
    staff = Staff(services, http, complaint_id)
    await staff.reach("triage")

    url = services.url("routing") + "/api/v1/pemda/33.74/triage?limit=200"
    async with http.get(url, headers=auth(COORDINATOR)) as r:
        assert complaint_id in [i["id"] for i in (await r.json())["items"]]
    async with http.get(url, headers=auth(OTHER_COORDINATOR)) as r:
        assert r.status == 403

    status, body = await staff.post("dispose", COORDINATOR, {"opd_id": PUPR})
    assert status == 409 and "kategori" in body["detail"]
    status, body = await staff.post("dispose", COORDINATOR, {"opd_id": PUPR, "category": "jalan-jembatan"})
    assert (status, body["status"], body["opd_id"]) == (200, "assigned", PUPR)


@pytest.mark.parametrize(
    ("token", "action", "expected"),
    [
        (None, "get", 401),
        ("garbage.not.jwt", "get", 401),
        (HANDLER, "get", 200),
        (DISHUB_HANDLER, "get", 403),
        (COORDINATOR, "get", 200),
        (OTHER_COORDINATOR, "get", 403),
        (SUPERVISOR, "get", 200),
        (mint("supervisor", opd=DISHUB), "get", 403),
        (mint("admin"), "get", 200),
        (HANDLER, "claim", 200),
        (DISHUB_HANDLER, "claim", 403),
        (COORDINATOR, "claim", 403),
        (SUPERVISOR, "claim", 403),
        (HANDLER, "archive", 403),
        (OTHER_COORDINATOR, "archive", 403),
        (COORDINATOR, "archive", 409),  # in scope, but an assigned complaint cannot be archived
    ],
)
async def test_staff_scope_matrix(
    services: ServiceSet, http: aiohttp.ClientSession, token: str | None, action: str, expected: int
) -> None:
    complaint_id = await submit(services, http)
    staff = Staff(services, http, complaint_id)
    await staff.reach("assigned")
    headers = auth(token) if token else {}
    if action == "get":
        async with http.get(staff.base, headers=headers) as r:
            assert r.status == expected
    else:
        body = {"reason": "Spam berulang dari nomor yang sama"} if action == "archive" else {}
        async with http.post(f"{staff.base}/{action}", headers=headers, json=body) as r:
            assert r.status == expected, await r.text()
            assert r.content_type == "application/problem+json" or expected == 200


async def test_a_rule_override_takes_effect_at_once_and_is_audited(
    services: ServiceSet, http: aiohttp.ClientSession, endpoints: infra.Endpoints
) -> None:
    """A coordinator's override (data, not code) routes the next submission without a restart;
    removing it restores DESIGN §4's rule."""
    routing = services.url("routing")
    rule_url = f"{routing}/api/v1/admin/rules/33.74/jalan-jembatan"
    probe = {"category": "jalan-jembatan", "region_code": SUBMISSION["region_code"]}

    async def explained() -> dict[str, Any]:
        async with http.post(f"{routing}/api/v1/routing/explain", json=probe) as r:
            assert r.status == 200
            body: dict[str, Any] = await r.json()
            return body

    assert (await explained())["opd_id"] == PUPR
    async with http.put(
        rule_url, headers=auth(COORDINATOR), json={"opd_slug": "dinas-perhubungan", "note": "uji coba"}
    ) as r:
        assert r.status == 200, await r.text()
    try:
        explanation = await explained()
        assert (explanation["opd_id"], explanation["rule"]) == (DISHUB, "override:33.74:jalan-jembatan")
        complaint_id = await submit(services, http)
        await Staff(services, http, complaint_id).reach("assigned", DISHUB_HANDLER)
    finally:
        async with http.delete(rule_url, headers=auth(COORDINATOR)) as r:
            assert r.status == 204
    assert (await explained())["opd_id"] == PUPR
    client = mongo_client(endpoints.mongo_uri)
    try:
        audit = client[f"{DB_PREFIX}routing"]["audit"]
        found = audit.find({"data.category": "jalan-jembatan", "by": "koor"}).sort("at", 1)
        trail = [d["what"] async for d in found]
    finally:
        await client.close()
    assert trail[-2:] == ["rule.put", "rule.delete"]
