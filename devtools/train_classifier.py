"""Train routing's complaint classifier from the corpus and write its coefficients (issue 22).

    .venv/bin/python -m devtools.train_classifier            # writes services/routing/data/classifier.json
    .venv/bin/python -m devtools.train_classifier --check    # retrains, fails if the file would change

Reproducible: the train split of data/corpus/complaints.jsonl only (the test split is never read
here) and the lexicon of the classifier it replaces (data/lexicon.json),
scikit-learn pinned in the dev dependencies (1.9.1; never needed at run time), fixed seeds, one
BLAS thread, deterministic solvers; the same corpus gives the same file, byte for byte.

Steps:

1. Features of each complaint with the service's own code (`classify.text_features`: the word
   block of stems and stem pairs, the char block of 3–5 letter pieces), so training and run time
   cannot drift apart. Per block ``TfidfVectorizer(binary=True, min_df=MIN_DF)``: presence times
   idf, l2-normalised.
2. Multinomial ``LogisticRegression`` (lbfgs, l2) on the train complaints plus the lexicon's
   terms, each term a short example of its category weighted by its lexicon weight (6, decisive:
   as much as one complaint; 1, contextual: a sixth): the lexicon's ~700 hand-picked terms carry
   knowledge a thousand complaints do not (``samsat``, ``kir``, ``bphtb``...). Its strength C is
   chosen by stratified 5-fold cross-validation on the train complaints (the lexicon examples join
   every fold's training, never its held-out part), by log-loss: the probabilities are what
   routing uses.
3. Calibration: one temperature T for the softmax, fitted on the cross-validated (out-of-fold)
   logits of the chosen C by minimising their log-loss. Dividing every coefficient and intercept
   by T keeps the model a plain softmax of a linear score. A reliability table of the calibrated
   out-of-fold probabilities is printed.
4. Threshold: routing decides without the coordinator when the top routable category's
   probability reaches it. A misrouted complaint costs more than a triaged one: it waits at the
   wrong OPD, which transfers it back (*bukan wewenang*) before anyone handles it. Counting a wrong
   routing as `MISROUTE_COST` triages, a complaint should go to triage when its expected cost
   routed, (1 − p) × MISROUTE_COST, exceeds that of a triage, 1: p < 1 − 1/MISROUTE_COST. With
   calibrated probabilities that is the threshold; the script checks it against the out-of-fold
   figures (sweep printed) and writes it into the model.
5. Export: per block the features (sorted), their idf and idf × coefficient per class, rounded to
   `DIGITS` significant digits; the script then checks that the pure-Python scorer
   (`services.routing.domain.model`) reproduces scikit-learn's probabilities on the train split.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from devtools.corpus import CORPUS, load
from services.routing.domain.classify import TRIAGE, text_features
from services.routing.domain.model import BLOCKS, FORMAT, MODEL_PATH, parse
from shared.categories import CATEGORIES

LEXICON = Path(__file__).resolve().parent.parent / "data" / "lexicon.json"
SEED = 20261206
FOLDS = 5
C_GRID = (30.0, 100.0, 300.0)
MIN_DF = 2  # a feature seen in one complaint only is that complaint's, not the category's
MISROUTE_COST = 2.0  # a wrong routing costs this many triages (module docstring, step 4)
DIGITS = 5
LEXICON_FULL_WEIGHT = 6.0  # a lexicon term of this weight counts as much as one complaint


def _identity(features: Any) -> Any:
    return features


class Blocks:
    """The per-block vectorisers: fitted on the train split, then turn feature sets into a matrix."""

    def __init__(self) -> None:
        self.vectorisers = {
            name: TfidfVectorizer(analyzer=_identity, binary=True, min_df=MIN_DF) for name in BLOCKS
        }

    def fit_transform(self, docs: Sequence[dict[str, set[str]]]) -> Any:
        return hstack(
            [v.fit_transform([sorted(d[n]) for d in docs]) for n, v in self.vectorisers.items()]
        ).tocsr()

    def transform(self, docs: Sequence[dict[str, set[str]]]) -> Any:
        return hstack(
            [v.transform([sorted(d[n]) for d in docs]) for n, v in self.vectorisers.items()]
        ).tocsr()


Docs = Sequence[dict[str, set[str]]]


class Lexicon:
    """The lexicon's terms as weighted training examples (module docstring, step 2)."""

    def __init__(self, classes: list[str]) -> None:
        data = json.loads(LEXICON.read_text(encoding="utf-8"))
        entries = [(code, e["term"], float(e["weight"])) for code, es in data.items() for e in es]
        self.docs = [text_features("", term) for _, term, _ in entries]
        self.labels = np.array([classes.index(code) for code, _, _ in entries])
        self.weights = np.array([weight / LEXICON_FULL_WEIGHT for _, _, weight in entries])


