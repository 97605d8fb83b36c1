"""Staff are told (issue 21 item 4), against real servers: the three apps on the test Kafka and
database (tests/service_apps.py), a real SMTP server (tests/smtp_server.py: STARTTLS and AUTH
required). A complaint is submitted to intake anonymously and confidentially with the reporter's
name, phone and e-mail (the phone written in its text too), routed by routing; its lifecycle events
and sla's clock events are read back from Kafka and handed to group `routing-staff-mail`'s handler,
as its consumer does; routing's mailer sends what it staged. What reaches the SMTP server is what
is asserted: who got which mail, once, and that no mail carries anything of the reporter."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from ulid import ULID

import services.routing.bootstrap as routing_app
from devtools.infra import Endpoints
from devtools.ops import staff_mail_digest
from services.routing.adapters.accounts import MongoStaffDirectory
from services.routing.adapters.staff_mail import MongoStaffMailbox
from services.routing.adapters.staff_mailer import StaffMailer
from services.routing.bootstrap import open_staff_mailing
from services.routing.domain import staff_mail as sm
from services.routing.domain.staff import Account
from services.routing.handlers import stage_staff_mail
from services.routing.settings import RoutingSettings, StaffMailSettings
from shared import clock
from shared.calendar import WIB
from shared.deadletters import Letter, read_letters
from shared.envelope import Envelope, Payload, new_event
from shared.events import CalendarChanged, ComplaintAssigned, EscalationRaised, SlaBreached, SlaWarning
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.mongo import mongo_client
from shared.runtime import with_consumers
from shared.topics import COMPLAINTS_EVENTS, ROUTING_STAFF_MAIL_GROUP, SLA_EVENTS, TopicSpec, dlq
from tests.service_apps import Apps, Seeded, running_apps, seed_complaint
from tests.smtp_server import SMTP_PASSWORD, SMTP_USER, Mailbox, smtp_server
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PEMDA = "33.74"
OPD = f"{PEMDA}/dinas-pupr"
NAME, PHONE, EMAIL = "Sari Rahasia Wulandari", "081298765432", "sari.rahasia@example.id"
OPD_NAME = "Dinas Pekerjaan Umum dan Penataan Ruang Kota Semarang"
DOMAIN = "staf.example"
STAFF_URL = "https://staf.example"


def _address(who: str) -> str:
    return f"{who}-{str(ULID()).lower()[-8:]}@pemda.example"


@dataclass
class World:
    apps: Apps
    bootstrap: str
    mailbox: Mailbox
    seeded: Seeded
    mailer: StaffMailer
    store: MongoStaffMailbox
    addresses: dict[str, str]  # username → address
    handle: Any
    mail_settings: StaffMailSettings

    def to(self, who: str) -> list[Message]:
        return self.mailbox.to(self.addresses[who])

    async def feed(self, topic: str, *types: str) -> list[Envelope]:
        """The complaint's events of these types on `topic`, as the consumer hands them over."""

        async def found() -> list[Envelope] | None:
            envelopes = await messages_for(self.bootstrap, topic, self.seeded.id)
            wanted = [e for e in envelopes if e.type in types]
            return envelopes if len({e.type for e in wanted}) == len(types) else None

        envelopes = await eventually(found, within=60, what=f"{types} on {topic}")
        assert await self.handle(envelopes) == []
        return [e for e in envelopes if e.type in types]

    async def publish(self, topic: str, payload: Payload) -> Envelope:
        envelope = new_event(payload, producer="sla", complaint_id=self.seeded.id, seq=2)
        producer = durable_producer(self.bootstrap)
        await producer.start()
        try:
            await publish(producer, [Outgoing.of(topic, self.seeded.id, envelope)])
        finally:
            await producer.stop()
        return envelope


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mailbox, int, Path]]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints, smtp: tuple[Mailbox, int, Path]) -> AsyncIterator[World]:
    mailbox, port, cert = smtp
    mail = StaffMailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_ca_file=str(cert),
        smtp_username=SMTP_USER,
        smtp_password=SMTP_PASSWORD,
        mail_from="Layanan Pengaduan <pengaduan@staf.example>",
        message_id_domain=DOMAIN,
        lease_seconds=0.5,
    )
    async with running_apps(endpoints, routing_mail=mail) as apps:
        db = apps.routing_db
        # The OPD as the catalog loader writes it (adapters/catalog.py), without announcing the
        # whole catalog from this fresh database.
        await db["opds"].insert_one({"_id": OPD, "pemda": PEMDA, "slug": "dinas-pupr", "name": OPD_NAME})
        directory = MongoStaffDirectory(db)
        people = {
            "petugas-a": ("handler", OPD, False),
            "petugas-b": ("handler", OPD, False),
            "petugas-ringkas": ("handler", OPD, True),  # the daily digest
            "petugas-dishub": ("handler", f"{PEMDA}/dinas-perhubungan", False),
            "kepala-pupr": ("supervisor", OPD, False),
            "inspektur": ("supervisor", f"{PEMDA}/inspektorat", False),
            "koordinator": ("coordinator", None, False),
        }
        addresses = {who: _address(who) for who in people}
        for who, (role, opd, _) in people.items():
            account = Account(who, who.title(), role, PEMDA, opd, email=addresses[who])  # type: ignore[arg-type]
            await directory.create(account, None, "test")
        # The person's choice, through the operators' command (`pengaduan staff mail-digest`).
        env = {"ROUTING_MONGO_URI": endpoints.mongo_uri, "ROUTING_MONGO_DB": db.name}
        with mock.patch.dict(os.environ, env):
            for who in (w for w, (_, _, digest) in people.items() if digest):
                assert await staff_mail_digest(who, True) == 0
            assert await staff_mail_digest("tidak-ada", True) == 1
        assert [a.id for a in await directory.of_pemda(PEMDA) if a.mail_digest] == ["petugas-ringkas"]
        seeded = await seed_complaint(
            apps,
            endpoints.kafka_bootstrap,
            category="jalan-jembatan",
            region_code="33.74.01.1001",
            anonymous=True,
            confidential=True,
            reporter={"name": NAME, "phone": PHONE, "email": EMAIL},
            description=f"Jalan berlubang di depan rumah saya, hubungi {PHONE} atas nama {NAME}.",
        )
        assert seeded.opd_id == OPD
        settings = RoutingSettings(mongo_uri=endpoints.mongo_uri, mail=mail)
        mailing = await open_staff_mailing(db, settings)
        store = MongoStaffMailbox(db)
        mailer = StaffMailer(store, directory, mail, STAFF_URL)

        async def handle(batch: list[Envelope]) -> list[Any]:
            return await stage_staff_mail(batch, mailing)

        yield World(apps, endpoints.kafka_bootstrap, mailbox, seeded, mailer, store, addresses, handle, mail)


