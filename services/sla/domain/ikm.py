"""The Indeks Kepuasan Masyarakat (IKM) of PermenPANRB 14/2017 from pre-aggregated counters.

The regulation's formula: the average of each element (unsur) over the respondents, weighted by
1/9 each (equal weights: 1 / number of elements), summed, times 25 so that a score of 1–4 becomes
an index of 25–100:

    IKM = 25 × Σ_i (avg_i × 1/9),   avg_i = (Σ_respondents score_i) / n

Every respondent answers every element (intake refuses an incomplete questionnaire), so the
counters kept per OPD, month and questionnaire version are `n` and one sum per element; the
index needs nothing else. The arithmetic is exact (fractions); the index is reported, and graded,
at two decimals rounded half up, the precision of the regulation's conversion table:

    | mutu | kinerja unit    | IKM (nilai interval konversi) |
    | A    | Sangat baik     | 88,31 – 100,00 |
    | B    | Baik            | 76,61 – 88,30  |
    | C    | Kurang baik     | 65,00 – 76,60  |
    | D    | Tidak baik      | 25,00 – 64,99  |

Not to be confused with the reporter's 1–5 rating at closing ("kepuasan atas penanganan
pengaduan"), which is reported separately and never as IKM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from shared.survey import QUESTIONNAIRES, Questionnaire

# (grade, label, lowest index of the grade at two decimals), best first.
GRADES: tuple[tuple[str, str, Decimal], ...] = (
    ("A", "Sangat baik", Decimal("88.31")),
    ("B", "Baik", Decimal("76.61")),
    ("C", "Kurang baik", Decimal("65.00")),
    ("D", "Tidak baik", Decimal("25.00")),
)
CENT = Decimal("0.01")


def two_decimals(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def grade(index: Decimal) -> tuple[str, str]:
    """The quality (mutu) and the unit's performance label of an index at two decimals."""
    if not Decimal("25.00") <= index <= Decimal("100.00"):
        raise ValueError(f"IKM di luar 25–100: {index}")
    for letter, label, low in GRADES:
        if index >= low:
            return letter, label
    raise AssertionError("unreachable: D starts at 25.00")


@dataclass(frozen=True)
class Ikm:
    version: str
    respondents: int
    element_averages: dict[str, Decimal]  # per element code, at three decimals (as reports show)
    index: Decimal  # two decimals
    grade: str
    label: str


def index_of(questionnaire: Questionnaire, n: int, sums: Mapping[str, int]) -> Fraction:
    """25 × the equally weighted mean of the element averages, exactly: with weights 1/k for k
    elements, 25 × Σ_i (sum_i / n) / k = 25 × Σ_i sum_i / (n × k), one fraction."""
    return index_of_total(questionnaire, n, sum(int(sums.get(code, 0)) for code in questionnaire.codes))


def index_of_total(questionnaire: Questionnaire, n: int, total: int) -> Fraction:
    """The same from `total`, the element sums added up: all the index needs of them, so a
    figure summed over many counter documents can carry two integers instead of k sums."""
    if n <= 0:
        raise ValueError("tanpa responden tidak ada IKM")
    return Fraction(25 * total, n * len(questionnaire.elements))


def graded_index(questionnaire: Questionnaire, n: int, total: int) -> tuple[Decimal, str] | None:
    """The index at two decimals and its grade from `n` and the element sums' `total`, without
    the element averages (the public page); None without respondents."""
    if n <= 0:
        return None
    value = two_decimals(index_of_total(questionnaire, n, total))
    return value, grade(value)[0]


def ikm(version: str, n: int, sums: Mapping[str, int]) -> Ikm | None:
    """The IKM of `n` respondents of questionnaire `version` whose scores sum to `sums` per
    element; None without respondents or for a version this code does not know."""
    questionnaire = QUESTIONNAIRES.get(version)
    if questionnaire is None or n <= 0:
        return None
    value = two_decimals(index_of(questionnaire, n, sums))
    letter, label = grade(value)
    averages = {
        code: (Decimal(int(sums.get(code, 0))) / Decimal(n)).quantize(
            Decimal("0.001"), rounding=ROUND_HALF_UP
        )
        for code in questionnaire.codes
    }
    return Ikm(version, n, averages, value, letter, label)


def _kept(counts: Mapping[str, object], version: str) -> tuple[int, dict[str, int]] | None:
    kept = counts.get("ikm")
    sums = kept.get(version) if isinstance(kept, Mapping) else None
    if not isinstance(sums, Mapping):
        return None
    return int(sums.get("n", 0)), {k: int(v) for k, v in sums.items() if k != "n"}


def from_counts(counts: Mapping[str, object], version: str) -> Ikm | None:
    """The IKM from a counter document's `ikm` field: `{version: {"n": …, "u1": …, …}}`."""
    kept = _kept(counts, version)
    return None if kept is None else ikm(version, *kept)
