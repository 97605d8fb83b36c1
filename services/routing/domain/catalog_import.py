"""A pemda's own OPD list, and which categories each OPD handles, from the spreadsheet an
operator keeps (`pengaduan catalog import FILE.csv`).

One row per OPD, with a header row: `pemda,kode,nama,kategori` (or `pemda,slug,name,categories`):

    pemda,kode,nama,kategori
    33.74,dinas-pupr,Dinas Pekerjaan Umum dan Penataan Ruang Kota Semarang,jalan-jembatan;penerangan-jalan
    33.74,dinas-lh,Dinas Lingkungan Hidup Kota Semarang,persampahan-lingkungan

`kategori` lists the categories (DESIGN §4 codes, separated by `;`) this OPD handles in that pemda
instead of the standard one; it may be empty (an OPD that only receives transfers). Separators
`,` and `;` (a spreadsheet in an Indonesian locale saves with `;`) and a UTF-8 byte-order mark are
understood. The file is checked whole before anything is written: every mistake is reported with
its line number, and a file with any mistake changes nothing. A file of a stranger is bounded:
at most `MAX_BYTES`, `MAX_ROWS` rows, and each cell's length.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.categories import CATEGORIES

MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,59}")
NAME_LENGTH = (3, 200)
COLUMNS = {
    "pemda": "pemda",
    "kode": "slug",
    "slug": "slug",
    "nama": "name",
    "name": "name",
    "kategori": "categories",
    "categories": "categories",
}
REQUIRED = ("pemda", "slug", "name", "categories")


@dataclass(frozen=True)
class OpdRow:
    pemda: str
    slug: str
    name: str
    categories: tuple[str, ...]

    @property
    def opd_id(self) -> str:
        return f"{self.pemda}/{self.slug}"


@dataclass(frozen=True)
class CatalogPlan:
    """What an import writes: the OPDs (added or renamed) and the rules (pemda, category) → slug."""

    opds: list[OpdRow] = field(default_factory=list)

    @property
    def rules(self) -> list[tuple[str, str, str]]:
        return [(o.pemda, category, o.slug) for o in self.opds for category in o.categories]

    @property
    def pemdas(self) -> list[str]:
        return sorted({o.pemda for o in self.opds})


class CatalogFileError(ValueError):
    """The file cannot be imported; `problems` says where and why (line numbers from 1)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.problems = problems


def parse_catalog(raw: bytes, is_pemda: Callable[[str], bool]) -> CatalogPlan:
    """The plan of a CSV file, or CatalogFileError with every problem found."""
    if len(raw) > MAX_BYTES:
        raise CatalogFileError([f"file is {len(raw)} bytes; at most {MAX_BYTES}"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogFileError([f"not UTF-8 (byte {exc.start}): save the spreadsheet as CSV UTF-8"]) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[str] = []
    try:
        header = next(reader, None)
        if header is None:
            raise CatalogFileError(["the file is empty"])
        names = [COLUMNS.get(h.strip().lower()) for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise CatalogFileError(
                [f"line 1: missing column(s) {', '.join(missing)} (pemda,kode,nama,kategori)"]
            )
        opds: list[OpdRow] = []
        for row in reader:
            if reader.line_num > MAX_ROWS + 1:
                raise CatalogFileError([f"more than {MAX_ROWS} rows"])
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(names) and any(cell.strip() for cell in row[len(names) :]):
                problems.append(
                    f"line {reader.line_num}: {len(row)} cells for {len(names)} columns "
                    f"(a cell holding {delimiter!r} must be quoted)"
                )
                continue
            cells = {name: cell.strip() for name, cell in zip(names, row, strict=False) if name}
            opd = _row(reader.line_num, cells, is_pemda, problems)
            if opd is not None:
                opds.append(opd)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
        opds = []
    problems += _conflicts(opds)
    if problems:
        raise CatalogFileError(problems)
    return CatalogPlan(opds)


def _row(
    line: int, cells: dict[str, str], is_pemda: Callable[[str], bool], problems: list[str]
) -> OpdRow | None:
    pemda, slug, name = cells.get("pemda", ""), cells.get("slug", ""), cells.get("name", "")
    found = []
    if not is_pemda(pemda):
        found.append(f"pemda {pemda[:20]!r} is not a province or kab/kota code (e.g. 33.74)")
    if not SLUG.fullmatch(slug):
        found.append(f"kode {slug[:70]!r}: 2-60 lowercase letters, digits and '-'")
    if not NAME_LENGTH[0] <= len(name) <= NAME_LENGTH[1]:
        found.append(f"nama must be {NAME_LENGTH[0]}-{NAME_LENGTH[1]} characters")
    categories = tuple(c.strip() for c in re.split(r"[;,]", cells.get("categories", "")[:2000]) if c.strip())
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        found.append(f"unknown kategori {', '.join(repr(c[:40]) for c in unknown[:3])}")
    problems += [f"line {line}: {p}" for p in found]
    return None if found else OpdRow(pemda, slug, name, tuple(dict.fromkeys(categories)))


def _conflicts(opds: list[OpdRow]) -> list[str]:
    """An OPD listed twice, or a category given to two OPDs of one pemda."""
    problems = []
    seen: dict[str, int] = {}
    owner: dict[tuple[str, str], str] = {}
    for opd in opds:
        seen[opd.opd_id] = seen.get(opd.opd_id, 0) + 1
        for category in opd.categories:
            earlier = owner.setdefault((opd.pemda, category), opd.slug)
            if earlier != opd.slug:
                problems.append(f"{opd.pemda}: kategori {category} given to both {earlier} and {opd.slug}")
    problems += [f"{opd_id} is listed {n} times" for opd_id, n in seen.items() if n > 1]
    return problems
