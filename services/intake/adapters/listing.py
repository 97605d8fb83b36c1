"""Public complaints, read newest first (DESIGN §3, §6): never confidential ones, never identity.
The public listing and Open311's requests read them here.

How pages are read. Complaint ids are ULIDs, so `_id` order is submission order and a page is
"the `limit` newest public complaints below the cursor". The database server we run here gathers a
query's whole match set before it applies `limit` (and a `hint` turns its index routing off), so a
newest-first query costs what it matches, however well indexed. A page is therefore read in `_id`
windows: the newest hour below the cursor, then windows four times wider, until the page is full
or the floor (`INTAKE_LISTING_FLOOR`, the service's start) is reached. A window with one equality
filter (`pemda` — a kab/kota is one value —, `category` or `status`) is an exact range of
`(confidential, <filter>, _id)`; other filters (a province, two filters together) read the window
through `_id` and check the rest. The cursor carries the last id and the window that filled its
page, so the next page starts at the right width. On MongoDB the same queries are plain index
scans with a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

# What a public view is built from: never the reporter, the token hash, the text or the location.
PUBLIC_FIELDS = {
    f: 1
    for f in (
        "status",
        "category",
        "region_code",
        "opd_id",
        "escalation_level",
        "deadlines",
        "timeline",
        "pemda",
        "anonymous",
        "confidential",
        "submitted_at",
    )
}
WINDOW_GROWTH = 4
MAX_WINDOW = timedelta(days=3660)

# --- ids and windows ---------------------------------------------------------------------------


def id_floor(instant: datetime) -> str:
    """The smallest ULID of `instant`'s millisecond: `_id >= id_floor(t)` ⇔ submitted at or after t."""
    ms = max(0, int(instant.timestamp() * 1000))
    return str(ULID.from_bytes(ms.to_bytes(6, "big") + bytes(10)))


def id_time(ulid: str) -> datetime:
    return ULID.from_str(ulid).datetime


@dataclass(frozen=True)
class Page:
    docs: list[dict[str, Any]]
    more: bool
    window: timedelta  # the width that filled the page: where the next page starts


async def newest_first(
    collection: AsyncCollection[dict[str, Any]],
    conditions: dict[str, Any],
    projection: dict[str, Any],
    *,
    limit: int,
    below: datetime | str,
    floor: datetime,
    first_window: timedelta,
) -> Page:
    """Up to `limit` documents matching `conditions` with `_id` below `below` (an id, or an
    instant) and not before `floor`, newest first — read in growing `_id` windows (module doc)."""
    top = below if isinstance(below, str) else id_floor(below)
    top_time = id_time(top) if isinstance(below, str) else below
    bottom = id_floor(floor)
    window = min(max(first_window, timedelta(seconds=1)), MAX_WINDOW)
    found: list[dict[str, Any]] = []
    while top > bottom:
        reaches_floor = top_time - floor <= window
        low = bottom if reaches_floor else max(bottom, id_floor(top_time - window))
        # `_id` first: a server that routes a query by one of its fields takes the window.
        query = {"_id": {"$gte": low, "$lt": top}, **conditions}
        cursor = collection.find(query, projection).sort("_id", -1).limit(limit + 1 - len(found))
        found.extend(await cursor.to_list())
        if len(found) > limit or reaches_floor:
            break
        top, top_time = low, top_time - window
        window = min(window * WINDOW_GROWTH, MAX_WINDOW)
    return Page(found[:limit], len(found) > limit, window)


def region_condition(region: str) -> Any:
    """Complaints in `region` (a pemda) or below it, by their `pemda` (kab/kota, or the province
    for a province-level complaint): a kab/kota is one value; a province is itself and its kab/kota,
    which sort together as `33` < `33.01` < … < `33/`."""
    return region if "." in region else {"$gte": region, "$lt": region + "/"}


def public_conditions(
    *, category: Any = None, status: Any = None, region: str | None = None
) -> dict[str, Any]:
    """Filter of public complaints; equality fields in the order of the indexes below."""
    conditions: dict[str, Any] = {"confidential": False}
    if category is not None:
        conditions["category"] = category
    if status is not None:
        conditions["status"] = status
    if region is not None:
        conditions["pemda"] = region_condition(region)
    return conditions


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """One index per equality filter, `_id` last (the windows). Filters combined read their
    windows through `_id` alone: every index costs every submit a write, so not all 8 combinations."""
    complaints = db["complaints"]
    for equalities in ((), ("pemda",), ("category",), ("status",)):
        keys = [("confidential", ASCENDING), *((f, ASCENDING) for f in equalities), ("_id", ASCENDING)]
        await complaints.create_index(keys)


class PublicComplaints:
    """The public documents of intake's complaints (PUBLIC_FIELDS only, confidential never)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._complaints = db["complaints"]

    async def page(
        self,
        conditions: dict[str, Any],
        *,
        limit: int,
        below: datetime | str,
        floor: datetime,
        first_window: timedelta,
    ) -> Page:
        """`newest_first` over the public complaints matching `conditions` (`public_conditions`)."""
        return await newest_first(
            self._complaints,
            conditions,
            PUBLIC_FIELDS,
            limit=limit,
            below=below,
            floor=floor,
            first_window=first_window,
        )

    async def by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """These complaints, newest first, the confidential ones left out."""
        found = self._complaints.find({"_id": {"$in": ids}, "confidential": False}, PUBLIC_FIELDS)
        return sorted(await found.to_list(), key=lambda d: d["_id"], reverse=True)

    async def one(self, complaint_id: str) -> dict[str, Any] | None:
        return await self._complaints.find_one({"_id": complaint_id, "confidential": False}, PUBLIC_FIELDS)
