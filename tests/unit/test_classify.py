"""The classifier of uncategorised complaints (DESIGN §4): normalisation, stemming, lexicon, accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.routing.domain import classify as clf
from services.routing.domain.classify import THRESHOLD, Classification, classify, normalise, stems
from shared.categories import CATEGORIES

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "data" / "labelled_complaints.jsonl"
ROUTABLE = [code for code in CATEGORIES if code != "lainnya"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jalan RUSAK gk diperbaiki!!", "jalan rusak tidak diperbaiki"),
        ("ga ada, nggak ada, tdk ada", "tidak ada tidak ada tidak ada"),
        ("jln. Sudirman dan Jl Ahmad Yani", "jalan sudirman dan jalan ahmad yani"),
        ("sampah2 numpuk, anak2 sakit", "sampah numpuk anak sakit"),
        ("gorong-gorong ambrol berbulan-bulan", "gorong ambrol berbulan"),
        ("rekam e-KTP, KTP-el dan ektp", "rekam ktp ktp dan ktp"),
        ("bikin kartu AK/1", "bikin kartu kartu kuning"),
        ("air PDAM mati 3 hari, tagihan 800rb", "air pdam mati hari tagihan rb"),
        ("parah bangeeeet, tolongggg", "parah banget tolong"),
        ("lihat https://lapor.go.id/x?id=1 dan www.example.com", "lihat dan"),
        ("yg lobang sdh blm diaspal", "yang lubang sudah belum diaspal"),
        ("anak kelas 8 di SMPN 2, kakaknya kelas XI", "anak kelas smp di smp kakaknya kelas sma"),
        ("Mohon izin bertanya, ijin melapor", "mohon bertanya melapor"),
    ],
)
def test_normalisation_maps_slang_typos_and_noise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_stemming_brings_derived_forms_to_one_root() -> None:
    assert stems("perbaikan") == stems("diperbaiki") == stems("memperbaiki") == ["baik"]
    assert stems("pengangkutan sampahnya") == ["angkut", "sampah"]


def test_a_stemmed_lexicon_term_matches_other_derivations() -> None:
    lex = clf.load_lexicon({"jalan-jembatan": [{"term": "perbaikan", "weight": 3}]})
    scores, matched = clf.score("", "jalan ini tidak pernah diperbaiki", lex)
    assert scores == {"jalan-jembatan": 3.0}
    assert [t.text for t in matched] == ["perbaikan"]


def test_a_longer_term_hides_the_words_it_contains() -> None:
    result = classify("Lampu jalan mati", "lampu jalan di depan rumah mati sudah seminggu")
    assert result.category == "penerangan-jalan"
    scores, _ = clf.score("Lampu jalan mati", "lampu jalan di depan rumah mati sudah seminggu")
    assert "jalan-jembatan" not in scores  # "jalan" only appears inside "lampu jalan"


def test_a_phrase_matches_with_one_word_between() -> None:
    lex = clf.load_lexicon({"penerangan-jalan": [{"term": "lampu jalan", "weight": 4}]})
    assert clf.score("", "lampu di jalan mawar", lex)[0] == {"penerangan-jalan": 4.0}
    assert clf.score("", "lampu rumah saya dekat jalan", lex)[0] == {}


@pytest.mark.parametrize(
    ("title", "description", "category"),
    [
        ("Jalan berlobang", "jln ke pasar banyak lubang gede, udh 3 org jatuh", "jalan-jembatan"),
        ("PJU padam", "lampu pju di gg. kenanga mati sejak 2 minggu", "penerangan-jalan"),
        ("Angkot ugal-ugalan", "sopir angkot no 05 ngebut dan ngetem sembarangan", "transportasi"),
        ("Sampah ga diangkut", "tumpukan sampah di tps pasar sudah 10 hari", "persampahan-lingkungan"),
        ("Puskesmas kekurangan dokter", "pasien numpuk, cuma ada 1 dokter di puskesmas", "kesehatan"),
        ("PPDB SD", "anak saya ditolak masuk sd negeri padahal rumah dekat", "pendidikan-dasar"),
        ("Zonasi SMA", "ppdb sma tahun ini kacau, jalur zonasi tidak transparan", "pendidikan-menengah"),
        ("E-KTP ga jadi2", "rekam ektp dari maret, katanya blangko kosong", "kependudukan"),
        ("PBG lama", "pengurusan pbg sudah 5 bulan belum terbit", "perizinan"),
        ("PKL di trotoar", "pedagang kaki lima penuhi trotoar, satpol pp diam aja", "ketertiban-umum"),
        ("SPPT PBB", "sppt pbb tahun ini belum dibagikan ke warga", "pajak-daerah"),
        ("Samsat", "antri perpanjang stnk di samsat sampai sore", "pajak-kendaraan"),
        ("Air PDAM mati", "air pdam gak ngalir 4 hari", "air-minum"),
        ("BLT tidak cair", "nama saya ada di dtks tapi blt tidak pernah cair", "bantuan-sosial"),
        ("Gaji di bawah UMK", "pabrik bayar upah di bawah umk, thr tidak dibayar", "ketenagakerjaan"),
        ("Pungli", "petugas minta uang rokok 100rb biar berkas cepat", "pungli-maladministrasi"),
    ],
)
def test_clear_complaints_land_in_their_category(title: str, description: str, category: str) -> None:
    result = classify(title, description)
    assert result.category == category, result
    assert result.best == category
    assert THRESHOLD <= result.confidence <= 1.0
    assert result.matched


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("", ""),
        ("tes", "coba coba aplikasi"),
        ("Terima kasih", "terima kasih atas pelayanannya, semoga sukses selalu"),
        ("Harga cabai", "harga cabe rawit naik terus, mohon operasi pasar"),
        ("Mohon izin bertanya", "mohon izin bertanya jadwal pilkada kapan ya?"),
    ],
)
def test_empty_or_irrelevant_text_goes_to_triage(title: str, description: str) -> None:
    result = classify(title, description)
    assert result.category is None
    assert result.confidence < THRESHOLD


def test_two_equally_supported_categories_are_not_decided() -> None:
    best, confidence = clf.confidence_of({"air-minum": 6.0, "kesehatan": 6.0})
    assert best == "kesehatan"  # ties break by the §4 table order, deterministically
    assert confidence < 0.5 < THRESHOLD
    # A puskesmas without water: both decisive terms, so the coordinator decides.
    result = classify("", "air pdam di puskesmas mati")
    assert result.best in {"air-minum", "kesehatan"}
    assert result.category is None


def test_confidence_grows_with_evidence_and_stays_in_range() -> None:
    weak = clf.confidence_of({"transportasi": 2.0})[1]
    strong = clf.confidence_of({"transportasi": 6.0})[1]
    overwhelming = clf.confidence_of({"transportasi": 500.0, "kesehatan": 1.0})[1]
    assert clf.confidence_of({}) == (None, 0.0)
    assert 0.0 < weak < THRESHOLD <= strong < overwhelming <= 1.0


def test_classification_is_a_frozen_value() -> None:
    result = classify("Air PDAM mati", "")
    assert isinstance(result, Classification)
    with pytest.raises(AttributeError):
        result.category = "kesehatan"  # type: ignore[misc]


def test_the_lexicon_file_loads_and_names_only_known_categories() -> None:
    with clf.LEXICON_PATH.open(encoding="utf-8") as f:
        data = json.load(f)
    assert set(data) <= set(CATEGORIES)
    assert set(data) == set(ROUTABLE)  # every routable category is covered, `lainnya` is never decided
    for code, entries in data.items():
        assert len(entries) >= 15, code
        for entry in entries:
            assert set(entry) == {"term", "weight"}
            assert isinstance(entry["term"], str) and entry["term"].strip()
            assert isinstance(entry["weight"], int | float) and entry["weight"] > 0
    lex = clf.lexicon()
    assert lex.categories == tuple(data)
    assert all(term.stems for term in lex.terms)


def test_an_unknown_category_in_a_lexicon_is_refused() -> None:
    with pytest.raises(clf.LexiconError):
        clf.load_lexicon({"jalan-tol": [{"term": "tol", "weight": 3}]})
    with pytest.raises(clf.LexiconError):
        clf.load_lexicon({"air-minum": [{"term": "pdam", "weight": 0}]})


def test_accuracy_on_the_labelled_set_stays_above_the_floor() -> None:
    """A regression guard on bench/data/labelled_complaints.jsonl (bench/classification.py prints more).

    The lexicon was tuned with this set (100 % when written); on a fresh held-out set written after
    the lexicon it scored 92–93 %. The floor, 85 %, is the project's target: lexicon edits may trade a
    few items, but a broken normalisation, stemmer or lexicon load falls far below it.
    """
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 160
    counts = {code: sum(r["category"] == code for r in rows) for code in ROUTABLE}
    assert min(counts.values()) >= 8, counts
    right = decided = decided_right = 0
    for row in rows:
        result = classify(row["title"], row["description"])
        expected = None if row["category"] == "lainnya" else row["category"]
        right += result.category == expected
        if result.category is not None:
            decided += 1
            decided_right += result.category == expected
    assert right / len(rows) >= 0.85
    assert decided_right / decided >= 0.85
