"""The lexicon classifier routing used before the trained model (issue 22), kept for comparison.

bench/classification.py prints its figures next to the model's on the same test split. It is the
classifier `services.routing.domain.classify` held until the model replaced it, moved here unchanged;
its lexicon, ``data/lexicon.json``, now also teaches the model (devtools/train_classifier.py). It
shares the service's normalisation and stemming.
Its design, as it was documented there:

1. Normalisation and 2. stemming: `services.routing.domain.classify.normalise` and ``stems``.
3. **Lexicon matching**: ``lexicon.json`` maps each category code to ``{"term", "weight"}``
   entries written in natural Indonesian; each term is normalised and stemmed the same way at load
   time. A one-word term matches its stem; a multi-word term matches its stems in order with at
   most `MAX_GAP` other words between consecutive ones (``lampu di jalan`` matches ``lampu jalan``).
   Longer terms win: a term whose every matched word is already covered by a longer matched term
   (of any category) does not count. Each term counts once per complaint (presence, not
   frequency), times `TITLE_BOOST` if it occurs in the title.
4. **Score and confidence**: a category's score is the sum of its matched terms' weights; the
   confidence of the top category is a softmax over the categories that scored, plus a constant
   "no category" logit `BASELINE`, at temperature `TEMPERATURE`. `classify` returns the top
   category when its confidence reaches `THRESHOLD` (0.6), else None (triage).
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from services.routing.domain.classify import Budget, stems
from shared.categories import CATEGORIES

LEXICON_PATH: Final = Path(__file__).resolve().parent.parent / "data" / "lexicon.json"
THRESHOLD: Final = 0.6
BASELINE: Final = 2.0  # the logit of "no category" in the confidence softmax
TEMPERATURE: Final = 2.0
TITLE_BOOST: Final = 1.5  # a term in the title counts this much more than in the description
MAX_GAP: Final = 1  # other words allowed between two consecutive words of a multi-word term


@dataclass(frozen=True)
class Classification:
    category: str | None  # None: below THRESHOLD (triage)
    best: str | None  # the top category even below the threshold; None when nothing matched
    confidence: float
    matched: tuple[str, ...]


# --- lexicon ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    text: str  # as written in the lexicon
    stems: tuple[str, ...]
    weights: tuple[tuple[str, float], ...]  # (category, weight): one term may serve several categories

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(c for c, _ in self.weights)


@dataclass(frozen=True)
class Lexicon:
    terms: tuple[Term, ...]  # longest first
    categories: tuple[str, ...]
    by_first: Mapping[str, tuple[int, ...]]  # first stem → indexes into terms (so a text visits few terms)


class LexiconError(ValueError):
    pass


def load_lexicon(data: Mapping[str, Sequence[Mapping[str, object]]]) -> Lexicon:
    """Stem a lexicon given as category code → [{"term", "weight"}]; unknown codes are an error."""
    by_stems: dict[tuple[str, ...], tuple[str, dict[str, float]]] = {}
    for category, entries in data.items():
        if category not in CATEGORIES:
            raise LexiconError(f"unknown category code in lexicon: {category!r}")
        for entry in entries:
            term, weight = entry.get("term"), entry.get("weight")
            if (
                not isinstance(term, str)
                or isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or weight <= 0
            ):
                raise LexiconError(f"bad lexicon entry in {category!r}: {entry!r}")
            key = tuple(stems(term))
            if not key:
                raise LexiconError(f"lexicon term {term!r} of {category!r} normalises to nothing")
            _, weights = by_stems.setdefault(key, (term, {}))
            weights[category] = max(weights.get(category, 0.0), float(weight))
    terms = sorted(
        (Term(text, key, tuple(weights.items())) for key, (text, weights) in by_stems.items()),
        key=lambda t: -len(t.stems),
    )
    by_first: dict[str, list[int]] = {}
    for index, t in enumerate(terms):
        by_first.setdefault(t.stems[0], []).append(index)
    return Lexicon(tuple(terms), tuple(data), {k: tuple(v) for k, v in by_first.items()})


@functools.cache
def lexicon() -> Lexicon:
    """The packaged lexicon, stemmed once per process."""
    with LEXICON_PATH.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise LexiconError(f"{LEXICON_PATH} must hold an object of category code → entries")
    return load_lexicon(data)


# --- matching and scoring --------------------------------------------------------------------------


def _occurrences(term: tuple[str, ...], positions: Mapping[str, Sequence[int]]) -> Iterable[tuple[int, ...]]:
    """Each match of the term: the positions of its words, in order, at most MAX_GAP words apart."""
    first = positions.get(term[0])
    if first is None:
        return
    for start in first:
        found = [start]
        for word in term[1:]:
            # Positions are ascending: the first one after the previous word, by bisection (a
            # scan of every position per start was quadratic on a text repeating one word).
            after = positions.get(word, ())
            index = bisect.bisect_right(after, found[-1])
            if index == len(after) or after[index] > found[-1] + 1 + MAX_GAP:
                break
            found.append(after[index])
        else:
            yield tuple(found)


def score(
    title: str, description: str, lex: Lexicon | None = None, budget: Budget | None = None
) -> tuple[dict[str, float], list[Term]]:
    """Category scores and the terms that counted (longest first) for one complaint."""
    lex = lex or lexicon()
    title_words = stems(title, budget)
    # The separator keeps a multi-word term from spanning the title and the description.
    words = [*title_words, *([""] * (MAX_GAP + 1)), *stems(description, budget)]
    positions: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        if word:
            positions.setdefault(word, []).append(i)
    scores: dict[str, float] = {}
    matched: list[Term] = []
    covered: set[int] = set()
    pending: set[int] = set()
    length = 0
    candidates = sorted({i for word in positions for i in lex.by_first.get(word, ())})
    for term in (lex.terms[i] for i in candidates):  # longest first: inside a longer match, no count
        if len(term.stems) != length:
            covered |= pending
            pending = set()
            length = len(term.stems)
        if budget is not None:
            budget.check()
        live = [occ for occ in _occurrences(term.stems, positions) if not covered.issuperset(occ)]
        if not live:
            continue
        in_title = any(occ[-1] < len(title_words) for occ in live)
        factor = TITLE_BOOST if in_title else 1.0
        for category, weight in term.weights:
            scores[category] = scores.get(category, 0.0) + weight * factor
        matched.append(term)
        for occ in live:
            pending.update(occ)
    return scores, matched


def confidence_of(scores: Mapping[str, float]) -> tuple[str | None, float]:
    """The top category and its confidence (module docstring); (None, 0.0) without any score."""
    positive = {c: s for c, s in scores.items() if s > 0}
    if not positive:
        return None, 0.0
    order = list(CATEGORIES)
    top = min(positive, key=lambda c: (-positive[c], order.index(c)))
    top_score = positive[top]
    # Shifted by the top score so exp never overflows.
    denominator = math.exp((BASELINE - top_score) / TEMPERATURE) + sum(
        math.exp((s - top_score) / TEMPERATURE) for s in positive.values()
    )
    return top, 1.0 / denominator


def classify(title: str, description: str, budget: Budget | None = None) -> Classification:
    """The category of a complaint from its text, or None (triage) below THRESHOLD. With a
    budget, `TooCostly` once the classification has used more CPU than it allows."""
    scores, matched = score(title, description, budget=budget)
    best, confidence = confidence_of(scores)
    # Explainability: the best category's terms first, then the others (each group longest first).
    matched.sort(key=lambda term: best not in term.categories)
    return Classification(
        category=best if best is not None and confidence >= THRESHOLD else None,
        best=best,
        confidence=round(confidence, 4),
        matched=tuple(term.text for term in matched),
    )