def _assignment(complaint_id: str, seq: int, opd: str = OPD, at: datetime | None = None) -> Envelope:
    """Routing's ComplaintAssigned of a complaint to `opd`, as the group reads it."""
    assigned = ComplaintAssigned(
        opd_id=opd, pemda=PEMDA, category="jalan-jembatan", level="kabkota", rule="r"
    )
    return new_event(assigned, producer="routing", complaint_id=complaint_id, seq=seq, occurred_at=at)


def _text(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(mail.get_content_charset() or "utf-8")


def _received_by(world: World) -> dict[str, int]:
    return {who: len(world.to(who)) for who in world.addresses}


async def test_1_an_assignment_reaches_the_opds_handlers_once(world: World) -> None:
    [assigned] = await world.feed(COMPLAINTS_EVENTS, "ComplaintAssigned")
    assert await world.mailer.pass_once() == 2
    for who in ("petugas-a", "petugas-b"):
        [mail] = world.to(who)
        assert mail["Message-ID"] == f"<{assigned.event_id}.{who}@{DOMAIN}>"
        assert mail["Subject"] == f"Pengaduan {world.seeded.id} masuk ke {OPD_NAME}"
        text = _text(mail)
        assert f"Nomor pengaduan: {world.seeded.id}" in text and "Kategori: Jalan dan Jembatan" in text
        assert "Tenggat tanggapan: " in text and f"{STAFF_URL}/staff/" in text
    # Nobody else: not another OPD's handler, not the kepala OPD; the digest reader waits.
    assert _received_by(world) == {
        "petugas-a": 1, "petugas-b": 1, "petugas-ringkas": 0, "petugas-dishub": 0,
        "kepala-pupr": 0, "inspektur": 0, "koordinator": 0,
    }  # fmt: skip

    # Redelivered (a restart before the commit): nothing staged, nothing sent again.
    await world.feed(COMPLAINTS_EVENTS, "ComplaintAssigned")
    assert await world.mailer.pass_once() == 0
    assert len(world.to("petugas-a")) == 1


async def _clock(world: World, cls: type[Any], state: str) -> Envelope:
    due = clock.now() + timedelta(days=1)
    return await world.publish(
        SLA_EVENTS,
        cls(
            clock_id=f"{world.seeded.id}:response:1", clock="response", opd_id=OPD, pemda=PEMDA,
            started_at=clock.now(), due_at=due, budget_seconds=5 * 86400, state=state, at=clock.now(),
            version=9,
        ),
    )  # fmt: skip


async def test_2_a_warning_and_a_breach_reach_the_handlers(world: World) -> None:
    await _clock(world, SlaWarning, "running")
    await world.feed(SLA_EVENTS, "SlaWarning")
    assert await world.mailer.pass_once() == 2
    [_, warning] = world.to("petugas-a")
    assert warning["Subject"] == f"Tenggat tanggapan pengaduan {world.seeded.id} segera berakhir"
    await _clock(world, SlaBreached, "breached")
    await world.feed(SLA_EVENTS, "SlaWarning", "SlaBreached")  # the warning again: redelivered
    assert await world.mailer.pass_once() == 2
    [_, _, breach] = world.to("petugas-b")
    assert breach["Subject"] == f"Tenggat tanggapan pengaduan {world.seeded.id} terlewati"
    assert len(world.to("petugas-a")) == 3 and world.to("kepala-pupr") == []


async def test_3_escalation_level_one_reaches_the_kepala_opd(world: World) -> None:
    await world.publish(SLA_EVENTS, EscalationRaised(level=1, opd_id=OPD, reason="breach", at=clock.now()))
    await world.feed(SLA_EVENTS, "EscalationRaised")
    assert await world.mailer.pass_once() == 1
    [mail] = world.to("kepala-pupr")
    assert mail["Subject"] == f"Eskalasi tingkat 1: pengaduan {world.seeded.id}"
    assert "Kepala OPD" in _text(mail)
    assert world.to("inspektur") == [] and world.to("koordinator") == []


async def test_4_escalation_level_two_reaches_the_coordinator_and_the_inspektorat(world: World) -> None:
    await world.publish(SLA_EVENTS, EscalationRaised(level=2, opd_id=OPD, reason="5 HK", at=clock.now()))
    await world.feed(SLA_EVENTS, "EscalationRaised")
    assert await world.mailer.pass_once() == 2
    for who in ("koordinator", "inspektur"):
        [mail] = world.to(who)
        assert mail["Subject"] == f"Eskalasi tingkat 2: pengaduan {world.seeded.id}"
        assert "Inspektorat" in _text(mail)
    assert len(world.to("kepala-pupr")) == 1  # level 1's only


async def test_5_the_digest_sends_the_days_items_in_one_mail_the_next_morning(world: World) -> None:
    assert world.to("petugas-ringkas") == []
    assert await world.mailer.pass_once() == 0  # not due today
    tomorrow = clock.wall() + timedelta(days=2)
    assert await world.mailer.pass_once(until=tomorrow) == 1
    [digest] = world.to("petugas-ringkas")
    assert digest["Subject"].startswith("Ringkasan harian pengaduan ")
    assert digest["Subject"].endswith(": 3 pemberitahuan")
    text = _text(digest)
    cid = world.seeded.id
    for line in (
        f"1. Pengaduan {cid} masuk ke {OPD_NAME}",
        f"2. Tenggat tanggapan pengaduan {cid} segera berakhir",
        f"3. Tenggat tanggapan pengaduan {cid} terlewati",
    ):
        assert line in text
    assert await world.mailer.pass_once(until=tomorrow) == 0  # sent once
    items = [m for m in await world.store.of_complaint(cid) if m["account"] == "petugas-ringkas"]
    assert [m["state"] for m in items] == ["sent", "sent", "sent"]


async def test_6_no_mail_carries_anything_of_the_reporter(world: World) -> None:
    mine = world.mailbox.everything()  # this module's server: the mails of the tests above
    assert len(mine) == 10  # 2 assignments, 2 warnings, 2 breaches, 1 + 2 escalations, 1 digest
    for mail in mine:
        whole = mail.as_string() + _text(mail)
        for secret in (NAME, "Sari", PHONE, PHONE[-8:], EMAIL, "hubungi", "berlubang di depan rumah"):
            assert secret not in whole, (secret, mail["Subject"])


# --- the consumer group and the mailer as routing runs them ---------------------------------------


def _only_staff_mail(group: str) -> Any:
    """`with_consumers` with routing's staff-mail group only, under a name of this test's own, and
    the mailer as its only loop (the other groups would route every submission of the session)."""

    def wire(app: web.Application, settings: Any, consumers: Any, background: Any = ()) -> Any:
        mine = [replace(c, group=group) for c in consumers if c.group == ROUTING_STAFF_MAIL_GROUP]
        loops = [(name, loop) for name, loop in background if name == "routing-staff-mailer"]
        assert len(mine) == 1 and len(loops) == 1
        return with_consumers(app, settings, mine, loops)

    return wire


@contextlib.asynccontextmanager
async def _routing(settings: RoutingSettings, group: str) -> AsyncIterator[None]:
    with mock.patch.object(routing_app, "with_consumers", _only_staff_mail(group)):
        app = routing_app.create_app(settings)
    server = TestServer(app)
    await server.start_server()
    try:
        yield
    finally:
        await server.close()


async def test_routing_runs_the_group_and_the_mailer_across_a_restart_and_dead_letters_the_malformed(
    endpoints: Endpoints, smtp: tuple[Mailbox, int, Path], db_prefix: str
) -> None:
    mailbox, port, cert = smtp
    suffix = str(ULID()).lower()[-10:]
    group, opd = f"routing-staff-mail-{suffix}", f"{PEMDA}/uji-{suffix}"  # an OPD no other test uses
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    mail = StaffMailSettings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_ca_file=str(cert), smtp_username=SMTP_USER,
        smtp_password=SMTP_PASSWORD, message_id_domain=DOMAIN, poll_seconds=0.05,
    )  # fmt: skip
    settings = RoutingSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{db_prefix}staffmail",
        staff_public_url=STAFF_URL,
        mail=mail,
    )
    client = mongo_client(endpoints.mongo_uri)
    address = _address("petugas-uji")
    await MongoStaffDirectory(client[settings.mongo_db]).create(
        Account("petugas-uji", "Petugas Uji", "handler", PEMDA, opd, email=address), None, "test"
    )
    cid = f"C-{suffix}"
    broken = b'{"type": "SlaWarning", "complaint_id": "' + cid.encode() + b'", tidak lengkap'

    async def assign() -> Envelope:
        envelope = _assignment(cid, 2, opd)
        producer = durable_producer(endpoints.kafka_bootstrap)
        await producer.start()
        try:
            await publish(producer, [Outgoing.of(COMPLAINTS_EVENTS, cid, envelope)])
            await producer.send_and_wait(SLA_EVENTS, key=cid.encode(), value=broken)
        finally:
            await producer.stop()
        return envelope

    def sent() -> list[str]:
        return [str(m["Message-ID"]) for m in mailbox.to(address)]

    try:
        first = await assign()
        async with _routing(settings, group):
            await eventually(lambda: _async(sent()), within=120, what="the first assignment's mail")
            letters = await eventually(
                lambda: _letters(endpoints.kafka_bootstrap, group, broken), within=60, what="a dead letter"
            )
        assert letters[0].reason and letters[0].headers["dlq.topic"] == SLA_EVENTS
        second = await assign()  # while routing is down
        async with _routing(settings, group):  # the same group: on from its committed offsets
            await eventually(
                lambda: _async(len(sent()) == 2), within=120, what="the second assignment's mail"
            )
        assert sent() == [f"<{e.event_id}.petugas-uji@{DOMAIN}>" for e in (first, second)]
    finally:
        await client.drop_database(settings.mongo_db)
        await client.close()


