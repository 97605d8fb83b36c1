"""The classifier of uncategorised complaints (DESIGN §4): normalisation, stemming, the trained model's
answers, accuracy on held-out complaints. The model's loader and scorer: test_classifier_model.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.corpus import load as load_corpus
from services.routing.domain.classify import Classification, classify, normalise, stems, threshold
from shared.categories import CATEGORIES

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "data" / "labelled_complaints.jsonl"
ROUTABLE = [code for code in CATEGORIES if code != "lainnya"]
# The packaged model measured 91.0 % / 93.3 % (corpus test split) and 98.9 % / 99.4 % (the 176
# labelled complaints) with bench/classification.py; the floors leave a few points for retraining.
FLOORS = {
    "corpus accuracy": 0.87,
    "corpus precision": 0.90,
    "labelled accuracy": 0.93,
    "labelled precision": 0.93,
}


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
        pytest.param(
            "PBG lama",
            "pengurusan pbg sudah 5 bulan belum terbit",
            "perizinan",
            # Written for the lexicon, where ``pbg`` alone decided. The model reads "pengurusan ...
            # belum terbit" as the corpus's many waits for a KTP or KK: kependudukan at 0.53,
            # perizinan second. Strict: a retrained model that gets it right fails here, to drop it.
            marks=pytest.mark.xfail(strict=True, reason="the model's known miss: kependudukan 0.53"),
        ),
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
    assert threshold() <= result.confidence <= 1.0
    assert result.runner_up not in (None, category, "lainnya")


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
    assert result.confidence < threshold()


def test_when_lainnya_is_most_probable_nothing_is_suggested() -> None:
    result = classify("Terima kasih", "terima kasih atas pelayanannya, semoga sukses selalu")
    assert result.best is None  # the coordinator gets no guess to anchor on
    assert result.category is None


def test_a_complaint_with_two_topics_goes_to_the_one_it_is_about() -> None:
    text = (
        "lampu jalan di gang kami juga mati sih, tapi yang paling parah jalannya: lubang besar di "
        "tengah, aspal mengelupas, motor sering jatuh. tolong diaspal ulang"
    )
    assert classify("", text).category == "jalan-jembatan"


def test_the_confidence_is_a_probability_that_grows_with_evidence() -> None:
    weak = classify("", "tolong diperhatikan kondisi di sini")
    strong = classify("Air PDAM mati", "air pdam tidak mengalir sudah seminggu, meteran jalan terus")
    assert 0.0 <= weak.confidence < strong.confidence <= 1.0
    assert strong.category == "air-minum"


def test_classification_is_a_frozen_value() -> None:
    result = classify("Air PDAM mati", "")
    assert isinstance(result, Classification)
    with pytest.raises(AttributeError):
        result.category = "kesehatan"  # type: ignore[misc]


def accuracy(items: list[tuple[str, str, str]]) -> tuple[float, float]:
    """Accuracy (lainnya right when triaged, a triaged routable complaint wrong) and the precision
    of the complaints routed without the coordinator."""
    right = decided = decided_right = 0
    for title, description, label in items:
        result = classify(title, description)
        expected = None if label == "lainnya" else label
        right += result.category == expected
        if result.category is not None:
            decided += 1
            decided_right += result.category == expected
    return right / len(items), decided_right / decided


def test_accuracy_on_held_out_complaints_stays_above_the_floor() -> None:
    """A regression guard (bench/classification.py prints the figures): the corpus's test split,
    which the model never saw, and the 176 labelled complaints the old lexicon was tuned on (not
    independent of the model, which learns from the lexicon's terms: a consistency check). The
    floors sit a few points under the trained model's figures (FLOORS); a broken normalisation,
    stemmer, feature or model load falls far below them."""
    test = [("", c.text, c.category) for c in load_corpus() if c.split == "test"]
    assert len(test) >= 300
    corpus_accuracy, corpus_precision = accuracy(test)
    assert corpus_accuracy >= FLOORS["corpus accuracy"]
    assert corpus_precision >= FLOORS["corpus precision"]
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    labelled_accuracy, labelled_precision = accuracy(
        [(r["title"], r["description"], r["category"]) for r in rows]
    )
    assert labelled_accuracy >= FLOORS["labelled accuracy"]
    assert labelled_precision >= FLOORS["labelled precision"]
