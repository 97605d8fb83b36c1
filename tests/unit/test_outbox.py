"""shared/outbox.py's staging: the instant a mark is guarded by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import outbox
from shared.kafka import Outgoing

AT = datetime(2026, 3, 13, 9, 0, 0, 123456, tzinfo=UTC)
MESSAGE = Outgoing("complaints.events", "C1", b"event")


def test_a_staging_instant_is_kept_as_the_database_keeps_it() -> None:
    doc: dict[str, Any] = {"_id": "C1"}
    assert outbox.stage(doc, [MESSAGE], AT) == AT.replace(microsecond=123000) == doc["outbox_since"]
    assert outbox.staged(doc) == [MESSAGE]


def test_a_document_staged_again_gets_a_later_instant_than_the_one_it_carries() -> None:
    """Else an earlier publish's mark, guarded by its instant, would clear the later messages."""
    doc: dict[str, Any] = {"_id": "C1"}
    first = outbox.stage(doc, [MESSAGE], AT)
    assert outbox.stage(doc, [MESSAGE, MESSAGE], AT) == first + timedelta(milliseconds=1)
    assert outbox.stage(doc, [MESSAGE], AT - timedelta(seconds=1)) == first + timedelta(milliseconds=2)
    later = AT + timedelta(seconds=1)
    assert outbox.stage(doc, [MESSAGE], later) == later.replace(microsecond=123000)
    doc["outbox_since"] = None  # marked: nothing staged to stay after
    assert outbox.stage(doc, [MESSAGE], AT) == first