async def _async(value: Any) -> Any:
    return value


async def _letters(bootstrap: str, group: str, value: bytes) -> list[Letter] | None:
    return [letter for letter in await read_letters(bootstrap, group) if letter.value == value] or None


# --- the person's own choice, on the staff pages --------------------------------------------------


async def test_7_a_person_chooses_the_daily_digest_on_their_page(world: World) -> None:
    directory = MongoStaffDirectory(world.apps.routing_db)
    password = "sandi-petugas-yang-panjang"
    person = Account("petugas-pilih", "Petugas Pilih", "handler", PEMDA, OPD, email=_address("pilih"))
    await directory.create(person, password, "test")
    routing = world.apps.routing
    sign_in = await routing.get("/staff/masuk")
    form = {
        "username": person.id,
        "password": password,
        "csrf": _csrf(await sign_in.text()),
        "next": "/staff/surel",
    }
    page = await routing.post("/staff/masuk", data=form)
    html = await page.text()
    assert page.status == 200 and "Pemberitahuan e-mail" in html
    assert person.email in html and 'value="segera" checked' in html
    chosen = await routing.post("/staff/surel", data={"csrf": _csrf(html), "digest": "harian"})
    assert chosen.status == 200 and 'value="harian" checked' in await chosen.text()
    assert (await directory.get(person.id)) == replace(person, mail_digest=True)
    refused = await routing.post("/staff/surel", data={"digest": "segera"})  # no CSRF token
    assert refused.status == 403
    assert (await directory.get(person.id)) == replace(person, mail_digest=True)


