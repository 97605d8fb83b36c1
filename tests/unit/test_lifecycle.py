"""The lifecycle state machine (DESIGN §2): every (state, action) pair, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.domain import lifecycle as lc
from services.routing.domain.complaint import reply_due, triage_explained
from services.routing.domain.lifecycle import Complaint, Refused, decide, evolve
from services.routing.domain.table import RouteDecision, route, route_text
from shared.envelope import Payload
from shared.states import STATES

AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Mon 10:00 WIB

ACTIONS: dict[str, lc.Action] = {
    "claim": lc.Claim("h1"),
    "answer": lc.Answer("h1", "Sudah kami cek ke lokasi."),
    "request_info": lc.RequestInfo("h1", "Mohon foto lokasi."),
    "tier": lc.SetTier("h1", "ringan"),
    "resolve": lc.Resolve("h1", "Jalan sudah ditambal."),
    "transfer": lc.Transfer("h1", "33.74/dinas-perhubungan", "Lampu jalan wewenang Dishub"),
    "dispose": lc.Dispose("k1", "33.74/dinas-pupr", "jalan-jembatan"),
    "archive": lc.Archive("k1", "Spam berulang"),
    "update": lc.Update("k1", category="jalan-jembatan", confidential=True),
    "add_info": lc.AddInfo("Ini fotonya."),
    "feedback": lc.Feedback(5, "Terima kasih"),
    "reopen": lc.Reopen("Masih berlubang"),
    "withdraw": lc.Withdraw("Sudah beres sendiri"),
    "close_expired": lc.CloseExpired("C/reporter_reply/1"),
    "survey": lc.Survey("skm-2017-1", {f"u{n}": 4 for n in range(1, 10)}),
}

# state → action → (event types, resulting state); a missing action means "refused".
TABLE: dict[str, dict[str, tuple[list[str], str]]] = {
    "received": {
        "archive": (["ComplaintArchived"], "archived"),
        "update": (["ComplaintUpdated"], "received"),
        "withdraw": (["ComplaintClosed"], "closed"),
    },
    "triage": {
        "dispose": (["ComplaintAssigned"], "assigned"),
        "archive": (["ComplaintArchived"], "archived"),
        "update": (["ComplaintUpdated"], "triage"),
        "withdraw": (["ComplaintClosed"], "closed"),
    },
    "assigned": {
        "claim": (["ComplaintClaimed"], "in_progress"),
        "answer": (["ComplaintAnswered"], "in_progress"),
        "request_info": (["InformationRequested"], "waiting_reporter"),
        "tier": (["TierChanged"], "assigned"),
        "resolve": (["ComplaintResolved"], "resolved"),
        "transfer": (["ComplaintTransferred", "ComplaintAssigned"], "assigned"),
        "add_info": (["InformationAdded"], "assigned"),
        "update": (["ComplaintUpdated"], "assigned"),
        "withdraw": (["ComplaintClosed"], "closed"),
    },
    "in_progress": {
        "claim": ([], "in_progress"),
        "answer": (["ComplaintAnswered"], "in_progress"),
        "request_info": (["InformationRequested"], "waiting_reporter"),
        "tier": (["TierChanged"], "in_progress"),
        "resolve": (["ComplaintResolved"], "resolved"),
        "transfer": (["ComplaintTransferred", "ComplaintAssigned"], "assigned"),
        "add_info": (["InformationAdded"], "in_progress"),
        "update": (["ComplaintUpdated"], "in_progress"),
        "withdraw": (["ComplaintClosed"], "closed"),
    },
    "waiting_reporter": {
        "claim": ([], "waiting_reporter"),
        "tier": (["TierChanged"], "waiting_reporter"),
        "resolve": (["ComplaintResolved"], "resolved"),
        "transfer": (["ComplaintTransferred", "ComplaintAssigned"], "assigned"),
        "add_info": (["InformationAdded"], "in_progress"),
        "update": (["ComplaintUpdated"], "waiting_reporter"),
        "withdraw": (["ComplaintClosed"], "closed"),
    },
    "resolved": {
        "feedback": (["ComplaintClosed"], "closed"),
        "reopen": (["ComplaintReopened", "ComplaintAssigned"], "assigned"),
        "close_expired": (["ComplaintClosed"], "closed"),
        "survey": (["SurveySubmitted"], "resolved"),
    },
    "closed": {"survey": (["SurveySubmitted"], "closed")},
    "archived": {},
}


# When each action is tried: the auto-close comes after the reporter_reply window, the rest soon.
WHEN = {"close_expired": AT + timedelta(days=15)}


def complaint(state: str, **changes: object) -> Complaint:
    with_opd = state in ("assigned", "in_progress", "waiting_reporter", "resolved")
    c = Complaint(
        id="C",
        state=state,  # type: ignore[arg-type]
        pemda="33.74",
        region_code="33.74.01.1001",
        category="jalan-jembatan",
        opd_id="33.74/dinas-pupr" if with_opd else None,
        resolved_at=AT if state in ("resolved", "closed") else None,
        resolved_opd="33.74/dinas-pupr" if state in ("resolved", "closed") else None,
    )
    for k, v in changes.items():
        setattr(c, k, v)
    return c


PAIRS = [(state, name) for state in STATES for name in ACTIONS]


@pytest.mark.parametrize(("state", "name"), PAIRS, ids=[f"{s}-{n}" for s, n in PAIRS])
def test_every_state_action_pair(state: str, name: str) -> None:
    c = complaint(state)
    expected = TABLE[state].get(name)
    if expected is None:
        with pytest.raises(Refused) as refused:
            decide(c, ACTIONS[name], WHEN.get(name, AT + timedelta(hours=1)))
        assert state in refused.value.reason  # the reason names the state that forbids it
        return
    payloads = decide(c, ACTIONS[name], WHEN.get(name, AT + timedelta(hours=1)))
    assert [p.TYPE for p in payloads] == expected[0]
    for p in payloads:
        evolve(c, p, AT)
    assert c.state == expected[1]


def test_the_table_covers_exactly_the_allowed_moves() -> None:
    for state, allowed in TABLE.items():
        for name, action in ACTIONS.items():
            assert (state in lc.ALLOWED[type(action)]) == (name in allowed), (state, name)


def types(payloads: list[Payload]) -> list[str]:
    return [p.TYPE for p in payloads]


def test_the_nth_transfer_goes_to_the_coordinator_instead() -> None:
    c = complaint("in_progress", transfers=2)
    payloads = decide(c, ACTIONS["transfer"], AT, max_transfers=3)
    assert types(payloads) == ["ComplaintTransferred", "ComplaintTriaged"]
    for p in payloads:
        evolve(c, p, AT)
    assert (c.state, c.opd_id, c.transfers) == ("triage", None, 3)


def test_why_a_complaint_is_in_triage_is_kept_while_it_is_there_and_said_in_plain_words() -> None:
    c = complaint("in_progress", transfers=2)
    for p in decide(c, ACTIONS["transfer"], AT, max_transfers=3):
        evolve(c, p, AT)
    assert c.triage == {
        "rule": "transfers>=3",
        "reason": "dialihkan 3 kali: Admin Koordinator memutuskan",
        "via": "transfer",
    }
    assert triage_explained(c.triage, c.transfers).startswith(
        "Batas pengalihan tercapai: sudah dialihkan 3 kali"
    )
    for action in ("dispose", "archive", "withdraw"):
        left = complaint("triage", triage=dict(c.triage))
        for p in decide(left, ACTIONS[action], AT):
            evolve(left, p, AT)
        assert (left.state != "triage", left.triage) == (True, None), action
    kept = complaint("triage", triage=dict(c.triage))
    for p in decide(kept, ACTIONS["update"], AT):
        evolve(kept, p, AT)
    assert kept.triage == c.triage  # a correction in triage leaves the reason


@pytest.mark.parametrize(
    ("decision", "words"),
    [
        (route_text(None, "33.74.01.1001", "Keluhan", "Ada masalah jalan dan taman di lingkungan kami."),
         "Klasifikasi otomatis kurang yakin"),
        (route("jalan-jembatan", "33"), "wilayahnya hanya sampai provinsi"),
        (route("lainnya", "33.74.01.1001"), "Kategori Lainnya tidak memiliki OPD baku"),
        (route(None, "33.74"), "Pengaduan tanpa kategori"),
    ],
)  # fmt: skip
def test_each_triage_rule_of_routing_reads_as_a_sentence(decision: RouteDecision, words: str) -> None:
    triage = {"rule": decision.rule, "reason": decision.triage_reason or "", "via": "routing"}
    assert decision.triage_reason and words in triage_explained(triage)
    assert "tidak tercatat" in triage_explained(None)  # triaged before reasons were kept


def test_transfer_to_an_unknown_or_same_opd_is_refused() -> None:
    c = complaint("assigned")
    with pytest.raises(Refused, match="katalog"):
        decide(c, ACTIONS["transfer"], AT, known_opd=frozenset())
    with pytest.raises(Refused, match="sama"):
        decide(c, lc.Transfer("h1", "33.74/dinas-pupr", "salah kirim"), AT)
    with pytest.raises(Refused, match="bukan OPD"):
        decide(c, lc.Transfer("h1", "33.74/admin-koordinator", "salah kirim"), AT)


def test_a_running_lease_keeps_other_handlers_off() -> None:
    c = complaint("in_progress", claimed_by="h2", lease_until=AT + timedelta(minutes=10))
    # Until when, as the handler's clock on the wall says it (the pemda's zone), not an ISO instant.
    with pytest.raises(Refused, match=r"^sedang dikerjakan oleh h2 sampai 02-03-2026 10:10 WIB$"):
        decide(c, ACTIONS["answer"], AT)
    assert types(decide(c, lc.Answer("h2", "Sedang kami proses"), AT)) == ["ComplaintAnswered"]
    # After the lease runs out a colleague may take over.
    assert types(decide(c, ACTIONS["answer"], AT + timedelta(minutes=11))) == ["ComplaintAnswered"]


def test_reopen_only_once_and_within_the_reporter_reply_window() -> None:
    resolved = complaint("resolved")  # resolved Mon 2 Mar 10:00 WIB; 10 HK → end of Mon 16 Mar
    assert types(decide(resolved, ACTIONS["reopen"], AT + timedelta(days=14))) == [
        "ComplaintReopened",
        "ComplaintAssigned",
    ]
    with pytest.raises(Refused, match="lewat"):
        decide(resolved, ACTIONS["reopen"], AT + timedelta(days=15))
    with pytest.raises(Refused, match="satu kali"):
        decide(complaint("resolved", reopened=True), ACTIONS["reopen"], AT)


def test_auto_close_waits_for_the_window_to_end() -> None:
    with pytest.raises(Refused, match="belum berakhir"):
        decide(complaint("resolved"), ACTIONS["close_expired"], AT + timedelta(days=1))
    [closed] = decide(complaint("resolved"), ACTIONS["close_expired"], AT + timedelta(days=15))
    assert closed.model_dump()["outcome"] == "expired"


def test_the_window_follows_slas_reporter_reply_due_when_known() -> None:
    """sla's due has the pemda's extra non-working dates (say the pemda closed two days): routing
    then keeps the window open until that due, not the national-calendar one."""
    later = AT + timedelta(days=17)  # sla's due, two working days past the national one
    resolved = complaint("resolved", reply_due=later)
    assert types(decide(resolved, ACTIONS["reopen"], AT + timedelta(days=16))) == [
        "ComplaintReopened",
        "ComplaintAssigned",
    ]
    with pytest.raises(Refused, match="belum berakhir"):
        decide(resolved, ACTIONS["close_expired"], AT + timedelta(days=16))
    with pytest.raises(Refused, match="lewat"):
        decide(resolved, ACTIONS["reopen"], later + timedelta(minutes=1))


def test_reply_due_is_the_current_reporter_reply_clock_in_dues() -> None:
    old, new = AT + timedelta(days=14), AT + timedelta(days=30)
    doc = {
        "dues": {
            "C_resolution_1": {"clock": "resolution", "due": AT, "state": "met", "v": 3},
            "C_reporter_reply_1": {"clock": "reporter_reply", "due": old, "state": "cancelled", "v": 2},
            "C_reporter_reply_2": {"clock": "reporter_reply", "due": new, "state": "running", "v": 1},
        }
    }
    assert reply_due(doc) == new
    assert reply_due({"dues": {}}) is None and reply_due({}) is None


def test_privacy_flags_can_be_tightened_never_loosened() -> None:
    c = complaint("triage", anonymous=True)
    with pytest.raises(Refused, match="anonim"):
        decide(c, lc.Update("k1", anonymous=False), AT)
    [updated] = decide(c, lc.Update("k1", confidential=True), AT)
    assert updated.model_dump()["anonymous"] and updated.model_dump()["confidential"]


def test_privacy_flags_tighten_in_any_open_state_but_routing_data_changes_only_in_triage() -> None:
    for state in ("received", "assigned", "in_progress", "waiting_reporter"):
        c = complaint(state)
        [updated] = decide(c, lc.Update("k1", anonymous=True), AT)
        assert updated.model_dump()["anonymous"], state
        with pytest.raises(Refused, match="triage"):
            decide(c, lc.Update("k1", category="kesehatan", confidential=True), AT)
        with pytest.raises(Refused, match="triage"):
            decide(c, lc.Update("k1", region_code="33.74.02.1001"), AT)
    for state in ("resolved", "closed", "archived"):
        with pytest.raises(Refused):
            decide(complaint(state), lc.Update("k1", confidential=True), AT)


def test_dispose_needs_a_category_and_a_real_opd() -> None:
    c = complaint("triage", category=None)
    with pytest.raises(Refused, match="kategori"):
        decide(c, lc.Dispose("k1", "33.74/dinas-pupr"), AT)
    with pytest.raises(Refused, match="katalog"):
        decide(c, ACTIONS["dispose"], AT, known_opd=frozenset())


def test_empty_answers_are_refused() -> None:
    with pytest.raises(Refused, match="kosong"):
        decide(complaint("assigned"), lc.Answer("h1", "   "), AT)


def test_every_action_has_its_decision_and_every_state_change_its_step() -> None:
    from services.routing.domain import lifecycle

    assert set(lifecycle._DECISIONS) == set(lifecycle.ALLOWED)
    changing = {
        *("ComplaintAssigned", "ComplaintTriaged", "ComplaintClaimed", "ComplaintAnswered"),
        *("InformationRequested", "ComplaintResolved", "ComplaintClosed", "ComplaintArchived"),
    }
    assert changing <= {kind.TYPE for kind in lifecycle._EVOLUTIONS}


def test_the_skm_survey_is_taken_once_and_only_for_a_complaint_an_opd_resolved() -> None:
    survey = ACTIONS["survey"]
    c = complaint("closed")
    (submitted,) = decide(c, survey, AT)
    assert submitted.TYPE == "SurveySubmitted" and submitted.opd_id == "33.74/dinas-pupr"  # type: ignore[attr-defined]
    evolve(c, submitted, AT)
    with pytest.raises(Refused, match="sudah diisi"):
        decide(c, survey, AT)
    withdrawn_unresolved = complaint("closed", resolved_opd=None, resolved_at=None)
    with pytest.raises(Refused, match="diselesaikan OPD"):
        decide(withdrawn_unresolved, survey, AT)
