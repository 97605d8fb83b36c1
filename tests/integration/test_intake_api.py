"""Intake's HTTP edge in process, on the real broker and database: the reporter's commands
(checked, durable on complaints.commands, their outcome read back), the staff view, the audited
identity endpoint (attachments: test_intake_attachments.py).

The app runs in its own database and its own consumer group, so it never takes partitions from
the e2e tier's intake. Where a test needs a state that only routing could produce, it writes the
view document directly (with a high `last_seq`, so a real routing's events for the same complaint
are ignored) — these tests are about intake, not about the lifecycle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.intake.adapters.idempotency import key_id
from services.intake.entrypoints import openapi as intake_openapi
from shared import clock
from shared.auth import mint
from shared.envelope import new_event
from shared.events import CommandRejected
from shared.kafka import Outgoing, durable_producer, publish
from shared.openapi import undocumented
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED
from tests.intake_app import running_intake
from tests.topics import messages_for, published
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

OPD = "33.74/dinas-pupr"
ATTACHMENT_LIMIT = 64 * 1024
SUBMISSION: dict[str, Any] = {
    "title": "Jalan berlubang di depan SD",
    "description": (
        "Lubang besar di Jl. Pemuda depan SD Negeri 2, hubungi 0813-1111-2222 atau NIK 3374011203900004."
    ),
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890", "email": "sari@example.id"},
}


@dataclass
class Intake:
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    db: AsyncDatabase[dict[str, Any]]
    bootstrap: str

    async def submit(self, **changes: Any) -> tuple[str, str]:
        resp = await self.http.post("/api/v1/complaints", json={**SUBMISSION, **changes})
        assert resp.status == 202, await resp.text()
        body = await resp.json()
        return body["id"], body["access_token"]

    async def force(self, complaint_id: str, **fields: Any) -> None:
        """Put the view in a state routing would produce (its own later events are then stale)."""
        await self.db["complaints"].update_one(
            {"_id": complaint_id}, {"$set": {"last_seq": 100, **fields}, "$inc": {"rev": 1}}
        )


@pytest.fixture(scope="module")
async def intake(endpoints: Endpoints) -> AsyncIterator[Intake]:
    async with running_intake(endpoints, attachment_max_bytes=ATTACHMENT_LIMIT) as (client, db):
        yield Intake(client, db, endpoints.kafka_bootstrap)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- commands -------------------------------------------------------------------------------------


async def test_a_command_waits_until_routing_has_recorded_the_complaint(intake: Intake) -> None:
    """Before the view has the complaint's first lifecycle event, a command would reach routing
    ahead of the submission and be dead-lettered there (pending for ever): 409, try again soon."""
    cid, token = await intake.submit()
    url = f"/api/v1/complaints/{cid}/withdraw"
    early = await intake.http.post(url, json={"reason": "salah kirim"}, headers=bearer(token))
    assert early.status == 409 and early.headers["Retry-After"] == "2"
    assert "belum tercatat" in (await early.json())["detail"]
    assert await intake.db["commands"].count_documents({"complaint_id": cid}) == 0  # nothing sent
    await intake.force(cid, status="received")  # routing's ComplaintReceived reached the view
    later = await intake.http.post(url, json={"reason": "salah kirim"}, headers=bearer(token))
    assert later.status == 202, await later.text()


async def test_feedback_goes_durably_to_routing_once_per_idempotency_key(intake: Intake) -> None:
    cid, token = await intake.submit()
    await intake.force(cid, status="resolved", opd_id=OPD, resolved_at=clock.now(), resolved_by=OPD)
    url = f"/api/v1/complaints/{cid}/feedback"
    key = {"Idempotency-Key": str(ULID())}
    first = await intake.http.post(
        url, json={"rating": 4, "comment": "Sudah ditambal"}, headers=bearer(token) | key
    )
    assert first.status == 202
    accepted = await first.json()
    again = await intake.http.post(
        url, json={"rating": 4, "comment": "Sudah ditambal"}, headers=bearer(token) | key
    )
    assert again.status == 202 and await again.json() == accepted
    other = await intake.http.post(url, json={"rating": 1}, headers=bearer(token) | key)
    assert other.status == 422 and (await other.json())["errors"][0]["field"] == "Idempotency-Key"

    [command] = await published(intake.bootstrap, COMPLAINTS_COMMANDS, cid)  # after the answer
    assert command.type == "GiveFeedback" and command.seq is None and command.complaint_id == cid
    assert command.event_id == command.correlation_id == accepted["command_id"]
    assert command.payload.model_dump() == {"rating": 4, "comment": "Sudah ditambal"}
    assert accepted["status_url"].endswith(f"/api/v1/complaints/{cid}/commands/{accepted['command_id']}")

    status = await intake.http.get(
        f"/api/v1/complaints/{cid}/commands/{accepted['command_id']}", headers=bearer(token)
    )
    # Pending until routing decides; in a full `make test` the e2e tier's routing process shares
    # this broker and may already have decided (it knows this complaint in another state).
    assert status.status == 200 and (await status.json())["status"] in ("pending", "rejected")


async def test_a_rejection_from_routing_reaches_the_command_status_and_the_reporters_timeline(
    intake: Intake,
) -> None:
    cid, token = await intake.submit()
    await intake.force(cid, status="in_progress", opd_id=OPD)
    resp = await intake.http.post(
        f"/api/v1/complaints/{cid}/information",
        json={"message": "Foto terbaru terlampir"},
        headers=bearer(token),
    )
    assert resp.status == 202
    command_id = (await resp.json())["command_id"]
    rejection = new_event(
        CommandRejected(
            command_id=command_id, command="AddInformation", state="closed", reason="sudah ditutup"
        ),
        producer="routing",
        complaint_id=cid,
        seq=101,
        correlation_id=command_id,
    )
    producer = durable_producer(intake.bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing.of(COMPLAINTS_EVENTS, cid, rejection)])
    finally:
        await producer.stop()

    async def settled() -> dict[str, Any] | None:
        got = await intake.http.get(f"/api/v1/complaints/{cid}/commands/{command_id}", headers=bearer(token))
        body: dict[str, Any] = await got.json()
        return body if body["status"] != "pending" else None

    outcome = await eventually(settled, within=30, what="the rejection consumed")
    assert outcome == {
        **outcome,
        "status": "rejected",
        "reason": "sudah ditutup",
        "command": "AddInformation",
    }
    mine = await (await intake.http.get(f"/api/v1/complaints/{cid}", headers=bearer(token))).json()
    assert mine["timeline"][-1]["summary"] == "Permintaan menambah informasi ditolak: sudah ditutup"
    public = await (await intake.http.get(f"/api/v1/complaints/{cid}")).json()
    assert "ditolak" not in str(public["timeline"])


async def test_a_command_the_state_does_not_allow_is_a_409_with_the_reason_and_sends_nothing(
    intake: Intake,
) -> None:
    cid, token = await intake.submit()
    await intake.force(cid, status="resolved", opd_id=OPD, resolved_at=clock.now() - timedelta(days=60),
                       resolved_by=OPD, reopened=False)  # fmt: skip
    cases = [
        ("withdraw", {}, "tidak dapat dicabut"),
        ("information", {"message": "tambahan"}, "selama pengaduan ditangani OPD"),
        ("reopen", {"reason": "rusak lagi setelah hujan"}, "sudah lewat"),
    ]
    for path, body, reason in cases:
        resp = await intake.http.post(f"/api/v1/complaints/{cid}/{path}", json=body, headers=bearer(token))
        assert resp.status == 409, path
        problem = await resp.json()
        assert resp.content_type == "application/problem+json" and reason in problem["detail"], problem
    await intake.force(cid, reopened=True, resolved_at=clock.now())
    resp = await intake.http.post(
        f"/api/v1/complaints/{cid}/reopen", json={"reason": "rusak lagi"}, headers=bearer(token)
    )
    assert resp.status == 409 and "sekali" in (await resp.json())["detail"]
    await intake.force(cid, status="closed")
    resp = await intake.http.post(
        f"/api/v1/complaints/{cid}/feedback", json={"rating": 5}, headers=bearer(token)
    )
    assert resp.status == 409
    assert await messages_for(intake.bootstrap, COMPLAINTS_COMMANDS, cid) == []


async def test_bad_fields_and_bad_credentials_get_the_right_problems(intake: Intake) -> None:
    cid, token = await intake.submit()
    _, other_token = await intake.submit()
    await intake.force(cid, status="resolved", opd_id=OPD, resolved_at=clock.now(), resolved_by=OPD)
    url = f"/api/v1/complaints/{cid}/feedback"
    for body, field in [({"rating": 6}, "rating"), ({"rating": "5"}, "rating"), ({"rating": True}, "rating"),
                        ({"rating": 3, "nama": "x"}, "nama"), ({}, "rating")]:  # fmt: skip
        resp = await intake.http.post(url, json=body, headers=bearer(token))
        assert resp.status == 422, body
        assert field in {e["field"] for e in (await resp.json())["errors"]}
    resp = await intake.http.post(
        f"/api/v1/complaints/{cid}/reopen", json={"reason": "   "}, headers=bearer(token)
    )
    assert resp.status == 422
    assert (await intake.http.post(url, json={"rating": 3})).status == 401
    assert (await intake.http.post(url, json={"rating": 3}, headers=bearer(other_token))).status == 401
    staff = mint("coordinator", pemda="33.74")
    assert (await intake.http.post(url, json={"rating": 3}, headers=bearer(staff))).status == 403
    assert (await intake.http.post(f"/api/v1/complaints/{ULID()}/feedback", json={"rating": 3},
                                   headers=bearer(token))).status == 404  # fmt: skip
    secret_id, _ = await intake.submit(confidential=True)
    resp = await intake.http.post(f"/api/v1/complaints/{secret_id}/withdraw", json={}, headers=bearer(token))
    assert resp.status == 404  # a confidential complaint does not exist for a wrong token
    assert await messages_for(intake.bootstrap, COMPLAINTS_COMMANDS, cid) == []


# --- staff view and identity ---------------------------------------------------------------------


async def test_staff_in_scope_see_the_complaint_without_identity_and_with_anonymous_text_masked(
    intake: Intake,
) -> None:
    cid, _ = await intake.submit(anonymous=True, confidential=True)
    await intake.force(cid, status="assigned", opd_id=OPD)
    handler = mint("handler", opd=OPD)
    resp = await intake.http.get(f"/api/v1/complaints/{cid}", headers=bearer(handler))
    assert resp.status == 200
    view = await resp.json()
    text = str(view)
    assert view["region_code"] == "33.74.01.1001" and view["description"] is not None
    for secret in ("Sari", "sari@example.id", "3456", "0813-1111-2222", "1111", "3374011203900004"):
        assert secret not in text, secret
    assert "[nomor disamarkan]" in view["description"] and "[NIK disamarkan]" in view["description"]
    elsewhere = mint("handler", opd="33.74/dlh")
    assert (await intake.http.get(f"/api/v1/complaints/{cid}", headers=bearer(elsewhere))).status == 404
    expired = mint("handler", opd=OPD, ttl_seconds=-60)
    assert (await intake.http.get(f"/api/v1/complaints/{cid}", headers=bearer(expired))).status == 401

    open_id, _ = await intake.submit()
    public_for_staff = await (
        await intake.http.get(f"/api/v1/complaints/{open_id}", headers=bearer(elsewhere))
    ).json()
    assert public_for_staff["region_code"] == "33.74" and public_for_staff["description"] is None


async def test_identity_is_read_only_within_the_rules_and_every_attempt_is_audited(intake: Intake) -> None:
    anonymous_id, token = await intake.submit(anonymous=True)
    await intake.force(anonymous_id, status="assigned", opd_id=OPD)
    url = f"/api/v1/complaints/{anonymous_id}/reporter"
    attempts = [
        (mint("handler", opd=OPD, sub="petugas-1"), 403),
        (mint("supervisor", pemda="33.74", sub="kepala-1"), 403),
        (mint("coordinator", pemda="33", sub="prov-1"), 403),
        (mint("coordinator", pemda="33.74", sub="koord-1"), 200),
        (mint("admin", sub="admin-1"), 200),
    ]
    for jwt, expected in attempts:
        resp = await intake.http.get(url, headers=bearer(jwt))
        assert resp.status == expected
    identity = await (await intake.http.get(url, headers=bearer(attempts[3][0]))).json()
    assert identity["name"] == "Sari Wulandari" and identity["phone"] == "+6281234567890"
    assert identity["anonymous"] is True and identity["reporter_ref"].startswith("rep_")
    assert (await intake.http.get(url)).status == 401
    assert (
        await intake.http.get(url, headers=bearer(token))
    ).status == 401  # a citizen token is no staff JWT

    audit = [a async for a in intake.db["identity_audit"].find({"complaint_id": anonymous_id}).sort("_id", 1)]
    assert [(a["who"], a["role"], a["allowed"]) for a in audit] == [
        ("petugas-1", "handler", False),
        ("kepala-1", "supervisor", False),
        ("prov-1", "coordinator", False),
        ("koord-1", "coordinator", True),
        ("admin-1", "admin", True),
        ("koord-1", "coordinator", True),
    ]
    assert all(a["reason"] and a["at"] for a in audit)

    # The audit itself: the pemda's coordinator and supervisor and admins read it, newest first;
    # handlers (whose reads it records) and other pemdas do not.
    audit_url = f"{url}/audit"
    for jwt, expected in [
        (mint("handler", opd=OPD, sub="petugas-1"), 403),
        (mint("coordinator", pemda="33.71", sub="lain"), 403),
        (mint("supervisor", pemda="33.74", sub="kepala-1"), 200),
        (mint("admin", sub="admin-1"), 200),
    ]:
        assert (await intake.http.get(audit_url, headers=bearer(jwt))).status == expected
    trail = await (await intake.http.get(audit_url, headers=bearer(attempts[3][0]))).json()
    assert [(i["who"], i["allowed"]) for i in trail["items"]] == [
        (a["who"], a["allowed"]) for a in reversed(audit)
    ]
    assert "Sari" not in str(trail)  # the audit names the readers, never the reporter

    named_id, _ = await intake.submit()
    await intake.force(named_id, status="in_progress", opd_id=OPD)
    named = f"/api/v1/complaints/{named_id}/reporter"
    assert (await intake.http.get(named, headers=bearer(mint("handler", opd=OPD)))).status == 200
    assert (await intake.http.get(named, headers=bearer(mint("handler", opd="33.74/dlh")))).status == 403
    unknown = str(ULID())
    assert (
        await intake.http.get(f"/api/v1/complaints/{unknown}/reporter", headers=bearer(mint("admin")))
    ).status == 404
    assert await intake.db["identity_audit"].count_documents({"complaint_id": unknown, "allowed": False}) == 1


async def test_every_intake_route_is_in_the_openapi_document(intake: Intake) -> None:
    """As served by the running app (tests/unit/test_openapi_documents.py checks all three apps)."""
    document = await (await intake.http.get("/openapi.json")).json()
    assert undocumented(intake.http.app, document, intake_openapi.EXEMPT) == []


# --- the outbox: the complaint, its event and its key written together; published at once or later ----


async def _submit_keyed(
    intake: Intake, key: str, body: dict[str, Any] | None = None
) -> aiohttp.ClientResponse:
    return await intake.http.post(
        "/api/v1/complaints", json=body or SUBMISSION, headers={"Idempotency-Key": key}
    )


async def _published(intake: Intake, complaint_id: str, count: int) -> list[Any]:
    async def sent() -> list[Any]:
        found = await messages_for(intake.bootstrap, COMPLAINTS_SUBMITTED, complaint_id)
        return found if len(found) >= count else []

    return await eventually(sent, what=f"{count} ComplaintSubmitted of {complaint_id}")


async def test_a_retry_at_once_gets_the_same_answer_and_one_complaint(intake: Intake) -> None:
    key = str(ULID())
    first = await _submit_keyed(intake, key)
    again = await _submit_keyed(intake, key)
    assert (first.status, again.status) == (202, 202)
    answer = await first.json()
    assert await again.json() == answer

    async def marked() -> bool:  # published and marked: no other publish of it is coming
        doc = await intake.db["complaints"].find_one({"_id": answer["id"]})
        return doc is not None and doc["outbox_since"] is None

    await eventually(marked, what="the outbox cleared after the publish")
    assert len(await messages_for(intake.bootstrap, COMPLAINTS_SUBMITTED, answer["id"])) == 1
    assert await intake.db["complaints"].count_documents({"_id": answer["id"]}) == 1
    record = await intake.db["idempotency_keys"].find_one({"_id": key_id(key)})
    assert record is not None and record["complaint_id"] == answer["id"] and "event" not in record


async def test_a_complaint_whose_publish_was_lost_is_published_by_the_relay(intake: Intake) -> None:
    """As if the process had died after the durable write and before the publish: the relay
    publishes the stored event (the same event id: consumers recognise it) and clears the outbox;
    a retry with the key gets the first answer."""
    key = str(ULID())
    first = await _submit_keyed(intake, key)
    answer = await first.json()
    [event] = await _published(intake, answer["id"], 1)

    async def marked() -> bool:
        doc = await intake.db["complaints"].find_one({"_id": answer["id"]})
        return doc is not None and doc["outbox"] == [] and doc["outbox_since"] is None

    await eventually(marked, what="the outbox cleared after the publish")
    lost = {"topic": COMPLAINTS_SUBMITTED, "key": answer["id"], "value": event.to_bytes()}
    await intake.db["complaints"].update_one(
        {"_id": answer["id"]}, {"$set": {"outbox": [lost], "outbox_since": clock.wall() - timedelta(hours=1)}}
    )
    sent = await _published(intake, answer["id"], 2)
    assert sent[0].event_id == sent[1].event_id
    assert "Sari" not in str([e.payload for e in sent])  # still no identity on Kafka
    await eventually(marked, what="the relay's outbox cleared")
    again = await _submit_keyed(intake, key)
    assert again.status == 202 and await again.json() == answer
