"""Duplicate search and merge, pure (services/routing/domain/duplicates.py, lifecycle's
`decide_merge`): keys, geohash cells against the radius, confirmation, and every refusal."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from services.routing.domain import duplicates as dup
from services.routing.domain.lifecycle import Complaint, Merge, Refused, decide_merge, evolve
from shared.events import ComplaintAbsorbed, ComplaintClosed

POTHOLE = (
    "Jalan berlubang besar di Jl. Pemuda",
    "Ada lubang besar di Jalan Pemuda depan SD, motor sering jatuh.",
)
SAME = ("Lubang jalan Pemuda bahaya", "Jalan Pemuda dekat SD berlubang besar, banyak pengendara motor jatuh.")
OTHER = ("KTP belum jadi", "Sudah mengurus KTP elektronik tiga bulan lalu di kecamatan tapi belum jadi.")
HERE = {"lat": -6.9835, "lon": 110.4091}
AT = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)


def test_similar_texts_share_a_band_and_different_ones_do_not() -> None:
    a, b, c = (dup.fingerprint(*t) for t in (POTHOLE, SAME, OTHER))
    assert len(a.bands) == dup.BANDS and dup.fingerprint(*POTHOLE) == a  # stable: stored keys rely on it
    assert dup.jaccard(a.shingles, b.shingles) >= dup.MIN_SIMILARITY
    assert set(a.bands) & set(b.bands)
    assert dup.jaccard(a.shingles, c.shingles) == 0 and not set(a.bands) & set(c.bands)
    assert dup.fingerprint("!!!", "di ke dari yang") == dup.Fingerprint((), ())  # no content words


@pytest.mark.parametrize("radius", [100, 150, 250, 400])
def test_the_cells_around_a_point_hold_every_point_within_the_radius(radius: int) -> None:
    rng = random.Random(radius)
    for _ in range(300):
        lat, lon = rng.uniform(-11, 6), rng.uniform(95, 141)
        around = dup.cells_around(lat, lon, radius)
        assert 1 <= len(around) <= 4
        # A point at up to the radius in any direction is stored under one of those cells.
        bearing, reach = rng.uniform(0, 360), rng.uniform(0, radius * 0.999)
        other = _moved(lat, lon, bearing, reach)
        assert dup.distance_m({"lat": lat, "lon": lon}, other) <= radius
        assert dup.own_cell(other["lat"], other["lon"], radius) in around


def _moved(lat: float, lon: float, bearing: float, metres: float) -> dict[str, float]:
    d = metres / dup.EARTH_RADIUS_M
    b, p1, l1 = math.radians(bearing), math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return {"lat": math.degrees(p2), "lon": math.degrees(l2)}


def test_keys_are_per_pemda_category_place_and_band() -> None:
    bands = dup.fingerprint(*POTHOLE).bands
    stored = dup.stored_keys(dup.Place("33.74", "jalan-jembatan", "33.74.01.1001", HERE), bands)
    assert len(stored) == 2 * dup.BANDS  # its cell and its desa
    looked = dup.lookup_keys(dup.Place("33.74", "jalan-jembatan", "33.74.01.1001", HERE), bands)
    assert set(stored) <= set(looked) and len(looked) <= 5 * dup.BANDS
    other_category = dup.lookup_keys(dup.Place("33.74", "air-minum", "33.74.01.1001", HERE), bands)
    assert not set(stored) & set(other_category)
    assert dup.stored_keys(dup.Place("33.74", None, "33.74.01.1001", HERE), bands) == []  # no category
    # A kab/kota-level region without a location: nowhere to compare.
    assert dup.lookup_keys(dup.Place("33.74", "jalan-jembatan", "33.74", None), bands) == []


def test_confirm_uses_the_radius_when_both_are_located_and_the_desa_otherwise() -> None:
    a, b = dup.fingerprint(*POTHOLE).shingles, dup.fingerprint(*SAME).shingles
    new = dup.Place("33.74", "jalan-jembatan", "33.74.01.1001", HERE)
    near = dup.Place("33.74", "jalan-jembatan", "33.74.01.1002", _moved(HERE["lat"], HERE["lon"], 90, 120))
    far = dup.Place("33.74", "jalan-jembatan", "33.74.01.1001", _moved(HERE["lat"], HERE["lon"], 0, 400))
    unlocated = dup.Place("33.74", "jalan-jembatan", "33.74.01.1001", None)
    other_desa = dup.Place("33.74", "jalan-jembatan", "33.74.01.1002", None)
    found = dup.confirm(new, a, near, b, "near")
    assert found is not None and 110 < (found.distance_m or 0) < 130  # another desa, but 120 m away
    assert dup.confirm(new, a, far, b, "far") is None  # same desa, but 400 m apart
    assert dup.confirm(new, a, unlocated, b, "u") == dup.Suggestion("u", dup.jaccard(a, b), None)
    assert dup.confirm(new, a, other_desa, b, "o") is None
    assert dup.confirm(new, a, near, dup.fingerprint(*OTHER).shingles, "x") is None  # another matter


def complaint(cid: str, state: str = "assigned", **kw: object) -> Complaint:
    return Complaint(id=cid, state=state, pemda="33.74", region_code="33.74.01.1001", **kw)  # type: ignore[arg-type]


def test_merge_closes_the_duplicate_and_the_survivor_takes_the_strictest_flags() -> None:
    absorbed = complaint("B", anonymous=True)
    survivor = complaint("A", state="in_progress", confidential=True)
    closing, absorbing = decide_merge(absorbed, survivor, Merge("koor", "A", "sama"))
    assert closing == [ComplaintClosed(outcome="merged", comment="sama", merged_into="A")]
    assert absorbing == [ComplaintAbsorbed(absorbed_id="B", anonymous=True, confidential=True)]
    evolve(absorbed, closing[0], AT)
    evolve(survivor, absorbing[0], AT)
    assert (absorbed.state, absorbed.merged_into) == ("closed", "A")
    assert (survivor.state, survivor.anonymous, survivor.confidential) == ("in_progress", True, True)
    # The same merge again: nothing.
    assert decide_merge(absorbed, survivor, Merge("koor", "A")) == ([], [])


@pytest.mark.parametrize(
    ("absorbed", "survivor", "why"),
    [
        (complaint("B"), complaint("B"), "dirinya sendiri"),
        (complaint("B", state="closed", merged_into="C"), complaint("A"), "sudah digabungkan ke C"),
        (complaint("B"), complaint("A", state="closed", merged_into="C"), "tujuan sudah digabungkan ke C"),
        (complaint("B"), Complaint(id="A", state="assigned", pemda="33.71", region_code="33.71"), "pemda"),
        (complaint("B", state="archived"), complaint("A"), "archived"),
        (complaint("B"), complaint("A", state="resolved"), "resolved"),
        (complaint("B", state="closed"), complaint("A"), "closed"),
    ],
)
def test_merges_that_are_refused(absorbed: Complaint, survivor: Complaint, why: str) -> None:
    with pytest.raises(Refused, match=why):
        decide_merge(absorbed, survivor, Merge("koor", survivor.id))
