"""Open311 GeoReport v2 without a server: the form → submission mapping and its errors, the
spec's JSON and XML shapes (read back the way the `georeport` client reads them), errors as the
spec's list, the GET requests filters, and what a public service request shows."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import xmltodict
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from multidict import MultiDict, MultiDictProxy

from services.intake.domain.view import apply
from services.intake.entrypoints import open311
from services.intake.entrypoints.edge import SETTINGS as INTAKE_SETTINGS
from services.intake.entrypoints.open311 import (
    Open311Error,
    Reply,
    derive_title,
    error_reply,
    parse_request_query,
    request_item,
    service_definition,
    service_list,
    submission_from_form,
    to_xml,
)
from services.intake.settings import IntakeSettings
from shared.calendar import calendar_for
from shared.categories import CATEGORIES
from shared.envelope import new_event
from shared.events import ClockStarted, ComplaintAssigned, ComplaintReceived
from shared.http import FieldError, ProblemError

FORM = {
    "api_key": "k",
    "service_code": "jalan-jembatan",
    "lat": "-6.9932",
    "long": "110.4203",
    "address_string": "Jl. Pemuda No. 12, Semarang",
    "region_code": "33.74.01.1001",
    "description": "Lubang besar di depan SD Negeri 2 sudah dua minggu membahayakan pengendara motor.",
    "first_name": "Sari",
    "last_name": "Wulandari",
    "phone": "0812-3456-7890",
    "email": "sari@example.id",
}


def _errors(form: dict[str, str]) -> list[str]:
    with pytest.raises(Open311Error) as refused:
        submission_from_form(form)
    assert refused.value.status == 400
    return refused.value.descriptions


def test_a_spec_form_becomes_an_open311_submission_with_a_derived_title() -> None:
    body = submission_from_form(FORM)
    assert body.channel == "open311"
    assert body.category == "jalan-jembatan"
    assert body.region_code == "33.74.01.1001"
    assert body.location is not None and (body.location.lat, body.location.lon) == (-6.9932, 110.4203)
    assert body.address == "Jl. Pemuda No. 12, Semarang"
    assert body.reporter is not None
    assert (body.reporter.name, body.reporter.phone, body.reporter.email) == (
        "Sari Wulandari",
        "+6281234567890",
        "sari@example.id",
    )
    assert body.title.startswith("Jalan dan Jembatan: Lubang besar di depan SD")
    assert (body.anonymous, body.confidential, body.classification) == (False, False, "pengaduan")


def test_attributes_carry_the_region_and_the_privacy_flags() -> None:
    form = {
        k: v for k, v in FORM.items() if k not in ("region_code", "first_name", "last_name", "phone", "email")
    }
    form |= {
        "attribute[region_code]": "64.01.03.2001",
        "attribute[anonymous]": "true",
        "attribute[confidential]": "TRUE",
        "attribute[classification]": "aspirasi",
        "attribute[incident_date]": "2026-01-05",
    }
    body = submission_from_form(form)
    assert body.region_code == "64.01.03.2001"
    assert body.anonymous and body.confidential
    assert body.classification == "aspirasi"
    assert str(body.incident_date) == "2026-01-05"
    assert body.reporter is None


def test_every_bad_field_is_named_in_the_error_list() -> None:
    errors = _errors(
        {
            **FORM,
            "service_code": "jalan",
            "phone": "12345",
            "region_code": "99.99",
            "lat": "x",
            "colour": "red",
        }
    )
    named = {e.split(":", 1)[0] for e in errors}
    assert named == {"service_code", "phone", "region_code", "lat", "colour"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service_code": ""}, "service_code"),
        ({"region_code": "", "lat": "", "long": ""}, "region_code"),  # address_string alone
        ({"region_code": "", "lat": "1.0", "long": "95.0"}, "lat"),  # a point no place is near
        ({"jurisdiction_id": "33.74.01"}, "jurisdiction_id"),  # a kecamatan is not a pemda
        ({"jurisdiction_id": "pengaduan.go.id"}, "jurisdiction_id"),
        ({"jurisdiction_id": "64"}, "region_code"),  # 33.74.01.1001 lies outside province 64
        ({"long": ""}, "long"),
        ({"lat": "", "long": "", "address_string": ""}, "lat"),
        ({"lat": "51.5", "long": "-0.1"}, "lat"),  # outside Indonesia
        ({"description": "pendek"}, "description"),
        ({"email": "bukan-email"}, "email"),
        ({"attribute[anonymous]": "mungkin"}, "attribute[anonymous]"),
        ({"attribute[warna]": "merah"}, "attribute[warna]"),
        ({"attribute[region_code]": "33.74"}, "region_code"),  # differs from the top-level one
        ({"attribute[incident_date]": "2999-01-01"}, "attribute[incident_date]"),
    ],
)
def test_a_bad_form_is_refused_naming_the_field(change: dict[str, str], field: str) -> None:
    errors = _errors({**FORM, **change})
    assert any(e.startswith(f"{field}: ") for e in errors), errors


WITHOUT_CODE = {k: v for k, v in FORM.items() if k != "region_code"}


@pytest.mark.parametrize(
    ("change", "default_pemda", "region", "source"),
    [
        ({"region_code": "33.74.01.1001", "jurisdiction_id": "33.74"}, "64", "33.74.01.1001", "region_code"),
        ({"attribute[region_code]": "33.74"}, "64", "33.74", "region_code"),
        ({"jurisdiction_id": "33.74"}, "64", "33.74", "jurisdiction_id"),
        ({}, "64.01", "64.01", "default"),
        ({}, "", "33", "lat/long"),  # Semarang's coordinates: Jawa Tengah
        ({"lat": "-2.5337", "long": "140.7181"}, "", "91", "lat/long"),  # Jayapura: Papua
        ({"lat": "-0.5022", "long": "117.1536"}, "", "64", "lat/long"),  # Samarinda: Kalimantan Timur
    ],
)
def test_the_region_is_known_without_our_codes_in_the_spec_order(
    change: dict[str, str], default_pemda: str, region: str, source: str
) -> None:
    from services.intake.adapters.places import province_at
    from services.intake.entrypoints.open311_forms import submission_and_region

    body, found = submission_and_region(
        {**WITHOUT_CODE, **change}, default_pemda=default_pemda, locate=province_at
    )
    assert (body.region_code, found.code, found.source) == (region, region, source)


def test_a_point_far_from_any_indonesian_place_has_no_province() -> None:
    from services.intake.adapters.places import province_at

    assert province_at(51.5, -0.1) is None  # London
    assert province_at(5.0, 100.0) is None  # Penang Strait, Malaysia's side
    assert province_at(float("nan"), 110.0) is None


def test_the_default_pemda_setting_must_be_a_pemda() -> None:
    from pydantic import ValidationError

    assert IntakeSettings(default_pemda="33.74").default_pemda == "33.74"
    for wrong in ("33.74.01", "99", "semarang"):
        with pytest.raises(ValidationError):
            IntakeSettings(default_pemda=wrong)


def test_a_derived_title_is_always_a_valid_title() -> None:
    long_text = "kata " * 1000
    for category in CATEGORIES.values():
        title = derive_title(category.name, long_text)
        assert 5 <= len(title) <= 150
    assert (
        derive_title("Kesehatan", "Antrean puskesmas terlalu lama")
        == "Kesehatan: Antrean puskesmas terlalu lama"
    )


def test_services_in_xml_read_as_the_georeport_client_reads_them() -> None:
    services = xmltodict.parse(to_xml("services", service_list()))["services"]["service"]
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    first = services[0]
    assert first["metadata"] == "true" and first["type"] == "realtime"
    assert first["service_name"] == CATEGORIES[first["service_code"]].name


def test_a_service_definition_offers_region_code_and_lists_values_in_xml() -> None:
    definition = service_definition("kependudukan")
    region = next(a for a in definition["attributes"] if a["code"] == "region_code")
    assert region["required"] is False and region["datatype"] == "string"
    parsed = xmltodict.parse(to_xml("service_definition", definition))["service_definition"]
    assert parsed["service_code"] == "kependudukan"
    anonymous = next(a for a in parsed["attributes"]["attribute"] if a["code"] == "anonymous")
    assert [v["key"] for v in anonymous["values"]["value"]] == ["false", "true"]


def test_errors_are_the_spec_list_in_json_and_xml() -> None:
    reply = error_reply(403, ["api_key tidak ada atau tidak sah"])
    assert reply.status == 403
    assert reply.data == [{"code": 403, "description": "api_key tidak ada atau tidak sah"}]
    root = ET.fromstring(to_xml(reply.root, reply.data))
    assert root.tag == "errors"
    assert [(e.findtext("code"), e.findtext("description")) for e in root] == [
        ("403", "api_key tidak ada atau tidak sah")
    ]


def test_xml_has_its_declaration_and_empty_elements_for_nulls() -> None:
    document = to_xml("service_requests", [{"service_request_id": "X", "account_id": None, "ok": True}])
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    request = ET.fromstring(document).find("request")
    assert request is not None
    assert request.findtext("account_id") == "" and request.findtext("ok") == "true"


@pytest.fixture
async def open311_app() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async def limited(request: web.Request) -> Reply:
        raise ProblemError(429, "Terlalu banyak", headers={"Retry-After": "12"})

    async def invalid(request: web.Request) -> Reply:
        raise ProblemError(422, errors=[FieldError(field="Idempotency-Key", message="dipakai ulang")])

    async def fine(request: web.Request) -> Reply:
        return Reply("services", service_list()[:1])

    app = web.Application()
    for path, handler in (("/limited.{fmt}", limited), ("/invalid.{fmt}", invalid), ("/fine.{fmt}", fine)):
        app.router.add_get(path, open311.endpoint(handler))
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_a_problem_from_shared_code_is_answered_as_spec_errors_with_its_headers(
    open311_app: TestClient[web.Request, web.Application],
) -> None:
    resp = await open311_app.get("/limited.xml")
    assert resp.status == 429 and resp.headers["Retry-After"] == "12"
    assert resp.content_type == "text/xml" and resp.charset == "utf-8"
    errors = xmltodict.parse(await resp.read())["errors"]["error"]
    assert errors == {"code": "429", "description": "Terlalu banyak"}
    resp = await open311_app.get("/invalid.json")
    assert resp.status == 422
    assert await resp.json() == [{"code": 422, "description": "Idempotency-Key: dipakai ulang"}]


async def test_a_format_other_than_json_or_xml_is_a_404_error_list(
    open311_app: TestClient[web.Request, web.Application],
) -> None:
    resp = await open311_app.get("/fine.yaml")
    assert resp.status == 404
    assert (await resp.json())[0]["code"] == 404
    resp = await open311_app.get("/fine.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert json.loads(await resp.text())[0]["service_code"] == next(iter(CATEGORIES))


NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)


def _query(**params: str) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(params))


def test_requests_default_to_the_last_90_days_and_map_open_and_closed() -> None:
    query = parse_request_query(_query(status="closed", service_code="kesehatan,air-minum"), NOW, 90)
    assert (query.start, query.end) == (NOW - timedelta(days=90), NOW)
    assert query.states == ["archived", "closed", "resolved"]
    assert query.codes == ["kesehatan", "air-minum"]
    opened = parse_request_query(_query(status="open"), NOW, 90)
    assert set(opened.states) == {"received", "triage", "assigned", "in_progress", "waiting_reporter"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "pending"}, "status"),
        ({"service_code": "jalan"}, "service_code"),
        ({"start_date": "2026-01-01T00:00:00"}, "start_date"),  # no zone
        ({"end_date": "kemarin"}, "end_date"),
        ({"start_date": "2025-01-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "start_date"),
        ({"service_request_id": "123"}, "service_request_id"),
        ({"page": "2"}, "page"),
    ],
)
def test_bad_request_filters_are_a_400_naming_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(Open311Error) as refused:
        parse_request_query(_query(**params), NOW, 90)
    assert refused.value.status == 400
    assert any(d.startswith(f"{field}: ") for d in refused.value.descriptions), refused.value.descriptions


def _story(*, anonymous: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": "01KDVDNA00Y1HZ1G6WHQ1ZZJPH",
        "anonymous": anonymous,
        "confidential": False,
        "category": "jalan-jembatan",
        "region_code": "33.74.01.1001",
        "pemda": "33.74",
        "status": "received",
        "opd_id": None,
        "escalation_level": 0,
        "last_seq": 0,
        "deadlines": {},
        "timeline": [],
        "submitted_at": NOW - timedelta(hours=2),
        "rev": 0,
    }
    calendar = calendar_for("33.74")
    assigned_at = NOW - timedelta(hours=1)
    events = [
        new_event(
            ComplaintReceived(
                submitted_at=doc["submitted_at"],
                title="t",
                description="d",
                category="jalan-jembatan",
                region_code="33.74.01.1001",
                pemda="33.74",
                classification="pengaduan",
                channel="open311",
                anonymous=anonymous,
                confidential=False,
            ),
            producer="routing",
            complaint_id=doc["_id"],
            seq=1,
            occurred_at=doc["submitted_at"],
        ),
        new_event(
            ComplaintAssigned(
                opd_id="33.74/dinas-pupr", pemda="33.74", category="jalan-jembatan", level="kabkota", rule="r"
            ),
            producer="routing",
            complaint_id=doc["_id"],
            seq=2,
            occurred_at=assigned_at,
        ),
        new_event(
            ClockStarted(
                clock_id="c-response",
                clock="response",
                opd_id="33.74/dinas-pupr",
                pemda="33.74",
                started_at=assigned_at,
                due_at=calendar.due(assigned_at, 5),
                budget_seconds=5 * 86400,
                state="running",
                at=assigned_at,
                version=1,
            ),
            producer="sla",
            complaint_id=doc["_id"],
            occurred_at=assigned_at,
        ),
    ]
    for event in events:
        apply(doc, event)
    return doc


def test_a_public_service_request_shows_the_opd_and_the_response_due_and_no_more() -> None:
    doc = _story()
    item = request_item(doc, NOW, calendar_for)
    due = calendar_for("33.74").due(NOW - timedelta(hours=1), 5)
    assert item["service_request_id"] == doc["_id"]
    assert item["status"] == "open"
    assert item["service_code"] == "jalan-jembatan" and item["service_name"] == "Jalan dan Jembatan"
    assert item["agency_responsible"] == "33.74/dinas-pupr"
    assert item["expected_datetime"] == due and item["expected_datetime"].utcoffset() == timedelta(hours=7)
    assert item["requested_datetime"] == doc["submitted_at"]
    assert item["region_code"] == "33.74"  # kab/kota, never the village
    assert item["updated_datetime"] >= item["requested_datetime"]
    for hidden in ("description", "address", "lat", "long", "media_url"):
        assert item[hidden] is None
    parsed = xmltodict.parse(to_xml("service_requests", [item]))["service_requests"]["request"]
    assert parsed["service_request_id"] == doc["_id"] and parsed["status"] == "open"
    assert datetime.fromisoformat(parsed["expected_datetime"]) == due


@pytest.mark.parametrize(
    ("status", "shown"), [("resolved", "closed"), ("archived", "closed"), ("triage", "open")]
)
def test_status_maps_to_open_or_closed(status: str, shown: str) -> None:
    doc = _story() | {"status": status}
    assert request_item(doc, NOW, calendar_for)["status"] == shown


async def test_discovery_names_the_endpoint_its_formats_and_the_region_code_extension() -> None:
    app = web.Application()
    app[INTAKE_SETTINGS] = IntakeSettings(public_base_url="https://pengaduan.example.go.id")
    reply = await open311.discovery(make_mocked_request("GET", "/open311/v2/discovery.xml", app=app))
    parsed = xmltodict.parse(to_xml(reply.root, reply.data))["discovery"]
    endpoint = parsed["endpoints"]["endpoint"]
    assert endpoint["url"] == "https://pengaduan.example.go.id/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"]["format"] == ["application/json", "text/xml"]
    assert parsed["key_service"] and parsed["contact"]
    assert any(e["name"] == "region_code" for e in parsed["extensions"]["extension"])
    jurisdictions = parsed["jurisdictions"]["jurisdiction"]
    assert len(jurisdictions) == 38 + 514  # every province and kab/kota (DESIGN §4)
    assert {"jurisdiction_id": "33.74", "name": "Kota Semarang", "level": "kabkota"} in jurisdictions
