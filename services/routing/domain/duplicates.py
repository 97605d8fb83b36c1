"""Duplicate complaints (issue 22, item 2): the same pothole reported by ten neighbours. Pure.

A new complaint is compared only with open complaints of its pemda and category that are close in
place and time and whose text is similar — found through exact keys the database serves from one
compound index, never a scan: the local database server has no text index and runs geo queries as
scans (DESIGN §7), so neither `$near` nor `$text` is used.

- **Text**: the complaint's *shingles* are the stems of its normalised words (the classifier's
  normalisation: slang, typos and affixes folded), stop words and one- and two-letter words left
  out. Neighbours write their own words about one pothole, so single stems, not word n-grams:
  bigrams of two independently written texts rarely meet. Similarity is the Jaccard index of two
  shingle sets; `MIN_SIMILARITY` is the default threshold of a suggestion.
- **LSH**: a MinHash signature (datasketch, `NUM_PERM` permutations from the fixed `SEED`: stored
  keys depend on both, so changing either needs every open complaint's keys rewritten) cut into
  `BANDS` bands of `ROWS` rows. Two complaints share a band with probability 1 − (1 − J^ROWS)^BANDS:
  with 8 bands of one row, at J = 0.3 about 0.94, at J = 0.4 about 0.98, at J = 0.5 about 0.996,
  and at J = 0.1 about 0.57 — the exact Jaccard then drops the chance meetings, which the place
  and category already make few. Why so few bands: every key is an index entry, and the
  database's insert rate falls steeply with the entries per document (bench/duplicates.py, 10k
  complaints in batches of 200: 4,800/s without keys, 3,100/s with 12, 1,500/s with 16, 400/s
  with 24, 310/s with 48).
- **Place**: when both complaints have a location, within the category's radius (`RADIUS_M`);
  otherwise the same desa. A complaint with a location is keyed by its geohash cell, at the
  precision whose cells are at least twice the radius wide and high, so the circle around a new
  complaint touches at most 2 × 2 cells (the corners of its bounding box name them all). Every
  complaint with a desa is also keyed by its desa; a region coarser than a desa and no location:
  no place, no duplicates.
- **Keys**: `<pemda>|<category>|<g:cell or d:desa>|<band>:<hash>`. A stored complaint has
  BANDS keys per place (≤ 2 × BANDS); a look-up asks for ≤ 5 × BANDS keys, each one index point.
  Time is the index's second field (`submitted_at` within `WINDOW_DAYS`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pygeohash
from datasketch import MinHash

from services.routing.domain.classify import normalise, stem_words

NUM_PERM = 8
BANDS = 8
ROWS = NUM_PERM // BANDS
SEED = 22  # issue 22; part of every stored key
MAX_SHINGLES = 600  # a 4,000-character text has fewer distinct content stems than this
MIN_SIMILARITY = 0.3
WINDOW_DAYS = 30
MAX_CANDIDATES = 200  # complaints one look-up confirms at most (the newest first)
MAX_SUGGESTIONS = 5
EARTH_RADIUS_M = 6_371_008.8
INDONESIA_MAX_ABS_LAT = 11.5  # the widest |latitude| in Indonesia: where geohash cells are narrowest

# How close two located complaints of a category must be to be the same matter (metres). Things in
# a street are small; a water main or a rubbish dump is seen from further away; a service counter
# (KTP-el, permits, taxes) is one office for a whole kab/kota, so its radius stands for "the same
# office" and the desa rule does most of the work.
RADIUS_M: Mapping[str, int] = {
    "jalan-jembatan": 150,
    "penerangan-jalan": 100,
    "transportasi": 200,
    "persampahan-lingkungan": 250,
    "ketertiban-umum": 150,
    "air-minum": 400,
    "kesehatan": 300,
    "pendidikan-dasar": 300,
    "pendidikan-menengah": 300,
}
DEFAULT_RADIUS_M = 250

# Words that say nothing about the matter (stems as `stem_words` gives them): function words and
# the courtesies every complaint has.
STOP_WORDS = frozenset(
    {
        "ada",
        "agar",
        "aja",
        "akan",
        "apa",
        "atau",
        "bagaimana",
        "banyak",
        "bapak",
        "belum",
        "bisa",
        "bu",
        "buat",
        "dalam",
        "dan",
        "dapat",
        "dari",
        "deh",
        "dengan",
        "di",
        "dia",
        "dong",
        "ga",
        "gak",
        "hingga",
        "ia",
        "ibu",
        "ini",
        "itu",
        "jadi",
        "jika",
        "juga",
        "kah",
        "kalau",
        "kami",
        "kapan",
        "karena",
        "kasih",
        "ke",
        "kita",
        "kok",
        "lagi",
        "lah",
        "mana",
        "masih",
        "mereka",
        "mohon",
        "nggak",
        "nih",
        "nya",
        "oleh",
        "pada",
        "pak",
        "para",
        "pun",
        "saja",
        "sampai",
        "sangat",
        "saya",
        "sebagai",
        "segera",
        "sekali",
        "siapa",
        "sih",
        "sudah",
        "supaya",
        "telah",
        "terima",
        "tidak",
        "tolong",
        "tuh",
        "udah",
        "untuk",
        "warga",
        "ya",
        "yang",
    }
)


@dataclass(frozen=True)
class Fingerprint:
    """What a complaint keeps for duplicate search: its shingles and their LSH band hashes."""

    shingles: tuple[str, ...]  # sorted
    bands: tuple[str, ...]  # BANDS hashes; empty when the text has no content words


def shingles(title: str, description: str) -> tuple[str, ...]:
    words = normalise(f"{title}\n{description}").split()
    found = {w for w in stem_words(words) if len(w) > 2 and w not in STOP_WORDS}
    return tuple(sorted(found)[:MAX_SHINGLES])


def fingerprint(title: str, description: str) -> Fingerprint:
    """Shingles and band hashes of one complaint's text (CPU work: the stemmer; off the loop)."""
    found = shingles(title, description)
    return Fingerprint(found, band_hashes(found))


