"""Handlers with in-memory fakes: decisions, idempotency, and what goes to the dead-letter topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.intake.domain.view import apply
from services.routing.handlers import handle_submissions
from services.sla.handlers import handle_lifecycle
from shared.calendar import calendar_for
from shared.envelope import Envelope
from shared.events import ClockStarted, ClockStopped
from shared.topics import COMPLAINTS_EVENTS
from tests.routing_fakes import fake_routing
from tests.sla_fakes import FakeClockStore, Sent
from tests.unit.test_routing_handlers import submitted

NOW = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # Fri 16:00 WIB, the DESIGN §5 example


async def _lifecycle_of(complaint_id: str) -> list[Envelope]:
    routing, _, _, sent = fake_routing()
    await handle_submissions([submitted(complaint_id)], routing, now=lambda: NOW)
    return sent.decoded(COMPLAINTS_EVENTS)


async def test_sla_opens_clocks_on_the_pemda_calendar_from_event_instants() -> None:
    store, sent = FakeClockStore(), Sent()
    await handle_lifecycle(await _lifecycle_of("C5"), store, sent, calendar_for)
    announced = [e.payload for e in sent.decoded("sla.events")]
    started = {p.clock: p for p in announced if isinstance(p, ClockStarted)}
    # Fri 2026-03-13 16:00 WIB: +3 HK is Wed 25 Mar (cuti bersama and Idul Fitri skipped), +5 HK Fri 27 Mar.
    assert started["verification"].due_at.isoformat() == "2026-03-26T00:00:00+07:00"
    assert started["response"].due_at.isoformat() == "2026-03-28T00:00:00+07:00"
    assert started["resolution"].due_at.isoformat() == "2026-03-28T00:00:00+07:00"
    [stopped] = [p for p in announced if isinstance(p, ClockStopped)]
    assert (stopped.clock, stopped.state) == ("verification", "met")


async def test_sla_replay_changes_nothing_and_reannounces_the_last_change() -> None:
    store, first, again = FakeClockStore(), Sent(), Sent()
    events = await _lifecycle_of("C6")
    await handle_lifecycle(events, store, first, calendar_for)
    before = store.saved["C6"].clocks.clocks.copy()
    await handle_lifecycle(events, store, again, calendar_for)
    assert store.saved["C6"].clocks.clocks == before
    assert [m.value for m in again.messages] == [m.value for m in first.messages]


async def test_intake_view_applies_each_event_once() -> None:
    events = await _lifecycle_of("C7")
    sla_sent = Sent()
    await handle_lifecycle(events, FakeClockStore(), sla_sent, calendar_for)
    doc: dict[str, Any] = {"_id": "C7", "region_code": "33.74.01.1001"}
    stream = events + sla_sent.decoded("sla.events")
    assert all(apply(doc, e) for e in stream)
    snapshot = repr(doc)
    assert not any(apply(doc, e) for e in stream)
    assert repr(doc) == snapshot
    assert doc["status"] == "assigned" and doc["opd_id"] == "33.74/dinas-pupr"
    assert {d["clock"]: d["state"] for d in doc["deadlines"].values()} == {
        "verification": "met",
        "response": "running",
        "resolution": "running",
    }
