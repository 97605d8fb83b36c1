"""Classifier of uncategorised Indonesian complaints (DESIGN §4): text → a §4 category, or triage.

Pure: no I/O beyond reading the packaged model once (`model.model`). The pipeline, in order:

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
3. **Features and the model** (`services.routing.domain.model`): stems and stem pairs, and 3–5
   letter pieces of the normalised words, scored by a multinomial logistic regression trained on
   the corpus's train split (data/corpus/, devtools/train_classifier.py). Its softmax is
   calibrated (temperature-scaled on cross-validated predictions; the reliability table is in
   the training script's output): a complaint classified with confidence 0.8 is right about 80 %
   of the time. The model also knows ``lainnya`` (thanks, questions, PLN, prices, spam).

`classify` returns the most probable routable category when its probability reaches the model's
threshold (chosen from cross-validated probabilities by the training script), else ``None``
(triage by the coordinator). `best` is that category regardless of the threshold, or ``None`` when
``lainnya`` is the most probable class: the text fits no routable category and there is nothing
worth suggesting. ``lainnya`` itself is never returned: the coordinator gets it, as before.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from Sastrawi.Stemmer.StemmerFactory import StemmerFactory  # type: ignore[import-untyped]

from services.routing.domain.model import char_features, model, word_features

TRIAGE: Final = "lainnya"  # a class of the model, never a routing decision


@dataclass(frozen=True)
class Classification:
    category: str | None  # None: below the threshold, the coordinator decides (triage)
    best: str | None  # the top routable category even below the threshold; None when lainnya wins
    confidence: float  # the probability of `best` (of the top routable category), in [0, 1]
    runner_up: str | None = None  # the second most probable routable category, for explanations


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


# --- classification ---------------------------------------------------------------------------------


def text_features(title: str, description: str, budget: Budget | None = None) -> dict[str, set[str]]:
    """The model's feature blocks of one complaint: title and description read as one text."""
    words = normalise(f"{title}\n{description}").split()
    return {"word": word_features(stem_words(words, budget)), "char": char_features(words)}


def threshold() -> float:
    """The confidence a routable category needs to be decided without the coordinator."""
    return model().threshold


def classify(title: str, description: str, budget: Budget | None = None) -> Classification:
    """The category of a complaint from its text, or None (triage) below the threshold. With a
    budget, `TooCostly` once the classification has used more CPU than it allows."""
    trained = model()
    probabilities = trained.probabilities(text_features(title, description, budget))
    if budget is not None:
        budget.check()
    ranked = sorted(
        (c for c in probabilities if c != TRIAGE), key=lambda c: (-probabilities[c], trained.classes.index(c))
    )
    top, second = ranked[0], ranked[1]
    confidence = probabilities[top]
    best = None if probabilities.get(TRIAGE, 0.0) > confidence else top
    return Classification(
        category=best if best is not None and confidence >= trained.threshold else None,
        best=best,
        confidence=round(confidence, 4),
        runner_up=second,
    )
