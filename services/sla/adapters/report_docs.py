"""The report records and counters as MongoDB documents: the records' stored shape (the field
names are the stored format of `report_complaints` and `report_clocks`), the counter increments
grouped per document, and the breach and escalation projections the supervisor lists read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.sla.domain.holdings import Holding
from services.sla.domain.ladder import EscalationStep
from services.sla.domain.reports import ClockRecord, ComplaintRecord, Doc, opd_pemda

# --- records --------------------------------------------------------------------------------------


def _holding_doc(h: Holding) -> Doc:
    return {
        "opd_id": h.opd_id,
        "pemda": h.pemda,
        "start": h.since,
        "end": h.until,
        "ended_by": h.outcome,
        "seconds": h.working_ms // 1000 if h.until is not None else None,
        "via": h.via,
    }


def _holding(doc: Mapping[str, Any]) -> Holding:
    seconds = doc.get("seconds")
    return Holding(
        opd_id=doc["opd_id"],
        pemda=doc["pemda"],
        since=doc["start"],
        until=doc.get("end"),
        outcome=doc.get("ended_by"),
        working_ms=(seconds or 0) * 1000,
        via=doc.get("via"),  # absent in records written before it was kept
    )


def _step_doc(e: EscalationStep) -> Doc:
    return {"kind": e.kind, "level": e.level, "at": e.at, "reason": e.reason, "opd_id": e.opd_id}


def _step(doc: Mapping[str, Any]) -> EscalationStep:
    return EscalationStep(doc["level"], doc["at"], doc.get("opd_id"), None, doc["reason"], doc["kind"])


def _contrib_doc(contrib: Mapping[str, int]) -> list[list[Any]]:
    return [[k, v] for k, v in sorted(contrib.items())]


def complaint_doc(record: ComplaintRecord) -> Doc:
    current = record.current
    return {
        "_id": record.complaint_id,
        "last_seq": record.last_seq,
        "pemda": record.pemda,
        "submitted_at": record.submitted_at,
        "status": record.status,
        "opd_id": current.opd_id if current else None,
        "holdings": [_holding_doc(h) for h in record.holdings],
        "transfers": record.transfers,
        "resolved_by": record.resolved_by,
        "closed_at": record.closed_at,
        "close_outcome": record.close_outcome,
        "rating": record.rating,
        "survey": record.survey,
        "level": record.level,
        "escalation_opd": record.escalation_opd,
        "escalations": [_step_doc(e) for e in record.escalations],
        "seen_events": record.seen_events,
        "classifier": {
            "guess": record.guess,
            "confidence": record.guess_confidence,
            "at": record.classified_at,
            "auto": record.auto_routed,
            "coordinator_category": record.coordinator_category,
        },
        "contrib": _contrib_doc(record.contrib),
        "rev": record.rev,
    }


def complaint_record(doc: Mapping[str, Any]) -> ComplaintRecord:
    classifier = doc.get("classifier") or {}
    return ComplaintRecord(
        complaint_id=doc["_id"],
        last_seq=doc["last_seq"],
        pemda=doc["pemda"],
        submitted_at=doc["submitted_at"],
        status=doc["status"],
        holdings=[_holding(h) for h in doc["holdings"]],
        transfers=doc["transfers"],
        resolved_by=doc["resolved_by"],
        closed_at=doc["closed_at"],
        close_outcome=doc["close_outcome"],
        rating=doc["rating"],
        survey=doc.get("survey"),  # absent in records written before the SKM survey
        level=doc["level"],
        escalation_opd=doc["escalation_opd"],
        escalations=[_step(e) for e in doc["escalations"]],
        seen_events=list(doc["seen_events"]),
        # absent in records written before the classifier figures existed
        guess=classifier.get("guess"),
        guess_confidence=classifier.get("confidence"),
        classified_at=classifier.get("at"),
        auto_routed=bool(classifier.get("auto")),
        coordinator_category=classifier.get("coordinator_category"),
        contrib={k: v for k, v in doc["contrib"]},
        rev=doc["rev"],
    )


def clock_doc(record: ClockRecord) -> Doc:
    doc = {k: v for k, v in vars(record).items() if k not in ("clock_id", "contrib")}
    return {"_id": record.clock_id, **doc, "contrib": _contrib_doc(record.contrib)}


def clock_record(doc: Mapping[str, Any]) -> ClockRecord:
    fields = {k: v for k, v in doc.items() if k not in ("_id", "contrib")}
    return ClockRecord(clock_id=doc["_id"], contrib={k: v for k, v in doc["contrib"]}, **fields)


# --- counters as database writes ------------------------------------------------------------------


@dataclass
class CounterWrites:
    """Counter increments grouped per document: `weekly[_id] = (set_on_insert, {field: n})`;
    `monthly` the same per calendar month (domain/monthly.py: the public page, the IKM and the
    classifier figures)."""

    weekly: dict[str, tuple[Doc, Counter[str]]] = field(default_factory=dict)
    monthly: dict[str, tuple[Doc, Counter[str]]] = field(default_factory=dict)
    gauges: dict[str, tuple[Doc, Counter[str]]] = field(default_factory=dict)
    emptied_days: set[tuple[str, str]] = field(default_factory=set)


def counter_writes(deltas: Mapping[str, int]) -> CounterWrites:
    out = CounterWrites()

    def add(target: dict[str, tuple[Doc, Counter[str]]], doc_id: str, base: Doc, name: str, n: int) -> None:
        if doc_id not in target:
            target[doc_id] = (base, Counter())
        target[doc_id][1][name] += n

    for key, n in deltas.items():
        kind, opd, rest = key.split("|", 2)
        pemda = opd_pemda(opd)
        if kind == "m":  # domain/monthly.py: the scope is the pemda's or the OPD's, no roll-up
            month, name = rest.split("|", 1)
            base = {"level": "opd" if "/" in opd else "pemda", "scope": opd, "pemda": pemda, "month": month}
            add(out.monthly, f"{opd}|{month}", base, name, n)
            continue
        for level, scope in (("opd", opd), ("pemda", pemda)):
            if kind == "w":
                week, name = rest.split("|", 1)
                base = {"level": level, "scope": scope, "pemda": pemda, "week": week}
                add(out.weekly, f"{scope}|{week}", base, name, n)
            else:
                base = {"level": level, "scope": scope, "pemda": pemda}
                name = rest if kind == "g" else f"open_days.{rest}"
                add(out.gauges, scope, base, name, n)
                if kind == "d" and n < 0:
                    out.emptied_days.add((scope, rest))
    return out


def apply_counter_writes(
    weekly: dict[str, Doc],
    gauges: dict[str, Doc],
    writes: CounterWrites,
    monthly: dict[str, Doc] | None = None,
) -> None:
    """The in-memory equivalent of the database writes (for fakes and tests)."""
    targets = [(weekly, writes.weekly), (gauges, writes.gauges)]
    if monthly is not None:
        targets.append((monthly, writes.monthly))
    for target, grouped in targets:
        for doc_id, (base, incs) in grouped.items():
            doc = target.setdefault(doc_id, {"_id": doc_id, **base})
            for name, n in incs.items():
                where = doc
                *path, last = name.split(".")
                for part in path:
                    where = where.setdefault(part, {})
                where[last] = where.get(last, 0) + n
    for scope, day in writes.emptied_days:
        days = gauges.get(scope, {}).get("open_days", {})
        if days.get(day, 1) <= 0:
            del days[day]


# --- projections (the breach and escalation lists) -----------------------------------------------


def ever_breached(clock: ClockRecord) -> bool:
    """Whether this clock has been breached at some version (a retraction clears `breached`)."""
    return clock.breached or any(
        h.get("type") == "SlaBreached" or h.get("state") == "breached" for h in clock.history
    )


def breach_doc(clock: ClockRecord) -> Doc | None:
    opd = clock.attributed_opd
    if not clock.breached or clock.breached_at is None or opd is None:
        return None
    late_ms = None
    if clock.stopped_at is not None:
        late_ms = int((clock.stopped_at - clock.breached_at).total_seconds() * 1000)
    return {
        "_id": clock.clock_id,
        "complaint_id": clock.complaint_id,
        "clock": clock.clock,
        "opd_id": opd,
        "pemda": opd_pemda(opd),
        "clock_pemda": clock.pemda,
        "started_at": clock.started_at,
        "due_at": clock.breached_at,
        "stopped_at": clock.stopped_at,
        "state": clock.state,
        "open": clock.stopped_at is None,
        "late_ms": late_ms,
    }


def escalation_doc(record: ComplaintRecord) -> Doc | None:
    current = record.current
    opd = record.escalation_opd or (current.opd_id if current else None)
    if record.level < 1 or not record.open or opd is None:
        return None
    raised = [e for e in record.escalations if e.kind == "raised"]
    reached = [e for e in raised if e.level <= record.level] or raised
    last = reached[-1] if reached else None
    return {
        "_id": record.complaint_id,
        "opd_id": opd,
        "pemda": opd_pemda(opd),
        "complaint_pemda": record.pemda,
        "current_opd_id": current.opd_id if current else None,
        "level": record.level,
        "raised_at": last.at if last else None,
        "reason": last.reason if last else None,
        "submitted_at": record.submitted_at,
        "transfers": record.transfers,
    }
