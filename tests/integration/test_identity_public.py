"""Identity never public (issue 15, item 7), on the real broker and database: an OPD answer that
quotes the reporter is shown without their name and phone in the public view, the staff view and
Open311's `status_notes`, and as written to the reporter; an anonymous complaint's address goes to
Kafka with its phone and NIK masked and its street kept; an Idempotency-Key record keeps neither
the key nor the token readable, and its replay still answers with the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from ulid import ULID

from devtools.infra import Endpoints
from services.intake.adapters.idempotency import key_id
from shared.auth import mint
from shared.envelope import new_event
from shared.events import ComplaintAnswered, ComplaintAssigned
from shared.kafka import Outgoing, durable_producer, publish
from shared.topics import COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED
from tests.intake_app import running_intake
from tests.integration.test_intake_api import OPD, SUBMISSION, Intake, bearer
from tests.topics import published
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

ANSWER = (
    "Terima kasih Ibu Sari Wulandari, petugas kami akan menghubungi Ibu di 0812 3456 78 90. "
    "Informasi lain: hotline Dinas PUPR (024) 351 5871."
)


@pytest.fixture(scope="module")
async def intake(endpoints: Endpoints) -> AsyncIterator[Intake]:
    async with running_intake(endpoints) as (client, db):
        yield Intake(client, db, endpoints.kafka_bootstrap)


async def _answer(intake: Intake, cid: str, message: str) -> None:
    events = [
        new_event(
            ComplaintAssigned(
                opd_id=OPD, pemda="33.74", category="jalan-jembatan", level="kabkota", rule="table"
            ),
            producer="routing",
            complaint_id=cid,
            seq=1,
        ),
        new_event(
            ComplaintAnswered(opd_id=OPD, handler="h1", message=message),
            producer="routing",
            complaint_id=cid,
            seq=2,
        ),
    ]
    producer = durable_producer(intake.bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing.of(COMPLAINTS_EVENTS, cid, e) for e in events])
    finally:
        await producer.stop()


async def _summaries(intake: Intake, cid: str, headers: dict[str, str] | None = None) -> list[str]:
    resp = await intake.http.get(f"/api/v1/complaints/{cid}", headers=headers or {})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return [entry["summary"] for entry in body["timeline"]]


async def test_an_opd_answer_quoting_the_reporter_is_shown_without_their_identity(intake: Intake) -> None:
    cid, token = await intake.submit()
    await _answer(intake, cid, ANSWER)

    async def answered() -> list[str] | None:
        summaries = await _summaries(intake, cid)
        return summaries if any(s.startswith("Tanggapan dari") for s in summaries) else None

    public = await eventually(answered, within=30, what="the OPD answer in the public view")
    [shown] = [s for s in public if s.startswith("Tanggapan dari")]
    assert "Sari" not in shown and "Wulandari" not in shown
    assert "3456" not in shown and "78 90" not in shown
    assert "[identitas pelapor]" in shown
    assert "(024) 351 5871" in shown  # the OPD's own hotline stays

    staff = mint("handler", sub="h1", opd=OPD)
    [for_staff] = [s for s in await _summaries(intake, cid, bearer(staff)) if s.startswith("Tanggapan")]
    assert for_staff == shown

    [for_reporter] = [s for s in await _summaries(intake, cid, bearer(token)) if s.startswith("Tanggapan")]
    assert "Sari Wulandari" in for_reporter and "0812 3456 78 90" in for_reporter

    resp = await intake.http.get("/api/v1/complaints?region=33.74&limit=100")
    assert resp.status == 200, await resp.text()
    [listed] = [item for item in (await resp.json())["items"] if item["id"] == cid]
    assert shown in [entry["summary"] for entry in listed["timeline"]]

    resp = await intake.http.get(f"/open311/v2/requests/{cid}.json")
    assert resp.status == 200, await resp.text()
    [record] = await resp.json()
    assert record["status_notes"] == shown


async def test_an_anonymous_complaints_address_goes_to_kafka_masked_with_its_street(intake: Intake) -> None:
    address = "Jl. Pemuda No. 12 RT 03/RW 05, rumah Sari Wulandari, HP 0812-3456-7890, NIK 337401 150590 0001"
    cid, _ = await intake.submit(anonymous=True, address=address)
    [submitted] = await published(intake.bootstrap, COMPLAINTS_SUBMITTED, cid)  # after the answer
    sent = submitted.payload.address  # type: ignore[attr-defined]
    assert sent.startswith("Jl. Pemuda No. 12 RT 03/RW 05")
    for value in ("Sari", "Wulandari", "3456", "7890", "150590", "337401"):
        assert value not in sent, sent


async def test_an_idempotency_record_keeps_a_hash_of_the_key_and_a_sealed_token(intake: Intake) -> None:
    key = str(ULID())
    headers = {"Idempotency-Key": key}
    first = await intake.http.post("/api/v1/complaints", json=SUBMISSION, headers=headers)
    assert first.status == 202
    answer = await first.json()

    async def confirmed() -> dict[str, Any] | None:
        doc = await intake.db["idempotency_keys"].find_one({"_id": key_id(key)})
        return doc if doc and doc["done"] else None

    record = await eventually(confirmed, within=10, what="the key confirmed")
    assert await intake.db["idempotency_keys"].find_one({"_id": key}) is None
    stored = str(record)
    assert key not in stored and answer["access_token"] not in stored

    again = await intake.http.post("/api/v1/complaints", json=SUBMISSION, headers=headers)
    assert again.status == 202 and await again.json() == answer  # the token included
