"""Notifications to the reporter (issue 20 item 1) without servers: the pure decision
(services/intake/domain/notifications.py), its staging by the view consumer and the worker's
gate, cap and retries over the fake ports (tests/intake_fakes.py). The real SMTP server, gateway,
database and Kafka are tests/integration/test_intake_notifications.py's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake import handlers
from services.intake.adapters.notifier import Notifier
from services.intake.adapters.notify_templates import Links, Templates, last_day
from services.intake.adapters.senders import _retry_after
from services.intake.domain import notifications as n
from services.intake.domain.errors import NotFound
from services.intake.domain.tracking import link_token
from services.intake.domain.view import apply
from services.intake.models import SubmitAccepted, SubmitComplaint
from services.intake.settings import NotifySettings
from shared import clock
from shared.calendar import calendar_for
from shared.envelope import Envelope, new_event
from shared.events import (
    ComplaintAnswered,
    ComplaintClosed,
    ComplaintResolved,
    EscalationRaised,
    InformationAdded,
    InformationRequested,
    TierChanged,
)
from shared.faults import TransientError, retry_delay
from shared.mail import DeliveryRefused
from tests.intake_fakes import (
    FakeComplaintStore,
    FakeNotificationStore,
    FakePublisher,
    FakeSender,
    FakeTrackingStore,
)
from tests.unit.test_intake_views import FULL_STORY, OPD, T0, assigned, doc, lifecycle, received

SECRET = "n" * 32
TRACKING_KEY = "k" * 64
EMAIL = "sari@example.id"
PHONE = "0812-3456-7890"


def _story_notices() -> list[tuple[str, n.Notice]]:
    view = doc(notify_channels=["email"])
    found = []
    for seq, (payload, _) in enumerate(FULL_STORY, start=1):
        event = lifecycle(seq, payload, minutes=seq)
        assert apply(view, event)
        n.track_reply(view, event)
        found += [(type(payload).__name__, notice) for notice in n.notices_for(event, view, calendar_for)]
    return found


def test_each_change_the_reporter_should_know_gives_one_notice_and_the_rest_none() -> None:
    kinds = [notice.kind for _, notice in _story_notices()]
    assert kinds == [
        "received",
        "assigned",  # disposed by the coordinator
        "answered",
        "information_requested",
        "information_reminder",
        "information_reminder",
        "assigned",  # transferred
        "resolved",
        "assigned",  # reopened
        "resolved",
        "closed",
    ]  # no notice for a triage, an update, a claim, added information, a tier, a transfer, a reopen


def test_the_assigned_notice_names_the_opd_and_the_statutory_due_on_its_pemdas_calendar() -> None:
    view = doc()
    event = lifecycle(2, assigned())  # Fri 13 Mar 2026 16:00 WIB
    [notice] = n.notices_for(event, view, calendar_for)
    # 5 HK (normatif) after Fri 13 March 2026: the end of Fri 27 March (DESIGN §5's example).
    assert notice.facts == {"opd_id": OPD, "due": "2026-03-28T00:00:00+07:00", "via": "routing"}
    assert last_day(notice.facts["due"]) == "Jumat, 27 Maret 2026"
    assert notice.key == event.event_id


def test_an_information_request_brings_reminders_after_three_and_seven_working_days() -> None:
    event = lifecycle(5, InformationRequested(opd_id=OPD, handler="h", message="Mohon foto."))
    notices = n.notices_for(event, doc(), calendar_for)
    reminders = [x for x in notices if x.kind == "information_reminder"]
    pupr = calendar_for("33.74")
    assert [(r.facts["days"], r.not_before) for r in reminders] == [
        (3, pupr.due(event.occurred_at, 3)),
        (7, pupr.due(event.occurred_at, 7)),
    ]
    assert [r.key for r in reminders] == [f"{event.event_id}:r3", f"{event.event_id}:r7"]


def test_a_reminder_goes_out_only_while_its_request_is_the_open_one() -> None:
    view = doc(status="in_progress", last_seq=4, notify_channels=["email"], reporter={"email": EMAIL})
    request = lifecycle(5, InformationRequested(opd_id=OPD, handler="h", message="Mohon foto."))
    apply(view, request)
    n.track_reply(view, request)
    reminder = {"kind": "information_reminder", "channel": "email", "event_id": request.event_id}
    assert n.gate(reminder, view).send
    tier = lifecycle(6, TierChanged(opd_id=OPD, tier="ringan"))  # still waiting: still due
    apply(view, tier)
    n.track_reply(view, tier)
    assert n.gate(reminder, view).send
    reply = lifecycle(7, InformationAdded(message="Foto terlampir.", resumed=True))
    apply(view, reply)
    n.track_reply(view, reply)
    assert n.gate(reminder, view) == n.Gate(False, "cancelled", "the request was answered or left behind")


def test_the_gate_honours_an_opt_out_and_needs_the_channels_contact() -> None:
    record = {"notify_channels": ["email"], "reporter": {"email": EMAIL}}
    note = {"kind": "answered", "channel": "email", "event_id": "E"}
    assert n.gate(note, record).send
    assert n.gate(note, {**record, "notify_opt_out_at": T0}).state == "opted_out"
    assert n.gate({**note, "channel": "sms"}, record).state == "no_contact"
    assert n.gate(note, None).state == "cancelled"


def test_only_a_level_three_escalation_tells_the_reporter_about_the_ombudsman() -> None:
    def raised(level: int) -> Envelope:
        payload = EscalationRaised(level=level, opd_id=OPD, reason="r", at=T0)
        return new_event(payload, producer="sla", complaint_id="C1")

    assert n.notices_for(raised(1), doc(), calendar_for) == []
    assert n.notices_for(raised(2), doc(), calendar_for) == []
    assert [x.kind for x in n.notices_for(raised(3), doc(), calendar_for)] == ["escalated"]


@pytest.mark.parametrize(
    ("choice", "reporter", "channels"),
    [
        (None, {"email": EMAIL, "phone": "+6281234567890"}, ["email"]),
        (None, {"phone": "+6281234567890"}, ["sms"]),
        (None, None, []),
        (["whatsapp", "email"], {"email": EMAIL, "phone": "+6281234567890"}, ["email", "whatsapp"]),
        ([], {"email": EMAIL}, []),
    ],
)
def test_the_reporters_channels(
    choice: list[str] | None, reporter: dict[str, Any] | None, channels: list[str]
) -> None:
    assert n.channels_for(choice, reporter) == channels


def test_a_channel_without_its_contact_is_refused_at_submission_naming_the_field() -> None:
    body = {
        "title": "Jalan rusak",
        "description": "x" * 30,
        "region_code": "33.74",
        "reporter": {"email": EMAIL},
    }
    with pytest.raises(ValidationError) as caught:
        SubmitComplaint.model_validate({**body, "notify": ["sms"]})
    [error] = caught.value.errors()
    assert error["loc"] == ("notify",) and "reporter.phone" in error["msg"]
    with pytest.raises(ValidationError):
        SubmitComplaint.model_validate({**body, "notify": ["pigeon"]})
    assert SubmitComplaint.model_validate({**body, "notify": ["email"]}).notify == ["email"]


def test_the_opt_out_token_is_bound_to_its_complaint_and_the_secret() -> None:
    token = n.opt_out_token(SECRET, "C1")
    assert len(token) >= 22  # 128 bits
    assert n.opt_out_valid(SECRET, "C1", token)
    assert not n.opt_out_valid(SECRET, "C2", token)
    assert not n.opt_out_valid("x" * 32, "C1", token)


def test_the_html_mail_escapes_what_the_events_carry_and_links_only_our_urls() -> None:
    templates = Templates()
    templates.check()
    note = {"_id": "E:email", "kind": "answered", "channel": "email", "complaint_id": "C1",
            "facts": {"opd_id": "33.74/<script>alert(1)</script>"}}  # fmt: skip
    message = templates.message(note, EMAIL, Links.of("https://lapor.example", "C1", "tok", "lacak"))
    assert message.html is not None and "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert '<a href="https://lapor.example/api/v1/complaints/C1/track?t=lacak">' in message.html
    assert "<script>" in message.text  # plain text is not HTML
    assert message.unsubscribe_url == "https://lapor.example/api/v1/complaints/C1/notifications/opt-out?t=tok"


# --- staged by the view consumer, drained by the worker (fakes) ------------------------------------


class Wall:
    """The fake store's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def fixed() -> Iterator[clock.FixedClock]:
    with clock.pinned(T0, tick=False) as now:
        assert isinstance(now, clock.FixedClock)
        yield now


