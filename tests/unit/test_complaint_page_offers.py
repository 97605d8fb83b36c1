"""Which of the reporter's forms the complaint page offers in each state: exactly the commands the
domain's rules (services/intake/domain/commands.py) would accept now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from services.intake.entrypoints.pages import due_words, offered
from shared.calendar import WIB, calendar_for

NOW = datetime(2026, 6, 13, 10, tzinfo=WIB)  # a Saturday
OPD = "35.73/dinas-pupr"


def _doc(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "_id": "c1",
        "region_code": "35.73.01.1002",
        "pemda": "35.73",
        "last_seq": 7,
        "status": status,
        **fields,
    }


RESOLVED = {"resolved_by": OPD, "resolved_at": NOW - timedelta(days=1)}


@pytest.mark.parametrize(
    ("doc", "forms"),
    [
        (_doc("received"), {"cabut"}),
        (_doc("received", last_seq=0), {"cabut"}),  # before routing records it: the state decides
        (_doc("triage"), {"cabut"}),
        (_doc("assigned", opd_id=OPD), {"informasi", "cabut"}),
        (_doc("in_progress", opd_id=OPD), {"informasi", "cabut"}),
        (_doc("waiting_reporter", opd_id=OPD), {"informasi", "cabut"}),
        (_doc("resolved", **RESOLVED), {"nilai", "survei", "buka"}),
        (_doc("resolved", reopened=True, **RESOLVED), {"nilai", "survei"}),  # reopened once already
        (_doc("resolved", resolved_by=OPD, resolved_at=NOW - timedelta(days=30)), {"nilai", "survei"}),
        (_doc("closed", **RESOLVED), {"survei"}),  # rated: the survey is still open to them
        (_doc("closed", surveyed=True, **RESOLVED), set()),
        (_doc("closed", closed_outcome="withdrawn"), set()),  # never resolved: no survey
        (_doc("archived"), set()),
    ],
)
def test_the_page_offers_what_the_rules_allow(doc: dict[str, Any], forms: set[str]) -> None:
    assert offered(doc, NOW, calendar_for) == forms


def test_a_due_at_midnight_is_the_end_of_the_day_before() -> None:
    assert due_words(datetime(2026, 6, 19, tzinfo=WIB)) == "akhir hari 18-06-2026"
    assert due_words(datetime(2026, 6, 19, 14, 30, tzinfo=WIB)) == "19-06-2026 pukul 14:30"
