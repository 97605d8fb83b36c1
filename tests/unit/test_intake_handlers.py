"""Intake's use cases over the fake ports (tests/intake_fakes.py): no server, no Kafka. What the
Mongo store does the same is tests/integration/test_intake_store_contract.py's business."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake import handlers
from services.intake.adapters.idempotency import unseal
from services.intake.domain.errors import KeyReused, NotAllowed, NotYet
from services.intake.models import AddInformationBody, SubmitComplaint, WithdrawBody
from shared.calendar import CalendarBook
from shared.envelope import decode
from shared.events import AddInformation, ComplaintSubmitted, WithdrawComplaint
from tests.intake_fakes import FakeComplaintStore, FakePublisher
from tests.unit.test_intake_views import assigned, lifecycle, received

pytestmark = pytest.mark.usefixtures("one_day")

SECRET = "s" * 32
BODY = SubmitComplaint.model_validate(
    {
        "title": "Jalan berlubang di Jl. Pemuda",
        "description": "Lubang besar, hubungi Sari di 0812-3456-7890.",
        "category": "jalan-jembatan",
        "region_code": "33.74.01.1001",
        "reporter": {"name": "Sari", "phone": "0812-3456-7890"},
    }
)


async def _submit(
    store: FakeComplaintStore, publisher: FakePublisher, key: str | None = None, **changes: Any
) -> Any:
    body = BODY.model_copy(update=changes)
    return await handlers.submit(body, key, "https://x", store=store, publisher=publisher, secret=SECRET)


async def test_submit_stores_the_complaint_and_publishes_after_the_answer_without_identity() -> None:
    store, publisher = FakeComplaintStore(), FakePublisher()
    accepted = await _submit(store, publisher)
    assert accepted.status_url == f"https://x/api/v1/complaints/{accepted.id}"
    stored = store.complaints[accepted.id]
    assert stored["reporter"]["name"] == "Sari" and stored["token_hash"] != accepted.access_token
    [(collection, doc_id, [message])] = publisher.soon
    assert (collection, doc_id, message.topic) == ("complaints", accepted.id, "complaints.submitted")
    event = decode(message.value).payload
    assert isinstance(event, ComplaintSubmitted)
    assert "Sari" not in event.description and "3456" not in event.description


async def test_a_retried_key_gets_the_first_answer_and_another_body_is_refused() -> None:
    store, publisher = FakeComplaintStore(), FakePublisher()
    first = await _submit(store, publisher, key="k1")
    again = await _submit(store, publisher, key="k1")
    assert again == first and len(store.complaints) == 1 and len(publisher.soon) == 1
    record = await store.find_key("k1")
    assert record is not None and "access_token" not in record["response"]  # sealed
    assert unseal(record["response"], "k1", SECRET)["access_token"] == first.access_token
    with pytest.raises(KeyReused):
        await _submit(store, publisher, key="k1", title="Jalan lain yang berlubang")


async def _recorded(store: FakeComplaintStore, publisher: FakePublisher) -> dict[str, Any]:
    accepted = await _submit(store, publisher)
    view = store.complaints[accepted.id]
    view.update(last_seq=0)
    events = [lifecycle(1, received()), lifecycle(2, assigned())]
    for event in events:
        event = event.model_copy(update={"complaint_id": accepted.id})
        await handlers.handle_view_events([event], store, CalendarBook(), publisher.publish)
    doc = await store.get(accepted.id)
    assert doc is not None
    return doc


async def test_a_command_is_checked_against_the_view_then_sent_once_per_key() -> None:
    store, publisher = FakeComplaintStore(), FakePublisher()
    accepted = await _submit(store, publisher)
    fresh = await store.get(accepted.id)
    assert fresh is not None

    def info(body: Any, text: handlers.ReporterTexts) -> AddInformation:
        return AddInformation(message=text.required(body.message))

    body = AddInformationBody(message="Saya Sari, lubangnya makin besar")
    with pytest.raises(NotYet):  # routing has not recorded it yet
        await handlers.send_command(
            fresh, body, info, None, "https://x", store=store, publisher=publisher, calendars=CalendarBook()
        )
    doc = await _recorded(store, publisher)
    assert doc["status"] == "assigned"
    sent = [
        await handlers.send_command(
            doc, body, info, "k", "https://x", store=store, publisher=publisher, calendars=CalendarBook()
        )
        for _ in range(2)
    ]
    assert sent[0] == sent[1] and len(store.commands) == 1
    [(collection, _, [message])] = [item for item in publisher.soon if item[0] == "commands"]
    command = decode(message.value).payload
    assert collection == "commands" and isinstance(command, AddInformation) and "Sari" not in command.message


async def test_a_command_the_state_does_not_allow_is_refused_with_its_reason() -> None:
    store, publisher = FakeComplaintStore(), FakePublisher()
    doc = await _recorded(store, publisher)
    doc["status"] = "closed"
    with pytest.raises(NotAllowed, match="tidak dapat dicabut"):
        await handlers.send_command(
            doc,
            WithdrawBody(reason=None),
            lambda b, text: WithdrawComplaint(reason=text(b.reason)),
            None,
            "https://x",
            store=store,
            publisher=publisher,
            calendars=CalendarBook(),
        )
    assert store.commands == {}
