"""The IKM of PermenPANRB 14/2017 (domain/ikm.py), the monthly counters behind it and the public
page (domain/monthly.py, domain/transparency.py), with the in-memory report store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from services.sla.domain.ikm import grade, ikm, index_of, two_decimals
from services.sla.domain.monthly import RT_HK_TOP, median_hk, month_of, rt_bucket_hk
from services.sla.domain.transparency import by_scope
from shared.events import ClockStarted, ClockStopped, SlaBreached, SurveySubmitted
from shared.survey import CURRENT, SKM_2017, problems
from tests.unit.test_reports import (
    DLH,
    PEMDA,
    PUPR,
    WIB_MON,
    Complaint,
    FakeReportStore,
    answered_on_time,
    day,
    run,
)

V = SKM_2017.version


def sums(*respondents: list[int]) -> dict[str, int]:
    return {code: sum(r[i] for r in respondents) for i, code in enumerate(SKM_2017.codes)}


# --- arithmetic ---------------------------------------------------------------------------------


def test_the_index_is_the_equally_weighted_mean_of_the_element_averages_times_25() -> None:
    a = [4, 3, 4, 4, 3, 4, 4, 3, 4]
    b = [3, 3, 2, 4, 3, 3, 4, 2, 3]
    # element averages: 3.5 3 3 4 3 3.5 4 2.5 3.5 → Σ = 30 → × 1/9 × 25 = 83.333…
    assert index_of(SKM_2017, 2, sums(a, b)) == Fraction(30, 9) * 25
    found = ikm(V, 2, sums(a, b))
    assert found is not None
    assert found.index == Decimal("83.33") and (found.grade, found.label) == ("B", "Baik")
    assert found.element_averages["u8"] == Decimal("2.500") and found.respondents == 2


def test_all_fours_is_100_and_all_ones_is_25() -> None:
    top, bottom = ikm(V, 3, sums(*[[4] * 9] * 3)), ikm(V, 1, sums([1] * 9))
    assert top is not None and bottom is not None
    assert (top.index, top.grade) == (Decimal("100.00"), "A")
    assert (bottom.index, bottom.grade) == (Decimal("25.00"), "D")


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ("100.00", "A"), ("88.31", "A"), ("88.30", "B"), ("76.61", "B"), ("76.60", "C"),
        ("65.00", "C"), ("64.99", "D"), ("25.00", "D"),
    ],
)  # fmt: skip
def test_the_conversion_intervals_at_their_edges(index: str, expected: str) -> None:
    assert grade(Decimal(index))[0] == expected


def test_an_index_between_two_intervals_is_graded_at_two_decimals_rounded_half_up() -> None:
    # 88.305 lies between B's 88.30 and A's 88.31: at two decimals it is 88.31, an A.
    assert two_decimals(Fraction(88305, 1000)) == Decimal("88.31")
    assert two_decimals(Fraction(883049, 10000)) == Decimal("88.30")
    with pytest.raises(ValueError):
        grade(Decimal("24.99"))


def test_no_respondents_or_an_unknown_version_is_no_index() -> None:
    assert ikm(V, 0, {}) is None and ikm("skm-1999", 1, sums([4] * 9)) is None


def test_the_questionnaire_wants_every_element_once_on_its_scale() -> None:
    full = dict.fromkeys(CURRENT.codes, 3)
    assert len(CURRENT.elements) == 9 and problems(V, full) == []
    assert problems(V, {**full, "u3": 5}) == [("answers.u3", "bilangan bulat 1–4")]
    assert problems(V, {**full, "u3": 0})[0][0] == "answers.u3"
    assert problems(V, {k: v for k, v in full.items() if k != "u9"}) == [("answers.u9", "wajib diisi")]
    assert problems(V, {**full, "u10": 4}) == [("answers.u10", "bukan unsur kuesioner ini")]
    assert problems("v0", full)[0][0] == "version"
    assert "." not in V  # it names stored counter fields


# --- the monthly counters -------------------------------------------------------------------------


def test_median_of_working_day_histogram_interpolates_in_its_bucket() -> None:
    assert median_hk({}) is None
    assert median_hk({"0": 1, "2": 1, "4": 1}) == 2.5  # rank 1.5 falls halfway into [2, 3)
    assert median_hk({"1": 4}) == 1.5
    assert median_hk({str(RT_HK_TOP): 3}) == RT_HK_TOP  # open-ended: its lower bound
    assert rt_bucket_hk(86399) == 0 and rt_bucket_hk(86400) == 1 and rt_bucket_hk(10**9) == RT_HK_TOP


def test_months_are_local() -> None:
    # 31 March 2026 18:00 UTC is 1 April 01:00 WIB.
    assert month_of(datetime(2026, 3, 31, 18, tzinfo=UTC), PEMDA) == "2026-04"


def answers(scores: list[int]) -> dict[str, int]:
    return dict(zip(SKM_2017.codes, scores, strict=True))


def surveyed(k: Complaint, opd: str, scores: list[int], at: datetime) -> list:
    return [
        k.resolved(opd, at - timedelta(hours=2)),
        k.closed(at - timedelta(hours=1), rating=5),
        k.event(
            SurveySubmitted(opd_id=opd, version=V, scores=dict(zip(SKM_2017.codes, scores, strict=True))), at
        ),
    ]


async def test_survey_answers_count_for_the_resolving_opd_and_its_pemda_in_their_month() -> None:
    store = FakeReportStore()
    k1, k2 = Complaint("K1"), Complaint("K2")
    events = answered_on_time(k1, PUPR, day(1)) + surveyed(k1, PUPR, [4, 3, 4, 4, 3, 4, 4, 3, 4], day(3))
    events += answered_on_time(k2, PUPR, day(2)) + surveyed(k2, PUPR, [3, 3, 2, 4, 3, 3, 4, 2, 3], day(3))
    await run(store, events)
    opd = store.monthly_docs[f"{PUPR}|2026-03"]
    assert opd["ikm"][V] == {"n": 2, **sums([4, 3, 4, 4, 3, 4, 4, 3, 4], [3, 3, 2, 4, 3, 3, 4, 2, 3])}
    assert store.monthly_docs[f"{PEMDA}|2026-03"]["ikm"] == opd["ikm"]
    (pupr,) = [s for s in by_scope(list(store.monthly_docs.values()), ["2026-03"], V) if s.scope == PUPR]
    assert pupr.period.ikm == Decimal("83.33") and pupr.period.ikm_grade == "B"
    # The 1–5 rating is counted apart, weekly, and is not IKM.
    assert store.week(PUPR)["rating_n"] == 2


async def test_a_redelivered_survey_or_lifecycle_event_changes_no_monthly_counter() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    events = answered_on_time(k, PUPR, day(1)) + surveyed(k, PUPR, [4] * 9, day(3))
    await run(store, events)
    before = dict(store.monthly_docs)
    await run(store, events, events[-1:], events[::-1])
    assert store.monthly_docs == before
    # A second survey event for the same complaint (routing refuses one; were it sent) changes nothing.
    await run(
        store,
        [k.event(SurveySubmitted(opd_id=DLH, version=V, scores=dict.fromkeys(SKM_2017.codes, 1)), day(4))],
    )
    assert store.monthly_docs[f"{PUPR}|2026-03"]["ikm"][V]["n"] == 1
    assert f"{DLH}|2026-03" not in store.monthly_docs


async def test_received_open_answered_on_time_and_overdue_by_month() -> None:
    store = FakeReportStore()
    done, late = Complaint("K1"), Complaint("K2")
    await run(store, answered_on_time(done, PUPR, day(1)) + surveyed(done, PUPR, [4] * 9, day(3)))
    # K2: assigned to DLH, its response answered after its due (breached), its resolution overdue.
    late_events = [
        late.received(),
        late.assigned(DLH, WIB_MON),
        late.clock(ClockStarted, "response", DLH, WIB_MON, WIB_MON, "running", hk=1),
        late.clock(ClockStarted, "resolution", DLH, WIB_MON, WIB_MON, "running", hk=2),
        late.clock(SlaBreached, "response", DLH, WIB_MON, day(2, 0), "breached", hk=1),
        late.clock(ClockStopped, "response", DLH, WIB_MON, day(3), "breached", hk=1),
        late.clock(SlaBreached, "resolution", DLH, WIB_MON, day(3, 0), "breached", hk=2),
    ]
    await run(store, late_events)
    month = store.monthly_docs
    pemda = month[f"{PEMDA}|2026-03"]
    assert (pemda["received"], pemda["open"], pemda["overdue"]) == (2, 1, 1)
    assert (pemda["answered"], pemda["answered_on_time"]) == (2, 1)
    assert month[f"{DLH}|2026-03"]["received"] == 1 and month[f"{DLH}|2026-03"]["open"] == 1
    assert month[f"{PUPR}|2026-03"].get("open", 0) == 0
    scopes = {s.scope: s for s in by_scope(list(month.values()), ["2026-02", "2026-03"], V)}
    figures = scopes[PEMDA].period
    assert figures.answered_on_time_pct == 50.0 and figures.overdue == 1 and figures.ikm == Decimal("100.00")
    assert [m for m, _ in scopes[PEMDA].by_month] == ["2026-02", "2026-03"]
    assert scopes[PEMDA].by_month[0][1].received == 0
    # K1 answered after 1 day of working time, K2 after 3: buckets 1 and 3, median 2.0 HK.
    assert figures.median_response_hk == 2.0