async def test_9_a_person_changes_their_address_and_the_old_one_is_told(world: World) -> None:
    directory = MongoStaffDirectory(world.apps.routing_db)
    password = "sandi-petugas-pindah-alamat"
    old, new = _address("lama"), _address("baru").replace("@pemda.example", "@PEMDA.Example")
    person = Account("petugas-alamat", "Petugas Alamat", "handler", PEMDA, OPD, email=old)
    await directory.create(person, password, "test")
    routing = world.apps.routing
    routing.session.cookie_jar.clear()  # test 7's person signed out
    sign_in = await routing.get("/staff/masuk")
    csrf = _csrf(await sign_in.text())
    form = {"username": person.id, "password": password, "csrf": csrf, "next": "/staff/sandi"}
    html = await (await routing.post("/staff/masuk", data=form)).text()
    assert f'id="alamat-kini">{old}<' in html and 'action="/staff/alamat-surel"' in html
    csrf = _csrf(html)

    async def change(**fields: str) -> tuple[int, str]:
        answer = await routing.post("/staff/alamat-surel", data=fields)
        return answer.status, await answer.text()

    refused = [
        (await change(email=new, current_email=password), 403, "Permintaan ditolak"),  # no CSRF token
        (
            await change(csrf=csrf, email="bukan alamat@", current_email=password),
            422,
            "Alamat e-mail tidak valid",
        ),
        (await change(csrf=csrf, email="", current_email=password), 422, "Alamat e-mail wajib diisi"),
        (
            await change(csrf=csrf, email=new, current_email="bukan-sandinya"),
            422,
            "Kata sandi saat ini salah",
        ),
    ]
    for (status, text), expected_status, expected_text in refused:
        assert (status, expected_text in text) == (expected_status, True)
    assert (await directory.get(person.id)) == person
    assert await world.store.outbox.collection.count_documents({"account": person.id}) == 0

    status, text = await change(csrf=csrf, email=new, current_email=password)
    kept = new.replace("@PEMDA.Example", "@pemda.example")  # the domain as mail software reads it
    assert status == 200 and "Alamat e-mail diubah" in text and f'id="alamat-kini">{kept}<' in text
    assert (await directory.get(person.id)) == replace(person, email=kept)
    record = await world.apps.routing_db["staff_accounts"].find_one({"_id": person.id})
    assert record is not None and record["email_changed_by"] == person.id
    assert [h["to"] for h in record["email_history"]] == [kept] and record["email_changed_at"]

    await world.mailer.pass_once()
    [notice] = world.mailbox.to(old)
    body = _text(notice)
    assert notice["Subject"] == "Alamat e-mail akun staf Anda diubah" and person.id in body
    assert kept not in body and new not in body and password not in body and "/staff/sandi" in body
    assert world.mailbox.to(kept) == []
    [stored] = await world.store.outbox.collection.find({"account": person.id}).to_list()
    assert stored["kind"] == "address_changed" and stored["state"] == "sent" and stored["to"] is None
    assert stored["expires_at"] > stored["at"]  # a settled record, with the others (test 10)
    # Said again: the same address is no change, and a redelivered form stages nothing new.
    status, text = await change(csrf=csrf, email=kept, current_email=password)
    assert status == 422 and "sama dengan alamat saat ini" in text
    assert await world.store.outbox.collection.count_documents({"account": person.id}) == 1


