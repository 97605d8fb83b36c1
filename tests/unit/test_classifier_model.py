"""The trained classifier's loader and scorer (services/routing/domain/model.py, issue 22): the
features, the softmax of the linear score, the refusal of malformed files, and the packaged model."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.routing.domain import model as m
from services.routing.domain.classify import text_features
from shared.categories import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]


def tiny(**changes: Any) -> dict[str, Any]:
    """A two-class model: "pdam" is air-minum, "samsat" pajak-kendaraan."""
    data: dict[str, Any] = {
        "format": m.FORMAT,
        "classes": ["air-minum", "pajak-kendaraan"],
        "intercept": [0.0, 0.5],
        "threshold": 0.5,
        "blocks": {
            "word": {
                "features": ["pdam", "samsat"],
                "idf": [2.0, 1.0],
                "weights": [[4.0, -4.0], [-1.0, 1.0]],
            },
            "char": {"features": [" pd"], "idf": [1.0], "weights": [[1.0, 0.0]]},
        },
    }
    data.update(changes)
    return data


def test_word_and_char_features() -> None:
    assert m.word_features(["air", "pdam", "mati"]) == {"air", "pdam", "mati", "air|pdam", "pdam|mati"}
    assert m.char_features(["pdam", "pdam"]) == {
        " pd", "pda", "dam", "am ", " pda", "pdam", "dam ", " pdam", "pdam ",
    }  # fmt: skip
    assert m.char_features([]) == set()


def test_text_features_use_the_normalisation_and_the_stems() -> None:
    blocks = text_features("Jln rusak", "gk diperbaiki")
    assert {"jalan", "rusak", "tidak", "baik", "jalan|rusak", "tidak|baik"} <= blocks["word"]
    assert " jal" in blocks["char"] and "aiki " in blocks["char"]  # pieces of the words as written


def test_the_score_is_the_softmax_of_the_normalised_weighted_sum() -> None:
    model = m.parse(tiny())
    # word block: pdam (idf 2) and samsat (idf 1), norm √5; char block: " pd" alone, norm 1.
    logits = model.logits({"word": {"pdam", "samsat", "unknown"}, "char": {" pd"}})
    root5 = math.sqrt(5)
    assert logits == pytest.approx([0.0 + 3.0 / root5 + 1.0, 0.5 - 3.0 / root5 + 0.0])
    p = model.probabilities({"word": {"pdam"}})
    assert p["air-minum"] == pytest.approx(1 / (1 + math.exp(-3.5)))  # logits 4/2 and 0.5 - 4/2
    assert sum(p.values()) == pytest.approx(1.0)
    assert model.probabilities({}) == pytest.approx(
        {"air-minum": 1 / (1 + math.exp(0.5)), "pajak-kendaraan": 1 / (1 + math.exp(-0.5))}
    )


def test_huge_logits_do_not_overflow() -> None:
    model = m.parse(tiny(intercept=[5000.0, -5000.0]))
    assert model.probabilities({}) == {"air-minum": 1.0, "pajak-kendaraan": 0.0}


@pytest.mark.parametrize(
    "changes",
    [
        {"format": "pickle"},
        {"classes": ["air-minum", "jalan-tol"]},
        {"classes": ["air-minum", "air-minum"]},
        {"intercept": [0.0]},
        {"threshold": 1.5},
        {"threshold": None},
        {"blocks": {"word": {"features": [], "idf": [], "weights": []}}},
        {
            "blocks": {
                "word": {"features": ["a", "b"], "idf": [1.0], "weights": [[0.0, 0.0]]},
                "char": {"features": [], "idf": [], "weights": []},
            }
        },
        {
            "blocks": {
                "word": {"features": ["a"], "idf": [1.0], "weights": [[0.0]]},
                "char": {"features": [], "idf": [], "weights": []},
            }
        },
    ],
)
def test_a_malformed_model_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(m.ModelError):
        m.parse(tiny(**changes))


def test_the_packaged_model_knows_every_category_and_is_loaded_once() -> None:
    model = m.model()
    assert m.model() is model
    assert set(model.classes) == set(CATEGORIES)  # lainnya included: the model learns "none of these"
    assert 0.0 < model.threshold < 1.0
    assert all(len(block.vectors) > 1000 for block in model.blocks.values())
    with m.MODEL_PATH.open(encoding="utf-8") as f:
        trained = json.load(f)["trained"]
    assert trained["script"] == "devtools/train_classifier.py"
    assert trained["train_complaints"] >= 700


def test_classifying_needs_neither_numpy_nor_scikit_learn() -> None:
    code = (
        "import sys\n"
        "from services.routing.domain.classify import classify\n"
        "classify('Air PDAM mati', 'sudah tiga hari')\n"
        "print(sorted(m for m in ('numpy', 'sklearn', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