class World:
    def __init__(self, **settings: Any) -> None:
        self.store = FakeComplaintStore()
        self.wall = Wall()
        self.notes = FakeNotificationStore(self.store, self.wall)
        self.mail, self.sms = FakeSender("email"), FakeSender("sms", "whatsapp")
        self.settings = NotifySettings(secret=SECRET, smtp_host="smtp", gateway_url="http://gw", **settings)
        self.notifier = Notifier(
            self.notes, [self.mail, self.sms], Templates(), self.settings, "https://lapor", TRACKING_KEY
        )
        self.notifying = handlers.Notifying(self.notes, frozenset({"email", "sms", "whatsapp"}))
        self.tracking = FakeTrackingStore()
        self.accepted: dict[str, SubmitAccepted] = {}

    async def submit(self, **changes: Any) -> str:
        body = SubmitComplaint.model_validate(
            {"title": "Jalan berlubang", "description": "Lubang besar di depan SD Negeri 2.",
             "region_code": "33.74.01.1001", "reporter": {"email": EMAIL, "phone": PHONE}, **changes}
        )  # fmt: skip
        accepted = await handlers.submit(
            body, None, "https://x", store=self.store, publisher=FakePublisher(), secret=SECRET,
            tracking=self.tracking, tracking_key=TRACKING_KEY, notify_channels=self.notifying.channels,
        )  # fmt: skip
        self.accepted[accepted.id] = accepted
        return accepted.id

    async def events(self, *events: Envelope) -> None:
        await handlers.handle_view_events(list(events), self.store, None, None, self.notifying)

    def states(self) -> dict[str, str]:
        return {k: v["state"] for k, v in self.notes.notifications.items()}


