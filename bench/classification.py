"""Accuracy, calibration and speed of routing's complaint classifier, next to the old lexicon's.

Measured on the corpus (data/corpus/complaints.jsonl): its **test** split, which the model never saw
(devtools/train_classifier.py reads the train split only), and its train split for comparison; and
on ``bench/data/labelled_complaints.jsonl`` (176 complaints written before the corpus). That last
set is NOT independent of either classifier: the lexicon was tuned on it (100 %), and the model
learns from the lexicon's terms; its figures show agreement, not generalisation. For each set: the
model (`services.routing.domain.classify`) and the lexicon classifier it replaced (`bench.lexicon`).

Printed (plain figures, nothing asserted):

- accuracy           a routable complaint is right when its category comes back, a ``lainnya`` one
                     when it goes to triage (category None); triage of a routable one is wrong.
- top-1              the best routable category ignoring the threshold (routable complaints only).
- macro-F1           over the 17 labels, a triaged complaint counting as ``lainnya``.
- triage rate        complaints that came back without a category.
- precision          of the complaints routed without the coordinator, the share routed right.
- hard               accuracy on the complaints flagged ``hard`` (slang, regional, two topics).
- per-category recall, a reliability table (confidence bins: mean confidence vs share right),
  a threshold sweep, and the mistakes on the test split.
- time per complaint  median and p99 of `classify` (title + description), a first pass with an
  empty stem cache and warm passes (wall clock, and the thread's CPU time, which leaves out the
  time other processes had the CPU on a shared machine); and the model's load time.

Run from the repository root:

    .venv/bin/python bench/classification.py
    .venv/bin/python bench/classification.py --repeat 5 --mistakes
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from bench import lexicon  # noqa: E402
from devtools.corpus import load as load_corpus  # noqa: E402
from services.routing.domain import classify as clf  # noqa: E402
from services.routing.domain import model as trained  # noqa: E402
from shared.categories import CATEGORIES  # noqa: E402

LABELLED = ROOT / "bench" / "data" / "labelled_complaints.jsonl"
TRIAGE = "lainnya"


@dataclass(frozen=True)
class Item:
    title: str
    description: str
    label: str
    hard: bool = False


@dataclass(frozen=True)
class Answer:
    category: str | None  # None: triage
    best: str | None
    confidence: float


Classifier = Callable[[str, str], Answer]


def model_classifier(title: str, description: str) -> Answer:
    r = clf.classify(title, description)
    return Answer(r.category, r.best, r.confidence)


def lexicon_classifier(title: str, description: str) -> Answer:
    r = lexicon.classify(title, description)
    return Answer(r.category, r.best, r.confidence)


def corpus_items(split: str) -> list[Item]:
    return [Item("", c.text, c.category, c.hard) for c in load_corpus() if c.split == split]


def labelled_items() -> list[Item]:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Item(r["title"], r["description"], r["category"]) for r in rows]


def predicted(answer: Answer, threshold: float | None = None) -> str:
    """The label an answer amounts to: its category, or lainnya when triaged."""
    if threshold is None:
        return answer.category or TRIAGE
    if answer.best is None or answer.confidence < threshold:
        return TRIAGE
    return answer.best


def figures(
    items: Sequence[Item], answers: Sequence[Answer], threshold: float | None = None
) -> dict[str, float]:
    pairs = list(zip(items, answers, strict=True))
    labels = [predicted(a, threshold) for a in answers]
    right = [i.label == p for i, p in zip(items, labels, strict=True)]
    routable = [(i, a) for i, a in pairs if i.label != TRIAGE]
    routed = [(i, p) for i, p in zip(items, labels, strict=True) if p != TRIAGE]
    hard = [r for i, r in zip(items, right, strict=True) if i.hard]
    f1s = []
    for code in CATEGORIES:
        tp = sum(i.label == code and p == code for i, p in zip(items, labels, strict=True))
        fp = sum(i.label != code and p == code for i, p in zip(items, labels, strict=True))
        fn = sum(i.label == code and p != code for i, p in zip(items, labels, strict=True))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return {
        "accuracy": sum(right) / len(items),
        "top1": sum(a.best == i.label for i, a in routable) / max(1, len(routable)),
        "macro_f1": statistics.fmean(f1s),
        "triage": sum(p == TRIAGE for p in labels) / len(items),
        "precision": sum(i.label == p for i, p in routed) / max(1, len(routed)),
        "hard": sum(hard) / len(hard) if hard else float("nan"),
        "n_hard": len(hard),
    }


def timed(
    classifier: Classifier, items: Sequence[Item], clock: Callable[[], float] = time.perf_counter
) -> tuple[list[Answer], list[float]]:
    answers, seconds = [], []
    for i in items:
        started = clock()
        answers.append(classifier(i.title, i.description))
        seconds.append(clock() - started)
    return answers, seconds


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, items: Sequence[Item], answers: Sequence[Answer], threshold: float) -> None:
    f = figures(items, answers)
    print(
        f"  {name:16} accuracy {f['accuracy']:6.1%}  top-1 {f['top1']:6.1%}  macro-F1 {f['macro_f1']:.3f}  "
        f"triage {f['triage']:5.1%}  precision {f['precision']:6.1%}  "
        f"hard {f['hard']:6.1%} (of {f['n_hard']})  [threshold {threshold}]"
    )


def recall_table(items: Sequence[Item], columns: dict[str, Sequence[Answer]]) -> None:
    header = "".join(f" {name:>16}" for name in columns)
    print(f"  {'category':24} {'n':>3}{header}")
    for code in CATEGORIES:
        mine = [k for k, i in enumerate(items) if i.label == code]
        if not mine:
            continue
        cells = "".join(
            f" {sum(predicted(answers[k]) == code for k in mine) / len(mine):16.0%}"
            for answers in columns.values()
        )
        print(f"  {code:24} {len(mine):3}{cells}")


def reliability(items: Sequence[Item], answers: Sequence[Answer]) -> None:
    print("  confidence   items  mean conf  top routable right")
    edges = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001]
    pairs = [
        (a.confidence, a.best is not None and a.best == i.label)
        for i, a in zip(items, answers, strict=True)
        if i.label != TRIAGE
    ]
    for lo, hi in itertools.pairwise(edges):
        inside = [(c, r) for c, r in pairs if lo <= c < hi]
        if inside:
            mean = statistics.fmean(c for c, _ in inside)
            share = sum(r for _, r in inside) / len(inside)
            print(f"  {lo:4.2f}–{min(hi, 1.0):4.2f}  {len(inside):7}  {mean:9.3f}  {share:18.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm passes for the timing")
    parser.add_argument("--mistakes", action="store_true", help="list the model's mistakes on the test split")
    args = parser.parse_args()

    started = time.perf_counter()
    model = trained.model()
    load_ms = 1000 * (time.perf_counter() - started)
    lexicon.lexicon()
    threshold = model.threshold
    sets = {
        "corpus test": corpus_items("test"),
        "corpus train": corpus_items("train"),
        "labelled (176)": labelled_items(),
    }
    test = sets["corpus test"]
    print(
        f"model: {trained.MODEL_PATH.relative_to(ROOT)}, {len(model.classes)} classes, "
        f"{sum(len(b.vectors) for b in model.blocks.values()):,} features, threshold {threshold}, "
        f"loaded in {load_ms:.0f} ms"
    )
    print(
        f"corpus test split: {len(test)} complaints ({sum(i.hard for i in test)} hard); lexicon threshold "
        f"{lexicon.THRESHOLD}"
    )

    clf.stem.cache_clear()
    cold_answers, cold = timed(model_classifier, test)
    warm: list[float] = []
    cpu: list[float] = []
    for _ in range(args.repeat):
        warm += timed(model_classifier, test)[1]
        cpu += timed(model_classifier, test, time.thread_time)[1]
    answers = {name: timed(model_classifier, items)[0] for name, items in sets.items()}
    lexicon_answers = {name: timed(lexicon_classifier, items)[0] for name, items in sets.items()}
    if [a.category for a in answers["corpus test"]] != [a.category for a in cold_answers]:
        raise SystemExit("the stem cache changed an answer")  # it must only change the time

    for name, items in sets.items():
        print(f"\n{name} ({len(items)} complaints):")
        report("model", items, answers[name], threshold)
        report("old lexicon", items, lexicon_answers[name], lexicon.THRESHOLD)

    print("\nper-category recall on the test split (lainnya: sent to triage):")
    recall_table(test, {"model": answers["corpus test"], "old lexicon": lexicon_answers["corpus test"]})

    print("\nreliability of the model's confidence on the test split (routable complaints):")
    reliability(test, answers["corpus test"])

    print("\nthreshold sweep on the test split (model):  threshold  accuracy  triage  precision")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        s = figures(test, answers["corpus test"], t)
        mark = "  <- model threshold" if abs(t - threshold) < 1e-9 else ""
        print(f"{'':43}{t:9.2f}  {s['accuracy']:8.1%}  {s['triage']:6.1%}  {s['precision']:9.1%}{mark}")

    if args.mistakes:
        print("\nmodel mistakes on the test split:")
        for i, a in zip(test, answers["corpus test"], strict=True):
            if predicted(a) != i.label:
                print(
                    f"  {i.label} -> {a.category or 'triage'} (best {a.best}, {a.confidence:.2f}): "
                    f"{i.description[:110]!r}"
                )

    print("\ntime per complaint, test split (classify: normalise, stem, features, score):")
    rows = (
        ("first pass, empty stem cache", cold),
        (f"warm ({args.repeat} passes), wall clock", warm),
        (f"warm ({args.repeat} passes), thread CPU", cpu),
    )
    for name, values in rows:
        print(
            f"  {name:30} median {statistics.median(values) * 1000:6.3f} ms   "
            f"p99 {percentile(values, 0.99) * 1000:6.3f} ms"
        )
    chars = [len(i.description) for i in test]
    print(f"  texts: median {statistics.median(chars):.0f} characters, longest {max(chars)}")


if __name__ == "__main__":
    main()
