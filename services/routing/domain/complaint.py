"""Routing's complaint document and the pure rules about it: the state machine's view of it
(`as_complaint`, `store_complaint`), a new complaint before its first event, what staff and OPD
systems see of people's text, a feed entry, the queues' nearest due from sla's clock snapshots,
and which lifecycle action a reporter's command is.

The document is still a dict on this boundary (it is what the store keeps): the outbox, the feed
entries not yet written and the clock snapshots travel with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.routing.domain import duplicates as dup
from services.routing.domain import lifecycle as lc
from services.routing.domain.lifecycle import Complaint
from services.routing.domain.table import RouteDecision
from shared import events as ev
from shared.calendar import pemda_of
from shared.envelope import Envelope, Payload
from shared.events import ClockEvent, ComplaintSubmitted
from shared.privacy import mask_contacts
from shared.states import OPEN_STATES

Document = dict[str, Any]

# `sla_due` of a complaint without a running clock: sorts last, keeps the queue index total.
NO_DUE = datetime(9999, 1, 1, tzinfo=UTC)
COMPLAINT_FIELDS = (
    "state",
    "pemda",
    "region_code",
    "category",
    "opd_id",
    "tier",
    "transfers",
    "reopened",
    "surveyed",
    "anonymous",
    "confidential",
    "resolved_at",
    "resolved_opd",
    "claimed_by",
    "lease_until",
    "merged_into",
    "triage",
)
TEXT_FIELDS = ("message", "answer", "comment", "reason")
HANDLED_KEPT = 100  # command ids remembered per complaint (a complaint sees a handful)
# The feed entries a change staged next to its messages (shared/outbox.py's `outbox`): written
# once the messages are on Kafka, cleared with them (adapters/delivery.py).
FEED_OUTBOX = "feed_outbox"
# States whose complaints wait in a queue ordered by their nearest due.
QUEUED_STATES = ("assigned", "in_progress", "waiting_reporter", "triage")


def as_complaint(doc: Document) -> Complaint:
    values = {f: doc[f] for f in COMPLAINT_FIELDS if doc.get(f) is not None}
    return Complaint(id=doc["_id"], reply_due=reply_due(doc), **values)


def reply_due(doc: Document) -> datetime | None:
    """The current `reporter_reply` clock's due from sla's clock events (kept in `dues`)."""
    current = [
        d["due"]
        for d in (doc.get("dues") or {}).values()
        if d.get("clock") == "reporter_reply" and d.get("state") in ("running", "breached")
    ]
    if not current:
        return None
    due: datetime = max(current)
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def store_complaint(doc: Document, complaint: Complaint) -> None:
    for f in COMPLAINT_FIELDS:
        doc[f] = getattr(complaint, f)


def triage_explained(triage: Mapping[str, Any] | None, transfers: int = 0) -> str:
    """Why a complaint waits in triage, for the coordinator, from the `ComplaintTriaged` event's
    rule (table.py `route`, `route_text`; lifecycle.py `_transfer`)."""
    if not triage:
        return "Alasan triase tidak tercatat (pengaduan ini masuk triase sebelum alasannya disimpan)."
    rule = str(triage.get("rule") or "").removeprefix("classified:")  # the category guessed, then
    if rule == "uncategorised:below-threshold":
        return (
            "Klasifikasi otomatis kurang yakin akan kategorinya (lihat tebakannya): "
            "tetapkan kategori dan OPD yang berwenang."
        )
    if rule == "uncategorised":
        return "Pengaduan tanpa kategori: tetapkan kategori dan OPD yang berwenang."
    if rule == "kabkota-category-on-province-region":
        return (
            "Kategori ini urusan kabupaten/kota, tetapi wilayahnya hanya sampai provinsi, sehingga "
            "tidak ada OPD yang dapat dipilih otomatis: pastikan kabupaten/kotanya, lalu disposisikan."
        )
    if triage.get("via") == "transfer" or rule.startswith("transfers>="):
        return (
            f"Batas pengalihan tercapai: sudah dialihkan {transfers} kali antar-OPD sebagai bukan "
            "wewenang. Admin Koordinator memutuskan OPD yang berwenang."
        )
    if rule == "table:lainnya":
        return "Kategori Lainnya tidak memiliki OPD baku: tetapkan kategori dan OPD yang berwenang."
    reason = str(triage.get("reason") or "").strip()
    if reason:
        return f"Alasan dari penentuan OPD otomatis: {reason}."
    return "Perlu keputusan Admin Koordinator."


def shown_text(text: str, anonymous: bool) -> str:
    """Text written by people, as staff and OPD systems see it (DESIGN §3 masking)."""
    return mask_contacts(text) if anonymous else text


def feed_entry(envelope: Envelope, opd_id: str, state: str, anonymous: bool) -> Document:
    data = envelope.payload.model_dump(mode="json")
    for name in TEXT_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = shown_text(data[name], anonymous)
    return {
        "_id": f"{envelope.event_id}:{opd_id}",
        "opd_id": opd_id,
        "complaint_id": envelope.complaint_id,
        "seq": envelope.seq,
        "type": envelope.type,
        "at": envelope.occurred_at,
        "state": state,
        "data": data,
    }


def new_complaint(
    envelope: Envelope,
    submitted: ComplaintSubmitted,
    decision: RouteDecision,
    fingerprint: dup.Fingerprint | None = None,
) -> Document:
    """Routing's document of a complaint before its first event (state `received`, seq 0), with
    what duplicate search needs (`fingerprint`: its text's shingles and band hashes)."""
    assert envelope.complaint_id is not None
    fingerprint = fingerprint or dup.Fingerprint((), ())
    location = submitted.location
    return {
        "_id": envelope.complaint_id,
        "state": "received",
        "seq": 0,
        "opd_id": None,
        "pemda": pemda_of(submitted.region_code),
        "region_code": submitted.region_code,
        "category": decision.category,
        "classification": submitted.classification,
        "anonymous": submitted.anonymous,
        "confidential": submitted.confidential,
        "reporter_ref": submitted.reporter_ref,
        "title": submitted.title,
        "description": submitted.description,
        "submitted_at": envelope.occurred_at,
        "location": {"lat": location.lat, "lon": location.lon} if location else None,
        "dup_shingles": list(fingerprint.shingles),
        "dup_bands": list(fingerprint.bands),
        "dup_keys": [],
        "duplicates": [],
        "merged_into": None,
        "tier": "normatif",
        "transfers": 0,
        "reopened": False,
        "sla_due": NO_DUE,
        "dues": {},
        "handled_commands": [],
        "outbox": [],
        "outbox_since": None,
        FEED_OUTBOX: [],
        "rev": 0,
    }


def place_of(doc: Document) -> dup.Place:
    return dup.Place(doc["pemda"], doc.get("category"), doc["region_code"], doc.get("location"))


def duplicate_keys(doc: Document) -> list[str]:
    """The keys an open complaint is found by as a possible duplicate (none once it is not open:
    the index holds open complaints only)."""
    if doc["state"] not in OPEN_STATES:
        return []
    return dup.stored_keys(place_of(doc), doc.get("dup_bands") or ())


def suggest(
    doc: Document, candidates: list[Document], min_similarity: float = dup.MIN_SIMILARITY
) -> list[Document]:
    """The confirmed duplicates among a new complaint's key matches, best first (stored on it)."""
    place, shingles = place_of(doc), doc.get("dup_shingles") or ()
    found = (
        dup.confirm(place, shingles, place_of(c), c.get("dup_shingles") or (), c["_id"], min_similarity)
        for c in candidates
        if c["_id"] != doc["_id"] and c["state"] in OPEN_STATES
    )
    return [s.as_doc() for s in dup.best(s for s in found if s is not None)]


def dues_updates(
    by_complaint: dict[str, list[ClockEvent]], docs: dict[str, Document]
) -> list[tuple[str, int, Document, datetime]]:
    """(complaint id, rev read, dues, nearest running due) of the complaints the clock snapshots
    change; each clock's newest version wins."""
    updates: list[tuple[str, int, Document, datetime]] = []
    for complaint_id, clocks in by_complaint.items():
        doc = docs.get(complaint_id)
        if doc is None:
            continue
        dues: Document = dict(doc.get("dues") or {})
        changed = False
        for snap in clocks:
            key = snap.clock_id.replace(".", "_")  # field names must not contain dots
            if dues.get(key, {}).get("v", 0) >= snap.version:
                continue
            changed = True
            dues[key] = {
                "clock": snap.clock,
                "opd_id": snap.opd_id,
                "due": snap.due_at,
                "started": snap.started_at,  # the workbench's colour (domain/workbench.py)
                "state": snap.state,
                "v": snap.version,
            }
        if changed:
            running = [
                d["due"]
                for d in dues.values()
                if d["state"] in ("running", "breached")
                and d["due"] is not None
                and d["clock"] != "reporter_reply"
            ]
            updates.append((complaint_id, doc["rev"], dues, min(running) if running else NO_DUE))
    return updates


def command_action(payload: Payload) -> lc.Action:
    """The lifecycle action a reporter's (or sla's) command on `complaints.commands` asks for."""
    if isinstance(payload, ev.AddInformation):
        return lc.AddInfo(payload.message)
    if isinstance(payload, ev.GiveFeedback):
        return lc.Feedback(payload.rating, payload.comment)
    if isinstance(payload, ev.SubmitSurvey):
        return lc.Survey(payload.version, dict(payload.scores))
    if isinstance(payload, ev.ReopenComplaint):
        return lc.Reopen(payload.reason)
    if isinstance(payload, ev.WithdrawComplaint):
        return lc.Withdraw(payload.reason)
    if isinstance(payload, ev.CloseExpired):
        return lc.CloseExpired(payload.clock_id)
    raise ValueError(f"{type(payload).__name__} is not a command")
