"""A spec GeoReport v2 POST form as intake's `SubmitComplaint`, with each bad field named the way
the form names it (the spec's parameters, `region_code` and the service attributes).

The region (DESIGN §6, Open311 location) is, in this order: `region_code` (our extension, or
`attribute[region_code]`); else `jurisdiction_id`, a pemda code (province or kab/kota, as
discovery lists them); else the deployment's default pemda (`INTAKE_DEFAULT_PEMDA`); else the
province of `lat`/`long` (adapters/places.py), whose coordinator triages. A form with none of these
is a 400 naming what is missing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.intake.entrypoints.open311_format import Open311Error
from services.intake.entrypoints.open311_services import ATTRIBUTES
from services.intake.models import SubmitComplaint
from shared.categories import CATEGORIES
from shared.regions import lookup

Locate = Callable[[float, float], str | None]

_TITLE_WORDS = 12

# The spec's POST parameters (grouped as it describes them), and our extension `region_code`.
_REQUEST = ("jurisdiction_id", "api_key", "service_code", "description", "media_url")
_LOCATION = ("lat", "long", "address_string", "address_id")
_PERSON = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
POST_PARAMS = frozenset((*_REQUEST, *_LOCATION, *_PERSON, "region_code"))
# Where a SubmitComplaint field came from in the form, to name it in an error.
FORM_NAMES = {
    "title": "description",
    "category": "service_code",
    "location": "lat",
    "location.lat": "lat",
    "location.lon": "long",
    "address": "address_string",
    "reporter.name": "first_name",
    "reporter.phone": "phone",
    "reporter.email": "email",
    **{a: f"attribute[{a}]" for a in ("classification", "anonymous", "confidential", "incident_date")},
}


def derive_title(category_name: str, description: str) -> str:
    """The spec has no title: the service name and the description's first words (≤ 150 chars)."""
    words = description.split()
    head = " ".join(words[:_TITLE_WORDS])
    if len(words) > _TITLE_WORDS:
        head += "…"
    title = f"{category_name}: {head}" if head else category_name
    return title if len(title) <= 150 else title[:149].rstrip() + "…"


def _flag(name: str, value: str | None, errors: list[str]) -> bool:
    if value is None or value == "":
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    errors.append(f"attribute[{name}]: isi dengan true atau false")
    return False


def _number(name: str, value: str, errors: list[str]) -> float | None:
    try:
        return float(value)
    except ValueError:
        errors.append(f"{name}: harus berupa angka desimal")
        return None


@dataclass(frozen=True)
class Region:
    code: str
    source: str  # the form's field it came from: region_code, jurisdiction_id, default, lat/long


