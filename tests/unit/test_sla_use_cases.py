"""sla's use cases beyond the lifecycle consumer (detection, a calendar change, the catch-up at
start) over the fake ports of tests/sla_fakes.py: no server, no Kafka."""

from __future__ import annotations

from datetime import date

from services.sla.handlers import catch_up, detect_once, handle_lifecycle, set_extra_dates
from services.sla.ports import ExtraDates
from shared.calendar import HOLIDAYS_VERSION
from shared.events import CalendarChanged
from shared.topics import SLA_EVENTS
from tests.sla_fakes import Sent, fake_sla
from tests.unit.test_sla_domain import Story, wib

ADMIN = {"sub": "admin-1", "role": "admin", "pemda": None, "opd": None}


def assigned_in_semarang() -> tuple[Story, Sent]:
    """A complaint assigned on Mon 2 Feb 2026 in Semarang: its response and resolution clocks fall
    due at the end of Mon 9 Feb."""
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    return s, Sent()


async def test_detection_applies_time_at_each_transition_s_own_instant() -> None:
    s, sent = assigned_in_semarang()
    sla, saved, _, _ = fake_sla(sent)
    store = sla.clock_store()
    await handle_lifecycle(s.events, store, sent, sla.rules)
    sent.messages.clear()
    assert await detect_once(store, sent, sla.rules, wib(2026, 2, 10, 9), 10) == 1
    announced = [(e.type, e.occurred_at) for e in sent.decoded(SLA_EVENTS)]
    assert ("SlaBreached", wib(2026, 2, 10)) in announced  # at the due, not when it was found
    assert [t for t, _ in announced].count("EscalationRaised") == 1
    assert not saved["C1"].pending  # published and confirmed
    assert await detect_once(store, sent, sla.rules, wib(2026, 2, 10, 9), 10) == 0


async def test_an_extra_date_is_stored_audited_announced_and_its_clocks_recomputed() -> None:
    s, sent = assigned_in_semarang()
    sla, saved, calendars, _ = fake_sla(sent)
    store = sla.clock_store()
    await handle_lifecycle(s.events, store, sent, sla.rules)
    await detect_once(store, sent, sla.rules, wib(2026, 2, 10, 9), 10)
    sent.messages.clear()
    # A provincial day off on Mon 9 Feb binds Semarang: the breaches were not breaches.
    revision, result = await set_extra_dates(sla, "33", [date(2026, 2, 9)], who=ADMIN, reason="cuti")
    assert revision == 1 and (result.complaints, result.corrected) == (1, 1)
    types = [e.type for e in sent.decoded(SLA_EVENTS)]
    assert types[0] == "CalendarChanged" and types.count("BreachRetracted") == 2
    assert "EscalationRetracted" in types and result.announced == len(types) - 1
    assert [a["after"] for a in calendars.audit] == [["2026-02-09"]]
    assert await calendars.extra_dates("33") == ExtraDates("33", ["2026-02-09"], 1, 1)
    assert saved["C1"].clocks.escalation.level == 0


async def test_catch_up_finishes_an_interrupted_recompute_and_follows_the_holidays_pin_once() -> None:
    sla, _, calendars, _ = fake_sla()
    sent = sla.publish
    assert isinstance(sent, Sent)
    calendars.extra["33.74"] = ExtraDates("33.74", ["2026-08-18"], revision=2, recomputed_revision=1)
    calendars.extra["64"] = ExtraDates("64", [], revision=1, recomputed_revision=1)
    await catch_up(sla)
    changes = [e.payload for e in sent.decoded(SLA_EVENTS)]
    assert [(c.pemda, c.revision) for c in changes if isinstance(c, CalendarChanged)] == [("33.74", 2)]
    assert calendars.extra["33.74"].recomputed_revision == 2
    assert await calendars.holidays_version() == HOLIDAYS_VERSION
    sent.messages.clear()
    await catch_up(sla)
    assert sent.messages == []
