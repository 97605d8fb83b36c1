"""Routing's fake ports (services/routing/ports.py), in memory, with the Mongo store's guards:
the handler tests run on them, and tests/integration/test_routing_store_contract.py runs one
contract over the fake complaint store and the Mongo one."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.routing.adapters.delivery import OutboxDelivery
from services.routing.adapters.store import CANDIDATE_FIELDS
from services.routing.domain.complaint import FEED_OUTBOX
from services.routing.domain.suggestions import KEPT, CountedTransfer, Decision, TransferPair
from services.routing.ports import DuesUpdate, Routing
from shared.envelope import Envelope, decode
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing

Document = dict[str, Any]


class FakeComplaintStore:
    """The `ComplaintStore` port in memory, with the same rev guard."""

    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.loads: list[list[str]] = []  # the ids of every load, in order

    async def insert_new(self, docs: Sequence[Document]) -> set[str]:
        existing = {d["_id"] for d in docs if d["_id"] in self.docs}
        self.docs.update({d["_id"]: copy.deepcopy(d) for d in docs if d["_id"] not in existing})
        return existing

    async def get(self, complaint_id: str) -> Document | None:
        doc = self.docs.get(complaint_id)
        return copy.deepcopy(doc) if doc else None

    async def load(self, ids: Sequence[str], fields: Sequence[str] = ()) -> dict[str, Document]:
        self.loads.append(list(ids))
        docs = {i: copy.deepcopy(self.docs[i]) for i in ids if i in self.docs}
        if fields:  # as the database projects: `_id` and the fields asked for
            return {i: {k: v for k, v in d.items() if k == "_id" or k in fields} for i, d in docs.items()}
        return docs

    async def replace(self, docs: Sequence[Document]) -> None:
        for doc in docs:
            if self.docs[doc["_id"]]["rev"] != doc["rev"]:
                raise ConcurrentUpdate(doc["_id"])
        for doc in docs:
            doc["rev"] += 1
            self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def replace_together(self, docs: Sequence[Document]) -> None:
        await self.replace(docs)  # checks every rev before writing any: all or none

    async def duplicate_candidates(self, keys: Sequence[str], since: datetime, limit: int) -> list[Document]:
        wanted = set(keys)
        found = [
            {k: copy.deepcopy(v) for k, v in d.items() if k == "_id" or k in CANDIDATE_FIELDS}
            for d in self.docs.values()
            if wanted.intersection(d.get("dup_keys") or ()) and d["submitted_at"] >= since
        ]
        return sorted(found, key=lambda d: d["submitted_at"], reverse=True)[:limit]

    async def suggested_with(self, complaint_id: str, limit: int) -> list[Document]:
        found = [
            d for d in self.docs.values() if any(s["id"] == complaint_id for s in d.get("duplicates") or ())
        ]
        return [copy.deepcopy(d) for d in found[:limit]]

    async def mark_published(self, written: Sequence[tuple[str, datetime]]) -> None:
        for cid, since in written:
            doc = self.docs.get(cid)
            if doc is not None and doc.get("outbox_since") == since:
                doc.update({"outbox": [], "outbox_since": None, FEED_OUTBOX: []})

    async def set_lease(self, complaint_id: str, rev: int, handler: str, until: datetime) -> bool:
        doc = self.docs.get(complaint_id)
        if doc is None or doc["rev"] != rev:
            return False
        doc.update(claimed_by=handler, lease_until=until, rev=rev + 1)
        return True

    async def set_dues(self, updates: Sequence[DuesUpdate]) -> int:
        missed = 0
        for cid, rev, dues, sla_due in updates:
            if self.docs[cid]["rev"] != rev:
                missed += 1
                continue
            self.docs[cid].update(dues=dues, sla_due=sla_due, rev=rev + 1)
        return missed

    async def queue(
        self,
        *,
        field: str,
        value: str,
        states: Sequence[str],
        limit: int,
        after: tuple[datetime, str] | None,
        category: str | None = None,
    ) -> list[Document]:
        found = [
            d
            for d in self.docs.values()
            if d.get(field) == value
            and d["state"] in states
            and (category is None or d.get("category") == category)
            and (after is None or (d["sla_due"], d["_id"]) > after)
        ]
        found.sort(key=lambda d: (d["sla_due"], d["_id"]))
        return [{k: v for k, v in copy.deepcopy(d).items() if k != "outbox"} for d in found[:limit]]


@dataclass
class FakeCatalog:
    """The `Catalog` port in memory: rule overrides, OPDs, the audit trail."""

    rules: dict[tuple[str, str], str] = field(default_factory=dict)
    opds: dict[str, Document] = field(default_factory=dict)
    audited: list[Document] = field(default_factory=list)

    async def overrides(self, pemdas: Sequence[str]) -> dict[tuple[str, str], str]:
        return {k: v for k, v in self.rules.items() if k[0] in pemdas}

    async def opds_of(self, pemdas: Sequence[str]) -> list[Document]:
        return [{"_id": k, **v} for k, v in sorted(self.opds.items()) if k.split("/")[0] in pemdas]

    async def rules_of(self, pemda: str) -> list[Document]:
        found = [(c, s) for (p, c), s in sorted(self.rules.items()) if p == pemda]
        return [{"pemda": pemda, "category": c, "opd_slug": s} for c, s in found]

    async def opd_exists(self, opd_id: str) -> bool:
        return opd_id in self.opds

    def forget_rules(self) -> None:
        pass  # nothing cached

    async def put_rule(
        self, pemda: str, category: str, opd_slug: str, note: str | None, by: str, *, session: Any = None
    ) -> None:
        self.rules[(pemda, category)] = opd_slug

    async def delete_rule(self, pemda: str, category: str) -> bool:
        return self.rules.pop((pemda, category), None) is not None

    async def put_opd(self, pemda: str, slug: str, name: str) -> None:
        self.opds[f"{pemda}/{slug}"] = {"pemda": pemda, "slug": slug, "name": name, "overridden": True}

    async def audit(self, what: str, by: str, role: str, data: Document, *, session: Any = None) -> None:
        self.audited.append({"what": what, "by": by, "role": role, "data": data})


class FakeFeed:
    """The `Feed` port in memory: entries by id, read in the order they were added."""

    def __init__(self) -> None:
        self.entries: dict[str, Document] = {}

    async def add(self, entries: Sequence[Document]) -> None:
        for e in entries:
            self.entries.setdefault(e["_id"], {**e, "pos": f"{len(self.entries):013d}:{e['_id']}"})

    async def after(
        self, opd_id: str, cursor: str | None, limit: int, now: datetime | None = None
    ) -> list[Document]:
        mine = [
            e
            for e in self.entries.values()
            if e["opd_id"] == opd_id and (cursor is None or e["pos"] > cursor)
        ]
        return mine[:limit]

    async def of_complaint(self, opd_id: str, complaint_id: str, limit: int) -> list[Document]:
        mine = [
            e for e in self.entries.values() if e["opd_id"] == opd_id and e["complaint_id"] == complaint_id
        ]
        return mine[:limit]


@dataclass
class FakeNotes:
    notes: list[Document] = field(default_factory=list)

    async def add(self, note: Document) -> None:
        self.notes.append(dict(note))

    async def of(self, complaint_id: str) -> list[Document]:
        return [n for n in self.notes if n["complaint_id"] == complaint_id]


@dataclass
class FakeWebhooks:
    hooks: dict[str, Document] = field(default_factory=dict)

    async def register(self, opd_id: str, url: str, secret: str, by: str) -> None:
        self.hooks[opd_id] = {"url": url, "secret": secret, "by": by}

    async def deliveries(self, opd_id: str, limit: int) -> list[Document]:
        return []


class FakeTransferPairs:
    """The `TransferPairs` port in memory: the same dedupe by event id, the same kept newest."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str, str, str], TransferPair] = {}

    async def count(
        self, pemda: str, category: str, from_slug: str, to_slug: str, transfer: CountedTransfer
    ) -> bool:
        key = (pemda, category, from_slug, to_slug)
        pair = self.pairs.get(key) or TransferPair(pemda, category, from_slug, to_slug, ())
        if any(t.event_id == transfer.event_id for t in pair.transfers):
            return False
        kept = tuple(sorted((*pair.transfers, transfer), key=lambda t: t.at)[-KEPT:])
        self.pairs[key] = dataclasses.replace(pair, transfers=kept)
        return True

    async def of_pemda(self, pemda: str) -> list[TransferPair]:
        return [p for key, p in self.pairs.items() if key[0] == pemda]

    async def get(self, pemda: str, category: str, from_slug: str, to_slug: str) -> TransferPair | None:
        return self.pairs.get((pemda, category, from_slug, to_slug))

    async def decide(
        self, pair: TransferPair, decision: Decision, then: Callable[[Any], Awaitable[None]] | None = None
    ) -> bool:
        key = (pair.pemda, pair.category, pair.from_slug, pair.to_slug)
        if self.pairs[key].decided != pair.decided:
            return False
        if then is not None:  # first: if it fails, nothing is decided (a transaction, in the adapter)
            await then(None)
        self.pairs[key] = dataclasses.replace(self.pairs[key], decided=decision)
        return True


@dataclass
class Sent:
    """A publisher that keeps what it was given (or fails like a broker that is down)."""

    messages: list[Outgoing] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        if self.fail:
            raise TimeoutError("broker down")
        self.messages.extend(messages)

    def decoded(self, topic: str) -> list[Envelope]:
        return [decode(m.value) for m in self.messages if m.topic == topic]


def fake_routing(
    sent: Sent | None = None, *, catalog: FakeCatalog | None = None
) -> tuple[Routing, FakeComplaintStore, FakeFeed, Sent]:
    """Routing's ports on fakes, with the real outbox delivery over them (finishing inline)."""
    store, feed, sent = FakeComplaintStore(), FakeFeed(), sent or Sent()
    routing = Routing(
        complaints=store,
        catalog=catalog or FakeCatalog(),
        delivery=OutboxDelivery(store, feed, sent),
        feed=feed,
        notes=FakeNotes(),
        webhooks=FakeWebhooks(),
        transfer_pairs=FakeTransferPairs(),
    )
    return routing, store, feed, sent


def delivery_of(routing: Routing) -> OutboxDelivery:
    assert isinstance(routing.delivery, OutboxDelivery)
    return routing.delivery
