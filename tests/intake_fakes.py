"""In-memory stand-ins for intake's ports (services/intake/ports.py), for handler tests and the
store contract suite (tests/integration/test_intake_store_contract.py runs the same cases over
this fake and the Mongo store, so the two cannot drift apart)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from services.intake.adapters.idempotency import key_id
from services.intake.adapters.notifications import RECIPIENT_FIELDS
from services.intake.adapters.store import VIEW_FIELDS, complaint_document, key_document
from services.intake.domain.commands import CommandOutcome
from services.intake.domain.complaint import KeyClaim, NewComplaint, ReporterCommand
from services.intake.domain.tracking import Backoff, new_code
from services.intake.ports import Document, OutgoingMessage
from shared import clock, outbox
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing

_IDENTITY_OF = ("reporter", "reporter_ref", "anonymous", "confidential", "opd_id", "pemda", "region_code")


def _pick(doc: Document, fields: Sequence[str]) -> Document:
    return {"_id": doc["_id"], **{f: copy.deepcopy(doc[f]) for f in fields if f in doc}}


class FakeComplaintStore:
    """The ComplaintStore port in dictionaries (documents as the Mongo store writes them)."""

    def __init__(self) -> None:
        self.complaints: dict[str, Document] = {}
        self.commands: dict[str, Document] = {}
        self.keys: dict[str, Document] = {}
        self.audit: list[Document] = []
        self.abandoned_ids: dict[str, Document] = {}
        self.saved_calendars: dict[str, tuple[int, list[str]]] = {}

    async def add(
        self, complaint: NewComplaint, messages: Sequence[Outgoing], claim: KeyClaim | None
    ) -> datetime | Document:
        record = complaint_document(complaint)
        since = outbox.stage(record, list(messages))
        if claim is None:
            await self.insert(record)
            return since
        earlier = await self.insert_with_key(record, key_document(claim))
        return since if earlier is None else earlier

    async def add_command(
        self, command: ReporterCommand, messages: Sequence[Outgoing], claim: KeyClaim | None
    ) -> datetime | Document:
        record = {"_id": command.id, "complaint_id": command.complaint_id, "command": command.command,
                  "status": "pending", "reason": None, "created_at": command.created_at}  # fmt: skip
        since = outbox.stage(record, list(messages))
        earlier = await self.insert_command(record, None if claim is None else key_document(claim))
        return since if earlier is None else earlier

    def _together(self, into: dict[str, Document], record: Document, claim: Document) -> Document | None:
        hashed = key_id(claim["_id"])
        if hashed in self.keys or record["_id"] in into:
            return copy.deepcopy(self.keys.get(hashed, {}))
        into[record["_id"]] = copy.deepcopy(record)
        self.keys[hashed] = {**copy.deepcopy(claim), "_id": hashed}
        return None

    async def insert_with_key(self, record: Document, claim: Document) -> Document | None:
        return self._together(self.complaints, record, claim)

    async def find_key(self, key: str) -> Document | None:
        found = self.keys.get(key_id(key))
        return copy.deepcopy(found) if found is not None else None

    async def insert(self, doc: Document) -> None:
        if doc["_id"] in self.complaints:
            raise KeyError(f"duplicate complaint {doc['_id']}")
        self.complaints[doc["_id"]] = copy.deepcopy(doc)

    async def get(self, complaint_id: str) -> Document | None:
        found = self.complaints.get(complaint_id)
        return None if found is None else {k: copy.deepcopy(v) for k, v in found.items() if k != "reporter"}

    async def identity_of(self, complaint_id: str) -> Document | None:
        found = self.complaints.get(complaint_id)
        return None if found is None else _pick(found, _IDENTITY_OF)

    async def reporters(self, ids: Sequence[str]) -> dict[str, Document | None]:
        return {i: copy.deepcopy(self.complaints[i].get("reporter")) for i in ids if i in self.complaints}

    async def abandoned(self, ids: Sequence[str]) -> dict[str, Document]:
        return {i: dict(self.abandoned_ids[i]) for i in ids if i in self.abandoned_ids}

    async def mark_withdrawn(self, ids: Sequence[str]) -> None:
        for i in ids:
            if i in self.abandoned_ids:
                self.abandoned_ids[i]["withdrawn"] = True

    async def load_views(self, ids: Sequence[str]) -> dict[str, Document]:
        return {i: _pick(self.complaints[i], VIEW_FIELDS) for i in ids if i in self.complaints}

    async def save_views(self, docs: Sequence[Document]) -> None:
        stale = [d for d in docs if self.complaints.get(d["_id"], {}).get("rev") != d["rev"]]
        for doc in docs:
            if doc not in stale:
                fields = {k: copy.deepcopy(v) for k, v in doc.items() if k not in ("_id", "rev")}
                self.complaints[doc["_id"]].update(fields, rev=doc["rev"] + 1)
        if stale:
            raise ConcurrentUpdate(f"{len(stale)} view(s) changed concurrently")

    async def insert_command(self, record: Document, claim: Document | None = None) -> Document | None:
        if claim is None:
            self.commands[record["_id"]] = copy.deepcopy(record)
            return None
        return self._together(self.commands, record, claim)

    async def get_command(self, complaint_id: str, command_id: str) -> Document | None:
        found = self.commands.get(command_id)
        return copy.deepcopy(found) if found is not None and found["complaint_id"] == complaint_id else None

    async def pending_commands(self, complaint_id: str) -> set[str]:
        return {
            c["command"]
            for c in self.commands.values()
            if c["complaint_id"] == complaint_id and c["status"] == "pending"
        }

    async def settle_commands(self, outcomes: Mapping[str, CommandOutcome]) -> None:
        for command_id, (status, reason) in outcomes.items():
            found = self.commands.get(command_id)
            if found is not None and (found["status"] == "pending" or found.get("dead_lettered") is True):
                found.update(status=status, reason=reason, dead_lettered=False)

    async def reject_dead_lettered(self, dead: Mapping[str, Mapping[str, Any]], reason: str) -> int:
        rejected = 0
        for command_id, letter in dead.items():
            found = self.commands.get(command_id)
            if found is not None and found["status"] == "pending":
                found.update(status="rejected", reason=reason, dead_lettered=True, dead_letter=dict(letter))
                rejected += 1
        return rejected

    async def audit_identity_read(self, record: Document) -> None:
        self.audit.append(copy.deepcopy(record))

    async def erasure_texts(self, complaint_id: str) -> Document | None:
        doc = self.complaints.get(complaint_id)
        fields = ("reporter", "title", "description", "staff_title", "staff_description")
        return None if doc is None else _pick(doc, fields)

    async def erase_identity(self, complaint_id: str, changes: Document, audit: Document) -> bool:
        if all(a["_id"] != audit["_id"] for a in self.audit):
            self.audit.append(copy.deepcopy(audit))
        doc = self.complaints.get(complaint_id)
        if doc is None or not isinstance(doc.get("reporter"), dict):
            return False
        doc.update(copy.deepcopy(changes))
        return True

    async def ended_before(self, cutoff: datetime, limit: int) -> list[str]:
        ended = [
            d
            for d in self.complaints.values()
            if d.get("closed_at") is not None
            and d["closed_at"] < cutoff
            and isinstance(d.get("reporter"), dict)
        ]
        return [d["_id"] for d in sorted(ended, key=lambda d: d["closed_at"])[:limit]]

    async def reported_by(self, *, email: str | None, phone: str | None) -> list[str]:
        def theirs(reporter: Any) -> bool:
            if not isinstance(reporter, dict):
                return False
            same_email = bool(email) and (reporter.get("email") or "").lower() == (email or "").lower()
            return same_email or (bool(phone) and reporter.get("phone") == phone)

        return [d["_id"] for d in self.complaints.values() if theirs(d.get("reporter"))]

    async def identity_reads(self, complaint_id: str, limit: int = 200) -> list[Document]:
        found = [r for r in self.audit if r["complaint_id"] == complaint_id]
        return copy.deepcopy(sorted(found, key=lambda r: r["at"], reverse=True)[:limit])

    async def save_calendar(self, pemda: str, revision: int, extra_dates: Sequence[date]) -> None:
        current = self.saved_calendars.get(pemda)
        if current is None or current[0] < revision:
            self.saved_calendars[pemda] = (revision, sorted(d.isoformat() for d in extra_dates))

    async def calendars(self) -> list[tuple[str, int, list[date]]]:
        return [
            (pemda, revision, [date.fromisoformat(d) for d in dates])
            for pemda, (revision, dates) in self.saved_calendars.items()
        ]


class FakePublisher:
    """The Publisher port that keeps what it was given: `published` (acknowledged at once) and
    `soon` (collection, document id, messages) in order."""

    def __init__(self) -> None:
        self.published: list[Outgoing] = []
        self.soon: list[tuple[str, str, list[Outgoing]]] = []

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        self.published.extend(messages)

    def publish_soon(
        self, collection: str, doc_id: str, since: datetime, messages: Sequence[Outgoing]
    ) -> None:
        self.soon.append((collection, doc_id, list(messages)))


class FakeNotificationStore:
    """The NotificationStore port in dictionaries, over a FakeComplaintStore's records. Due
    instants are on `wall` (the Mongo store's are on the wall clock); a test moves it."""

    def __init__(self, complaints: FakeComplaintStore, wall: Callable[[], datetime] = clock.wall) -> None:
        self.notifications: dict[str, Document] = {}
        self.caps: dict[str, list[str]] = {}
        self._complaints = complaints
        self._wall = wall

    async def stage(self, notifications: Sequence[Document]) -> int:
        new = 0
        for n in notifications:
            if n["_id"] not in self.notifications:
                not_before = n.get("not_before")
                shift = max(timedelta(0), not_before - clock.now()) if not_before else timedelta(0)
                self.notifications[n["_id"]] = {**copy.deepcopy(n), "outbox_since": self._wall() + shift}
                new += 1
        return new

    async def cancel_reminders(self, open_requests: Mapping[str, str | None]) -> None:
        for n in self.notifications.values():
            if (
                n["complaint_id"] in open_requests
                and n["kind"] == "information_reminder"
                and n["state"] == "pending"
                and n["event_id"] != open_requests[n["complaint_id"]]
            ):
                n.update(state="cancelled", at=clock.now(), outbox_since=None)

    async def due(self, limit: int) -> list[Document]:
        now = self._wall()
        found = [n for n in self.notifications.values() if n["outbox_since"] and n["outbox_since"] <= now]
        return copy.deepcopy(sorted(found, key=lambda n: n["outbox_since"])[:limit])

    async def claim(self, notification: Document, lease_seconds: float) -> datetime | None:
        current = self.notifications[notification["_id"]]
        if current["outbox_since"] != notification["outbox_since"]:
            return None
        current["outbox_since"] = until = self._wall() + timedelta(seconds=lease_seconds)
        return until

    async def settle(self, notification_id: str, claimed: datetime, changes: Mapping[str, Any]) -> bool:
        current = self.notifications[notification_id]
        if current["outbox_since"] != claimed:
            return False
        current.update(copy.deepcopy(dict(changes)), outbox_since=None)
        return True

    async def retry_later(
        self, notification_id: str, claimed: datetime, after_seconds: float, error: str
    ) -> None:
        current = self.notifications[notification_id]
        if current["outbox_since"] == claimed:
            current.update(outbox_since=self._wall() + timedelta(seconds=after_seconds), error=error)
            current["attempts"] += 1

    async def recipient(self, complaint_id: str) -> Document | None:
        found = self._complaints.complaints.get(complaint_id)
        return None if found is None else _pick(found, RECIPIENT_FIELDS)

    async def count_toward_cap(self, address_key: str, day: str, notification_id: str) -> int:
        ids = self.caps.setdefault(f"{address_key}:{day}", [])
        if notification_id not in ids:
            ids.append(notification_id)
        return ids.index(notification_id) + 1

    async def forget_pin(self, complaint_id: str) -> None:
        if not any(
            n["complaint_id"] == complaint_id and n["kind"] == "received" and n["state"] == "pending"
            for n in self.notifications.values()
        ):
            self._complaints.complaints[complaint_id]["pin_sealed"] = None

    async def opt_out(self, complaint_id: str, at: datetime) -> bool:
        record = self._complaints.complaints[complaint_id]
        first = record.get("notify_opt_out_at") is None
        if first:
            record["notify_opt_out_at"] = at
        for n in self.notifications.values():
            if n["complaint_id"] == complaint_id and n["state"] == "pending":
                n.update(state="opted_out", at=at, outbox_since=None)
        return first

    async def of_complaint(self, complaint_id: str) -> list[Document]:
        found = [n for n in self.notifications.values() if n["complaint_id"] == complaint_id]
        return copy.deepcopy(sorted(found, key=lambda n: (*n["when"], n["_id"])))


class FakeSender:
    """A NotificationSender that keeps what it sent (or fails as told: `fail_with`)."""

    def __init__(self, *channels: str) -> None:
        self.channels = frozenset(channels)
        self.sent: list[OutgoingMessage] = []
        self.fail_with: Exception | None = None

    async def send(self, message: OutgoingMessage) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)
        return message.id

    async def close(self) -> None:
        return None


