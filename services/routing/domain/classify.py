"""Classifier of uncategorised Indonesian complaints (DESIGN §4): text → a §4 category, or triage.

Pure: no I/O beyond reading the packaged lexicon once. The pipeline, in order:

1. **Normalisation** (`normalise`, linear in the text): lowercase; URLs and e-mail addresses
   dropped; a few multi-token forms folded first (``e-ktp``/``ktp-el`` → ``ktp``, ``ak/1`` →
   ``kartu kuning``, ``pbb-p2`` → ``pbb``,
   ``kelas 7``–``9`` → ``kelas smp``, ``kelas 10``–``12``/``xi`` → ``kelas sma``, the courtesy
   ``mohon izin``/``izin bertanya`` without its ``izin``, which is not a permit); reduplication
   written ``sampah2`` or ``gorong-gorong`` (also ``berbulan-bulan``) → one word; other hyphens split;
   digits and punctuation dropped; letters repeated 3+ times collapsed (``bangeeet`` → ``banget``);
   then a token map of common slang, abbreviations and typos (``gk/ga/nggak`` → ``tidak``,
   ``jln/jl`` → ``jalan``, ``yg`` → ``yang``, ``lobang`` → ``lubang``, ``smpn`` → ``smp``, ...).
2. **Stemming** with Sastrawi (PySastrawi): one stemmer for the process, every word's stem cached
   (`functools.lru_cache`), because Sastrawi is slow per call and complaint vocabulary repeats.
3. **Lexicon matching**: ``data/lexicon.json`` maps each category code to ``{"term", "weight"}``
   entries written in natural Indonesian; each term is normalised and stemmed the same way at load
   time. A one-word term matches its stem; a multi-word term matches its stems in order with at
   most `MAX_GAP` other words between consecutive ones (``lampu di jalan`` matches ``lampu jalan``).
   Longer terms win: a term whose every matched word is already covered by a longer matched term
   (of any category) does not count, so ``lampu jalan`` does not also score ``jalan`` for roads,
   nor ``pajak kendaraan`` score ``pajak`` for local taxes. Each term counts once per complaint
   (presence, not frequency), times `TITLE_BOOST` if it occurs in the title.
4. **Score and confidence**: a category's score is the sum of its matched terms' weights. The
   confidence of the top category is a softmax over the categories that scored, plus a constant
   "no category" logit `BASELINE`, at temperature `TEMPERATURE`::

       confidence = exp(s_top / T) / (exp(BASELINE / T) + Σ_c exp(s_c / T))   over s_c > 0

   So it is low both when the evidence is thin (one weak word barely beats the baseline) and
   when two categories compete (ties give < 0.5); it is 0 when nothing matched. Lexicon weights
   run 1 (contextual) … 6 (decisive, e.g. ``pdam``, ``samsat``, ``puskesmas``), and 8 for the
   decisive misconduct terms of ``pungli-maladministrasi`` (``pungli``, ``calo``, ``suap``): the
   misconduct outweighs the office where it happened (a ``calo`` at the ``samsat`` is a pungli
   complaint). With BASELINE 2 and T 2, a single decisive term gives 0.88, a single weight-2
   word gives 0.5, two equally decisive terms of different categories give < 0.5.

`classify` returns the top category when its confidence reaches `THRESHOLD`, else ``None``
(triage by the coordinator); `best` is the top category regardless. ``lainnya`` has no lexicon
entries, so it is never returned: a complaint that fits nothing goes to triage instead.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory  # type: ignore[import-untyped]

from services.routing.domain.model import char_features, word_features
from shared.categories import CATEGORIES

LEXICON_PATH: Final = (
    Path(__file__).parent.parent / "data" / "lexicon.json"
)  # package data of services.routing

# Chosen with bench/classification.py: on the labelled set (176 complaints) and on a fresh held-out
# set written after the lexicon (72), every threshold in 0.55–0.70 gave the same, best accuracy;
# above that accuracy falls as more goes to triage. 0.6 is the low end of that plateau, i.e. the
# least triage for the best accuracy (0.65 bought ~3 points of precision on the held-out set for
# ~4 points more triage). Its meaning: one tier-3 term alone in the description (a strong but
# shared word such as ``macet``, ``gaji``) decides (0.62); one weight-2 word alone does not (0.5);
# two equally supported categories never decide (< 0.5): the coordinator gets those.
THRESHOLD: Final = 0.6
BASELINE: Final = 2.0  # the logit of "no category" in the confidence softmax
TEMPERATURE: Final = 2.0
TITLE_BOOST: Final = 1.5  # a term in the title counts this much more than in the description
MAX_GAP: Final = 1  # other words allowed between two consecutive words of a multi-word term


@dataclass(frozen=True)
class Classification:
    category: str | None  # None: below THRESHOLD, the coordinator decides (triage)
    best: str | None  # the top category even below the threshold; None when nothing matched
    confidence: float  # in [0, 1]
    matched: tuple[str, ...]  # lexicon terms that counted, the best category's first


# --- normalisation ---------------------------------------------------------------------------------

# Linear time on any text (issue 15). E-mail addresses and links are dropped by a scan of the
# whitespace-separated tokens (`drop_links`): the pattern it replaces, ``\S+@\S+\.\S+``, backtracked
# cubically (44 s on ``"@" * 4000``), and google-re2, linear, still costs about 10 µs a match in
# Python (15 ms on ``"a@b.c " * 666``). The patterns below have no nested or overlapping
# quantifiers (each ``\s*`` is followed by a literal that cannot be whitespace), so Python's engine
# is linear on them.
_LINK_STARTS: Final = ("http://", "https://", "www.")


def drop_links(text: str) -> str:
    r"""`text` without e-mail addresses and links, as ``(?:https?://|www\.)\S+|\S+@\S+\.\S+``
    replaced by a space: a token with an ``@`` after its first character and a ``.`` after the
    character following it, but before its last, goes whole; otherwise a token loses everything
    from its first ``http://``, ``https://`` or ``www.`` that something follows. Whitespace
    between tokens becomes one space (nothing after this step tells them apart)."""
    kept = []
    for token in text.split():
        at = token.find("@", 1)
        if at != -1 and token.find(".", at + 2, len(token) - 1) != -1:
            continue
        found = ((token.find(start), len(start)) for start in _LINK_STARTS)
        starts = [i for i, size in found if i != -1 and i + size < len(token)]  # a link has a rest
        kept.append(token[: min(starts)] if starts else token)
    return " ".join(kept)


_PHRASES: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(?:e\s*(?:[-.]\s*)?ktp|ktp\s*(?:[-.]\s*)?el(?:ektronik)?)\b", " ktp "),
        (r"\bak\s*(?:[-/.]\s*)?1\b", " kartu kuning "),
        (r"\bpbb\s*(?:[-.]\s*)?p2\b", " pbb "),
        (r"\bkelas\s*(?:7|8|9|vii|viii|ix)\b", " kelas smp "),
        (r"\bkelas\s*(?:10|11|12|x|xi|xii)\b", " kelas sma "),
        # Courtesy, not a permit: "mohon izin bertanya", "izin melapor".
        (r"\b(?:mohon|minta)\s+i[jz]in\b", " mohon "),
        (r"\bi[jz]in\s+(?=(?:me)?lapor|(?:ber)?tanya|menyampaikan|mengadu)", " "),
    )
)
_REDUP_DIGIT = re.compile(r"\b([a-z]{2,})2\b")  # sampah2, anak2
_HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]+)\b")  # gorong-gorong, berbulan-bulan, kedap-kedip
_NON_LETTER = re.compile(r"[^a-z]+")
# A text is stemmed word by word: at most this many distinct words per text go through Sastrawi
# (uncached, a word costs up to a millisecond); further new words count as written. Complaints use
# a few hundred distinct words at most (the labelled set: 160).
MAX_STEMMED_WORDS: Final = 400
# Longer "words" are no Indonesian word (the longest, with affixes, has about 30 letters): they
# are kept as written, never handed to Sastrawi's patterns.
MAX_WORD: Final = 40


def collapse_repeats(text: str) -> str:
    """Letters repeated 3+ times written once (``bangeeet`` → ``banget``): one pass, linear."""
    out: list[str] = []
    previous, run = "", 0
    for char in text:
        if char == previous:
            run += 1
        else:
            previous, run = char, 1
        if run == 3 and char.isalpha():
            del out[-2:]  # the first two of the run go; the run is written once
            out.append(char)
        elif run < 3 or not char.isalpha():
            out.append(char)
    return "".join(out)


SLANG: Final[Mapping[str, str]] = {
    # negation
    **dict.fromkeys(
        (
            "gk",
            "ga",
            "gak",
            "gag",
            "nggak",
            "ngga",
            "nggk",
            "enggak",
            "engga",
            "tdk",
            "tak",
            "nda",
            "ndak",
            "kagak",
            "g",
        ),
        "tidak",
    ),
    "gabisa": "tidak bisa",
    "gakbisa": "tidak bisa",
    # roads and places
    "jln": "jalan",
    "jl": "jalan",
    "jaln": "jalan",
    "jalanan": "jalan",
    "lobang": "lubang",
    "lobangnya": "lubang",
    "bolong": "lubang",
    "kel": "kelurahan",
    "kec": "kecamatan",
    "kab": "kabupaten",
    "ijin": "izin",
    "perijinan": "perizinan",
    "perum": "perumahan",
    # function words and common shorthand
    "yg": "yang",
    "dgn": "dengan",
    "dg": "dengan",
    "krn": "karena",
    "karna": "karena",
    "krna": "karena",
    "sdh": "sudah",
    "udh": "sudah",
    "udah": "sudah",
    "dah": "sudah",
    "blm": "belum",
    "blum": "belum",
    "bgt": "banget",
    "bngt": "banget",
    "tlg": "tolong",
    "tolongin": "tolong",
    "dr": "dari",
    "utk": "untuk",
    "bnyk": "banyak",
    "byk": "banyak",
    "bsr": "besar",
    "gede": "besar",
    "skrg": "sekarang",
    "skrng": "sekarang",
    "tp": "tapi",
    "jg": "juga",
    "sy": "saya",
    "gmn": "bagaimana",
    "gimana": "bagaimana",
    "knp": "kenapa",
    "trs": "terus",
    "trus": "terus",
    "pake": "pakai",
    "sampe": "sampai",
    "deket": "dekat",
    "ortu": "orang tua",
    "kades": "kepala desa",
    "kepsek": "kepala sekolah",
    # colloquial verb forms Sastrawi does not undo
    "ngurus": "mengurus",
    "nunggu": "menunggu",
    "ngajukan": "mengajukan",
    "ngajuin": "mengajukan",
    "nampung": "menampung",
    "ngelupas": "mengelupas",
    # services and institutions
    "puskes": "puskesmas",
    "rs": "rumah sakit",
    "ambulance": "ambulans",
    "sdn": "sd",
    "smpn": "smp",
    "sman": "sma",
    "smu": "sma",
    "smkn": "smk",
    "stm": "smk",
    "ektp": "ktp",
    "ktpel": "ktp",
    "disduk": "disdukcapil",
    "lpju": "pju",
    "bis": "bus",
    "supir": "sopir",
    "jukir": "juru parkir",
    "bangjo": "lampu lalu lintas",  # Javanese abang-ijo
    "apill": "lampu lalu lintas",
    "ojol": "ojek",
}


def _fold_hyphen(match: re.Match[str]) -> str:
    left, right = match.group(1), match.group(2)
    if left.endswith(right):  # gorong-gorong, berbulan-bulan: the reduplicated word once
        return left
    return f"{left} {right}"


def normalise(text: str) -> str:
    """Lowercased, cleaned text with slang and typos mapped to standard Indonesian words."""
    text = drop_links(text.lower())
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    text = _REDUP_DIGIT.sub(r"\1", text)
    text = _HYPHENATED.sub(_fold_hyphen, text)
    text = collapse_repeats(_NON_LETTER.sub(" ", text))
    words: list[str] = []
    for word in text.split():
        mapped = SLANG.get(word, word)
        if len(mapped) > 1:
            words.append(mapped)
    return " ".join(words)


# --- stemming --------------------------------------------------------------------------------------


@functools.cache
def _stemmer() -> Any:
    # Sastrawi's own stemmer without its result cache: that cache is a dict that keeps every word
    # ever seen (a stranger sending random words would grow it without end); `stem`'s LRU bounds it.
    return StemmerFactory().create_stemmer().delegatedStemmer


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Sastrawi's stem of one normalised word (cached)."""
    stemmed: str = _stemmer().stem(word)
    return stemmed or word


class TooCostly(Exception):
    """A text took more CPU to classify than its budget: a content fault, not a transient one."""


@dataclass
class Budget:
    """CPU time (of the thread that classifies) one complaint's classification may use."""

    seconds: float
    started: float = field(default_factory=time.thread_time)

    def check(self) -> None:
        used = time.thread_time() - self.started
        if used > self.seconds:
            raise TooCostly(f"klasifikasi melebihi batas CPU {self.seconds:.2f} s ({used:.2f} s)")


def stem_words(words: Sequence[str], budget: Budget | None = None) -> list[str]:
    """Each normalised word's stem: at most `MAX_STEMMED_WORDS` distinct words go through the
    stemmer, none longer than `MAX_WORD`; the others count as written."""
    found: dict[str, str] = {}
    result = []
    for word in words:
        stemmed = found.get(word)
        if stemmed is None:
            stemmed = stem(word) if len(found) < MAX_STEMMED_WORDS and len(word) <= MAX_WORD else word
            found[word] = stemmed
            if budget is not None:
                budget.check()
        result.append(stemmed)
    return result


def stems(text: str, budget: Budget | None = None) -> list[str]:
    """Normalised, stemmed words of a text (`stem_words` of `normalise`)."""
    return stem_words(normalise(text).split(), budget)


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


# --- the trained model's features (services.routing.domain.model) ----------------------------

TRIAGE: Final = "lainnya"  # a class of the model, never a routing decision


def text_features(title: str, description: str, budget: Budget | None = None) -> dict[str, set[str]]:
    """The model's feature blocks of one complaint: title and description read as one text."""
    words = normalise(f"{title}\n{description}").split()
    return {"word": word_features(stem_words(words, budget)), "char": char_features(words)}
