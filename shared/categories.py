"""Complaint categories and where they go (DESIGN §4, normative): a cross-service contract.

Intake validates a given category against this table; routing turns it into an OPD id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["kabkota", "provinsi"]


@dataclass(frozen=True)
class Category:
    code: str
    name: str  # Indonesian label for people
    covers: str
    level: Level
    opd_slug: str


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category(
            "jalan-jembatan", "Jalan dan Jembatan", "jalan, jembatan, drainase", "kabkota", "dinas-pupr"
        ),
        Category(
            "penerangan-jalan", "Penerangan Jalan Umum", "lampu jalan (PJU)", "kabkota", "dinas-perhubungan"
        ),
        Category(
            "transportasi",
            "Transportasi",
            "angkutan umum, lalu lintas, parkir",
            "kabkota",
            "dinas-perhubungan",
        ),
        Category(
            "persampahan-lingkungan",
            "Persampahan dan Lingkungan",
            "sampah, pencemaran, lingkungan",
            "kabkota",
            "dlh",
        ),
        Category(
            "kesehatan", "Kesehatan", "puskesmas, RSUD, layanan kesehatan", "kabkota", "dinas-kesehatan"
        ),
        Category(
            "pendidikan-dasar",
            "Pendidikan Dasar",
            "PAUD, SD, SMP, penerimaan murid",
            "kabkota",
            "dinas-pendidikan",
        ),
        Category(
            "pendidikan-menengah",
            "Pendidikan Menengah",
            "SMA, SMK, SLB, penerimaan murid",
            "provinsi",
            "dinas-pendidikan",
        ),
        Category("kependudukan", "Kependudukan", "KTP-el, KK, akta, catatan sipil", "kabkota", "disdukcapil"),
        Category("perizinan", "Perizinan", "PBG/IMB, izin usaha", "kabkota", "dpmptsp"),
        Category(
            "ketertiban-umum", "Ketertiban Umum", "pedagang kaki lima, ketertiban", "kabkota", "satpol-pp"
        ),
        Category("pajak-daerah", "Pajak Daerah", "PBB-P2, BPHTB, pajak daerah", "kabkota", "bapenda"),
        Category("pajak-kendaraan", "Pajak Kendaraan", "PKB, BBNKB, Samsat", "provinsi", "bapenda"),
        Category("air-minum", "Air Minum", "air perpipaan (PDAM)", "kabkota", "perumda-air-minum"),
        Category("bantuan-sosial", "Bantuan Sosial", "bantuan sosial, DTKS", "kabkota", "dinas-sosial"),
        Category("ketenagakerjaan", "Ketenagakerjaan", "upah, PHK, kartu kuning", "kabkota", "disnaker"),
        Category(
            "pungli-maladministrasi",
            "Pungli dan Maladministrasi",
            "pungutan liar, perilaku ASN",
            "kabkota",
            "inspektorat",
        ),
        Category("lainnya", "Lainnya", "lainnya", "kabkota", "admin-koordinator"),
    )
}

COORDINATOR_SLUG = "admin-koordinator"
CLASSIFICATIONS = ("pengaduan", "aspirasi", "permintaan-informasi")
CHANNELS = ("web", "app", "sms", "open311", "other")