def event(cid: str, seq: int, payload: Any, minutes: int = 0) -> Envelope:
    return new_event(
        payload, producer="routing", complaint_id=cid, seq=seq, occurred_at=T0 + timedelta(minutes=minutes)
    )


async def test_an_event_stages_one_notification_per_channel_and_a_redelivery_none(
    fixed: clock.FixedClock,
) -> None:
    world = World()
    cid = await world.submit(notify=["email", "sms"])
    first = [event(cid, 1, received()), event(cid, 2, assigned())]
    await world.events(*first)
    assert sorted(world.notes.notifications) == sorted(
        f"{e.event_id}:{channel}" for e in first for channel in ("email", "sms")
    )
    await world.events(*first)  # redelivered
    assert len(world.notes.notifications) == 4
    assert await world.notifier.pass_once() == 4
    assert [m.kind for m in world.mail.sent] == ["received", "assigned"]
    assert [m.kind for m in world.sms.sent] == ["received", "assigned"]
    assert world.mail.sent[0].id == f"{first[0].event_id}:email" and world.mail.sent[0].to == EMAIL
    await world.events(*first)
    assert await world.notifier.pass_once() == 0 and len(world.mail.sent) == 2
    assert set(world.states().values()) == {"sent"}


async def test_nothing_is_staged_for_a_channel_this_deployment_does_not_send_on(
    fixed: clock.FixedClock,
) -> None:
    world = World()
    world.notifying = handlers.Notifying(world.notes, frozenset({"email"}))
    cid = await world.submit(notify=["sms"])
    await world.events(event(cid, 1, received()))
    assert world.notes.notifications == {}


