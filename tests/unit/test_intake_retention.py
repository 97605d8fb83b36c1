"""Reporter identity erased on request and by the retention setting (services/intake/handlers.py
`erase_reporter`, `erase_expired`), over the fake store; and the view records when a complaint
ended (`closed_at`, what the retention counts from)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.intake import handlers
from services.intake.domain.complaint import NewComplaint
from services.intake.domain.view import apply
from services.intake.models import SubmitComplaint
from shared.envelope import new_event
from shared.events import ComplaintArchived, ComplaintClosed
from tests.intake_fakes import FakeComplaintStore

BODY = {
    "title": "Lampu jalan mati",
    "description": "Lampu di depan rumah Dewi Lestari mati, telepon 0812-9876-5432.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Dewi Lestari", "phone": "0812-9876-5432"},
}


async def _stored(
    store: FakeComplaintStore, complaint_id: str, closed_days_ago: int | None, now: datetime
) -> None:
    complaint = NewComplaint.submitted(
        SubmitComplaint.model_validate(BODY), complaint_id=complaint_id, token="t", reporter_ref="rep", at=now
    )
    await store.add(complaint, [], None)
    if closed_days_ago is not None:
        store.complaints[complaint_id]["closed_at"] = now - timedelta(days=closed_days_ago)


async def test_retention_erases_only_complaints_closed_longer_ago_than_the_setting(one_day: datetime) -> None:
    store = FakeComplaintStore()
    await _stored(store, "OLD", 6 * 365, one_day)
    await _stored(store, "RECENT", 4 * 365, one_day)
    await _stored(store, "OPEN", None, one_day)
    assert await handlers.erase_expired(5, store=store) == 1
    assert store.complaints["OLD"]["reporter"] is None
    assert "Dewi" not in store.complaints["OLD"]["description"]
    assert store.complaints["OLD"]["reporter_erased"]["by"] == "retention"
    assert store.complaints["RECENT"]["reporter"] and store.complaints["OPEN"]["reporter"]
    assert [a["complaint_id"] for a in store.audit] == ["OLD"]
    assert await handlers.erase_expired(5, store=store) == 0  # a second pass finds nothing


async def test_erasure_on_request_is_audited_and_happens_once(one_day: datetime) -> None:
    store = FakeComplaintStore()
    await _stored(store, "C1", None, one_day)
    assert await handlers.erase_reporter("C1", by="op", reason="permintaan", store=store) is True
    assert await handlers.erase_reporter("C1", by="op", reason="permintaan", store=store) is False
    assert await handlers.erase_reporter("NONE", by="op", reason="permintaan", store=store) is False
    [audit] = store.audit
    assert (audit["who"], audit["action"], audit["reason"]) == ("op", "erase", "permintaan")


def test_the_view_records_when_a_complaint_ended(one_day: datetime) -> None:
    for seq, payload in enumerate(
        [ComplaintClosed(outcome="withdrawn"), ComplaintArchived(reason="ganda")], 5
    ):
        doc: dict[str, object] = {"_id": "C1", "last_seq": seq - 1, "timeline": [], "status": "in_progress"}
        event = new_event(payload, producer="routing", complaint_id="C1", seq=seq, occurred_at=one_day)
        assert apply(doc, event)
        assert doc["closed_at"] == one_day


async def test_erasure_drops_a_sealed_pin_and_keeps_the_reporters_way_in(one_day: datetime) -> None:
    """The PIN kept sealed for a "received" notification not yet sent goes with the identity; the
    tracking code (no identity in it) still opens the complaint with its PIN's hash."""
    from services.intake.domain.tracking import pin_matches
    from tests.intake_fakes import FakePublisher, FakeTrackingStore

    store, tracking = FakeComplaintStore(), FakeTrackingStore()
    accepted = await handlers.submit(
        SubmitComplaint.model_validate(BODY), None, "https://x", store=store, publisher=FakePublisher(),
        secret="s", tracking=tracking, tracking_key="k", notify_channels=frozenset({"sms"}),
    )  # fmt: skip
    assert accepted.tracking_code and accepted.pin
    assert store.complaints[accepted.id]["pin_sealed"]
    assert await handlers.erase_reporter(accepted.id, by="op", reason="permintaan", store=store)
    assert store.complaints[accepted.id]["pin_sealed"] is None
    code = tracking.codes[accepted.tracking_code]
    assert pin_matches("k", accepted.tracking_code, accepted.pin, code["pin_hash"])