async def test_10_a_settled_mails_record_expires_and_a_pending_one_never_does(world: World) -> None:
    db = world.apps.routing_db
    assert (await db["staff_mail"].index_information())["expires_at_1"]["expireAfterSeconds"] == 0
    directory = MongoStaffDirectory(db)
    single = Account("petugas-simpan", "Petugas Simpan", "handler", PEMDA, OPD, email=_address("simpan"))
    daily = replace(single, id="petugas-simpan-harian", email=_address("harian"), mail_digest=True)
    for person in (single, daily):
        await directory.create(person, None, "test")
    event = _assignment(world.seeded.id, 11)
    notice = sm.notice_for(event, None)
    assert notice is not None
    # The wall clock pinned a day back: what is due by then is this test's mail alone.
    at = clock.wall().replace(microsecond=0) - timedelta(days=1)
    with mock.patch.object(clock, "wall", lambda: at):
        staged = [*sm.mail_documents(notice, single, at, 7), *sm.mail_documents(notice, daily, at, 7)]
        assert await world.store.stage(staged) == 3  # the mail; the digest item and its digest
        assert await world.mailer.pass_once() == 1
    assert len(world.mailbox.to(single.email or "")) == 1
    records = {d["_id"]: d for d in await db["staff_mail"].find({"event_id": notice.key}).to_list()}
    records |= {d["_id"]: d for d in await db["staff_mail"].find({"account": daily.id}).to_list()}
    kept = {key: (d["state"], d.get("expires_at")) for key, d in records.items()}
    assert kept == {
        f"{notice.key}:{single.id}": ("sent", at + timedelta(days=world.mail_settings.keep_days)),
        f"{notice.key}:{daily.id}": ("pending", None),  # waits for its digest: never expires
        sm.digest_id(daily.id, sm.local_day(at)): ("pending", None),
    }


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "a form without its CSRF token"
    return found.group(1)