def _jurisdiction(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        return None
    region = lookup(value)
    if region is None or region.level > 2:
        errors.append(
            "jurisdiction_id: bukan kode pemda (provinsi atau kab/kota, mis. 33.74); lihat discovery"
        )
        return None
    return value


def _region(
    given: str | None,
    jurisdiction: str | None,
    default_pemda: str,
    location: dict[str, float] | None,
    locate: Locate,
    errors: list[str],
) -> Region | None:
    """Where the request is (module docstring); None with an error when it cannot be known."""
    if given is not None:
        if jurisdiction is not None and not (given == jurisdiction or given.startswith(jurisdiction + ".")):
            errors.append(f"region_code: di luar jurisdiction_id {jurisdiction}")
        return Region(given, "region_code")
    if jurisdiction is not None:
        return Region(jurisdiction, "jurisdiction_id")
    if default_pemda:
        return Region(default_pemda, "default")
    if location is not None:
        province = locate(location["lat"], location["lon"])
        if province is not None:
            return Region(province, "lat/long")
        errors.append(
            "lat: wilayah tidak dapat ditentukan dari lat/long ini; isi region_code atau jurisdiction_id"
        )
        return None
    errors.append(
        "region_code: wilayah tidak diketahui: isi region_code (kode wilayah Kemendagri, mis. "
        "33.74.01.1001), jurisdiction_id (kode pemda), atau lat dan long"
    )
    return None


def submission_from_form(
    form: Mapping[str, str], *, default_pemda: str = "", locate: Locate | None = None
) -> SubmitComplaint:
    """A spec GeoReport v2 POST as intake's submission, or Open311Error(400) naming each bad field.
    `locate` gives the province code of a point (adapters/places.py); it is asked only when
    neither the form nor the deployment names the region."""
    return submission_and_region(form, default_pemda=default_pemda, locate=locate)[0]


def submission_and_region(
    form: Mapping[str, str], *, default_pemda: str = "", locate: Locate | None = None
) -> tuple[SubmitComplaint, Region]:
    """`submission_from_form`, and where its region came from."""
    errors: list[str] = []
    attributes: dict[str, str] = {}
    for name, value in form.items():
        match = re.fullmatch(r"attribute\[([^\]]+)\]", name)
        if match:
            if match.group(1) in ATTRIBUTES:
                attributes[match.group(1)] = value.strip()
            else:
                errors.append(f"{name}: atribut tidak dikenal; lihat services/{{service_code}}")
        elif name not in POST_PARAMS:
            errors.append(f"{name}: parameter tidak dikenal")

    def text(name: str) -> str | None:
        value = form.get(name, "").strip()
        return value or None

    service_code = text("service_code")
    category = CATEGORIES.get(service_code or "")
    if service_code is None:
        errors.append("service_code: wajib diisi")
    elif category is None:
        errors.append(f"service_code: '{service_code}' tidak dikenal; lihat services.json")

    lat, long = text("lat"), text("long")
    location = None
    if (lat is None) != (long is None):
        errors.append(f"{'long' if lat else 'lat'}: lat dan long harus diisi berdua")
    elif lat is not None and long is not None:
        lat_value, long_value = _number("lat", lat, errors), _number("long", long, errors)
        if lat_value is not None and long_value is not None:
            location = {"lat": lat_value, "lon": long_value}
    if lat is None and text("address_string") is None and text("address_id") is None:
        errors.append("lat: lokasi wajib: lat dan long, address_string, atau address_id")

    region_top, region_attr = text("region_code"), attributes.get("region_code") or None
    if region_top and region_attr and region_top != region_attr:
        errors.append("region_code: berbeda dengan attribute[region_code]")
    jurisdiction = _jurisdiction(text("jurisdiction_id"), errors)
    region = _region(
        region_top or region_attr, jurisdiction, default_pemda, location, locate or _nowhere, errors
    )

    description = text("description") or ""
    full_name = " ".join(p for p in (text("first_name"), text("last_name")) if p) or None
    reporter = {
        k: v for k, v in (("name", full_name), ("phone", text("phone")), ("email", text("email"))) if v
    }
    submission: dict[str, Any] = {
        "title": derive_title(category.name if category else "Pengaduan", description),
        "description": description,
        "category": service_code,
        "region_code": region.code if region else "",
        "location": location,
        "address": text("address_string"),
        "incident_date": attributes.get("incident_date") or None,
        "classification": attributes.get("classification") or "pengaduan",
        "anonymous": _flag("anonymous", attributes.get("anonymous"), errors),
        "confidential": _flag("confidential", attributes.get("confidential"), errors),
        "reporter": reporter or None,
        "channel": "open311",
    }
    try:
        body = SubmitComplaint.model_validate(submission)
    except ValidationError as exc:
        reported = {e.split(":", 1)[0] for e in errors}
        if region is None:  # already said why
            reported.add("region_code")
        for err in exc.errors(include_url=False):
            path = ".".join(str(p) for p in err["loc"])
            form_name = FORM_NAMES.get(path, FORM_NAMES.get(path.split(".")[0], path))
            if form_name in reported:
                continue
            reported.add(form_name)
            errors.append(f"{form_name}: {err['msg'].removeprefix('Value error, ')}")
        raise Open311Error(400, errors) from exc
    if errors or region is None:
        raise Open311Error(400, errors)
    return body, region


def _nowhere(lat: float, lon: float) -> str | None:
    return None
