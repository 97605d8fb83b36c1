"""Text a stranger controls (issue 15, items 1, 2 and 7): every pattern applied to it gives the
right answer at the largest length a field allows, on adversarial inputs (runs of ``@``, ``.``,
digits, spaces) that made the old backtracking patterns take seconds; the NIK and phone masks
know the usual spellings; classification runs off the event loop, within a CPU budget.

No timing is asserted here: `bench/hostile.py` prints the times."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.identity import REDACTED, identity_pattern, outgoing_text, redact_identity
from services.intake.models import SubmitComplaint
from services.routing import deciding
from services.routing.domain.classify import (
    MAX_STEMMED_WORDS,
    Budget,
    TooCostly,
    classify,
    collapse_repeats,
    drop_links,
    normalise,
    stems,
)
from services.routing.handlers import handle_submissions
from shared.privacy import NIK_MASK, PHONE_MASK, mask_contacts, mask_nik
from tests.routing_fakes import fake_routing
from tests.unit.test_routing_handlers import NOW, submitted

FIELDS = SubmitComplaint.model_fields
DESCRIPTION_MAX = next(m.max_length for m in FIELDS["description"].metadata if hasattr(m, "max_length"))
TITLE_MAX = next(m.max_length for m in FIELDS["title"].metadata if hasattr(m, "max_length"))
ADDRESS_MAX = next(m.max_length for m in FIELDS["address"].metadata if hasattr(m, "max_length"))


# Inputs that made backtracking patterns slow; none holds a NIK, a phone or the reporter's name.
UNITS = ["@", ".", "1", "0", " ", "@.", "a@", "1 ", "0-", "08 ", "(0", "+0", "a@b.", "-", "e ", "\t"]


def adversarial(length: int) -> list[str]:
    """`UNITS` repeated to `length` characters, and two with a different last character."""
    return [(unit * length)[:length] for unit in UNITS] + ["a" * (length - 1) + "@", "1" * (length - 1) + "x"]


# --- the masks -----------------------------------------------------------------------------------

MASKED = [
    ("NIK 3374011505900001.", f"NIK {NIK_MASK}."),
    ("NIK 3374 0115 0590 0001", f"NIK {NIK_MASK}"),
    ("NIK 337401 150590 0001", f"NIK {NIK_MASK}"),
    ("NIK 337401-150590-0001", f"NIK {NIK_MASK}"),
    ("NIK 33.74.01.150590.0001", f"NIK {NIK_MASK}"),
    ("NIK 33 74 01 150590 0001", f"NIK {NIK_MASK}"),
    ("hp 0812 3456 78 90", f"hp {PHONE_MASK}"),
    ("hp 0812-3456-7890", f"hp {PHONE_MASK}"),
    ("hp 0812.3456.7890", f"hp {PHONE_MASK}"),
    ("hp 081234567890", f"hp {PHONE_MASK}"),
    ("hp +62 812 3456 7890", f"hp {PHONE_MASK}"),
    ("hp +62-812-3456-7890", f"hp {PHONE_MASK}"),
    ("hp 62812 3456 7890", f"hp {PHONE_MASK}"),
    ("hp (0812) 3456789", f"hp {PHONE_MASK}"),
    ("kantor (024) 351 5871.", f"kantor {PHONE_MASK}."),
    ("kantor +62 (24) 3515871", f"kantor {PHONE_MASK}"),
    ("a 0813-1111-2222, b 0813 9876 5432", f"a {PHONE_MASK}, b {PHONE_MASK}"),
    # Two phones in a row are two phones, not a "NIK" of the first and a piece of the second.
    ("hp 0812-3456-7890 0811-2222-3333", f"hp {PHONE_MASK} {PHONE_MASK}"),
    ("NIK 3374011505900001 0812 3456 7890", f"NIK {NIK_MASK} {PHONE_MASK}"),
]
KEPT = [
    "RT 03 RW 05 No. 12",
    "tanggal 12-03-2024 pukul 08.30",
    "Rp 1.500.000,00",
    "nomor 12345678901234567890 (20 angka)",  # longer than any NIK or phone: not cut out of it
    "0 812",  # too short
    "kode 1234 5678",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_nik_and_phones_are_masked_in_their_usual_spellings(text: str, expected: str) -> None:
    assert mask_contacts(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_other_numbers_are_kept(text: str) -> None:
    assert mask_contacts(text) == text


def test_the_reporters_own_phone_written_twice_is_removed_both_times() -> None:
    reporter = {"name": "Sari", "phone": "+6281234567890", "email": None}
    shown = redact_identity("Telp 0812-3456-7890 / 0812-3456-7890", reporter)
    assert "3456" not in shown and "7890" not in shown


def test_a_date_before_a_phone_is_not_taken_into_it() -> None:
    assert mask_contacts("tgl 12-03 jam 0812 3456 7890") == f"tgl 12-03 jam {PHONE_MASK}"


def test_mask_nik_leaves_phones() -> None:
    assert mask_nik("0812 3456 7890 / 337401 150590 0001") == f"0812 3456 7890 / {NIK_MASK}"


@given(
    st.sampled_from(
        ["3374011505900001", "3374 0115 0590 0001", "337401 150590 0001", "33.74.01.150590.0001"]
    ),
    st.text(alphabet="abc ,;:", max_size=30),
    st.text(alphabet="abc ,;:", max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_a_nik_anywhere_between_words_is_masked(nik: str, before: str, after: str) -> None:
    assert mask_contacts(f"{before} {nik} {after}") == f"{before} {NIK_MASK} {after}"


@given(st.text(alphabet="0123456789 .-()+@a", max_size=300))
@settings(max_examples=300, deadline=None)
def test_masking_leaves_nothing_more_to_mask_and_text_without_digits_alone(text: str) -> None:
    masked = mask_contacts(text)
    assert mask_contacts(masked) == masked
    letters = text.translate(str.maketrans("", "", "0123456789"))
    assert mask_contacts(letters) == letters


@pytest.mark.parametrize("length", [DESCRIPTION_MAX, TITLE_MAX, ADDRESS_MAX])
def test_masks_answer_right_on_adversarial_input_at_the_largest_length(length: int) -> None:
    for text in adversarial(length):
        assert mask_contacts(text) == text
        assert mask_nik(text) == text
    niks, phones = length // 20, length // 16
    assert mask_contacts("3374 0115 0590 0001 " * niks) == f"{NIK_MASK} " * niks
    assert mask_contacts("0812 3456 7890, " * phones) == f"{PHONE_MASK}, " * phones


# --- the reporter's identity ---------------------------------------------------------------------

REPORTER = {"name": "Sari Wulandari", "phone": "+6281234567890", "email": "sari@example.id"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saya Sari Wulandari.", f"Saya {REDACTED}."),
        ("Saya SARI   WULANDARI.", f"Saya {REDACTED}."),
        ("Sarimah tetangga sari", f"Sarimah tetangga {REDACTED}"),
        ("hp 0812 3456 78 90 ya", f"hp {REDACTED} ya"),
        ("hp +62 812-3456-7890", f"hp {REDACTED}"),
        ("hp 62812 3456 7890", f"hp {REDACTED}"),
        ("surel sari@example.id.", f"surel {REDACTED}."),
        ("hotline dinas (024) 351 5871", "hotline dinas (024) 351 5871"),
        ("pak RT 0813-1111-2222", "pak RT 0813-1111-2222"),
        ("NIK 33.74.01.150590.0001", f"NIK {NIK_MASK}"),
    ],
)
def test_the_reporters_identity_is_redacted_others_numbers_kept(text: str, expected: str) -> None:
    assert redact_identity(text, REPORTER) == expected


def test_a_title_in_the_name_is_taken_out_with_the_name_but_not_as_an_everyday_word() -> None:
    sasak = {"name": "Lalu Ahmad Zaini"}
    text = "Sejak minggu lalu jalan rusak, kata Lalu Ahmad Zaini; Pak Zaini sudah lapor ke RT."
    assert redact_identity(text, sasak) == (
        f"Sejak minggu lalu jalan rusak, kata {REDACTED}; Pak {REDACTED} sudah lapor ke RT."
    )
    bali = {"name": "I Made Suarta"}
    assert redact_identity("Made in Bali: Suarta", bali) == f"Made in Bali: {REDACTED}"


def test_identity_redaction_is_right_on_adversarial_input_at_the_largest_length() -> None:
    redactor = identity_pattern(REPORTER)
    assert redactor is not None
    for text in adversarial(DESCRIPTION_MAX):
        assert redactor(text) == text
    many = "Sari " * (DESCRIPTION_MAX // 5)
    assert redactor(many) == f"{REDACTED} " * (DESCRIPTION_MAX // 5)
    glued = "sari" * (DESCRIPTION_MAX // 4)  # one long word: no name in it
    assert redactor(glued) == glued
    phones = "0812 3456 7890; " * (DESCRIPTION_MAX // 16)
    assert redactor(phones) == f"{REDACTED}; " * (DESCRIPTION_MAX // 16)
    spaced = "Sari" + " " * (DESCRIPTION_MAX - 5) + "W"
    assert redactor(spaced) == REDACTED + " " * (DESCRIPTION_MAX - 5) + "W"


def test_an_anonymous_address_keeps_its_street() -> None:
    address = "Jl. Pemuda No. 12 RT 03/RW 05, HP 0812-3456-7890, NIK 337401 150590 0001"
    out = outgoing_text(address, None, anonymous=True)
    assert out == f"Jl. Pemuda No. 12 RT 03/RW 05, HP {PHONE_MASK}, NIK {NIK_MASK}"


# --- classification --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("bangeeeet", "banget"), ("aaa", "a"), ("aab", "aab"), ("tolongggg ya", "tolong ya"), ("", "")],
)
def test_repeats_collapse_without_a_backreference(text: str, expected: str) -> None:
    assert collapse_repeats(text) == expected


@given(st.text(alphabet="abc ", max_size=200))
@settings(max_examples=300, deadline=None)
def test_collapse_repeats_is_what_the_backreference_said(text: str) -> None:
    import re  # the old pattern, as the reference

    assert collapse_repeats(text) == re.sub(r"([a-z])\1{2,}", r"\1", text)


@given(st.text(alphabet="a@.:/ \nhtpsw", max_size=40))
@settings(max_examples=500, deadline=None)
def test_drop_links_is_what_the_old_pattern_said(text: str) -> None:
    import re  # the old pattern, as the reference (it backtracks only on long input)

    old = re.sub(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+", " ", text)
    assert drop_links(text).split() == old.split()


def test_normalisation_is_right_on_adversarial_input_at_the_largest_length() -> None:
    assert normalise("@" * DESCRIPTION_MAX) == ""
    assert normalise("." * DESCRIPTION_MAX) == ""
    assert normalise("a@b.c " * (DESCRIPTION_MAX // 6)) == ""  # e-mail addresses dropped
    assert normalise("x" * DESCRIPTION_MAX) == ""  # one letter once: too short to be a word
    assert normalise("1 " * (DESCRIPTION_MAX // 2)) == ""
    assert normalise(" " * DESCRIPTION_MAX) == ""
    assert normalise("e " * (DESCRIPTION_MAX // 2) + "ktp") == "ktp"
    assert normalise("e" + " " * (DESCRIPTION_MAX - 4) + "ktp") == "ktp"
    assert normalise("jalan " + "@" * (DESCRIPTION_MAX - 12) + " rusak") == "jalan rusak"


def test_a_text_stems_at_most_a_capped_number_of_distinct_words() -> None:
    words = [f"kata{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}" for i in range(800)]
    text = " ".join("".join(c for c in w if c.isalpha()) for w in words)
    calls: list[str] = []
    import services.routing.domain.classify as clf

    original = clf.stem
    clf.stem = lambda word: calls.append(word) or original(word)  # type: ignore[assignment,func-returns-value]
    try:
        result = stems(text)
    finally:
        clf.stem = original  # type: ignore[assignment]
    assert len(result) == len(text.split())
    assert len(set(calls)) == MAX_STEMMED_WORDS


def test_an_at_sign_description_is_classified_to_triage() -> None:
    result = classify("Jalan rusak", "@" * DESCRIPTION_MAX)
    assert result.best == "jalan-jembatan"


def test_a_classification_over_its_cpu_budget_raises() -> None:
    with pytest.raises(TooCostly):
        classify("Jalan rusak", "jalan berlubang " * 100, Budget(-1.0))


async def test_a_batchs_classification_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    threads: list[str] = []
    original = deciding.decide

    def spy(text: deciding.Text, cpu_seconds: float = deciding.CPU_SECONDS) -> deciding.RouteDecision:
        threads.append(threading.current_thread().name)
        assert threading.get_ident() != loop_thread
        return original(text, cpu_seconds)

    deciding.decide = spy  # type: ignore[assignment]
    try:
        lc, store, _, _ = fake_routing()
        batch = [submitted("C1", category=None, description="@" * DESCRIPTION_MAX)]
        assert await handle_submissions(batch, lc, now=lambda: NOW) == []
    finally:
        deciding.decide = original  # type: ignore[assignment]
    assert threads and all(name.startswith("routing-classify") for name in threads)
    assert store.docs["C1"]["state"] in ("triage", "assigned")


async def test_a_submission_over_its_cpu_budget_is_dead_lettered_with_the_reason() -> None:
    lc, store, _, _ = fake_routing()
    batch = [
        submitted("C1", category=None, description="Lampu jalan di depan rumah mati sudah seminggu."),
        submitted("C2"),  # chosen category: no classification, routed
    ]
    [rejected] = await handle_submissions(batch, lc, now=lambda: NOW, cpu_seconds=-1.0)
    assert rejected.envelope.complaint_id == "C1"
    assert rejected.reason.startswith("content fault: klasifikasi melebihi batas CPU")
    assert "C1" not in store.docs and "C2" in store.docs


# --- what intake renders without the token --------------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "shows_identity"), [("reporter", True), ("staff", False), ("public", False)]
)
def test_an_opd_answer_quoting_the_reporter_is_redacted_for_all_but_the_reporter(
    audience: str, shows_identity: bool
) -> None:
    from services.intake.domain.identity import redact_with
    from services.intake.domain.view import apply, render
    from shared.calendar import calendar_for
    from shared.events import ComplaintResolved
    from tests.unit.test_intake_views import OPD, T0, assigned, doc, received
    from tests.unit.test_intake_views import lifecycle as event

    redactor = identity_pattern(REPORTER)
    answer = "Bu Sari Wulandari (0812 3456 78 90), jalan sudah ditambal. Info: (024) 351 5871."
    view = doc()
    payloads = [received(), assigned(), ComplaintResolved(opd_id=OPD, handler="h", answer=answer)]
    for seq, payload in enumerate(payloads, start=1):
        apply(view, event(seq, payload, minutes=seq), lambda text: redact_with(redactor, text))
    [shown] = [
        e.summary for e in render(view, T0, calendar_for, audience).timeline if "ditambal" in e.summary
    ]  # type: ignore[arg-type]
    assert ("Sari Wulandari" in shown and "0812 3456 78 90" in shown) is shows_identity
    assert ("Sari" in shown or "3456" in shown) is shows_identity
    assert "(024) 351 5871" in shown  # the OPD's own number stays


async def test_explain_classifies_on_its_own_thread_within_its_budget() -> None:
    threads: list[str] = []
    original = deciding.decide

    def spy(text: deciding.Text, cpu_seconds: float = deciding.CPU_SECONDS) -> deciding.RouteDecision:
        threads.append(threading.current_thread().name)
        return original(text, cpu_seconds)

    deciding.decide = spy  # type: ignore[assignment]
    try:
        decision = await deciding.decide_off_loop((None, "33.74.01.1001", "Tolong", "@" * DESCRIPTION_MAX))
        with pytest.raises(TooCostly):
            await deciding.decide_off_loop((None, "33.74.01.1001", "Jalan rusak", "jalan"), cpu_seconds=-1.0)
    finally:
        deciding.decide = original  # type: ignore[assignment]
    assert decision.category is None and decision.rule == "uncategorised:below-threshold"
    assert threads and all(name.startswith("routing-explain") for name in threads)
