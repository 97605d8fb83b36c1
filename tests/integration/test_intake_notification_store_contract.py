"""One contract for intake's NotificationStore port (services/intake/ports.py), run over the Mongo
store and the fake the unit tests use (tests/intake_fakes.py): what one does, the other does too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from devtools.infra import Endpoints
from services.intake.adapters import notifications, store
from services.intake.domain.complaint import NewComplaint
from services.intake.domain.notifications import Notice, notification_document
from services.intake.models import SubmitComplaint
from services.intake.ports import ComplaintStore, NotificationStore
from shared import clock
from shared.envelope import Envelope, new_event
from shared.events import ComplaintAnswered, InformationRequested
from shared.mongo import mongo_client
from tests.intake_fakes import FakeComplaintStore, FakeNotificationStore

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

OPD = "33.74/dinas-pupr"


@dataclass
class Stores:
    complaints: ComplaintStore
    notes: NotificationStore


@pytest.fixture(params=["fake", "mongo"])
async def stores(
    request: pytest.FixtureRequest, db_prefix: str, endpoints: Endpoints
) -> AsyncIterator[Stores]:
    if request.param == "fake":
        fake = FakeComplaintStore()
        yield Stores(fake, FakeNotificationStore(fake))
        return
    client = mongo_client(endpoints.mongo_uri)
    db = client[f"{db_prefix}intake"]
    await store.ensure_indexes(db)
    await notifications.ensure_indexes(db)
    yield Stores(store.MongoComplaintStore(db), notifications.MongoNotificationStore(db))
    await client.drop_database(db.name)
    await client.close()


async def _complaint(stores: Stores, cid: str = "C1") -> None:
    body = SubmitComplaint.model_validate(
        {"title": "Jalan berlubang", "description": "Lubang besar di depan SD Negeri 2.",
         "region_code": "33.74.01.1001", "reporter": {"email": "sari@example.id"}}
    )  # fmt: skip
    new = NewComplaint.submitted(body, complaint_id=cid, token="t", reporter_ref="rep_1", at=clock.now())
    await stores.complaints.add(new, [], None)


def _event(seq: int, cid: str = "C1") -> Envelope:
    return new_event(ComplaintAnswered(opd_id=OPD, handler="h", message="m"), producer="routing",
                     complaint_id=cid, seq=seq)  # fmt: skip


def _staged(event: Envelope, kind: str = "answered", **notice: object) -> dict[str, object]:
    return notification_document(Notice(kind, event.event_id, **notice), "email", event, clock.now())  # type: ignore[arg-type]


async def test_a_notification_is_staged_once_claimed_by_one_and_marked_under_its_claim(
    stores: Stores,
) -> None:
    await _complaint(stores)
    doc = _staged(_event(1))
    assert await stores.notes.stage([doc]) == 1
    assert await stores.notes.stage([doc]) == 0  # a redelivery
    [due] = await stores.notes.due(10)
    assert due["_id"] == doc["_id"] and due["state"] == "pending"
    claimed = await stores.notes.claim(due, lease_seconds=60)
    assert claimed is not None
    assert await stores.notes.claim(due, lease_seconds=60) is None  # another pass holds it
    assert await stores.notes.due(10) == []  # held by the lease
    assert not await stores.notes.settle(str(doc["_id"]), claimed + timedelta(seconds=1), {"state": "sent"})
    assert await stores.notes.settle(str(doc["_id"]), claimed, {"state": "sent", "at": clock.now()})
    assert [(n["kind"], n["state"]) for n in await stores.notes.of_complaint("C1")] == [("answered", "sent")]


async def test_a_retry_waits_and_counts_its_attempts(stores: Stores) -> None:
    await _complaint(stores)
    await stores.notes.stage([_staged(_event(1))])
    [due] = await stores.notes.due(10)
    claimed = await stores.notes.claim(due, lease_seconds=60)
    assert claimed is not None
    await stores.notes.retry_later(due["_id"], claimed, 3600, "SMTP 421")
    assert await stores.notes.due(10) == []
    [again] = await stores.notes.of_complaint("C1")
    assert again["state"] == "pending"


async def test_a_reminder_is_not_due_before_its_day_and_a_reply_cancels_it(stores: Stores) -> None:
    await _complaint(stores)
    request = new_event(InformationRequested(opd_id=OPD, handler="h", message="m"), producer="routing",
                        complaint_id="C1", seq=3)  # fmt: skip
    later = clock.now() + timedelta(days=3)
    reminder = notification_document(
        Notice("information_reminder", f"{request.event_id}:r3", {"days": 3}, later),
        "email",
        request,
        clock.now(),
    )
    await stores.notes.stage([reminder, _staged(_event(4))])
    assert [d["kind"] for d in await stores.notes.due(10)] == ["answered"]
    await stores.notes.cancel_reminders({"C1": "another request"})
    states = [(n["kind"], n["state"]) for n in await stores.notes.of_complaint("C1")]
    assert states == [("answered", "pending"), ("information_reminder", "cancelled")]  # by `when`


async def test_an_opt_out_is_recorded_once_and_voids_what_is_pending(stores: Stores) -> None:
    await _complaint(stores)
    await _complaint(stores, "C2")
    await stores.notes.stage([_staged(_event(1)), _staged(_event(1, "C2"))])
    assert await stores.notes.opt_out("C1", clock.now())
    assert not await stores.notes.opt_out("C1", clock.now())
    record = await stores.notes.recipient("C1")
    assert record is not None and record["notify_opt_out_at"] is not None
    assert record["reporter"] == {"name": None, "phone": None, "email": "sari@example.id"}
    assert [n["state"] for n in await stores.notes.of_complaint("C1")] == ["opted_out"]
    assert [n["state"] for n in await stores.notes.of_complaint("C2")] == ["pending"]
    assert [d["complaint_id"] for d in await stores.notes.due(10)] == ["C2"]


async def test_the_cap_counts_each_notification_once_per_address_and_day(stores: Stores) -> None:
    assert await stores.notes.count_toward_cap("k", "2026-06-13", "a") == 1
    assert await stores.notes.count_toward_cap("k", "2026-06-13", "b") == 2
    assert await stores.notes.count_toward_cap("k", "2026-06-13", "a") == 1  # tried again
    assert await stores.notes.count_toward_cap("k", "2026-06-14", "c") == 1
    assert await stores.notes.count_toward_cap("other", "2026-06-13", "d") == 1
