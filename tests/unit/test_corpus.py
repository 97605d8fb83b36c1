"""The labelled corpus (data/corpus/, issue 22): its shape, its split, and that no text, sentence or
8-word run is shared between the train and test splits (devtools/corpus.py)."""

from __future__ import annotations

from collections import Counter

from devtools.corpus import SHINGLE, Complaint, load, overlaps
from shared.categories import CATEGORIES


def test_the_corpus_covers_every_category_in_both_splits() -> None:
    complaints = load()
    assert len(complaints) >= 1000
    counts = Counter((c.category, c.split) for c in complaints)
    for code in CATEGORIES:
        assert counts[(code, "train")] >= 30, code
        assert counts[(code, "test")] >= 10, code
    test = sum(c.split == "test" for c in complaints)
    assert 0.2 <= test / len(complaints) <= 0.3
    assert sum(c.hard for c in complaints if c.split == "test") >= 50


def test_no_text_sentence_or_word_run_is_shared_across_the_splits() -> None:
    found = overlaps(load())
    assert found == [], [(o.train.id, o.test.id, o.kind, o.shared) for o in found[:10]]


def complaint(id: int, split: str, text: str) -> Complaint:
    return Complaint(id, "jalan-jembatan", split, False, text)  # type: ignore[arg-type]


def test_the_check_finds_a_copied_sentence_a_shared_run_and_a_rewritten_copy() -> None:
    run = "jalan di depan pasar rusak parah dan berlubang besar"  # 9 words
    assert len(run.split()) > SHINGLE
    complaints = [
        complaint(1, "train", f"Pagi pak. {run}, tolong."),
        complaint(2, "test", f"Sore bu, kemarin {run} sekali"),  # the run, inside other words
        complaint(3, "train", "Lampu PJU mati sejak minggu lalu di gang kami."),
        complaint(4, "test", "lampu pju mati sejak minggu lalu di gang kami"),  # the same text rewritten
        complaint(5, "train", "Sampah numpuk. Truk sampah tidak datang sudah dua minggu."),
        complaint(6, "test", "Di RW 3 juga. Truk sampah gk datang sdh dua minggu!"),  # one sentence, in slang
        complaint(7, "test", "Air PDAM mati tiga hari, tolong dicek."),  # nothing shared
    ]
    found = {(o.train.id, o.test.id): o.kind for o in overlaps(complaints)}
    assert set(found) == {(1, 2), (3, 4), (5, 6)}
    assert found[(3, 4)] == "text" or found[(3, 4)] in ("sentence", "shingle")
    assert found[(5, 6)] == "sentence"


def test_pairs_within_one_split_are_not_reported() -> None:
    text = "jalan di depan pasar rusak parah dan berlubang besar sekali"
    assert overlaps([complaint(1, "train", text), complaint(2, "train", text)]) == []
