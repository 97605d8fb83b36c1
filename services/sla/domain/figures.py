"""What a compliance answer shows, computed from the report counters (pure): counter documents
added up, on-time percentages, response-time percentiles from the merged histograms, one row per
OPD or pemda and their total."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from services.sla.domain.reports import (
    AGING,
    HK,
    RT_EDGES,
    Doc,
    aging_buckets,
    percentile,
)
from shared.regions import lookup

CLOCKS = ("response", "resolution", "verification")


# --- summing counter documents ------------------------------------------------------------------


def add_counts(total: dict[str, Any], doc: Doc) -> None:
    for key, value in doc.items():
        if isinstance(value, dict):
            add_counts(total.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def sum_counts(docs: Iterable[Doc]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for doc in docs:
        add_counts(
            total, {k: v for k, v in doc.items() if k not in ("_id", "level", "scope", "pemda", "week")}
        )
    return total


def on_time_pct(met: int, breached: int) -> float | None:
    return round(100 * met / (met + breached), 1) if met + breached else None


def histogram(counts: dict[str, Any]) -> list[int]:
    rt = counts.get("rt", {})
    return [int(rt.get(str(i), 0)) for i in range(len(RT_EDGES))]


def rounded_seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def in_hk(value: float | None) -> float | None:
    return None if value is None else round(value / HK, 2)


def clock_summary(counts: dict[str, Any], clock: str) -> dict[str, Any]:
    met, breached = int(counts.get(f"{clock}_met", 0)), int(counts.get(f"{clock}_breached", 0))
    return {"met": met, "breached": breached, "on_time_pct": on_time_pct(met, breached)}


def summarize(
    scope: str, pemda: str, weekly: Sequence[Doc], gauge: Doc | None, today: date
) -> dict[str, Any]:
    """One compliance row from an OPD's (or a pemda's) weekly counters and current gauges."""
    counts = sum_counts(weekly)
    g = gauge or {}
    hist = histogram(counts)
    median, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    response = clock_summary(counts, "response")
    answered = int(counts.get("rt_n", 0))
    response.update(
        answered=answered,
        mean_seconds=round(counts.get("rt_sum", 0) / answered) if answered else None,
        median_seconds=rounded_seconds(median),
        p90_seconds=rounded_seconds(p90),
        median_hk=in_hk(median),
        p90_hk=in_hk(p90),
    )
    clocks = {"response": response, **{c: clock_summary(counts, c) for c in ("resolution", "verification")}}
    met = sum(int(c["met"]) for c in clocks.values())
    breached = sum(int(c["breached"]) for c in clocks.values())
    misrouted = int(counts.get("misrouted_s", 0))
    return {
        "scope": scope,
        "pemda": pemda,
        "pemda_name": pemda_name(pemda),
        "assigned": int(counts.get("assigned", 0)),
        "met": met,
        "breached": breached,
        "on_time_pct": on_time_pct(met, breached),
        **clocks,
        "open": int(g.get("open", 0)),
        "breached_open": int(g.get("breached_response", 0)) + int(g.get("breached_resolution", 0)),
        "escalated": int(g.get("escalated", 0)),
        "escalation_levels": {str(n): int(g.get(f"level_{n}", 0)) for n in (1, 2, 3)},
        "aging": aging_buckets(g.get("open_days", {}), pemda, today),
        "transfers_out": int(counts.get("transfers_out", 0)),
        "transfers_in": int(counts.get("transfers_in", 0)),
        "misrouted_seconds": misrouted,
        "misrouted_hk": round(misrouted / HK, 2),
        "_hist": hist,
    }


def total_row(rows: Sequence[dict[str, Any]], scope: str, pemda: str | None) -> dict[str, Any]:
    """The rows added up (percentiles from the merged histograms, not averaged)."""
    sums: dict[str, Any] = {}
    for row in rows:
        add_counts(sums, {k: v for k, v in row.items() if not k.startswith("_") and "pct" not in k})
    hist = (
        [sum(col) for col in zip(*(r["_hist"] for r in rows), strict=True)] if rows else [0] * len(RT_EDGES)
    )
    median, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    response = sums.get("response", {"met": 0, "breached": 0, "answered": 0})
    answered = int(response.get("answered", 0))
    mean = None
    if answered:
        weighted = sum((r["response"]["mean_seconds"] or 0) * r["response"]["answered"] for r in rows)
        mean = round(weighted / answered)
    response.update(
        mean_seconds=mean,
        median_seconds=rounded_seconds(median),
        p90_seconds=rounded_seconds(p90),
        median_hk=in_hk(median),
        p90_hk=in_hk(p90),
    )
    for name in CLOCKS:
        part = sums.setdefault(name, {"met": 0, "breached": 0})
        part["on_time_pct"] = on_time_pct(int(part.get("met", 0)), int(part.get("breached", 0)))
    sums.update(
        scope=scope,
        pemda=pemda,
        pemda_name=pemda_name(pemda) if pemda else None,
        on_time_pct=on_time_pct(int(sums.get("met", 0)), int(sums.get("breached", 0))),
        misrouted_hk=round(int(sums.get("misrouted_seconds", 0)) / HK, 2),
    )
    for key in (
        "assigned",
        "met",
        "breached",
        "open",
        "breached_open",
        "escalated",
        "transfers_out",
        "transfers_in",
    ):
        sums.setdefault(key, 0)
    sums.setdefault("misrouted_seconds", 0)
    sums.setdefault("aging", {name: 0 for name, _, _ in AGING})
    sums.setdefault("escalation_levels", {"1": 0, "2": 0, "3": 0})
    return sums


def pemda_name(code: str) -> str | None:
    region = lookup(code)
    return region.name if region else None


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}
