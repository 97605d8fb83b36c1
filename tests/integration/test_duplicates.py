"""Duplicates and merge (issue 22, item 2) against the real servers: the three apps in this process
on the test Kafka and database (tests/service_apps.py; routing's consumer step called here, as its
consumer would), intake notifying over a real SMTP server (aiosmtpd, from the notification tests).

A second complaint near a first one with similar words shows the first as a suggested duplicate;
a far one, or one about something else, does not. A coordinator's merge closes the duplicate
`merged` into the survivor, which keeps its lifecycle with the strictest privacy flags; both
reporters are told, the duplicate's reporter follows the survivor without seeing the other
reporter; the same merge again changes nothing; what must be refused is, as a problem document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devtools.infra import Endpoints
from services.routing.entrypoints.edge import ROUTING
from services.routing.handlers import handle_routing_batch
from shared.auth import mint
from shared.kafka import Outgoing, durable_producer, publish
from shared.topics import COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED
from tests.integration.test_intake_notifications import (  # noqa: F401 (fixtures used by name)
    Gateway,
    Mailbox,
    _notify_settings,
    _text,
    gateway,
    smtp,
)
from tests.service_apps import Apps, running_apps
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

PUPR = "33.74/dinas-pupr"
HANDLER = mint("handler", opd=PUPR, sub="budi")
COORDINATOR = mint("coordinator", pemda="33.74", sub="koor")
SUPERVISOR = mint("supervisor", pemda="33.74", sub="kepala")
ADMIN = mint("admin", sub="root")
HERE = {"lat": -6.9835, "lon": 110.4091}  # Jl. Pemuda, Semarang
NEAR = {"lat": -6.9831, "lon": 110.4093}  # ~50 m away
FAR = {"lat": -6.9655, "lon": 110.4091}  # ~2 km away
FIRST = {
    "title": "Jalan berlubang besar di Jl. Pemuda",
    "description": "Ada lubang besar di Jalan Pemuda depan SD Negeri 2, sudah dua minggu, motor sering "
    "jatuh saat malam.",
}
SAME_POTHOLE = {
    "title": "Lubang jalan Pemuda bahaya",
    "description": "Jalan Pemuda dekat SD Negeri 2 berlubang besar dan dalam, banyak pengendara motor "
    "jatuh waktu malam.",
}
OTHER_MATTER = {
    "title": "Jembatan kayu Kali Garang lapuk",
    "description": "Papan jembatan penyeberangan kayu banyak yang patah dan goyang ketika dilewati anak "
    "sekolah.",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def apps(
    endpoints: Endpoints,
    smtp: tuple[Mailbox, int, Path],  # noqa: F811 (the notification tests' fixture)
    gateway: tuple[Gateway, str],  # noqa: F811 (the notification tests' fixture)
) -> AsyncIterator[Apps]:
    notify = _notify_settings(smtp, gateway[1], daily_cap=100)
    async with running_apps(endpoints, notify=notify, public_base_url="https://lapor.example") as running:
        yield running


async def submit(apps: Apps, bootstrap: str, text: dict[str, str], **changes: Any) -> tuple[str, str]:
    """Submitted to intake and routed (routing's consumer step); (id, access token)."""
    body = {"category": "jalan-jembatan", "region_code": "33.74.01.1001", **text, **changes}
    response = await apps.intake.post("/api/v1/complaints", json=body)
    assert response.status == 202, await response.text()
    created = await response.json()
    complaint_id = created["id"]

    async def submitted() -> list[Any]:
        return await messages_for(bootstrap, COMPLAINTS_SUBMITTED, complaint_id)

    envelopes = await eventually(submitted, what=f"{complaint_id} on {COMPLAINTS_SUBMITTED}")
    assert not await handle_routing_batch(envelopes, apps.routing.server.app[ROUTING])
    return complaint_id, created["access_token"]


async def duplicates_of(apps: Apps, complaint_id: str, token: str = HANDLER) -> list[dict[str, Any]]:
    r = await apps.routing.get(f"/api/v1/staff/complaints/{complaint_id}/duplicates", headers=bearer(token))
    assert r.status == 200, await r.text()
    items: list[dict[str, Any]] = (await r.json())["items"]
    return items


async def merge(apps: Apps, absorbed: str, into: str, token: str = COORDINATOR) -> tuple[int, dict[str, Any]]:
    r = await apps.routing.post(
        f"/api/v1/staff/complaints/{absorbed}/merge", json={"into": into}, headers=bearer(token)
    )
    return r.status, await r.json()


async def mine(apps: Apps, complaint_id: str, token: str) -> dict[str, Any]:
    r = await apps.intake.get(f"/api/v1/complaints/{complaint_id}", headers=bearer(token))
    assert r.status == 200, await r.text()
    body: dict[str, Any] = await r.json()
    return body


def _address(name: str) -> str:
    return f"{name}-{id(name)}@example.id"


async def test_a_near_similar_complaint_is_suggested_a_far_or_different_one_is_not(
    apps: Apps, endpoints: Endpoints
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    first, _ = await submit(apps, bootstrap, FIRST, location=HERE, reporter={"name": "Sari Wulandari"})
    second, _ = await submit(apps, bootstrap, SAME_POTHOLE, location=NEAR, reporter={"name": "Joko Susilo"})
    far, _ = await submit(apps, bootstrap, SAME_POTHOLE, location=FAR)
    other, _ = await submit(apps, bootstrap, OTHER_MATTER, location=NEAR)
    unlocated, _ = await submit(apps, bootstrap, SAME_POTHOLE)  # same desa, no location

    [found] = [i for i in await duplicates_of(apps, second) if i["id"] == first]
    assert found["direction"] == "earlier" and found["status"] == "assigned" and found["opd_id"] == PUPR
    assert found["similarity"] >= 0.3 and 0 < found["distance_m"] <= 150
    assert "Sari" not in json.dumps(found) and "Pemuda" not in json.dumps(found)  # no identity, no text
    assert first not in [i["id"] for i in await duplicates_of(apps, far)]  # ~2 km: another place
    assert first not in [i["id"] for i in await duplicates_of(apps, other)]  # another matter
    # Without a location, the same desa is the place: compared by desa, no distance.
    [by_desa] = [i for i in await duplicates_of(apps, unlocated, COORDINATOR) if i["id"] == first]
    assert by_desa["distance_m"] is None
    # The first one shows the later ones that may repeat it, to its handler and coordinator.
    later = {i["id"]: i["direction"] for i in await duplicates_of(apps, first, COORDINATOR)}
    assert later.get(second) == "later" and far not in later and other not in later


async def test_merge_closes_the_duplicate_into_the_survivor_and_both_reporters_follow_it(
    apps: Apps,
    endpoints: Endpoints,
    smtp: tuple[Mailbox, int, Path],  # noqa: F811 (the notification tests' fixture)
) -> None:
    bootstrap, mailbox = endpoints.kafka_bootstrap, smtp[0]
    sari, joko = _address("sari"), _address("joko")
    survivor, survivor_token = await submit(
        apps, bootstrap, FIRST, location=HERE, reporter={"name": "Sari Wulandari", "email": sari}
    )
    duplicate, duplicate_token = await submit(
        apps,
        bootstrap,
        {**SAME_POTHOLE, "description": SAME_POTHOLE["description"] + " Hubungi Joko Susilo."},
        location=NEAR,
        anonymous=True,
        confidential=True,
        reporter={"name": "Joko Susilo", "email": joko},
    )
    assert survivor in [i["id"] for i in await duplicates_of(apps, duplicate, COORDINATOR)]

    status, body = await merge(apps, duplicate, survivor)
    assert status == 200, body
    assert (body["merged"]["status"], body["merged"]["merged_into"]) == ("closed", survivor)
    # The survivor continues its lifecycle, with the strictest flags of the two.
    assert (body["into"]["status"], body["into"]["anonymous"], body["into"]["confidential"]) == (
        "assigned",
        True,
        True,
    )
    seq = body["into"]["seq"], body["merged"]["seq"]

    # The same merge again (a retried request) answers the same and records nothing new.
    again, body_again = await merge(apps, duplicate, survivor)
    assert again == 200 and (body_again["into"]["seq"], body_again["merged"]["seq"]) == seq

    # Each reporter is told: the duplicate's that it now lives on the survivor, the survivor's
    # that another report joined (never whose).
    closed = await eventually(lambda: _mail(mailbox, joko, "ditutup"), within=60, what="the merged notice")
    assert survivor in _text(closed) and "Sari" not in _text(closed)
    joined = await eventually(
        lambda: _mail(mailbox, sari, "digabungkan"), within=60, what="the joined notice"
    )
    assert duplicate not in _text(joined) and "Joko" not in _text(joined)

    # The duplicate's reporter follows the survivor: its status and the OPD's answers, nothing of
    # its reporter (name, text).
    view = await eventually(lambda: _merged_view(apps, duplicate, duplicate_token), within=60)
    assert view["status"] == "closed" and view["merged_into"]["id"] == survivor
    answer = await apps.routing.post(
        f"/api/v1/staff/complaints/{survivor}/answer", json={"message": "Tim PUPR menambal besok."},
        headers=bearer(HANDLER),
    )  # fmt: skip
    assert answer.status == 200, await answer.text()
    followed = await eventually(
        lambda: _mail(mailbox, joko, "Kabar pengaduan"), within=60, what="followed news"
    )
    assert survivor in _text(followed)

    async def answered_in_view() -> dict[str, Any] | None:
        seen = await mine(apps, duplicate, duplicate_token)
        texts = [e["summary"] for e in seen["merged_into"]["timeline"]]
        return seen if any("menambal" in t for t in texts) else None

    seen = await eventually(answered_in_view, within=60, what="the survivor's answer in the follower's view")
    shown = json.dumps(seen["merged_into"])
    assert "Sari" not in shown and "Jl. Pemuda" not in shown and FIRST["description"] not in shown
    # The survivor's reporter sees the merge, never the other reporter or their words.
    own = await mine(apps, survivor, survivor_token)
    assert own["anonymous"] and own["confidential"] and "merged_into" not in own
    assert "Joko" not in json.dumps(own) and duplicate not in json.dumps(own)
    public = await apps.intake.get(f"/api/v1/complaints/{survivor}")
    assert public.status == 404  # confidential now: no public view

    # sla: the duplicate's clocks ended (cancelled), the survivor's keep running.
    clocks = {c["clock"]: c["state"] for c in await _clocks(apps, duplicate)}
    assert clocks == {"verification": "met", "response": "cancelled", "resolution": "cancelled"}, clocks

    # A redelivered lifecycle event of the merge changes nothing downstream: the duplicate's
    # ComplaintClosed published again, then a new event after it; once the new one is applied,
    # still one "merged" notice.
    events = await messages_for(bootstrap, COMPLAINTS_EVENTS, duplicate)
    [merged_event] = [e for e in events if e.type == "ComplaintClosed"]
    producer = durable_producer(bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing.of(COMPLAINTS_EVENTS, duplicate, merged_event)])
    finally:
        await producer.stop()
    resolved = await apps.routing.post(
        f"/api/v1/staff/complaints/{survivor}/resolve",
        json={"answer": "Sudah ditambal."},
        headers=bearer(HANDLER),
    )
    assert resolved.status == 200
    await eventually(lambda: _mail(mailbox, joko, "Kabar pengaduan", 2), within=60, what="the second news")
    assert len([m for m in mailbox.to(joko) if "ditutup" in str(m["Subject"])]) == 1


async def test_refused_merges_are_problems_naming_why(apps: Apps, endpoints: Endpoints) -> None:
    bootstrap = endpoints.kafka_bootstrap
    a, _ = await submit(apps, bootstrap, FIRST, location=HERE)
    b, _ = await submit(apps, bootstrap, SAME_POTHOLE, location=NEAR)
    c, _ = await submit(apps, bootstrap, SAME_POTHOLE, location=NEAR)
    elsewhere, _ = await submit(apps, bootstrap, FIRST, region_code="33.71")
    triaged, _ = await submit(apps, bootstrap, OTHER_MATTER, category="lainnya")
    archived = await apps.routing.post(
        f"/api/v1/staff/complaints/{triaged}/archive",
        json={"reason": "bukan pengaduan"},
        headers=bearer(COORDINATOR),
    )
    assert archived.status == 200, await archived.text()

    async def problem(absorbed: str, into: str, token: str = COORDINATOR) -> tuple[int, dict[str, Any]]:
        r = await apps.routing.post(
            f"/api/v1/staff/complaints/{absorbed}/merge", json={"into": into}, headers=bearer(token)
        )
        assert r.content_type == "application/problem+json", await r.text()
        return r.status, await r.json()

    status, body = await problem(a, a)
    assert status == 422 and body["errors"][0]["field"] == "into"
    status, body = await problem(a, "01JUNKNOWNCOMPLAINTID00000")
    assert status == 422 and body["errors"][0]["field"] == "into"
    status, body = await problem(a, elsewhere, ADMIN)  # the admin reaches both pemdas: still refused
    assert status == 422 and "pemda" in body["errors"][0]["message"]
    status, body = await problem(a, b, HANDLER)  # a handler may not merge
    assert status == 403
    assert (await merge(apps, b, a))[0] == 200
    status, body = await problem(c, b)  # into a complaint that is itself merged
    assert status == 409 and a in body["detail"]
    status, body = await problem(b, c)  # a merged complaint into another
    assert status == 409 and "sudah digabungkan" in body["detail"]
    status, body = await problem(triaged, a)  # closed (archived) complaints are not merged
    assert status == 409 and "archived" in body["detail"]
    status, body = await problem(c, triaged)
    assert status == 409 and "archived" in body["detail"]


async def _mail(mailbox: Mailbox, address: str, subject_part: str, count: int = 1) -> Any:
    found = [m for m in mailbox.to(address) if subject_part in str(m["Subject"])]
    return found[count - 1] if len(found) >= count else None


async def _merged_view(apps: Apps, complaint_id: str, token: str) -> dict[str, Any] | None:
    view = await mine(apps, complaint_id, token)
    return view if view.get("merged_into") else None


async def _clocks(apps: Apps, complaint_id: str) -> list[dict[str, Any]]:
    async def stopped() -> list[dict[str, Any]] | None:
        r = await apps.sla.get(
            f"/api/v1/supervisor/complaints/{complaint_id}/clocks", headers=bearer(SUPERVISOR)
        )
        if r.status != 200:
            return None
        clocks: list[dict[str, Any]] = (await r.json())["clocks"]
        return clocks if clocks and all(c["state"] != "running" for c in clocks) else None

    return await eventually(stopped, within=60, what=f"{complaint_id}'s clocks stopped")


async def test_a_complaint_given_its_category_by_the_coordinator_is_compared_again(
    apps: Apps, endpoints: Endpoints
) -> None:
    """A complaint triaged under "Lainnya" is the same pothole as an open one: once the coordinator
    disposes it as a road complaint, the earlier one is suggested (and never before)."""
    bootstrap = endpoints.kafka_bootstrap
    first, _ = await submit(apps, bootstrap, FIRST, location=HERE)
    triaged, _ = await submit(apps, bootstrap, SAME_POTHOLE, location=NEAR, category="lainnya")
    assert first not in [i["id"] for i in await duplicates_of(apps, triaged, COORDINATOR)]
    # The OPD as the catalog loader writes it (this test's fresh database holds no catalog).
    await apps.routing_db["opds"].update_one(
        {"_id": PUPR},
        {"$set": {"pemda": "33.74", "slug": "dinas-pupr", "name": "Dinas PUPR Kota Semarang"}},
        upsert=True,
    )
    disposed = await apps.routing.post(
        f"/api/v1/staff/complaints/{triaged}/dispose",
        json={"opd_id": PUPR, "category": "jalan-jembatan"},
        headers=bearer(COORDINATOR),
    )
    assert disposed.status == 200, await disposed.text()
    [found] = [i for i in await duplicates_of(apps, triaged) if i["id"] == first]
    assert found["direction"] == "earlier" and 0 < found["distance_m"] <= 150