class FakeTrackingStore:
    """The TrackingStore port in dictionaries (adapters/tracking.py is the real one)."""

    def __init__(self) -> None:
        self.codes: dict[str, Document] = {}
        self.sessions: dict[str, tuple[str, datetime]] = {}
        self.devices: dict[str, Document] = {}

    async def reserve_code(self, complaint_id: str, pin_hash_of: Callable[[str], str]) -> str:
        code = new_code()
        assert code not in self.codes
        self.codes[code] = {"_id": code, "complaint_id": complaint_id, "pin_hash": pin_hash_of(code),
                            "failures": 0, "retry_at": None}  # fmt: skip
        return code

    async def release_code(self, code: str) -> None:
        self.codes.pop(code, None)

    async def code(self, code: str) -> Document | None:
        return copy.deepcopy(self.codes.get(code))

    async def take_try(
        self, counter: str, failures: int, now: datetime, backoff: Backoff, *, device: bool = False
    ) -> Document | None:
        found = (self.devices if device else self.codes).get(counter)
        if found is None or found["failures"] != failures or (found["retry_at"] and found["retry_at"] > now):
            return None
        found.update(
            failures=failures + 1, retry_at=now + timedelta(seconds=backoff.retry_after(failures + 1))
        )
        return copy.deepcopy(found)

    async def right_pin(self, counter: str, *, device: bool = False) -> None:
        (self.devices if device else self.codes)[counter].update(failures=0, retry_at=None)

    async def device(self, key: str) -> Document | None:
        found = self.devices.get(key)
        return copy.deepcopy(found) if found and found["expires_at"] > clock.wall() else None

    async def trust_device(self, key: str, ttl: timedelta) -> None:
        self.devices.setdefault(key, {"_id": key, "failures": 0, "retry_at": None})["expires_at"] = (
            clock.wall() + ttl
        )

    async def open_session(self, session: str, complaint_id: str, ttl: timedelta) -> None:
        self.sessions[session] = (complaint_id, clock.wall() + ttl)

    async def session_complaint(self, session: str) -> str | None:
        found = self.sessions.get(session)
        return found[0] if found and found[1] > clock.wall() else None
