"""Privacy rules that bind every service's output (DESIGN §3)."""

from __future__ import annotations

import re

# Indonesian mobile/landline numbers as people write them: 0812-3456-7890, +62 812 3456 7890, 62812…,
# (0812) 3456789 — the area or operator code may stand in parentheses.
_PHONE = re.compile(r"(?<!\d)\(?(?:\+?62|0)[\s.-]?\d{2,4}\)?(?:[\s.-]?\d{3,4}){2,3}(?!\d)")
# NIK (and anything else shaped like it): 16 digits, possibly grouped.
_NIK = re.compile(r"(?<!\d)\d{4}[\s.-]?\d{4}[\s.-]?\d{4}[\s.-]?\d{4}(?!\d)")


def mask_contacts(text: str) -> str:
    """Mask phone numbers and NIK-like numbers inside an anonymous complaint's text."""
    return _PHONE.sub("[nomor disamarkan]", _NIK.sub("[NIK disamarkan]", text))
