"""What intake offers as Open311 GeoReport v2: the spec version it implements under `BASE`, and the
complaint categories of DESIGN §4 as services with their attribute definitions (all optional:
without `region_code` the region comes from jurisdiction_id, the default pemda or lat/long)."""

from __future__ import annotations

from typing import Any

from shared.categories import CATEGORIES, CLASSIFICATIONS

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00Z"
BASE = "/open311/v2"

_LEVEL_GROUP = {"kabkota": "Urusan kabupaten/kota", "provinsi": "Urusan provinsi"}


def service_list() -> list[dict[str, Any]]:
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": f"{c.name}: {c.covers}",
            "metadata": True,  # the attributes below, all optional
            "type": "realtime",
            "keywords": c.covers,
            "group": _LEVEL_GROUP[c.level],
        }
        for c in CATEGORIES.values()
    ]


_YES_NO = [{"key": "false", "name": "Tidak"}, {"key": "true", "name": "Ya"}]


def _attribute(
    order: int,
    code: str,
    description: str,
    *,
    datatype: str = "singlevaluelist",
    required: bool = False,
    datatype_description: str | None = None,
    values: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    found = {
        "variable": True,
        "code": code,
        "datatype": datatype,
        "required": required,
        "datatype_description": datatype_description,
        "order": order,
        "description": description,
    }
    return found | ({"values": values} if values else {})


def service_definition(code: str) -> dict[str, Any]:
    classifications = [{"key": c, "name": c.replace("-", " ").capitalize()} for c in CLASSIFICATIONS]
    attributes = [
        _attribute(
            1,
            "region_code",
            "Wilayah lokasi masalah: provinsi, kab/kota, kecamatan atau desa/kelurahan (opsional: "
            "tanpanya dari jurisdiction_id, pemda bawaan, atau provinsi dari lat/long)",
            datatype="string",
            required=False,
            datatype_description="Kode wilayah Kemendagri bertitik, contoh 33.74.01.1001",
        ),
        _attribute(2, "classification", "Jenis laporan (bawaan: pengaduan)", values=classifications),
        _attribute(
            3,
            "anonymous",
            "Anonim: identitas pelapor tidak pernah ditunjukkan kepada OPD maupun publik",
            values=_YES_NO,
        ),
        _attribute(
            4,
            "confidential",
            "Rahasia: pengaduan tidak pernah tampil di daftar atau status publik",
            values=_YES_NO,
        ),
        _attribute(
            5,
            "incident_date",
            "Tanggal kejadian",
            datatype="string",
            datatype_description="Tanggal YYYY-MM-DD, tidak di masa depan",
        ),
    ]
    return {"service_code": code, "attributes": attributes}


ATTRIBUTES = ("region_code", "classification", "anonymous", "confidential", "incident_date")
