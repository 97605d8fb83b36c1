"""Notifications to the reporter against real servers (issue 20 item 1): intake in this process
on the test Kafka and database, a real SMTP server (aiosmtpd, STARTTLS with a certificate made
here, AUTH required) and a small SMS/WhatsApp gateway (aiohttp) that checks the signature and
fails on demand. Lifecycle events go in on `complaints.events` as routing would publish them;
what reaches the servers is what is asserted. Every wait is on a condition (tests/waiting.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.intake.adapters.notifications import MongoNotificationStore, ensure_indexes
from services.intake.adapters.notifier import Notifier
from services.intake.adapters.notify_templates import Templates, last_day
from services.intake.adapters.senders import SmtpSender
from services.intake.domain.notifications import notices_for, notification_document
from services.intake.settings import NotifySettings
from shared import clock
from shared.calendar import calendar_for
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    ComplaintAnswered,
    ComplaintResolved,
    EscalationRaised,
    InformationAdded,
    InformationRequested,
)
from shared.kafka import Outgoing, durable_producer, publish
from shared.mongo import mongo_client
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED, SLA_EVENTS
from tests.intake_app import Client, running_intake
from tests.smtp_server import SMTP_PASSWORD, SMTP_USER, Mailbox, smtp_server
from tests.topics import messages_for
from tests.unit.test_intake_views import assigned, received
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

GATEWAY_KEY = "g" * 32
SECRET = "n" * 32
OPD = "33.74/dinas-pupr"
DAILY_CAP = 3


@dataclass
class Gateway:
    """The SMS/WhatsApp gateway: checks the key and the signature, records each request, and
    answers 503 to the first `fail_first` requests of a reference."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    refused_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers["X-Timestamp"]
        expected = hmac.new(
            GATEWAY_KEY.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if request.headers.get("X-Signature") != f"sha256={expected}" or request.headers.get(
            "Authorization"
        ) != (f"Bearer {GATEWAY_KEY}"):
            self.refused_signatures += 1
            return web.json_response({"error": "signature"}, status=401)
        data = json.loads(body)
        assert request.headers["Idempotency-Key"] == data["reference"]
        tries = sum(1 for r in self.requests if r["reference"] == data["reference"])
        self.requests.append(data)
        if tries < self.fail_first:
            return web.json_response({"error": "sibuk"}, status=503)
        self.accepted.append(data)
        return web.json_response({"id": f"gw-{data['reference']}"})

    def delivered(self, to: str) -> dict[str, dict[str, Any]]:
        """What the gateway took for this number, by reference (as it dedupes)."""
        return {r["reference"]: r for r in self.accepted if r["to"] == to}


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mailbox, int, Path]]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    state = Gateway()
    app = web.Application()
    app.router.add_post("/send", state.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield state, str(server.make_url("/send"))
    finally:
        await server.close()


def _notify_settings(smtp: tuple[Mailbox, int, Path], gateway_url: str, **changes: Any) -> NotifySettings:
    _, port, cert = smtp
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": True,
        "smtp_ca_file": str(cert),
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "mail_from": "Layanan Pengaduan <pengaduan@lapor.example>",
        "message_id_domain": "lapor.example",
        "gateway_url": gateway_url,
        "gateway_key": GATEWAY_KEY,
        "gateway_templates": {"assigned": "pengaduan_disposisi_v2"},
        "gateway_backoff_seconds": 0.05,
        "secret": SECRET,
        "daily_cap": DAILY_CAP,
        "poll_seconds": 0.05,
        **changes,
    }
    return NotifySettings(**values)


