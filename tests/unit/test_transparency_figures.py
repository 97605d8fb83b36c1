"""The public transparency figures (domain/transparency.py) add monthly counter documents as
tallies; these tests hold them to the plain sums: every field of the documents added up as they
are stored (`sum_months`), the median from the merged histogram (`median_hk`) and the IKM from
the regulation's formula over the summed element scores (`ikm`)."""

from __future__ import annotations

import random
from typing import Any

from services.sla.domain.ikm import ikm
from services.sla.domain.monthly import RT_HK_TOP, median_hk, share_pct
from services.sla.domain.transparency import Figures, by_scope, figures, sum_months, summed, tally
from shared.survey import SKM_2017

V = SKM_2017.version
MONTHS = ["2026-01", "2026-02", "2026-03"]


def _doc(rng: random.Random, scope: str, month: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": f"{scope}|{month}",
        "level": "opd" if "/" in scope else "pemda",
        "scope": scope,
        "pemda": scope.split("/", 1)[0],
        "month": month,
    }
    for name in ("received", "open", "overdue", "answered", "answered_on_time"):
        if rng.random() < 0.8:  # a counter never incremented is absent
            doc[name] = rng.randint(0, 40)
    if rng.random() < 0.8:
        doc["rt_hk"] = {str(rng.randint(0, RT_HK_TOP)): rng.randint(1, 9) for _ in range(rng.randint(1, 6))}
    if rng.random() < 0.6:
        n = rng.randint(1, 5)
        doc["ikm"] = {V: {"n": n, **{c: n * rng.randint(1, 4) for c in SKM_2017.codes}}}
        if rng.random() < 0.3:  # another edition's answers are never mixed into this one's
            doc["ikm"]["skm-lain"] = {"n": 3, **dict.fromkeys(SKM_2017.codes, 3)}
    return doc


def _plain(counts: dict[str, Any]) -> Figures:
    """The figures of summed counts, computed without tallies."""
    answered, on_time = counts.get("answered", 0), counts.get("answered_on_time", 0)
    kept = counts.get("ikm", {}).get(V)
    index = ikm(V, kept["n"], {k: v for k, v in kept.items() if k != "n"}) if kept else None
    median = median_hk(counts.get("rt_hk", {}))
    return Figures(
        received=counts.get("received", 0),
        answered=answered,
        answered_on_time=on_time,
        answered_on_time_pct=share_pct(on_time, answered),
        median_response_hk=None if median is None else round(median, 1),
        open=counts.get("open", 0),
        overdue=counts.get("overdue", 0),
        ikm_respondents=index.respondents if index else 0,
        ikm=index.index if index else None,
        ikm_grade=index.grade if index else None,
    )


def _docs(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    scopes = ["33.74", "33.74/dlh", "33.74/dinas-pupr", "33.71", "11"]
    return [_doc(rng, s, m) for s in scopes for m in MONTHS if rng.random() < 0.85]


def test_each_month_and_the_period_equal_the_plain_sums_of_the_documents() -> None:
    for seed in range(40):
        docs = _docs(seed)
        for row in by_scope(docs, MONTHS, V):
            mine = [d for d in docs if d["scope"] == row.scope]
            assert row.period == _plain(sum_months(mine)), (seed, row.scope)
            per_month = {d["month"]: d for d in mine}
            for month, found in row.by_month:
                assert found == _plain(sum_months([per_month[month]] if month in per_month else [])), seed
                assert found == figures(per_month.get(month, {}), V)


def test_the_national_row_adds_up_every_pemda_month_by_month() -> None:
    for seed in range(40):
        docs = [d for d in _docs(seed) if d["level"] == "pemda"]
        national = summed(tally(docs, V), MONTHS, V, "nasional", "nasional")
        assert national is not None and national.period == _plain(sum_months(docs)), seed
        for month, found in national.by_month:
            assert found == _plain(sum_months([d for d in docs if d["month"] == month])), (seed, month)
    assert summed({}, MONTHS, V, "nasional", "nasional") is None


def test_a_month_outside_the_period_asked_is_no_row() -> None:
    docs = _docs(7)
    national = summed(tally(docs, V), MONTHS[:1], V, "nasional", "nasional")
    assert national is not None and [m for m, _ in national.by_month] == MONTHS[:1]