def band_hashes(found: Sequence[str]) -> tuple[str, ...]:
    """The LSH band hashes of a shingle set (none for an empty one)."""
    if not found:
        return ()
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update_batch([s.encode() for s in found])
    values = np.asarray(minhash.hashvalues, dtype="<u4")
    return tuple(
        hashlib.blake2b(values[i * ROWS : (i + 1) * ROWS].tobytes(), digest_size=6).hexdigest()
        for i in range(BANDS)
    )


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    left, right = set(a), set(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def distance_m(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Great-circle distance (haversine) between two `{"lat", "lon"}` points, in metres."""
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat, dlon = lat2 - lat1, math.radians(b["lon"] - a["lon"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def radius_of(category: str) -> int:
    return RADIUS_M.get(category, DEFAULT_RADIUS_M)


def _cell_size_m(precision: int) -> tuple[float, float]:
    """(width, height) in metres of a geohash cell of `precision` where cells are narrowest here."""
    bits = 5 * precision
    lon_bits, lat_bits = (bits + 1) // 2, bits // 2
    metres_per_degree = math.pi * EARTH_RADIUS_M / 180
    width = 360 / 2**lon_bits * metres_per_degree * math.cos(math.radians(INDONESIA_MAX_ABS_LAT))
    return width, 180 / 2**lat_bits * metres_per_degree


def precision_for(radius: float) -> int:
    """The finest geohash precision whose cells are at least 2 × radius wide and high."""
    precision = 1
    while precision < 12 and min(_cell_size_m(precision + 1)) >= 2 * radius:
        precision += 1
    return precision


def cells_around(lat: float, lon: float, radius: float) -> list[str]:
    """The cells the circle of `radius` around the point can touch (≤ 4: they are ≥ 2r wide)."""
    precision = precision_for(radius)
    dlat = math.degrees(radius / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    corners = [(lat + sy * dlat, lon + sx * dlon) for sy in (-1, 1) for sx in (-1, 1)]
    return sorted({pygeohash.encode(max(-90.0, min(90.0, y)), x, precision=precision) for y, x in corners})


def own_cell(lat: float, lon: float, radius: float) -> str:
    return pygeohash.encode(lat, lon, precision=precision_for(radius))


def desa_of(region_code: str) -> str | None:
    return region_code if region_code.count(".") == 3 else None


@dataclass(frozen=True)
class Place:
    """Where and what a complaint is, for its keys."""

    pemda: str
    category: str | None
    region_code: str
    location: Mapping[str, float] | None


def _keys(place: Place, bands: Sequence[str], cells: Sequence[str]) -> list[str]:
    if place.category is None or not bands:
        return []
    prefix = f"{place.pemda}|{place.category}"
    areas = [f"g:{c}" for c in cells]
    desa = desa_of(place.region_code)
    if desa is not None:
        areas.append(f"d:{desa}")
    return [f"{prefix}|{area}|{i}:{b}" for area in areas for i, b in enumerate(bands)]


def stored_keys(place: Place, bands: Sequence[str]) -> list[str]:
    """The keys a complaint is found by (indexed, while it is open)."""
    loc = place.location
    cells = [own_cell(loc["lat"], loc["lon"], radius_of(place.category or ""))] if loc else []
    return _keys(place, bands, cells)


def lookup_keys(place: Place, bands: Sequence[str]) -> list[str]:
    """The keys under which a new complaint's possible duplicates are stored."""
    loc = place.location
    cells = cells_around(loc["lat"], loc["lon"], radius_of(place.category or "")) if loc else []
    return _keys(place, bands, cells)


def window_start(at: datetime, days: int = WINDOW_DAYS) -> datetime:
    return at - timedelta(days=days)


@dataclass(frozen=True)
class Suggestion:
    id: str
    similarity: float
    distance_m: float | None  # None when compared by desa

    def as_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "similarity": round(self.similarity, 3),
            "distance_m": None if self.distance_m is None else round(self.distance_m),
        }


def confirm(
    new: Place,
    new_shingles: Sequence[str],
    candidate: Place,
    candidate_shingles: Sequence[str],
    candidate_id: str,
    min_similarity: float = MIN_SIMILARITY,
) -> Suggestion | None:
    """The exact check behind a key match: same pemda and category, close (radius when both are
    located, else the same desa), similar text."""
    if new.category is None or (new.pemda, new.category) != (candidate.pemda, candidate.category):
        return None
    gap: float | None = None
    if new.location and candidate.location:
        gap = distance_m(new.location, candidate.location)
        if gap > radius_of(new.category):
            return None
    elif desa_of(new.region_code) is None or new.region_code != candidate.region_code:
        return None
    similarity = jaccard(new_shingles, candidate_shingles)
    if similarity < min_similarity:
        return None
    return Suggestion(candidate_id, similarity, gap)


def best(suggestions: Iterable[Suggestion], most: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    return sorted(suggestions, key=lambda s: (-s.similarity, s.distance_m or 0.0, s.id))[:most]