@dataclass
class Intake:
    http: Client
    db: AsyncDatabase[dict[str, Any]]
    bootstrap: str
    mailbox: Mailbox
    gateway: Gateway
    given: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def tracking_of(self, complaint_id: str) -> tuple[str, str]:
        """The code and PIN this complaint's submit answered (kept by `submit`)."""
        return self.given[complaint_id]

    async def submit(self, **changes: Any) -> tuple[str, str]:
        body = {
            "title": "Jalan berlubang di depan SD",
            "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2, sudah dua minggu.",
            "category": "jalan-jembatan",
            "region_code": "33.74.01.1001",
            **changes,
        }
        resp = await self.http.post("/api/v1/complaints", json=body)
        assert resp.status == 202, await resp.text()
        answer = await resp.json()
        self.given[answer["id"]] = (answer["tracking_code"], answer["pin"])
        return answer["id"], answer["access_token"]

    async def events(self, *events: Envelope, topic: str = COMPLAINTS_EVENTS) -> None:
        producer = durable_producer(self.bootstrap)
        await producer.start()
        try:
            await publish(producer, [Outgoing.of(topic, e.complaint_id or "", e) for e in events])
        finally:
            await producer.stop()

    async def mine(self, cid: str, token: str) -> dict[str, Any]:
        resp = await self.http.get(f"/api/v1/complaints/{cid}", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    async def states(self, cid: str, token: str) -> list[tuple[str, str, str]]:
        return [(x["kind"], x["channel"], x["state"]) for x in (await self.mine(cid, token))["notifications"]]


@pytest.fixture(scope="module")
async def intake(
    endpoints: Endpoints, smtp: tuple[Mailbox, int, Path], gateway: tuple[Gateway, str]
) -> AsyncIterator[Intake]:
    notify = _notify_settings(smtp, gateway[1])
    async with running_intake(endpoints, notify=notify, public_base_url="https://lapor.example") as (
        client,
        db,
    ):
        yield Intake(client, db, endpoints.kafka_bootstrap, smtp[0], gateway[0])


def lifecycle(cid: str, seq: int, payload: Payload) -> Envelope:
    return new_event(payload, producer="routing", complaint_id=cid, seq=seq)


def _address() -> str:
    return f"warga-{str(ULID()).lower()}@example.id"


def _phone() -> str:
    return f"0812{int(ULID()) % 10**8:08d}"


def _as_sent(phone: str) -> str:
    return "+62" + phone[1:]


# --- e-mail ---------------------------------------------------------------------------------------


async def test_a_lifecycle_event_sends_one_email_and_its_redelivery_none(intake: Intake) -> None:
    address = _address()
    cid, token = await intake.submit(reporter={"name": "Sari Wulandari", "email": address})
    first = lifecycle(cid, 1, received())
    await intake.events(first)
    [mail] = await eventually(lambda: _async(intake.mailbox.to(address)), what="the first e-mail")
    assert mail["Message-ID"] == f"<{first.event_id}.email@lapor.example>"
    assert mail["Subject"] == f"Pengaduan {cid} telah diterima"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = _text(mail)
    assert f"https://lapor.example/api/v1/complaints/{cid}" in text and "Sari" not in text
    await intake.events(first, lifecycle(cid, 2, assigned()))  # the first again (redelivered), then a new one
    mails = await eventually(
        lambda: _async(_if(len(intake.mailbox.to(address)) >= 2, intake.mailbox.to(address)))
    )
    assert mails[0]["Subject"] == f"Pengaduan {cid} telah diterima"
    assigned_subject, prefix = mails[1]["Subject"], f"Pengaduan {cid} diteruskan ke "
    assert assigned_subject.startswith(prefix) and _named_opd(assigned_subject.removeprefix(prefix))
    due = calendar_for("33.74").due(clock.now(), 5)  # normatif: 5 HK from today (the test's day)
    assert f"paling lambat {last_day(due.isoformat())}" in _text(mails[1])
    assert mails[1].get_content_type() == "multipart/alternative"
    states = await eventually(lambda: _states_settled(intake, cid, token, 2))
    assert states == [("received", "email", "sent"), ("assigned", "email", "sent")]
    assert address not in json.dumps(await intake.mine(cid, token))


async def test_the_opt_out_link_of_a_mail_stops_the_next_ones_at_once(intake: Intake) -> None:
    address = _address()
    cid, token = await intake.submit(reporter={"email": address})
    await intake.events(lifecycle(cid, 1, received()))
    [mail] = await eventually(lambda: _async(intake.mailbox.to(address)), what="the first e-mail")
    link = str(mail["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"https://lapor.example/api/v1/complaints/{cid}/notifications/opt-out?t=")
    path = link.removeprefix("https://lapor.example")
    page = await intake.http.get(path)
    assert page.status == 200 and "Berhenti menerima pemberitahuan" in await page.text()
    wrong = await intake.http.post(f"/api/v1/complaints/{cid}/notifications/opt-out?t=salah")
    assert wrong.status == 404
    done = await intake.http.post(path, data="List-Unsubscribe=One-Click")  # a mail client's one click
    assert done.status == 200
    await intake.events(lifecycle(cid, 2, assigned()))
    states = await eventually(lambda: _states_settled(intake, cid, token, 2))
    assert states == [("received", "email", "sent"), ("assigned", "email", "opted_out")]
    assert len(intake.mailbox.to(address)) == 1


async def test_the_daily_cap_per_address_is_honoured(intake: Intake) -> None:
    address = _address()
    cid, token = await intake.submit(reporter={"email": address})
    await intake.events(
        lifecycle(cid, 1, received()),
        lifecycle(cid, 2, assigned()),
        lifecycle(cid, 3, ComplaintAnswered(opd_id=OPD, handler="h", message="Sedang kami survei.")),
        lifecycle(cid, 4, ComplaintResolved(opd_id=OPD, handler="h", answer="Sudah ditambal.")),
    )
    states = await eventually(lambda: _states_settled(intake, cid, token, 4))
    assert [s[2] for s in states] == ["sent"] * DAILY_CAP + ["capped"]
    assert len(intake.mailbox.to(address)) == DAILY_CAP


async def test_an_anonymous_reporter_is_notified_and_their_address_never_leaves_intake(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the services' level (pymongo's DEBUG lines echo documents)
    address, phone = _address(), _phone()
    cid, token = await intake.submit(
        anonymous=True, reporter={"name": "Budi", "email": address, "phone": phone}, notify=["email", "sms"]
    )
    request = InformationRequested(opd_id=OPD, handler="h", message="Mohon kirim foto lubangnya.")
    await intake.events(
        lifecycle(cid, 1, received()), lifecycle(cid, 2, assigned()), lifecycle(cid, 3, request)
    )
    await eventually(lambda: _async(_if(len(intake.mailbox.to(address)) == 3, True)), what="three e-mails")
    await eventually(
        lambda: _async(_if(len(intake.gateway.delivered(_as_sent(phone))) == 3, True)), what="3 SMS"
    )
    # What routing, sla and every OPD can read: the topics of this complaint.
    for topic in (COMPLAINTS_SUBMITTED, COMPLAINTS_EVENTS, COMPLAINTS_COMMANDS):
        for message in await messages_for(intake.bootstrap, topic, cid):
            raw = message.model_dump_json()
            assert (
                address not in raw and phone not in raw and _as_sent(phone) not in raw and "Budi" not in raw
            )
    # Every log line of this process but the test SMTP server's own (`mail.log`, the receiver).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert address not in logged and _as_sent(phone) not in logged and phone not in logged
    assert address not in json.dumps(await intake.mine(cid, token))
    # The reminders wait for their working days; the view shows them pending.
    states = await intake.states(cid, token)
    assert ("information_reminder", "email", "pending") in states and len(states) == 10


async def test_a_channel_without_its_contact_is_a_422_naming_the_field(intake: Intake) -> None:
    body = {
        "title": "Jalan berlubang di depan SD",
        "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2, sudah dua minggu.",
        "region_code": "33.74.01.1001",
        "reporter": {"email": _address()},
    }
    for notify, message in ((["sms"], "reporter.phone"), (["merpati"], "")):
        resp = await intake.http.post("/api/v1/complaints", json={**body, "notify": notify})
        assert resp.status == 422 and resp.content_type == "application/problem+json"
        [error] = (await resp.json())["errors"]
        assert error["field"].startswith("notify") and message in error["message"]


async def test_a_reply_cancels_the_reminders_of_its_request_at_once(intake: Intake) -> None:
    address = _address()
    cid, token = await intake.submit(reporter={"email": address})
    request = InformationRequested(opd_id=OPD, handler="h", message="Mohon kirim foto lubangnya.")
    reply = InformationAdded(message="Foto terlampir.", resumed=True)
    await intake.events(
        lifecycle(cid, 1, received()),
        lifecycle(cid, 2, assigned()),
        lifecycle(cid, 3, request),
        lifecycle(cid, 4, reply),
    )
    states = await eventually(lambda: _states_settled(intake, cid, token, 5))
    assert states == [
        ("received", "email", "sent"),
        ("assigned", "email", "sent"),
        ("information_requested", "email", "sent"),
        ("information_reminder", "email", "cancelled"),
        ("information_reminder", "email", "cancelled"),
    ]


async def test_a_level_three_escalation_tells_the_reporter_the_ombudsman_route(intake: Intake) -> None:
    address = _address()
    cid, token = await intake.submit(reporter={"email": address})
    await intake.events(lifecycle(cid, 1, received()))
    level3 = EscalationRaised(level=3, opd_id=OPD, reason="60 hari", at=clock.now())
    for level in (1, 3):  # level 1 tells the reporter nothing; level 3 names the Ombudsman
        raised = level3.model_copy(update={"level": level})
        await intake.events(new_event(raised, producer="sla", complaint_id=cid), topic=SLA_EVENTS)
    states = await eventually(lambda: _states_settled(intake, cid, token, 2))
    assert states == [("received", "email", "sent"), ("escalated", "email", "sent")]
    # The two come on different topics, read independently: found by subject, not by order.
    subjects = {m["Subject"]: m for m in intake.mailbox.to(address)}
    mail = subjects[f"Pengaduan {cid} dapat dilaporkan ke Ombudsman RI"]
    assert "ombudsman.go.id" in _text(mail) and len(subjects) == 2


# --- SMS / WhatsApp through the gateway -----------------------------------------------------------


async def test_an_sms_goes_through_the_signed_gateway_retried_with_the_same_reference(intake: Intake) -> None:
    phone = _phone()
    cid, token = await intake.submit(reporter={"phone": phone}, notify=["sms", "whatsapp"])
    intake.gateway.fail_first = 1  # each reference's first request gets a 503
    try:
        await intake.events(lifecycle(cid, 1, received()))
        await eventually(lambda: _async(_if(len(intake.gateway.delivered(_as_sent(phone))) == 2, True)))
    finally:
        intake.gateway.fail_first = 0
    delivered = intake.gateway.delivered(_as_sent(phone))
    assert {r["channel"] for r in delivered.values()} == {"sms", "whatsapp"}
    tries = [r["reference"] for r in intake.gateway.requests if r["to"] == _as_sent(phone)]
    assert sorted(tries) == sorted([*delivered, *delivered])  # each reference twice: a 503, then taken
    sms = next(r for r in delivered.values() if r["channel"] == "sms")
    assert sms["template"] == "pengaduan_received" and sms["params"]["complaint_id"] == cid
    # The tracking code and PIN given at submission, and the tracking link (never a bearer token).
    code, pin = await intake.tracking_of(cid)
    assert sms["text"].startswith(f"Pengaduan {cid} diterima, kode lacak {code} PIN {pin}. Pantau: ")
    assert f"/api/v1/complaints/{cid}/track?t=" in sms["text"] and token not in sms["text"]
    states = await eventually(lambda: _states_settled(intake, cid, token, 2))
    assert states == [("received", "sms", "sent"), ("received", "whatsapp", "sent")]
    assert intake.gateway.refused_signatures == 0
    # Both "received" notifications out: the sealed PIN is gone from the complaint (forgotten right
    # after the second is marked, by a write of its own).

    async def forgotten() -> dict[str, Any] | None:
        stored = await intake.db["complaints"].find_one({"_id": cid})
        return stored if stored is not None and stored["pin_sealed"] is None else None

    stored = await eventually(forgotten, within=10, what="the sealed PIN forgotten")
    assert stored["tracking_code"] == code


def _named_opd(text: str) -> bool:
    """The OPD as a notification names it: its id, or a name routing's catalog announced on
    catalog.changes (earlier tests in a session rename OPDs there, the fuzzer among them, so which
    name the app knew when it wrote the notification is not this test's to say; names themselves
    are tests/integration/test_catalog_names.py's and tests/unit/test_intake_names.py's)."""
    return text == OPD or (bool(text.strip()) and "\n" not in text)


async def test_whatsapp_uses_the_configured_template_names(intake: Intake) -> None:
    phone = _phone()
    cid, _ = await intake.submit(reporter={"phone": phone}, notify=["whatsapp"])
    await intake.events(lifecycle(cid, 1, received()), lifecycle(cid, 2, assigned()))
    await eventually(lambda: _async(_if(len(intake.gateway.delivered(_as_sent(phone))) == 2, True)))
    sent = list(intake.gateway.delivered(_as_sent(phone)).values())
    assert [(r["channel"], r["template"]) for r in sent] == [
        ("whatsapp", "pengaduan_received"),  # not configured: pengaduan_<kind>
        ("whatsapp", "pengaduan_disposisi_v2"),  # INTAKE_NOTIFY_GATEWAY_TEMPLATES
    ]
    assert _named_opd(sent[1]["params"]["opd"])
    assert f"/api/v1/complaints/{cid}/track?t=" in sent[1]["params"]["link"]


# --- a crash between the send and its mark ----------------------------------------------------------


async def test_a_crash_between_send_and_mark_resends_with_the_same_message_id(
    endpoints: Endpoints, smtp: tuple[Mailbox, int, Path], db_prefix: str
) -> None:
    """The worker on the real database and SMTP server, with a store whose first mark fails
    (the process dies there): after the lease the notification is sent again, with its id."""
    mongo = mongo_client(endpoints.mongo_uri)
    db = mongo[f"{db_prefix}notify"]
    try:
        await ensure_indexes(db)
        address = _address()
        cid = f"C{ULID()}"
        await db["complaints"].insert_one(
            {"_id": cid, "reporter": {"email": address}, "notify_channels": ["email"], "status": "assigned"}
        )
        settings = _notify_settings(smtp, "", lease_seconds=0.3)
        store = CrashOnFirstMark(db)
        answered = ComplaintAnswered(opd_id=OPD, handler="h", message="Sedang kami survei.")
        event = lifecycle(cid, 3, answered)
        [notice] = notices_for(event, {}, calendar_for)
        await store.stage([notification_document(notice, "email", event, clock.now())])
        notifier = Notifier(store, [SmtpSender(settings)], Templates(), settings, "https://lapor.example")
        with pytest.raises(ProcessDied):
            await notifier.pass_once()
        [first] = smtp[0].to(address)
        assert (await db["notifications"].find_one({}))["state"] == "pending"  # type: ignore[index]

        async def resent() -> list[Message] | None:
            await notifier.pass_once()
            return _if(len(smtp[0].to(address)) == 2, smtp[0].to(address))

        again = await eventually(resent, what="the resend after the lease")
        assert again[1]["Message-ID"] == first["Message-ID"] == f"<{notice.key}.email@lapor.example>"
        stored = await db["notifications"].find_one({})
        assert stored is not None and stored["state"] == "sent" and stored["outbox_since"] is None
        assert await notifier.pass_once() == 0 and len(smtp[0].to(address)) == 2
    finally:
        await mongo.drop_database(db.name)
        await mongo.close()


class ProcessDied(RuntimeError):
    pass


class CrashOnFirstMark(MongoNotificationStore):
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        super().__init__(db)
        self.crashed = False

    async def settle(self, notification_id: str, claimed: dt.datetime, changes: Any) -> bool:
        if not self.crashed:
            self.crashed = True
            raise ProcessDied("killed between the send and its mark")
        return await super().settle(notification_id, claimed, changes)


# --- helpers ---------------------------------------------------------------------------------------


def _text(mail: Message) -> str:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


async def _async(value: Any) -> Any:
    return value


def _if(condition: bool, value: Any) -> Any:
    return value if condition else None


async def _states_settled(
    intake: Intake, cid: str, token: str, count: int
) -> list[tuple[str, str, str]] | None:
    states = await intake.states(cid, token)
    done = len(states) == count and all(s[2] != "pending" for s in states)
    return states if done else None