class ProcessDied(Exception):
    pass


class CrashOnFirstMark(MongoStaffMailbox):
    """The process dies between the send and its mark, once."""

    crashed = False

    async def settle(self, mail_id: str, claimed: Any, changes: Any) -> bool:
        if not self.crashed:
            self.crashed = True
            raise ProcessDied
        return await super().settle(mail_id, claimed, changes)


async def test_8_a_crash_between_send_and_mark_resends_with_the_same_message_id(world: World) -> None:
    directory = MongoStaffDirectory(world.apps.routing_db)
    person = Account("petugas-crash", "Petugas Crash", "handler", PEMDA, OPD, email=_address("crash"))
    await directory.create(person, None, "test")
    event = _assignment(world.seeded.id, 9)
    notice = sm.notice_for(event, None)
    assert notice is not None
    store = CrashOnFirstMark(world.apps.routing_db)
    await store.stage(sm.mail_documents(notice, person, clock.now(), 7))
    mailer = StaffMailer(store, directory, world.mail_settings, STAFF_URL)
    with pytest.raises(ProcessDied):
        await mailer.pass_once()
    [first] = world.mailbox.to(person.email or "")

    async def resent() -> list[Message] | None:
        await mailer.pass_once()  # the lease (0.5 s) passes: the mail is due again
        mails = world.mailbox.to(person.email or "")
        return mails if len(mails) == 2 else None

    again = await eventually(resent, what="the resend after the lease")
    assert again[1]["Message-ID"] == first["Message-ID"] == f"<{event.event_id}.petugas-crash@{DOMAIN}>"
    [record] = [m for m in await store.of_complaint(world.seeded.id) if m["account"] == "petugas-crash"]
    assert record["state"] == "sent" and record["outbox_since"] is None


