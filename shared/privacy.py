"""Privacy rules that bind every service's output (DESIGN §3).

Numbers are found in time linear in the text (issue 15): no backtracking pattern ever sees the
text. One pass of a pattern without nested or overlapping quantifiers lists the runs of digits;
a short scan in Python then joins consecutive runs separated by at most `MAX_GAP` separator
characters (space, dot, dash, parentheses, slash) into candidate numbers of at most
`MAX_DIGITS` digits, and decides on each.
A run of digits is maximal by construction, so no number is ever cut out of a longer one (what
``(?<!\\d)``/``(?!\\d)`` used to say). Every run starts at most `MAX_DIGITS` candidates, so the
whole scan is linear.

What is masked (`mask_contacts`): NIK-shaped numbers (16 digits in any grouping: ``3374011505900001``,
``3374 0115 0590 0001``, ``337401 150590 0001``, ``33.74.01.150590.0001``) and Indonesian phone
numbers (``+62``, ``62`` or ``0``, then 8–12 digits starting 2–9, in any grouping:
``0812 3456 78 90``, ``+62 812-3456-7890``, ``(0812) 3456789``, ``(024) 351 5871``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

MAX_DIGITS: Final = 16  # a NIK; the longest phone is +62 and 12 digits
MAX_GAP: Final = 3  # separator characters allowed between two groups of one number
_SEPARATORS: Final = frozenset(" .-()/\u00a0\t")
# One character class, one quantifier: linear in Python's engine, and without google-re2's cost per
# match (about 7 µs, which a text of 2,000 one-digit numbers would turn into 15 ms).
_DIGIT_RUNS = re.compile(r"[0-9]+")
# A candidate is only decided on at these digit counts (a phone: 62/0 and 8–12 digits; a NIK: 16).
_LENGTHS: Final = frozenset((*range(9, 15), 16))
# The usual groupings of a NIK: 3374011505900001, 3374 0115 0590 0001, 337401 150590 0001,
# 33.74.01.150590.0001 (and those with the birth date and serial written together).
NIK_GROUPINGS: Final = frozenset({(16,), (4, 4, 4, 4), (6, 6, 4), (2, 2, 2, 6, 4), (6, 10), (2, 2, 2, 10)})

NIK_MASK: Final = "[NIK disamarkan]"
PHONE_MASK: Final = "[nomor disamarkan]"

_NIK_BY_FIRST: Final = {
    first: tuple(g for g in NIK_GROUPINGS if g[0] == first) for first in {g[0] for g in NIK_GROUPINGS}
}

# What to do with a phone number found (its national number → the replacement, or None to keep it).
OnPhone = Callable[[str], str | None]


def national_phone(digits: str) -> str | None:
    """The national significant number (8–12 digits, 2–9 first) of digits written with a ``62`` or
    ``0`` prefix, as `services.intake.models.Reporter` normalises phones; None if not a phone."""
    for prefix in ("62", "0"):
        if digits.startswith(prefix):
            rest = digits[len(prefix) :]
            if 8 <= len(rest) <= 12 and rest[0] in "23456789":
                return rest
    return None


def replace_numbers(
    text: str, *, nik: str | None = None, phone: OnPhone | None = None, only: str | None = None
) -> str:
    """`text` with NIK-shaped numbers replaced by `nik` (if given) and phone numbers by what
    `phone` answers for their national number; at each start the longest number wins (a NIK over
    a phone of the same extent). `only`, a national number, limits the phones looked at to that
    one (written with ``0`` or ``62``): a candidate is dropped as soon as its digits stop
    spelling it."""
    runs = [m.span() for m in _DIGIT_RUNS.finditer(text)]
    count = len(runs)
    sizes = [end - start for start, end in runs]
    # joined[j]: run j continues the number of run j - 1 (a short gap of separators only).
    joined = [False] * count
    for j in range(1, count):
        gap_start, gap_end = runs[j - 1][1], runs[j][0]
        joined[j] = gap_end - gap_start <= MAX_GAP and _SEPARATORS.issuperset(text[gap_start:gap_end])
    spellings = ("", "") if only is None else (f"0{only}", f"62{only}")
    out: list[str] = []
    pos = i = 0
    while i < count:
        best: tuple[int, str] | None = None
        first = text[runs[i][0] : runs[i][1]]
        # A NIK starts with its province code (11–94), never 0: a number starting with 0 is read as
        # a phone, so two phones in a row ("0812-3456-7890 0811-2222-3333") are not one "NIK".
        if nik is not None and first[0] != "0":
            for grouping in _NIK_BY_FIRST.get(sizes[i], ()):
                last = i + len(grouping) - 1
                if tuple(sizes[i : last + 1]) == grouping and all(joined[i + 1 : last + 1]):
                    best = (last, nik)
                    break
        if phone is not None and (first == "62" or (sizes[i] >= 3 and first[0] in "06")):
            digits, j = "", i
            while j < count and (j == i or joined[j]):
                digits += text[runs[j][0] : runs[j][1]]
                if len(digits) > 14 or (
                    only is not None
                    and not (spellings[0].startswith(digits) or spellings[1].startswith(digits))
                ):
                    break
                if len(digits) >= 9 and (best is None or j > best[0]):
                    national = national_phone(digits)
                    replacement = phone(national) if national is not None else None
                    if replacement is not None:
                        best = (j, replacement)
                j += 1
        if best is None:
            i += 1
            continue
        last, replacement = best
        start, end = runs[i][0], runs[last][1]
        # The number's own prefix: "+62", "(0812)", "+62 (21)".
        while start > pos and text[start - 1] in "+(":
            start -= 1
        if end < len(text) and text[end] == ")" and "(" in text[start : runs[i][1]]:
            end += 1
        out += (text[pos:start], replacement)
        pos, i = end, last + 1
    out.append(text[pos:])
    return "".join(out)


def mask_contacts(text: str) -> str:
    """Mask phone numbers and NIK-like numbers inside an anonymous complaint's text."""
    return replace_numbers(text, nik=NIK_MASK, phone=lambda _: PHONE_MASK)


def mask_nik(text: str) -> str:
    """Mask NIK-like numbers only (a named complaint's text keeps the numbers of others)."""
    return replace_numbers(text, nik=NIK_MASK)