async def test_an_opt_out_counts_at_once_for_what_is_pending(fixed: clock.FixedClock) -> None:
    world = World()
    cid = await world.submit()
    await world.events(event(cid, 1, received()))
    with pytest.raises(NotFound):
        await handlers.opt_out(cid, "wrong", secret=SECRET, store=world.notes)
    assert await handlers.opt_out(cid, n.opt_out_token(SECRET, cid), secret=SECRET, store=world.notes)
    await world.events(event(cid, 2, assigned()))
    assert await world.notifier.pass_once() == 1
    assert world.mail.sent == []
    assert set(world.states().values()) == {"opted_out"}
    states = await handlers.notification_states(cid, world.notes)
    assert [(s.kind, s.channel, s.state) for s in states] == [
        ("received", "email", "opted_out"),
        ("assigned", "email", "opted_out"),
    ]


async def test_the_daily_cap_per_address_holds_across_complaints(fixed: clock.FixedClock) -> None:
    world = World(daily_cap=2)
    one, two = await world.submit(), await world.submit()
    await world.events(event(one, 1, received()), event(one, 2, assigned()), event(two, 1, received()))
    await world.notifier.pass_once()
    assert len(world.mail.sent) == 2
    assert sorted(world.states().values()) == ["capped", "sent", "sent"]


async def test_reminders_wait_for_their_day_and_are_cancelled_by_a_reply(fixed: clock.FixedClock) -> None:
    world = World()
    cid = await world.submit()
    request = event(cid, 3, InformationRequested(opd_id=OPD, handler="h", message="Mohon foto."), 5)
    await world.events(event(cid, 1, received()), event(cid, 2, assigned()), request)
    assert await world.notifier.pass_once() == 3  # received, assigned, the request; not the reminders
    world.wall.at = calendar_for("33.74").due(request.occurred_at, 3)
    assert await world.notifier.pass_once() == 1
    assert world.mail.sent[-1].kind == "information_reminder" and "3 hari kerja" in world.mail.sent[-1].text
    await world.events(event(cid, 4, InformationAdded(message="Foto terlampir.", resumed=True), 6))
    assert world.states()[f"{request.event_id}:r7:email"] == "cancelled"  # at once, in the view too
    world.wall.at = calendar_for("33.74").due(request.occurred_at, 7)
    assert await world.notifier.pass_once() == 0
    assert len(world.mail.sent) == 4


async def test_a_reminder_whose_cancellation_was_missed_is_still_not_sent(fixed: clock.FixedClock) -> None:
    """The gate checks again at the reminder's day (e.g. a reply applied by an older instance)."""
    world = World()
    cid = await world.submit()
    request = event(cid, 2, InformationRequested(opd_id=OPD, handler="h", message="Mohon foto."), 5)
    await world.events(event(cid, 1, received()), request)
    world.store.complaints[cid].update(status="in_progress", awaiting_reply=None)
    world.wall.at = calendar_for("33.74").due(request.occurred_at, 3)
    await world.notifier.pass_once()
    assert world.states()[f"{request.event_id}:r3:email"] == "cancelled"


async def test_a_transient_failure_is_tried_again_later_and_a_refusal_is_recorded(
    fixed: clock.FixedClock,
) -> None:
    world = World()
    cid = await world.submit(notify=["email", "whatsapp"])
    await world.events(event(cid, 1, received()))
    world.mail.fail_with = TransientError("SMTP 421")
    world.sms.fail_with = DeliveryRefused("gateway 400: nomor tidak terdaftar")
    assert await world.notifier.pass_once() == 2
    mail_id = next(k for k in world.notes.notifications if k.endswith(":email"))
    assert world.notes.notifications[mail_id]["attempts"] == 1
    assert world.states() == {mail_id: "pending", mail_id.replace(":email", ":whatsapp"): "failed"}
    assert await world.notifier.pass_once() == 0  # not before its retry's instant
    world.mail.fail_with = None
    world.wall.at += timedelta(seconds=retry_delay(1, world.settings.retry_max_seconds))
    assert await world.notifier.pass_once() == 1
    assert world.states()[mail_id] == "sent" and [m.id for m in world.mail.sent] == [mail_id]


