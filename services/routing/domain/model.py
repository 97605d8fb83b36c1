"""The trained linear classifier (issue 22): features of a text, and the packaged coefficients.

Pure Python at run time: no numpy, no scikit-learn. devtools/train_classifier.py fits a
multinomial logistic regression on the corpus's train split (data/corpus/) with scikit-learn and
writes its coefficients to ``data/classifier.json``, package data of services.routing; this module
reads that file once per process and scores with dictionaries.

**Features** (`features`), two blocks, each a set (presence, not counts):

- ``word``: the stems of the normalised words (``classify.normalise`` then Sastrawi,
  ``classify.stem_words``) and the pairs of consecutive stems (``jalan|rusak``);
- ``char``: the 3- to 5-letter pieces of each distinct normalised word, padded with a space at
  each end (`` pdam``, ``dam ``), so typos, unknown affixes and regional words still share pieces
  with the words the model knows.

Both are linear in the text: at most `stem_words`' cap of distinct words go through the stemmer,
and a word gives at most 3 × (its length + 2) pieces (`classify.MAX_WORD` letters at most).

**Score.** As scikit-learn's ``TfidfVectorizer(binary=True)`` per block followed by
``LogisticRegression``: a block's vector holds each known feature's idf, divided by the vector's
Euclidean norm; the model's logits are ``intercept + Σ_block Σ_feature idf·coef / norm``. The
training script folds the idf into the coefficients it writes (``weights`` per feature) and keeps
the idf for the norm; the logits go through a softmax (its temperature already folded into the
coefficients: see the training script), giving a probability per class, ``lainnya`` included.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from shared.categories import CATEGORIES

MODEL_PATH: Final = Path(__file__).parent.parent / "data" / "classifier.json"  # package data
FORMAT: Final = "pengaduan-linear/1"
CHAR_SIZES: Final = (3, 4, 5)
BLOCKS: Final = ("word", "char")


def word_features(stems: Sequence[str]) -> set[str]:
    """Each stem, and each pair of consecutive stems joined by ``|``."""
    found = set(stems)
    found.update(f"{a}|{b}" for a, b in itertools.pairwise(stems))
    return found


def char_features(words: Iterable[str]) -> set[str]:
    """The `CHAR_SIZES`-letter pieces of each distinct word padded with spaces."""
    found: set[str] = set()
    for word in set(words):
        padded = f" {word} "
        for size in CHAR_SIZES:
            found.update(padded[i : i + size] for i in range(len(padded) - size + 1))
    return found


class ModelError(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    # feature → its idf × coefficient for each class, then its idf squared (for the norm): one
    # look-up per feature, and one pass of sums gives both the scores and the squared norm.
    vectors: Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class LinearModel:
    classes: tuple[str, ...]
    intercept: tuple[float, ...]
    blocks: Mapping[str, Block]
    threshold: float  # chosen by the training script from cross-validated probabilities

    def logits(self, features: Mapping[str, Collection[str]]) -> list[float]:
        """The intercept plus each block's known features' weights, summed and scaled by 1/norm.
        Each block's features are a set: a feature counts once."""
        totals = list(self.intercept)
        for name, block in self.blocks.items():
            get = block.vectors.get
            known = [v for v in map(get, features.get(name, ())) if v is not None]
            if not known:
                continue
            # zip(*known) regroups the numbers by class (the last group: the idf squares), and sum
            # adds each group, both in C: tens of microseconds for a complaint's few hundred features.
            *sums, squares = (sum(column) for column in zip(*known, strict=True))
            norm = math.sqrt(squares)
            totals = [t + s / norm for t, s in zip(totals, sums, strict=True)]
        return totals

    def probabilities(self, features: Mapping[str, Collection[str]]) -> dict[str, float]:
        """The softmax of the logits, per class."""
        logits = self.logits(features)
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]  # shifted: exp never overflows
        total = math.fsum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}


def parse(data: Mapping[str, object]) -> LinearModel:
    """A model from the JSON the training script writes; refused unless its shape is right."""
    if data.get("format") != FORMAT:
        raise ModelError(f"model format {data.get('format')!r}, expected {FORMAT!r}")
    classes = data.get("classes")
    intercept = data.get("intercept")
    blocks = data.get("blocks")
    threshold = data.get("threshold")
    if not isinstance(classes, list) or not classes or not set(classes) <= set(CATEGORIES):
        raise ModelError(f"model classes must be §4 category codes: {classes!r}")
    if len(set(classes)) != len(classes):
        raise ModelError("model classes repeat")
    k = len(classes)
    if not isinstance(intercept, list) or len(intercept) != k:
        raise ModelError("model intercept must hold one number per class")
    if not isinstance(threshold, int | float) or not 0.0 < threshold < 1.0:
        raise ModelError(f"model threshold must be in (0, 1): {threshold!r}")
    if not isinstance(blocks, dict) or set(blocks) != set(BLOCKS):
        raise ModelError(f"model blocks must be {BLOCKS}")
    parsed = {}
    for name, block in blocks.items():
        features, idf, weights = block.get("features"), block.get("idf"), block.get("weights")
        if not (isinstance(features, list) and isinstance(idf, list) and isinstance(weights, list)):
            raise ModelError(f"model block {name!r} needs features, idf and weights lists")
        if not len(features) == len(idf) == len(weights):
            raise ModelError(f"model block {name!r}: features, idf and weights differ in length")
        if any(not isinstance(row, list) or len(row) != k for row in weights):
            raise ModelError(f"model block {name!r}: every feature needs one weight per class")
        parsed[name] = Block(
            {f: (*map(float, row), float(v) ** 2) for f, v, row in zip(features, idf, weights, strict=True)}
        )
    return LinearModel(tuple(classes), tuple(map(float, intercept)), parsed, float(threshold))


@functools.cache
def model() -> LinearModel:
    """The packaged model, read once per process."""
    with MODEL_PATH.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ModelError(f"{MODEL_PATH} must hold an object")
    return parse(data)
