"""SLA's lifecycle handler with in-memory fakes: what goes where, and the outbox guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.standards import SlaRules
from services.sla.handlers import announce, handle_lifecycle
from services.sla.ports import Saved
from shared.envelope import Envelope, decode
from shared.events import CloseExpired, ComplaintAssigned
from shared.kafka import Outgoing
from shared.topics import COMPLAINTS_COMMANDS, SLA_EVENTS
from tests.sla_fakes import FakeClockStore, Sent
from tests.unit.test_sla_domain import Story, wib


class Flaky(Sent):
    """A broker that fails the first publish (the process 'dies' between store and publish)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("broker gone")
        await super().__call__(messages)


async def test_an_unpublished_change_is_carried_into_the_next_one_with_its_event_ids() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 11))
    store, broker = FakeClockStore(), Flaky()
    with pytest.raises(ConnectionError):
        await handle_lifecycle(s.events[:1], store, broker, SlaRules())
    assert store.saved["C1"].pending  # stored, not announced
    first = list(store.saved["C1"].outbox)
    await handle_lifecycle(s.events[1:], store, broker, SlaRules())
    assert broker.messages[: len(first)] == first  # the earlier change first, same event ids
    types = [decode(m.value).type for m in broker.messages]
    assert types == ["ClockStarted", "ClockStopped", "ClockStarted", "ClockStarted"]
    assert not store.saved["C1"].pending


async def test_events_out_of_order_in_a_batch_are_applied_by_seq_and_duplicates_once() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 11))
    s.answered(wib(2026, 2, 3, 11))
    store, sent = FakeClockStore(), Sent()
    batch = [s.events[2], s.events[0], s.events[1], s.events[0]]
    assert await handle_lifecycle(batch, store, sent, SlaRules()) == []
    assert store.saved["C1"].clocks.last_seq == 3
    states = [(p.payload.clock, p.payload.state) for p in sent.decoded(SLA_EVENTS)]  # type: ignore[attr-defined]
    assert states == [
        ("verification", "running"),
        ("verification", "met"),
        ("response", "running"),
        ("resolution", "running"),
        ("response", "met"),
    ]


async def test_events_after_a_gap_wait_until_it_fills_and_never_apply_past_it() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 11))
    s.info_requested(wib(2026, 2, 3, 9))
    s.info_added(wib(2026, 2, 4, 9))
    store, sent = FakeClockStore(), Sent()
    # seq 2 was dead-lettered: 1 applies, 3 and 4 wait with the complaint.
    assert await handle_lifecycle([s.events[0], s.events[2], s.events[3]], store, sent, SlaRules()) == []
    stored = store.saved["C1"]
    assert stored.clocks.last_seq == 1
    assert [decode(v).seq for v in stored.parked] == [3, 4]
    assert {e.payload.clock for e in sent.decoded(SLA_EVENTS)} == {"verification"}  # type: ignore[attr-defined]
    # A redelivery of a waiting event changes nothing.
    assert await handle_lifecycle([s.events[3]], store, Sent(), SlaRules()) == []
    assert store.saved["C1"].clocks.last_seq == 1 and len(store.saved["C1"].parked) == 2
    # seq 2 arrives (replayed after a fix): 2, 3 and 4 apply in order, nothing waits any more.
    late = Sent()
    assert await handle_lifecycle([s.events[1]], store, late, SlaRules()) == []
    assert store.saved["C1"].clocks.last_seq == 4 and store.saved["C1"].parked == []
    s.time(wib(2026, 2, 4, 9))
    assert store.saved["C1"].clocks.clocks == s.clocks.clocks  # as if nothing had been missing


async def test_a_large_batch_lets_other_tasks_run_while_it_is_applied() -> None:
    # The fakes never suspend, so without handing the loop back the whole batch would run
    # before anything else (in the service: the supervisors' HTTP requests).
    batch = []
    for i in range(120):
        s = Story(complaint_id=f"C{i}")
        s.received(wib(2026, 2, 2, 10))
        batch += s.events
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    store = FakeClockStore()
    seen_at_save: list[int] = []
    save = store.save

    async def save_and_note(
        changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]], *, parked: Any = None
    ) -> Saved:
        seen_at_save.append(ticks)
        return await save(changed, parked=parked)

    store.save = save_and_note  # type: ignore[method-assign]
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    try:
        assert await handle_lifecycle(batch, store, Sent(), SlaRules()) == []
    finally:
        task.cancel()
    assert seen_at_save[0] - before >= 10  # a turn every 10 complaints: 12 before the save
    assert len(store.saved) == 120


async def test_an_event_without_complaint_or_seq_is_rejected_with_a_reason() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    orphan = s.events[0].model_copy(update={"seq": None})
    [rejected] = await handle_lifecycle([orphan], FakeClockStore(), Sent(), SlaRules())
    assert rejected.reason == "lifecycle event without complaint_id or seq"


def test_clock_events_go_to_sla_events_at_their_own_instant_and_close_expired_is_a_command() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.resolved(wib(2026, 2, 3, 10))
    out = s.time(wib(2026, 3, 1))
    messages = announce(out, "C1", seq=3)
    [stopped, command] = [(m.topic, m.key, decode(m.value)) for m in messages]
    assert stopped[0] == SLA_EVENTS and stopped[2].occurred_at == wib(2026, 2, 20) and stopped[2].seq == 3
    assert command[:2] == (COMPLAINTS_COMMANDS, "C1")
    assert command[2].seq is None and command[2].complaint_id == "C1" and command[2].producer == "sla"
    assert isinstance(command[2].payload, CloseExpired)


def test_escalations_carry_their_instant_and_the_opd() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    out = s.time(wib(2026, 2, 10) + timedelta(minutes=1))
    escalation = next(
        decode(m.value) for m in announce(out, "C1", 2) if decode(m.value).type == "EscalationRaised"
    )
    assert escalation.occurred_at == wib(2026, 2, 10)
    assert escalation.payload.opd_id == s.clock("response").opd_id  # type: ignore[attr-defined]
    assert isinstance(s.events[1].payload, ComplaintAssigned)


async def test_catalog_announcements_keep_the_newest_names_and_ignore_repeats() -> None:
    """`catalog.changes` (issue 21 item 5): the reports keep each pemda's latest announced names;
    a redelivered or older announcement changes nothing."""
    from services.sla.handlers import handle_report_events
    from shared.envelope import new_event
    from shared.events import CatalogChanged, OpdEntry
    from tests.sla_fakes import FakeReportStore

    def announced(revision: int, name: str) -> Envelope:
        opds = [OpdEntry(opd_id="33.74/dinas-pupr", name=name)]
        payload = CatalogChanged(pemda="33.74", pemda_name="Kota Semarang", revision=revision, opds=opds)
        return new_event(payload, producer="routing", complaint_id=None)

    store = FakeReportStore()
    newer, older = announced(5, "Dinas PU Kota Semarang"), announced(3, "Nama lama")
    assert await handle_report_events([newer], store) == []
    assert await handle_report_events([older, newer], store) == []
    assert await store.opd_names(["33.74/dinas-pupr", "33.74/dlh"]) == {
        "33.74/dinas-pupr": "Dinas PU Kota Semarang"
    }
    assert store.commits == 0  # no report record was touched
