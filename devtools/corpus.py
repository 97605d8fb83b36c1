"""The labelled complaint corpus (`data/corpus/complaints.jsonl`) and its independence check.

One complaint per line: ``{"id", "category", "split", "hard", "text"}``. ``split`` is ``train`` (the
classifier is fitted on it, devtools/train_classifier.py) or ``test`` (held out: only
bench/classification.py reads it). Each text was written on its own; this module checks that no
text, sentence or run of `SHINGLE` words is shared between the two splits, after the classifier's
own normalisation (so ``yg``/``yang`` or a changed digit do not hide a copy). A template reused
across the splits would make the test split measure memory, not generalisation.

    .venv/bin/python -m devtools.corpus          # counts per category and split, and the check
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from services.routing.domain.classify import normalise
from shared.categories import CATEGORIES

CORPUS: Final = Path(__file__).resolve().parent.parent / "data" / "corpus" / "complaints.jsonl"
SHINGLE: Final = 8  # words: a shared run this long is a copied phrase, not common usage
MIN_SENTENCE: Final = 5  # words: shorter sentences ("Tolong.", "Mohon segera diperbaiki") may recur

Split = Literal["train", "test"]


@dataclass(frozen=True)
class Complaint:
    id: int
    category: str
    split: Split
    hard: bool
    text: str


class CorpusError(ValueError):
    pass


def load(path: Path = CORPUS) -> list[Complaint]:
    """Every complaint of the corpus, validated (known category, split, unique id)."""
    complaints = []
    ids: set[int] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        c = Complaint(int(row["id"]), row["category"], row["split"], bool(row["hard"]), row["text"])
        if c.category not in CATEGORIES or c.split not in ("train", "test") or not c.text.strip():
            raise CorpusError(f"{path}:{n}: bad row {row!r}")
        if c.id in ids:
            raise CorpusError(f"{path}:{n}: duplicate id {c.id}")
        ids.add(c.id)
        complaints.append(c)
    return complaints


_SENTENCE_END = re.compile(r"[.!?\n]+")


def sentences(text: str) -> list[str]:
    """The normalised sentences of a text with at least `MIN_SENTENCE` words."""
    found = (normalise(part) for part in _SENTENCE_END.split(text))
    return [s for s in found if len(s.split()) >= MIN_SENTENCE]


def shingles(text: str, size: int = SHINGLE) -> set[tuple[str, ...]]:
    words = normalise(text).split()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


@dataclass(frozen=True)
class Overlap:
    train: Complaint
    test: Complaint
    kind: str  # "text", "sentence" or "shingle"
    shared: str


def overlaps(complaints: Iterable[Complaint]) -> list[Overlap]:
    """Pairs (train, test) that share a whole normalised text, a sentence or a `SHINGLE`-word run."""
    by_key: dict[tuple[str, object], list[Complaint]] = {}
    test: list[Complaint] = []
    for c in complaints:
        if c.split == "test":
            test.append(c)
            continue
        for key in _keys(c.text):
            by_key.setdefault(key, []).append(c)
    found = []
    for t in test:
        reported: set[int] = set()
        for key in _keys(t.text):
            for c in by_key.get(key, ()):
                if c.id not in reported:
                    reported.add(c.id)
                    shared = key[1] if isinstance(key[1], str) else " ".join(key[1])  # type: ignore[arg-type]
                    found.append(Overlap(c, t, key[0], shared))
    return found


def _keys(text: str) -> set[tuple[str, object]]:
    keys: set[tuple[str, object]] = {("text", normalise(text))}
    keys |= {("sentence", s) for s in sentences(text)}
    keys |= {("shingle", s) for s in shingles(text)}
    return keys


def summary(complaints: Sequence[Complaint]) -> str:
    counts = Counter((c.category, c.split) for c in complaints)
    hard = Counter(c.split for c in complaints if c.hard)
    lines = [f"{'category':24} {'train':>5} {'test':>5}"]
    for code in CATEGORIES:
        lines.append(f"{code:24} {counts[(code, 'train')]:5} {counts[(code, 'test')]:5}")
    train = sum(c.split == "train" for c in complaints)
    lines.append(f"{'total':24} {train:5} {len(complaints) - train:5}")
    lines.append(f"{'of which hard':24} {hard['train']:5} {hard['test']:5}")
    return "\n".join(lines)


def main() -> int:
    complaints = load()
    print(summary(complaints))
    found = overlaps(complaints)
    print()
    if not found:
        print(f"independence: no text, sentence (≥{MIN_SENTENCE} words) or {SHINGLE}-word run shared")
        print("between the train and test splits")
        return 0
    print(f"independence: {len(found)} train/test pairs share text:")
    for o in found:
        print(f"  #{o.train.id} (train) / #{o.test.id} (test), {o.kind}: {o.shared!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
