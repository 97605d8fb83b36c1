"""Accuracy and speed of the complaint classifier (`services.routing.domain.classify`) on a labelled set.

The set, `bench/data/labelled_complaints.jsonl`, holds one complaint per line, {"title",
"description", "category"}, written like citizens write on LAPOR! (slang, typos, abbreviations),
covering every routable §4 category plus `lainnya` complaints whose right outcome is triage (the
classifier answers None). It was written before the lexicon and independently of it.

Printed (plain figures, nothing asserted):

- accuracy             top-1 with the threshold: a routable item is right when its category comes
                       back, a `lainnya` item when it goes to triage (category None).
- best accuracy        `best` ignoring the threshold, on routable items only (`lainnya` has no best).
- triage share         items that came back without a category.
- precision            of the confident decisions (category not None), the share that is right.
- a threshold sweep    the same figures for other thresholds, to see where THRESHOLD sits.
- per-category recall  right / total for each label (for `lainnya`: sent to triage).
- mistakes             each wrong item: label, answer, best and confidence, title, matched terms.
- throughput           classifications per second: a cold pass (stem cache emptied, lexicon already
                       loaded) and warm passes over the whole set; and the lexicon load time.

Run from the repository root:

    .venv/bin/python bench/classification.py
    .venv/bin/python bench/classification.py --data other.jsonl --repeat 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from services.routing.domain import classify as clf  # noqa: E402
from shared.categories import CATEGORIES  # noqa: E402

DEFAULT_DATA = ROOT / "bench" / "data" / "labelled_complaints.jsonl"
TRIAGE = "lainnya"


@dataclass(frozen=True)
class Item:
    title: str
    description: str
    label: str


def load(path: Path) -> list[Item]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["category"] not in CATEGORIES:
            raise SystemExit(f"{path}:{n}: unknown category {row['category']!r}")
        items.append(Item(row["title"], row["description"], row["category"]))
    return items


def decided(result: clf.Classification, threshold: float) -> str | None:
    if result.best is None or result.confidence < threshold:
        return None
    return result.best


def is_right(label: str, category: str | None) -> bool:
    return category is None if label == TRIAGE else category == label


def figures(items: list[Item], results: list[clf.Classification], threshold: float) -> dict[str, float]:
    answers = [decided(r, threshold) for r in results]
    right = sum(is_right(i.label, a) for i, a in zip(items, answers, strict=True))
    confident = [(i, a) for i, a in zip(items, answers, strict=True) if a is not None]
    routable = [(i, r) for i, r in zip(items, results, strict=True) if i.label != TRIAGE]
    return {
        "accuracy": right / len(items),
        "best_accuracy": sum(r.best == i.label for i, r in routable) / max(1, len(routable)),
        "triage_share": sum(a is None for a in answers) / len(items),
        "precision": sum(a == i.label for i, a in confident) / max(1, len(confident)),
        "confident": len(confident),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=20, help="warm passes over the set for throughput")
    args = parser.parse_args()

    items = load(args.data)
    t0 = time.perf_counter()
    lex = clf.lexicon()
    load_seconds = time.perf_counter() - t0

    clf.stem.cache_clear()
    t0 = time.perf_counter()
    results = [clf.classify(i.title, i.description) for i in items]
    cold = len(items) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        for i in items:
            clf.classify(i.title, i.description)
    warm = args.repeat * len(items) / (time.perf_counter() - t0)

    labels = Counter(i.label for i in items)
    print(f"data: {args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data}")
    print(
        f"items: {len(items)} ({len(items) - labels[TRIAGE]} routable in {len(labels) - (TRIAGE in labels)} "
        f"categories, {labels[TRIAGE]} {TRIAGE}); lexicon: {len(lex.terms)} stemmed terms; "
        f"THRESHOLD {clf.THRESHOLD}"
    )
    f = figures(items, results, clf.THRESHOLD)
    print()
    print(f"accuracy (top-1 with threshold, {TRIAGE} right when triaged): {f['accuracy']:.1%}")
    print(f"best accuracy (ignoring the threshold, routable items):     {f['best_accuracy']:.1%}")
    print(f"triage share (no category):                                  {f['triage_share']:.1%}")
    print(
        f"precision of confident decisions:                            {f['precision']:.1%} "
        f"({f['confident']:.0f} decisions)"
    )

    print()
    print("threshold sweep:  threshold  accuracy  triage  precision")
    for threshold in (0.0, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
        s = figures(items, results, threshold)
        mark = "  <- THRESHOLD" if threshold == clf.THRESHOLD else ""
        print(
            f"{'':18}{threshold:9.2f}  {s['accuracy']:8.1%}  {s['triage_share']:6.1%}  "
            f"{s['precision']:9.1%}{mark}"
        )

    print()
    print(f"{'category':24} {'right':>5} / {'total':<5} recall")
    for code in CATEGORIES:
        total = labels.get(code, 0)
        if not total:
            print(f"{code:24} {'-':>5} / {0:<5} (no items)")
            continue
        hits = sum(
            is_right(i.label, r.category) for i, r in zip(items, results, strict=True) if i.label == code
        )
        print(f"{code:24} {hits:5} / {total:<5} {hits / total:.0%}")

    mistakes = [(i, r) for i, r in zip(items, results, strict=True) if not is_right(i.label, r.category)]
    print()
    print(f"mistakes ({len(mistakes)}):")
    for i, r in mistakes:
        answer = r.category or "triage"
        print(f"  {i.label} -> {answer} (best {r.best}, confidence {r.confidence:.2f}): {i.title!r}")
        print(f"      matched: {', '.join(r.matched) or '-'}")

    print()
    print(f"lexicon load (normalise + stem every term, once): {load_seconds * 1000:.0f} ms")
    print(f"throughput cold (empty stem cache): {cold:,.0f} classifications/s")
    print(f"throughput warm ({args.repeat} passes):         {warm:,.0f} classifications/s")


if __name__ == "__main__":
    main()
