"""The routing table of DESIGN §4, including its worked examples."""

from __future__ import annotations

import pytest

from services.routing.domain.table import UnknownCategory, route
from shared.categories import CATEGORIES

DESIGN_TABLE = {
    "jalan-jembatan": ("kabkota", "dinas-pupr"),
    "penerangan-jalan": ("kabkota", "dinas-perhubungan"),
    "transportasi": ("kabkota", "dinas-perhubungan"),
    "persampahan-lingkungan": ("kabkota", "dlh"),
    "kesehatan": ("kabkota", "dinas-kesehatan"),
    "pendidikan-dasar": ("kabkota", "dinas-pendidikan"),
    "pendidikan-menengah": ("provinsi", "dinas-pendidikan"),
    "kependudukan": ("kabkota", "disdukcapil"),
    "perizinan": ("kabkota", "dpmptsp"),
    "ketertiban-umum": ("kabkota", "satpol-pp"),
    "pajak-daerah": ("kabkota", "bapenda"),
    "pajak-kendaraan": ("provinsi", "bapenda"),
    "air-minum": ("kabkota", "perumda-air-minum"),
    "bantuan-sosial": ("kabkota", "dinas-sosial"),
    "ketenagakerjaan": ("kabkota", "disnaker"),
    "pungli-maladministrasi": ("kabkota", "inspektorat"),
}


def test_the_category_list_is_the_design_list_plus_lainnya() -> None:
    assert set(CATEGORIES) == {*DESIGN_TABLE, "lainnya"}


@pytest.mark.parametrize(("category", "expected"), sorted(DESIGN_TABLE.items()))
def test_every_category_goes_to_its_opd_at_its_level(category: str, expected: tuple[str, str]) -> None:
    level, slug = expected
    decision = route(category, "33.74.01.1001")  # a kelurahan in Kota Semarang, Jawa Tengah
    pemda = "33" if level == "provinsi" else "33.74"
    assert (decision.level, decision.pemda, decision.opd_id) == (level, pemda, f"{pemda}/{slug}")
    assert decision.assigns


def test_design_examples_in_kalimantan_timur() -> None:
    assert route("kependudukan", "64.01.03.2001").opd_id == "64.01/disdukcapil"
    assert route("pajak-kendaraan", "64.01.03.2001").opd_id == "64/bapenda"


def test_kabkota_category_on_a_province_only_region_goes_to_that_province_coordinator() -> None:
    decision = route("jalan-jembatan", "33")
    assert not decision.assigns
    assert decision.opd_id == "33/admin-koordinator"
    assert decision.rule == "kabkota-category-on-province-region"


def test_province_category_on_a_province_region_is_assigned() -> None:
    assert route("pendidikan-menengah", "33").opd_id == "33/dinas-pendidikan"


def test_lainnya_and_uncategorised_enter_triage_naming_the_coordinator() -> None:
    for category in ("lainnya", None):
        decision = route(category, "73.71.01")
        assert not decision.assigns and decision.triage_reason
        assert decision.opd_id == "73.71/admin-koordinator"


def test_an_unknown_category_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownCategory):
        route("parkir-liar", "33.74")
