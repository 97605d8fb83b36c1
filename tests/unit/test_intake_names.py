"""OPD names on intake's side (issue 21 item 5): routing's `catalog.changes` feeds intake's names
(the newest revision wins, a redelivery changes nothing), and a reporter's notification names the
OPD instead of showing its id."""

from __future__ import annotations

from typing import Any

from services.intake.adapters.notify_templates import Links, Templates
from services.intake.handlers import handle_view_events
from shared.envelope import Envelope, new_event
from shared.events import CatalogChanged, OpdEntry
from tests.intake_fakes import FakeComplaintStore

OPD = "33.74/dinas-pupr"


class Names:
    def __init__(self) -> None:
        self.pemdas: dict[str, tuple[int, dict[str, str]]] = {}

    async def put(self, pemda: str, revision: int, names: dict[str, str]) -> bool:
        if self.pemdas.get(pemda, (0, {}))[0] >= revision:
            return False
        self.pemdas[pemda] = (revision, names)
        return True

    async def name_of(self, opd_id: str) -> str | None:
        return self.pemdas.get(opd_id.split("/", 1)[0], (0, {}))[1].get(opd_id)


def announced(revision: int, name: str) -> Envelope:
    payload = CatalogChanged(
        pemda="33.74", pemda_name="Kota Semarang", revision=revision, opds=[OpdEntry(opd_id=OPD, name=name)]
    )
    return new_event(payload, producer="routing", complaint_id=None)


async def test_the_newest_announcement_gives_the_names() -> None:
    names, store = Names(), FakeComplaintStore()
    assert await handle_view_events([announced(7, "Dinas PU Kota Semarang")], store, names=names) == []
    assert await handle_view_events([announced(3, "Nama lama"), announced(7, "x")], store, names=names) == []
    assert await names.name_of(OPD) == "Dinas PU Kota Semarang"


def test_a_notification_names_the_opd() -> None:
    notification: dict[str, Any] = {
        "_id": "n1",
        "complaint_id": "C1",
        "facts": {"opd_id": OPD, "opd_name": "Dinas PU Kota Semarang"},
    }
    links = Links.of("https://lapor.example.go.id", "C1", "t", "tracking-token")
    assert Templates.context(notification, links)["opd"] == "Dinas PU Kota Semarang"
    without = {**notification, "facts": {"opd_id": OPD}}
    assert Templates.context(without, links)["opd"] == OPD  # until the name is known
