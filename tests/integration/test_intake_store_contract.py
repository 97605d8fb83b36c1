"""One contract for intake's ComplaintStore port (services/intake/ports.py), run over the Mongo
store and over the fake the handler tests use (tests/intake_fakes.py): what one does, the other
does too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from devtools.infra import Endpoints
from services.intake.adapters.store import MongoComplaintStore, ensure_indexes
from services.intake.domain.complaint import KeyClaim, NewComplaint, ReporterCommand
from services.intake.domain.identity import erased
from services.intake.models import SubmitComplaint
from services.intake.ports import ComplaintStore
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing
from shared.mongo import mongo_client
from tests.intake_fakes import FakeComplaintStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
BODY = {
    "title": "Jalan berlubang di Jl. Pemuda",
    "description": "Lubang besar di depan SD Negeri 2, hubungi Sari di 0812-3456-7890.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari", "phone": "0812-3456-7890"},
}
MESSAGE = [Outgoing("complaints.submitted", "C1", b"{}")]


@pytest.fixture(params=["fake", "mongo"])
async def store(request: pytest.FixtureRequest, db_prefix: str) -> AsyncIterator[ComplaintStore]:
    if request.param == "fake":
        yield FakeComplaintStore()
        return
    endpoints: Endpoints = request.getfixturevalue("endpoints")
    client = mongo_client(endpoints.mongo_uri)
    db = client[f"{db_prefix}intake"]
    await ensure_indexes(db)
    yield MongoComplaintStore(db)
    await client.drop_database(db.name)
    await client.close()


def complaint(complaint_id: str = "C1", **body: Any) -> NewComplaint:
    submitted = SubmitComplaint.model_validate({**BODY, **body})
    return NewComplaint.submitted(
        submitted, complaint_id=complaint_id, token="t", reporter_ref="rep_1", at=T0
    )


async def test_a_new_complaint_is_stored_with_its_outbox_and_identity_kept_apart(
    store: ComplaintStore,
) -> None:
    since = await store.add(complaint(), MESSAGE, None)
    assert isinstance(since, datetime)
    doc = await store.get("C1")
    assert doc is not None and "reporter" not in doc
    assert doc["status"] == "received" and doc["last_seq"] == 0 and doc["rev"] == 0
    assert doc["staff_description"] != doc["description"]  # the reporter's name and phone taken out
    assert [m["topic"] for m in doc["outbox"]] == ["complaints.submitted"]
    identity = await store.identity_of("C1")
    assert identity is not None and identity["reporter"]["name"] == "Sari"
    assert "title" not in identity
    assert await store.reporters(["C1", "C9"]) == {"C1": identity["reporter"]}
    assert await store.get("C9") is None and await store.identity_of("C9") is None


async def test_an_idempotency_key_writes_once_and_names_the_first_request(store: ComplaintStore) -> None:
    claim = KeyClaim("key-1", "hash-1", {"id": "C1"}, complaint_id="C1")
    assert isinstance(await store.add(complaint("C1"), MESSAGE, claim), datetime)
    earlier = await store.add(complaint("C2"), MESSAGE, KeyClaim("key-1", "hash-2", {"id": "C2"}, "C2"))
    assert isinstance(earlier, dict)
    assert (earlier["body_hash"], earlier["response"], earlier["done"]) == ("hash-1", {"id": "C1"}, True)
    assert await store.get("C2") is None  # nothing of the second request is written
    found = await store.find_key("key-1")
    assert found is not None and found["_id"] != "key-1" and found["complaint_id"] == "C1"  # kept hashed
    assert await store.find_key("key-2") is None


async def test_a_command_is_pending_until_an_outcome_settles_it_once(store: ComplaintStore) -> None:
    for cid in ("K1", "K2"):
        assert isinstance(
            await store.add_command(ReporterCommand(cid, "C1", "ReopenComplaint", T0), [], None), datetime
        )
    record = await store.get_command("C1", "K1")
    assert record is not None and (record["status"], record["reason"], record["command"]) == (
        "pending",
        None,
        "ReopenComplaint",
    )
    assert await store.get_command("C2", "K1") is None  # another complaint's command is not found
    await store.settle_commands({"K1": ("accepted", None), "K9": ("accepted", None)})
    await store.settle_commands({"K1": ("rejected", "later")})  # settled stays settled
    settled = await store.get_command("C1", "K1")
    assert settled is not None and (settled["status"], settled["reason"]) == ("accepted", None)


async def test_the_kinds_of_a_complaints_pending_commands_are_known(store: ComplaintStore) -> None:
    for cid, kind in (("K1", "GiveFeedback"), ("K2", "SubmitSurvey"), ("K3", "SubmitSurvey")):
        await store.add_command(ReporterCommand(cid, "C1", kind, T0), [], None)
    await store.add_command(ReporterCommand("K4", "C2", "AddInformation", T0), [], None)
    assert await store.pending_commands("C1") == {"GiveFeedback", "SubmitSurvey"}
    await store.settle_commands({"K1": ("accepted", None), "K2": ("rejected", "sudah diisi")})
    assert await store.pending_commands("C1") == {"SubmitSurvey"}  # K3 still on its way
    await store.settle_commands({"K3": ("accepted", None)})
    assert await store.pending_commands("C1") == set()
    assert await store.pending_commands("C2") == {"AddInformation"}


async def test_a_dead_lettered_command_is_rejected_until_its_replay_answers(store: ComplaintStore) -> None:
    await store.add_command(ReporterCommand("K1", "C1", "AddInformation", T0), [], None)
    letter = {"group": "routing", "offset": 3, "at": T0}
    assert await store.reject_dead_lettered({"K1": letter, "K9": letter}, "kendala") == 1
    assert await store.reject_dead_lettered({"K1": letter}, "kendala") == 0  # redelivered
    record = await store.get_command("C1", "K1")
    assert record is not None and (record["status"], record["dead_lettered"]) == ("rejected", True)
    await store.settle_commands({"K1": ("accepted", None)})  # the replayed letter's real answer
    record = await store.get_command("C1", "K1")
    assert record is not None and (record["status"], record["dead_lettered"]) == ("accepted", False)


async def test_a_command_key_replays_the_first_answer(store: ComplaintStore) -> None:
    claim = KeyClaim("command:C1:k", "h", {"command_id": "K1"})
    assert isinstance(
        await store.add_command(ReporterCommand("K1", "C1", "GiveFeedback", T0), [], claim), datetime
    )
    earlier = await store.add_command(ReporterCommand("K2", "C1", "GiveFeedback", T0), [], claim)
    assert isinstance(earlier, dict) and earlier["response"] == {"command_id": "K1"}
    assert await store.get_command("C1", "K2") is None


async def test_views_are_written_back_guarded_by_their_revision(store: ComplaintStore) -> None:
    await store.add(complaint(), MESSAGE, None)
    [view] = (await store.load_views(["C1", "C9"])).values()
    assert "reporter" not in view and "title" not in view and view["rev"] == 0
    stale = dict(view)
    view.update(status="assigned", last_seq=2)
    await store.save_views([view])
    again = (await store.load_views(["C1"]))["C1"]
    assert (again["status"], again["last_seq"], again["rev"]) == ("assigned", 2, 1)
    with pytest.raises(ConcurrentUpdate):
        await store.save_views([{**stale, "status": "closed"}])
    doc = await store.get("C1")
    assert doc is not None and doc["status"] == "assigned"
    await store.save_views([])


async def test_calendars_keep_each_pemdas_newest_revision(store: ComplaintStore) -> None:
    await store.save_calendar("33", 2, [date(2027, 3, 12), date(2027, 3, 11)])
    await store.save_calendar("33", 1, [date(2027, 1, 1)])
    await store.save_calendar("34", 1, [])
    assert sorted(await store.calendars()) == [
        ("33", 2, [date(2027, 3, 11), date(2027, 3, 12)]),
        ("34", 1, []),
    ]


async def test_identity_reads_are_audited_newest_first(store: ComplaintStore) -> None:
    for minute in (1, 3, 2):
        await store.audit_identity_read(
            {
                "_id": f"A{minute}",
                "complaint_id": "C1",
                "who": f"w{minute}",
                "at": T0 + timedelta(minutes=minute),
            }
        )
    await store.audit_identity_read({"_id": "B", "complaint_id": "C2", "who": "x", "at": T0})
    assert [r["who"] for r in await store.identity_reads("C1")] == ["w3", "w2", "w1"]
    assert [r["who"] for r in await store.identity_reads("C1", limit=1)] == ["w3"]


async def test_no_abandoned_submission_is_found_for_stored_complaints(store: ComplaintStore) -> None:
    assert await store.abandoned(["C1", "C2"]) == {}
    await store.mark_withdrawn(["C1"])
    assert await store.abandoned(["C1"]) == {}


async def test_erasure_removes_the_identity_once_keeps_the_redacted_texts_and_is_audited(
    store: ComplaintStore,
) -> None:
    await store.add(
        complaint("C1", reporter={"name": "Sari", "phone": "0812-3456-7890", "email": "Sari@Contoh.id"}),
        MESSAGE,
        None,
    )
    await store.add(complaint("C2", reporter={"name": "Budi", "phone": "0813-1111-2222"}), MESSAGE, None)
    assert sorted(await store.reported_by(email="sari@contoh.id", phone=None)) == ["C1"]
    assert sorted(await store.reported_by(email=None, phone="+6281311112222")) == ["C2"]
    assert await store.reported_by(email=None, phone=None) == []
    texts = await store.erasure_texts("C1")
    assert texts is not None and "Sari" in texts["description"] and "Sari" not in texts["staff_description"]
    changes = erased(texts, at=T0, by="operator-1", reason="permintaan pelapor")
    audit = {"_id": "A1", "complaint_id": "C1", "who": "operator-1", "at": T0, "action": "erase"}
    assert await store.erase_identity("C1", changes, audit) is True
    # retried (a second sweep, or after a crash): nothing left to erase, the same audit entry kept once
    assert await store.erase_identity("C1", changes, audit) is False
    identity = await store.identity_of("C1")
    assert identity is not None and identity["reporter"] is None
    after = await store.erasure_texts("C1")
    assert after is not None and after["description"] == texts["staff_description"]
    assert await store.reported_by(email="sari@contoh.id", phone=None) == []
    assert [r["_id"] for r in await store.identity_reads("C1")] == ["A1"]


async def test_ended_complaints_with_a_reporter_are_found_oldest_first(store: ComplaintStore) -> None:
    for i, days in enumerate([400, 10, 900]):
        await store.add(complaint(f"C{i}"), MESSAGE, None)
        view = (await store.load_views([f"C{i}"]))[f"C{i}"]
        view["closed_at"] = T0 - timedelta(days=days)
        await store.save_views([view])
    await store.add(complaint("C9"), MESSAGE, None)  # still open
    assert await store.ended_before(T0 - timedelta(days=365), 10) == ["C2", "C0"]
    assert await store.ended_before(T0 - timedelta(days=365), 1) == ["C2"]
