"""A pemda's OPD list and category rules from a spreadsheet's CSV (services/routing/domain/
catalog_import.py): what a good file plans, and every mistake reported with its line."""

from __future__ import annotations

import pytest

from services.routing.domain.catalog_import import MAX_BYTES, CatalogFileError, parse_catalog

PEMDAS = {"33.74", "33", "64.01"}


def plan(text: str | bytes):  # type: ignore[no-untyped-def]
    raw = text.encode() if isinstance(text, str) else text
    return parse_catalog(raw, PEMDAS.__contains__)


def problems(text: str | bytes) -> list[str]:
    with pytest.raises(CatalogFileError) as caught:
        plan(text)
    return caught.value.problems


def test_a_spreadsheet_saved_with_semicolons_and_a_byte_order_mark_plans_opds_and_rules() -> None:
    text = (
        "\ufeffPemda;Kode;Nama;Kategori\r\n"
        '33.74;dinas-pupr;Dinas PUPR Kota Semarang;"jalan-jembatan; penerangan-jalan"\r\n'
        "\r\n"
        "33.74;dinas-lh;Dinas Lingkungan Hidup Kota Semarang;\r\n"
    )
    found = plan(text)
    assert [o.opd_id for o in found.opds] == ["33.74/dinas-pupr", "33.74/dinas-lh"]
    assert found.rules == [
        ("33.74", "jalan-jembatan", "dinas-pupr"),
        ("33.74", "penerangan-jalan", "dinas-pupr"),
    ]
    assert found.pemdas == ["33.74"]


def test_commas_with_quoted_category_lists_and_english_headers() -> None:
    found = plan(
        'pemda,slug,name,categories\n64.01,dinas-pu,"Dinas PU, Paser","jalan-jembatan;penerangan-jalan"\n'
    )
    assert found.opds[0].name == "Dinas PU, Paser"
    assert len(found.rules) == 2


def test_every_mistake_is_reported_with_its_line_and_nothing_is_planned() -> None:
    text = (
        "pemda,kode,nama,kategori\n"
        "33.99,dinas-x,Dinas X,jalan-jembatan\n"  # unknown pemda
        "33.74,Dinas Besar!,Dinas Y,\n"  # bad slug
        "33.74,dinas-z,Z,\n"  # name too short
        "33.74,dinas-a,Dinas A,jalan-jembatan;sihir\n"  # unknown category
        "33.74,dinas-b,Dinas B,penerangan-jalan\n"
        "33.74,dinas-c,Dinas C,penerangan-jalan\n"  # a category given twice
        "33.74,dinas-b,Dinas B lagi,\n"  # listed twice
    )
    found = problems(text)
    assert any(p.startswith("line 2: pemda '33.99'") for p in found)
    assert any(p.startswith("line 3: kode 'Dinas Besar!'") for p in found)
    assert any(p.startswith("line 4: nama must be") for p in found)
    assert any(p.startswith("line 5: unknown kategori 'sihir'") for p in found)
    assert "33.74: kategori penerangan-jalan given to both dinas-b and dinas-c" in found
    assert "33.74/dinas-b is listed 2 times" in found


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "the file is empty"),
        (b"pemda,nama\n33.74,x\n", "line 1: missing column(s) slug, categories"),
        (b"pemda,kode,nama,kategori\n33.74,\xff\xfe,Dinas,\n", "not UTF-8"),
        (b"x" * (MAX_BYTES + 1), "at most"),
        ("pemda,kode,nama,kategori\n" + "33.74,dinas-a,Dinas A,\n" * 5001, "more than 5000 rows"),
        ('pemda,kode,nama,kategori\n33.74,dinas-a,"Dinas A\n', "line"),
        (
            "pemda;kode;nama;kategori\n33.74;dinas-a;Dinas A;jalan-jembatan;penerangan-jalan\n",
            "must be quoted",
        ),
    ],
)
def test_a_hostile_or_broken_file_gets_a_clear_answer(raw: str | bytes, expected: str) -> None:
    assert any(expected in p for p in problems(raw))