def fit(docs: Docs, labels: np.ndarray, c: float, lexicon: Lexicon) -> tuple[Blocks, LogisticRegression]:
    blocks = Blocks()
    x = blocks.fit_transform([*docs, *lexicon.docs])
    y = np.concatenate([labels, lexicon.labels])
    weights = np.concatenate([np.ones(len(docs)), lexicon.weights])
    lr = LogisticRegression(C=c, max_iter=5000, tol=1e-6, random_state=SEED)
    lr.fit(x, y, sample_weight=weights)
    return blocks, lr


def out_of_fold_logits(docs: Docs, labels: np.ndarray, c: float, lexicon: Lexicon) -> np.ndarray:
    """Each train complaint's logits from a model fitted on the other folds (vocabulary included)."""
    logits = np.zeros((len(docs), len(np.unique(labels))))
    for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(docs, labels):
        blocks, lr = fit([docs[i] for i in train], labels[train], c, lexicon)
        logits[held] = lr.decision_function(blocks.transform([docs[i] for i in held]))
    return logits


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def log_loss(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def decisions(probabilities: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per complaint: the top routable class index, its probability, and whether lainnya wins."""
    routable = np.array([c != TRIAGE for c in classes])
    masked = np.where(routable, probabilities, -1.0)
    top = masked.argmax(axis=1)
    confidence = masked.max(axis=1)
    triage_wins = probabilities[:, classes.index(TRIAGE)] > confidence
    return top, confidence, triage_wins


def reliability(confidence: np.ndarray, right: np.ndarray) -> list[str]:
    lines = ["  confidence   items  mean conf  share right"]
    edges = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001]
    for lo, hi in itertools.pairwise(edges):
        mask = (confidence >= lo) & (confidence < hi)
        if mask.any():
            lines.append(
                f"  {lo:4.2f}–{min(hi, 1.0):4.2f}  {int(mask.sum()):7}  {confidence[mask].mean():9.3f}  "
                f"{right[mask].mean():11.3f}"
            )
    ece = sum(
        abs(confidence[m].mean() - right[m].mean()) * m.sum() / len(confidence)
        for lo, hi in itertools.pairwise(edges)
        if (m := (confidence >= lo) & (confidence < hi)).any()
    )
    lines.append(f"  expected calibration error: {ece:.3f}")
    return lines


def sweep(
    top: np.ndarray,
    confidence: np.ndarray,
    triage_wins: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    threshold: float,
) -> dict[str, float]:
    triage_index = classes.index(TRIAGE)
    routed = (confidence >= threshold) & ~triage_wins
    right = np.where(routed, top == labels, labels == triage_index)
    return {
        "accuracy": float(right.mean()),
        "triage": float((~routed).mean()),
        "precision": float((top[routed] == labels[routed]).mean()) if routed.any() else 1.0,
    }


def rounded(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def export(
    blocks: Blocks, lr: LogisticRegression, temperature: float, threshold: float, metadata: dict[str, Any]
) -> dict[str, Any]:
    coef = lr.coef_ / temperature
    offset = 0
    exported: dict[str, Any] = {}
    for name, vectoriser in blocks.vectorisers.items():
        vocabulary: dict[str, int] = vectoriser.vocabulary_
        idf = vectoriser.idf_
        features = sorted(vocabulary)
        columns = [vocabulary[f] for f in features]
        exported[name] = {
            "features": features,
            "idf": [rounded(idf[j]) for j in columns],
            "weights": [[rounded(idf[j] * w) for w in coef[:, offset + j]] for j in columns],
        }
        offset += len(vocabulary)
    return {
        "format": FORMAT,
        "classes": [str(c) for c in lr.classes_],
        "intercept": [rounded(b / temperature) for b in lr.intercept_],
        "threshold": threshold,
        "trained": metadata,
        "blocks": exported,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the packaged model differs")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    with threadpool_limits(1):  # one BLAS thread: the same sums in the same order on any machine
        return train_and_write(args.out, check=args.check)


def train_and_write(out: Path, check: bool) -> int:
    train = [c for c in load() if c.split == "train"]
    classes = [code for code in CATEGORIES if any(c.category == code for c in train)]
    labels = np.array([classes.index(c.category) for c in train])
    docs = [text_features("", c.text) for c in train]
    lexicon = Lexicon(classes)
    print(f"train split: {len(train)} complaints, {len(classes)} classes; {len(lexicon.docs)} lexicon terms")

    print("\nC by 5-fold cross-validation (log-loss of out-of-fold probabilities, accuracy):")
    results = {}
    for c in C_GRID:
        logits = out_of_fold_logits(docs, labels, c, lexicon)
        results[c] = logits
        accuracy = float((logits.argmax(axis=1) == labels).mean())
        print(f"  C={c:<6g} log-loss {log_loss(logits, labels):.4f}  top-1 {accuracy:.3f}")
    best_c = min(C_GRID, key=lambda c: log_loss(results[c], labels))
    logits = results[best_c]
    fitted = minimize_scalar(lambda t: log_loss(logits, labels, t), bounds=(0.05, 20.0), method="bounded")
    temperature = round(float(fitted.x), 3)
    print(
        f"chosen C={best_c:g}; temperature {temperature} (log-loss {log_loss(logits, labels):.4f} "
        f"→ {log_loss(logits, labels, temperature):.4f})"
    )

    probabilities = softmax(logits, temperature)
    top, confidence, triage_wins = decisions(probabilities, classes)
    print("\nreliability of the calibrated out-of-fold probability of the top routable category")
    print("(complaints labelled with a routable category):")
    routable = labels != classes.index(TRIAGE)
    print("\n".join(reliability(confidence[routable], (top == labels)[routable])))

    threshold = round(1.0 - 1.0 / MISROUTE_COST, 2)
    print(f"\nthreshold: p < 1 − 1/{MISROUTE_COST:g} → triage, i.e. {threshold}; out-of-fold sweep:")
    print("  threshold  accuracy  triage  precision of routed")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        s = sweep(top, confidence, triage_wins, labels, classes, t)
        mark = "  <- chosen" if math.isclose(t, threshold) else ""
        print(f"  {t:9.2f}  {s['accuracy']:8.3f}  {s['triage']:6.3f}  {s['precision']:9.3f}{mark}")

    blocks, lr = fit(docs, labels, best_c, lexicon)
    if [str(c) for c in lr.classes_] != [str(i) for i in range(len(classes))]:
        raise SystemExit("unexpected class order")
    lr.classes_ = np.array(classes)
    metadata = {
        "script": "devtools/train_classifier.py",
        "corpus_sha256": hashlib.sha256(CORPUS.read_bytes()).hexdigest(),
        "lexicon_sha256": hashlib.sha256(LEXICON.read_bytes()).hexdigest(),
        "train_complaints": len(train),
        "C": best_c,
        "temperature": temperature,
        "min_df": MIN_DF,
        "misroute_cost": MISROUTE_COST,
        "features": {name: len(v.vocabulary_) for name, v in blocks.vectorisers.items()},
    }
    data = export(blocks, lr, temperature, threshold, metadata)

    # The pure-Python scorer must give scikit-learn's probabilities (up to the rounding).
    runtime = parse(data)
    reference = softmax(lr.decision_function(blocks.transform(docs)), temperature)
    worst = max(
        abs(runtime.probabilities(d)[cls] - reference[i, j])
        for i, d in enumerate(docs)
        for j, cls in enumerate(classes)
    )
    print(f"\nfeatures: {metadata['features']}; runtime vs scikit-learn, worst probability gap {worst:.2e}")
    if worst > 1e-3:
        raise SystemExit("the runtime scorer disagrees with scikit-learn")

    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"
    if check:
        same = out.exists() and out.read_text(encoding="utf-8") == text
        print(f"{out}: {'up to date' if same else 'DIFFERS from a fresh training'}")
        return 0 if same else 1
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({len(text.encode()) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
