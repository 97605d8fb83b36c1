"""The event envelope (DESIGN §6), the registry and the upcaster mechanism."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.envelope import DecodeError, decode, new_event
from shared.events import ComplaintAssigned, ComplaintSubmitted


def _submitted() -> ComplaintSubmitted:
    return ComplaintSubmitted(
        title="Lampu jalan mati",
        description="Sudah seminggu lampu jalan di gang kami mati total.",
        category="penerangan-jalan",
        region_code="33.74",
        classification="pengaduan",
        channel="app",
    )


def test_round_trip_through_json_keeps_type_and_payload() -> None:
    event = new_event(_submitted(), producer="intake", complaint_id="C1")
    decoded = decode(event.to_bytes())
    assert decoded == event
    assert isinstance(decoded.payload, ComplaintSubmitted)
    assert len(decoded.event_id) == 26  # a ULID


def test_occurred_at_is_normalised_to_utc() -> None:
    wib = timezone(timedelta(hours=7))
    event = new_event(
        _submitted(), producer="intake", complaint_id="C1", occurred_at=datetime(2026, 3, 13, 16, tzinfo=wib)
    )
    assert event.occurred_at == datetime(2026, 3, 13, 9, tzinfo=UTC)
    assert json.loads(event.to_bytes())["occurred_at"].endswith("Z")


def test_envelopes_and_payloads_are_frozen() -> None:
    event = new_event(_submitted(), producer="intake", complaint_id="C1")
    with pytest.raises(ValidationError):
        event.seq = 3  # type: ignore[misc]


def test_a_v1_submission_is_upcast_to_the_current_version() -> None:
    v1 = {
        "event_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ",
        "type": "ComplaintSubmitted",
        "schema_version": 1,
        "occurred_at": "2026-03-13T09:00:00Z",
        "complaint_id": "C1",
        "seq": None,
        "producer": "intake",
        "correlation_id": None,
        "payload": {
            "title": "Sampah menumpuk",
            "description": "Sampah di pasar tidak diangkut seminggu.",
            "region_code": "33.74",
        },
    }
    event = decode(json.dumps(v1))
    assert event.schema_version == 2
    assert isinstance(event.payload, ComplaintSubmitted)
    assert (event.payload.classification, event.payload.channel) == ("pengaduan", "web")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "Nope", "schema_version": 1}', "unknown message type"),
        (b'{"type": "ComplaintAssigned", "schema_version": 9, "payload": {}}', "newer than this consumer"),
        (
            b'{"type": "ComplaintAssigned", "schema_version": 1, "payload": {"opd_id": 3}}',
            "ComplaintAssigned v1",
        ),
    ],
)
def test_undecodable_messages_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(raw)


def test_unknown_envelope_fields_are_rejected() -> None:
    event = new_event(
        ComplaintAssigned(
            opd_id="33.74/dlh", pemda="33.74", category="persampahan-lingkungan", level="kabkota", rule="t"
        ),
        producer="routing",
        complaint_id="C1",
        seq=2,
    )
    data = json.loads(event.to_bytes())
    data["surprise"] = 1
    with pytest.raises(DecodeError):
        decode(json.dumps(data))