async def test_11_the_pemdas_days_off_announced_by_sla_are_kept_for_every_process_of_the_group(
    world: World, endpoints: Endpoints
) -> None:
    """A CalendarChanged read by one process of `routing-staff-mail` is stored; another process's
    book learns it before its next mails, so an assignment's due counts the pemda's own days off
    whichever process reads the assignment."""
    announced = CalendarChanged(
        pemda=PEMDA, extra_dates=[date(2026, 3, 16)], holidays_version="x", revision=7
    )
    older = CalendarChanged(pemda=PEMDA, extra_dates=[], holidays_version="x", revision=6)
    for payload in (announced, older):  # an older revision arriving late changes nothing
        envelope = new_event(payload, producer="sla", complaint_id=None)
        assert await world.handle([envelope]) == []
    stored = await world.apps.routing_db["calendars"].find_one({"_id": PEMDA})
    assert stored is not None and (stored["revision"], stored["extra_dates"]) == (7, ["2026-03-16"])

    other = await open_staff_mailing(
        world.apps.routing_db, RoutingSettings(mongo_uri=endpoints.mongo_uri, mail=world.mail_settings)
    )
    assert other.book.revisions() == {}
    friday = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # Fri 13 March 2026, 16:00 WIB
    assigned = _assignment(world.seeded.id, 10, at=friday)
    await stage_staff_mail([assigned], replace(other, max_age=timedelta(days=3650)))
    assert other.book.revisions() == {PEMDA: 7}
    [staged] = [
        m for m in await world.store.of_complaint(world.seeded.id) if m["event_id"] == assigned.event_id
    ][:1]
    # Mon 16 March off: the five working days are Tue 17, Wed 25, Thu 26, Fri 27 and Mon 30 March.
    assert staged["facts"]["due"] == datetime(2026, 3, 31, tzinfo=WIB).isoformat()