async def test_the_answered_resolved_and_closed_notices_carry_their_facts(fixed: clock.FixedClock) -> None:
    world = World()
    cid = await world.submit()
    await world.events(
        event(cid, 1, received()),
        event(cid, 2, assigned()),
        event(cid, 3, ComplaintAnswered(opd_id=OPD, handler="h", message="Kami survei.")),
        event(cid, 4, ComplaintResolved(opd_id=OPD, handler="h", answer="Sudah ditambal.")),
        event(cid, 5, ComplaintClosed(outcome="feedback", rating=5)),
    )
    await world.notifier.pass_once()
    resolved = next(m for m in world.mail.sent if m.kind == "resolved")
    # Links a person opens: the tracking link (a session cookie, then the complaint), never the
    # API's POST routes and never a bearer token.
    track = f"https://lapor/api/v1/complaints/{cid}/track?t={link_token(TRACKING_KEY, cid)}"
    assert f"(1–5): {track}" in resolved.text
    assert "/feedback" not in resolved.text and "/reopen" not in resolved.text
    closed = next(m for m in world.mail.sent if m.kind == "closed")
    assert "(5/5)" in closed.text
    assert all("Sari" not in m.text and PHONE not in m.text for m in world.mail.sent)


async def test_a_notification_that_triggers_a_bug_is_set_aside_and_the_others_go_out(
    fixed: clock.FixedClock,
) -> None:
    world = World()
    one, two = await world.submit(notify=["email"]), await world.submit(notify=["sms"])
    await world.events(event(one, 1, received()), event(two, 1, received()))
    world.mail.fail_with = KeyError("a template's missing fact")
    assert await world.notifier.pass_once() == 2
    assert sorted(world.states().values()) == ["failed", "sent"]
    assert [m.kind for m in world.sms.sent] == ["received"]


def test_notifications_are_off_by_default_and_secrets_may_come_from_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("INTAKE_NOTIFY_SMTP_HOST", "INTAKE_NOTIFY_GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    assert NotifySettings().channels() == frozenset()
    secret = tmp_path / "smtp_password"
    secret.write_text("kata-sandi\n")
    monkeypatch.setenv("INTAKE_NOTIFY_SMTP_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("INTAKE_NOTIFY_SMTP_HOST", "smtp.pemda.go.id")
    monkeypatch.setenv("INTAKE_NOTIFY_GATEWAY_URL", "https://gw.example/send")
    monkeypatch.setenv("INTAKE_NOTIFY_GATEWAY_CHANNELS", '["sms"]')
    settings = NotifySettings()
    assert settings.smtp_password == "kata-sandi"
    assert settings.channels() == frozenset({"email", "sms"})


@pytest.mark.parametrize(
    ("header", "seconds"), [(None, 0.0), ("2", 2.0), ("600", 30.0), ("Wed, 21 Oct 2026", 0.0)]
)
def test_a_gateways_retry_after_is_honoured_up_to_half_a_minute(header: str | None, seconds: float) -> None:
    assert _retry_after(header) == seconds


async def test_the_received_notification_carries_the_tracking_code_and_pin_once(
    fixed: clock.FixedClock,
) -> None:
    world = World()
    cid = await world.submit(notify=["email", "sms"])
    accepted = world.accepted[cid]
    code, pin = accepted.tracking_code, accepted.pin
    assert code and pin
    record = world.store.complaints[cid]
    assert record["pin_sealed"] and pin.encode() not in bytes(record["pin_sealed"])  # sealed, not plain
    await world.events(event(cid, 1, received()), event(cid, 2, assigned()))
    await world.notifier.pass_once()
    mail = {m.kind: m for m in world.mail.sent}
    sms = {m.kind: m for m in world.sms.sent}
    for message in (mail["received"], sms["received"]):
        assert code in message.text and f"PIN {pin}" in message.text
        assert f"/api/v1/complaints/{cid}/track?t={link_token(TRACKING_KEY, cid)}" in message.text
    assert pin not in mail["assigned"].text
    # Both "received" notifications out: the sealed copy is gone; the hash alone remains.
    assert world.store.complaints[cid]["pin_sealed"] is None
    assert world.tracking.codes[code]["pin_hash"] != pin


async def test_without_a_channel_the_pin_is_never_kept_even_sealed(fixed: clock.FixedClock) -> None:
    world = World()
    cid = await world.submit(notify=[])
    assert world.accepted[cid].pin and world.store.complaints[cid]["pin_sealed"] is None
