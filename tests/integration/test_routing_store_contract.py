"""One contract for routing's ComplaintStore and Catalog ports (services/routing/ports.py), run
over the Mongo adapters and over the fakes the handler tests use (tests/routing_fakes.py): what
one does, the other does too. The relay, which only the database has, is
tests/integration/test_routing_relay.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from devtools import infra
from services.routing.adapters.catalog import MongoCatalog
from services.routing.adapters.store import MongoComplaintStore, ensure_indexes
from services.routing.adapters.transfer_pairs import MongoTransferPairs
from services.routing.domain.complaint import NO_DUE
from services.routing.domain.suggestions import KEPT, CountedTransfer, Decision
from services.routing.handlers import route_submission
from services.routing.ports import Catalog, ComplaintStore, TransferPairs
from shared import clock, outbox
from shared.events import ComplaintSubmitted
from shared.faults import ConcurrentUpdate
from shared.mongo import mongo_client
from tests.routing_fakes import FakeCatalog, FakeComplaintStore, FakeTransferPairs
from tests.unit.test_routing_handlers import NOW, submitted

pytestmark = pytest.mark.integration

PUPR = "33.74/dinas-pupr"


@contextlib.asynccontextmanager
async def mongo_database(uri: str, db_prefix: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client = mongo_client(uri)
    db = client[f"{db_prefix}routing_contract"]
    await ensure_indexes(db)
    try:
        yield db
    finally:
        await client.drop_database(db.name)
        await client.close()


@pytest.fixture
async def store(contract_mongo_uri: str | None, db_prefix: str) -> AsyncIterator[ComplaintStore]:
    if contract_mongo_uri is None:
        yield FakeComplaintStore()
        return
    async with mongo_database(contract_mongo_uri, db_prefix) as db:
        yield MongoComplaintStore(db)


@pytest.fixture
async def catalog(contract_mongo_uri: str | None, db_prefix: str) -> AsyncIterator[Catalog]:
    if contract_mongo_uri is None:
        fake = FakeCatalog()
        await fake.put_opd("33.74", "dinas-pupr", "Dinas PUPR Kota Semarang")
        yield fake
        return
    async with mongo_database(contract_mongo_uri, db_prefix) as db:
        await db["opds"].insert_one({"_id": PUPR, "pemda": "33.74", "slug": "dinas-pupr"})
        yield MongoCatalog(db)


def routed(
    complaint_id: str, category: str = "jalan-jembatan", at: datetime = NOW, staged_at: datetime | None = None
) -> dict[str, Any]:
    """A complaint as routing first stores it: received and assigned (or triage), unpublished."""
    envelope = submitted(complaint_id, category=category)
    assert isinstance(envelope.payload, ComplaintSubmitted)
    return route_submission(envelope, envelope.payload, at, staged_at=staged_at)


def aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


async def test_a_complaint_is_inserted_once_and_read_back_whole_or_projected(store: ComplaintStore) -> None:
    assert await store.insert_new([routed("C1"), routed("C2")]) == set()
    assert await store.insert_new([routed("C1"), routed("C3")]) == {"C1"}
    doc = await store.get("C1")
    assert doc is not None and doc["state"] == "assigned" and doc["opd_id"] == PUPR
    assert doc["seq"] == 2 and doc["rev"] == 0 and doc["outbox_since"] is not None
    assert [e["type"] for e in doc["feed_outbox"]] == ["ComplaintAssigned"]
    assert [m["topic"] for m in doc["outbox"]] == [
        "complaints.events",
        "complaints.events",
        "complaints.assigned",
    ]
    assert await store.get("C9") is None
    assert sorted(await store.load(["C1", "C3", "C9"])) == ["C1", "C3"]
    assert await store.load([]) == {}
    projected = await store.load(["C2"], fields=("dues", "rev"))
    assert projected == {"C2": {"_id": "C2", "dues": {}, "rev": 0}}


async def test_a_write_is_guarded_by_the_rev_it_was_read_at(store: ComplaintStore) -> None:
    await store.insert_new([routed("C1")])
    first = await store.get("C1")
    second = await store.get("C1")
    assert first is not None and second is not None
    first["tier"] = "ringan"
    await store.replace([first])
    assert first["rev"] == 1
    second["tier"] = "berat"
    with pytest.raises(ConcurrentUpdate):
        await store.replace([second])
    stored = await store.get("C1")
    assert stored is not None and (stored["tier"], stored["rev"]) == ("ringan", 1)
    await store.replace([])  # nothing to write: no error


async def test_an_outbox_is_marked_only_for_the_staging_delivered(store: ComplaintStore) -> None:
    batch = clock.wall()
    await store.insert_new([routed(c, staged_at=batch) for c in ("C1", "C2", "C3")])
    c1, c2, c3 = [await store.get(c) for c in ("C1", "C2", "C3")]
    assert c1 is not None and c2 is not None and c3 is not None
    assert c1["outbox_since"] == c2["outbox_since"] == c3["outbox_since"]  # one instant, one write
    c3["tier"] = "ringan"
    outbox.stage(c3, outbox.staged(c3))  # a later change of C3, staged again before the mark
    await store.replace([c3])
    await store.mark_published([(c["_id"], c1["outbox_since"]) for c in (c1, c2, c3)])
    for cid in ("C1", "C2"):
        doc = await store.get(cid)
        assert doc is not None and (doc["outbox"], doc["outbox_since"], doc["feed_outbox"]) == ([], None, [])
    later = await store.get("C3")
    assert later is not None and later["outbox_since"] == c3["outbox_since"] > c1["outbox_since"]
    assert len(later["outbox"]) == 3 and len(later["feed_outbox"]) == 1
    await store.mark_published([])  # nothing delivered: no error


async def test_a_lease_is_taken_only_at_the_rev_read(store: ComplaintStore) -> None:
    await store.insert_new([routed("C1")])
    until = NOW + timedelta(minutes=30)
    assert await store.set_lease("C1", 0, "budi", until) is True
    assert await store.set_lease("C1", 0, "sari", until) is False  # the rev moved on
    doc = await store.get("C1")
    assert doc is not None and doc["claimed_by"] == "budi" and doc["rev"] == 1
    assert aware(doc["lease_until"]) == until


async def test_dues_are_written_only_where_the_rev_still_holds(store: ComplaintStore) -> None:
    await store.insert_new([routed("C1"), routed("C2")])
    due = NOW + timedelta(days=5)
    dues = {"C1/response/1": {"clock": "response", "opd_id": PUPR, "due": due, "state": "running", "v": 1}}
    missed = await store.set_dues([("C1", 0, dues, due), ("C2", 7, dues, due)])
    assert missed == 1
    c1, c2 = await store.get("C1"), await store.get("C2")
    assert c1 is not None and aware(c1["sla_due"]) == due and c1["rev"] == 1
    assert c2 is not None and aware(c2["sla_due"]) == NO_DUE and c2["rev"] == 0
    assert await store.set_dues([]) == 0


async def test_a_queue_is_by_nearest_due_then_id_keyset_paged_and_without_the_outbox(
    store: ComplaintStore,
) -> None:
    await store.insert_new([routed(c) for c in ("C1", "C2", "C3", "C4")] + [routed("T1", category="lainnya")])
    soon, later = NOW + timedelta(days=2), NOW + timedelta(days=4)
    await store.set_dues([("C3", 0, {}, soon), ("C1", 0, {}, later), ("C2", 0, {}, soon)])
    states = ("assigned", "in_progress", "waiting_reporter")
    page = await store.queue(field="opd_id", value=PUPR, states=states, limit=2, after=None)
    assert [d["_id"] for d in page] == ["C2", "C3"]
    assert all("outbox" not in d for d in page)
    last = page[-1]
    rest = await store.queue(
        field="opd_id", value=PUPR, states=states, limit=5, after=(aware(last["sla_due"]), last["_id"])
    )
    assert [d["_id"] for d in rest] == ["C1", "C4"]
    triage = await store.queue(field="pemda", value="33.74", states=("triage",), limit=5, after=None)
    assert [d["_id"] for d in triage] == ["T1"]
    one_kind = await store.queue(
        field="opd_id", value=PUPR, states=states, limit=5, after=None, category="jalan-jembatan"
    )
    assert [d["_id"] for d in one_kind] == ["C2", "C3", "C1", "C4"]
    assert (
        await store.queue(field="opd_id", value=PUPR, states=states, limit=5, after=None, category="lainnya")
        == []
    )


async def test_rule_overrides_take_effect_at_once_and_per_pemda(catalog: Catalog) -> None:
    assert await catalog.opd_exists(PUPR) is True
    assert await catalog.opd_exists("33.74/tidak-ada") is False
    assert await catalog.overrides(["33.74"]) == {}
    await catalog.put_rule("33.74", "penerangan-jalan", "dinas-pupr", "PJU dikelola PUPR", "koord")
    assert await catalog.overrides(["33.74", "33"]) == {("33.74", "penerangan-jalan"): "dinas-pupr"}
    assert await catalog.overrides(["33.01"]) == {}
    assert await catalog.delete_rule("33.74", "penerangan-jalan") is True
    assert await catalog.delete_rule("33.74", "penerangan-jalan") is False
    assert await catalog.overrides(["33.74"]) == {}
    await catalog.put_opd("33.74", "dinas-baru", "Dinas Baru Kota Semarang")
    assert await catalog.opd_exists("33.74/dinas-baru") is True
    await catalog.audit("opd.put", "koord", "coordinator", {"opd_id": "33.74/dinas-baru"})


async def test_a_pemdas_opds_and_rules_are_listed(catalog: Catalog) -> None:
    """What the coordinator pages show: a pemda's OPDs (not a neighbour's whose code starts the
    same, 33.7 vs 33.74) and its rules, by id and by category."""
    await catalog.put_opd("33.74", "dinas-baru", "Dinas Baru Kota Semarang")
    await catalog.put_opd("33.71", "dinas-lain", "Dinas Lain Kota Magelang")
    await catalog.put_opd("33", "dinas-provinsi", "Dinas Provinsi Jawa Tengah")
    ids = [o["_id"] for o in await catalog.opds_of(["33.74"])]
    assert ids == ["33.74/dinas-baru", PUPR]
    both = await catalog.opds_of(["33", "33.74"])
    assert [o["_id"] for o in both] == ["33.74/dinas-baru", PUPR, "33/dinas-provinsi"]
    assert both[0]["name"] == "Dinas Baru Kota Semarang" and both[0]["slug"] == "dinas-baru"
    assert await catalog.opds_of([]) == []
    await catalog.put_rule("33.74", "penerangan-jalan", "dinas-pupr", None, "koord")
    await catalog.put_rule("33.74", "jalan-jembatan", "dinas-baru", "uji", "koord")
    await catalog.put_rule("33.71", "jalan-jembatan", "dinas-lain", None, "koord")
    rules = await catalog.rules_of("33.74")
    assert [(r["category"], r["opd_slug"]) for r in rules] == [
        ("jalan-jembatan", "dinas-baru"),
        ("penerangan-jalan", "dinas-pupr"),
    ]


# --- transfer pairs (rule suggestions) ---------------------------------------------------------


@pytest.fixture
async def pairs(contract_mongo_uri: str | None, db_prefix: str) -> AsyncIterator[TransferPairs]:
    if contract_mongo_uri is None:
        yield FakeTransferPairs()
        return
    async with mongo_database(contract_mongo_uri, db_prefix) as db:
        yield MongoTransferPairs(db)


KEY = ("33.74", "penerangan-jalan", "dinas-perhubungan", "dinas-pupr")


async def test_a_transfer_counts_once_and_concurrent_first_counts_both_count(pairs: TransferPairs) -> None:
    first = [
        CountedTransfer(f"e{n}", f"c{n}", NOW + timedelta(minutes=n), "bukan wewenang") for n in range(2)
    ]
    # Two events of a pair nobody counted yet, at once: one creates the pair, the other must not
    # be taken for a duplicate.
    assert await asyncio.gather(*(pairs.count(*KEY, t) for t in first)) == [True, True]
    assert await pairs.count(*KEY, first[0]) is False  # redelivered
    stored = await pairs.get(*KEY)
    assert stored is not None and [t.event_id for t in stored.transfers] == ["e0", "e1"]
    # Kept newest last by instant, at most KEPT: an older event replayed later does not push out newer.
    for n in range(2, KEPT + 2):
        await pairs.count(*KEY, CountedTransfer(f"e{n}", f"c{n}", NOW + timedelta(minutes=n), "r"))
    late_old = CountedTransfer("old", "c-old", NOW - timedelta(days=1), "r")
    await pairs.count(*KEY, late_old)
    stored = await pairs.get(*KEY)
    assert stored is not None and len(stored.transfers) == KEPT
    assert stored.transfers[-1].event_id == f"e{KEPT + 1}" and "old" not in {
        t.event_id for t in stored.transfers
    }
    assert [p.id for p in await pairs.of_pemda("33.74")] == ["penerangan-jalan:dinas-perhubungan:dinas-pupr"]
    assert await pairs.of_pemda("33.71") == []


async def test_a_decision_is_taken_once(pairs: TransferPairs) -> None:
    await pairs.count(*KEY, CountedTransfer("e0", "c0", NOW, "r"))
    read = await pairs.get(*KEY)
    assert read is not None
    accepted = Decision("accepted", "koor", "coordinator", NOW + timedelta(hours=1), None, ("c0",))
    rejected = Decision("rejected", "koor-2", "coordinator", NOW + timedelta(hours=1), "tidak", ("c0",))
    assert await pairs.decide(read, accepted) is True
    assert await pairs.decide(read, rejected) is False  # decided since it was read
    stored = await pairs.get(*KEY)
    assert stored is not None and stored.decided == accepted
    assert await pairs.decide(stored, rejected) is True


async def test_a_decision_s_other_writes_are_in_its_transaction(
    endpoints: infra.Endpoints, db_prefix: str
) -> None:
    """Accepting a suggestion writes the decision, the rule and the audit: a failure after the
    rule (a crash, the database gone) leaves none of them, so the suggestion is still on offer."""
    async with mongo_database(endpoints.mongo_uri, db_prefix) as db:  # a transaction: no fake of it
        pairs, catalog = MongoTransferPairs(db), MongoCatalog(db)
        await pairs.count(*KEY, CountedTransfer("e0", "c0", NOW, "r"))
        read = await pairs.get(*KEY)
        assert read is not None
        accepted = Decision("accepted", "koor", "coordinator", NOW + timedelta(hours=1), None, ("c0",))
        rule = ("33.74", "penerangan-jalan", "dinas-pupr", "usulan", "koor")

        async def rule_then_failure(session: Any) -> None:
            await catalog.put_rule(*rule, session=session)
            raise RuntimeError("process gone")

        with pytest.raises(RuntimeError):
            await pairs.decide(read, accepted, rule_then_failure)
        again = await pairs.get(*KEY)
        assert again is not None and again.decided is None
        assert await catalog.overrides(["33.74"]) == {}

        async def rule_and_audit(session: Any) -> None:
            await catalog.put_rule(*rule, session=session)
            await catalog.audit("rule.suggestion.accept", "koor", "coordinator", {}, session=session)

        assert await pairs.decide(again, accepted, rule_and_audit) is True
        assert await catalog.overrides(["33.74"]) == {("33.74", "penerangan-jalan"): "dinas-pupr"}
        assert await db["audit"].count_documents({"what": "rule.suggestion.accept"}) == 1


async def test_two_complaints_are_written_together_or_not_at_all(store: ComplaintStore) -> None:
    await store.insert_new([routed("C1"), routed("C2")])
    one, two = await store.get("C1"), await store.get("C2")
    stale = await store.get("C2")
    assert one is not None and two is not None and stale is not None
    two["tier"] = "ringan"
    await store.replace([two])
    one["state"], stale["tier"] = "closed", "berkadar-pengawasan"
    with pytest.raises(ConcurrentUpdate):
        await store.replace_together([one, stale])  # C2 changed since: neither is written
    kept = await store.get("C1")
    assert kept is not None and (kept["state"], kept["rev"]) == ("assigned", 0)
    fresh = await store.get("C2")
    assert fresh is not None
    fresh["tier"] = "tidak-berkadar-pengawasan"
    await store.replace_together([one, fresh])
    assert (one["rev"], fresh["rev"]) == (1, 2)
    written = await store.load(["C1", "C2"])
    assert (written["C1"]["state"], written["C2"]["tier"]) == ("closed", "tidak-berkadar-pengawasan")


async def test_duplicate_candidates_are_found_by_key_within_the_window_newest_first(
    store: ComplaintStore,
) -> None:
    docs = [routed(f"C{i}", at=NOW - timedelta(days=i)) for i in range(4)]
    for i, doc in enumerate(docs):
        doc["submitted_at"] = NOW - timedelta(days=10 * i)
        doc["dup_keys"] = ["33.74|jalan-jembatan|d:33.74.01.1001|0:aa", f"other-{i}"]
    docs[3]["dup_keys"] = []  # closed: it holds no keys
    docs[0]["duplicates"] = [{"id": "C2", "similarity": 0.5, "distance_m": None}]
    await store.insert_new(docs)
    found = await store.duplicate_candidates(
        ["33.74|jalan-jembatan|d:33.74.01.1001|0:aa", "nothing"], NOW - timedelta(days=25), 10
    )
    assert [d["_id"] for d in found] == ["C0", "C1", "C2"]
    assert "outbox" not in found[0] and found[0]["category"] == "jalan-jembatan"
    assert [
        d["_id"] for d in await store.duplicate_candidates(["other-1"], NOW - timedelta(days=25), 10)
    ] == ["C1"]
    assert await store.duplicate_candidates(["other-1"], NOW - timedelta(days=5), 10) == []
    assert (
        len(
            await store.duplicate_candidates(
                ["33.74|jalan-jembatan|d:33.74.01.1001|0:aa"], NOW - timedelta(days=99), 2
            )
        )
        == 2
    )
    assert [d["_id"] for d in await store.suggested_with("C2", 10)] == ["C0"]
