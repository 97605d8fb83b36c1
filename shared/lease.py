"""A lease in a service's database: one process of a service at a time runs a background loop
that would only waste work (or write an audit twice) if every process ran it.

One document per lease in the service's `leases` collection: `{_id: name, holder, until, token}`.
`acquire` takes or renews it with one conditional update (`find_one_and_update` with upsert): it
succeeds when the lease is free, expired, or already this holder's, and fails — a duplicate key
on the upsert — while another holder's lease runs. `token` grows by one at each change of holder
(a fencing token, logged at each takeover). A holder that lost its lease learns it at its next
`acquire`, one pass later at most; the writes of a leased loop are fenced by their own guards, so
a pass of a holder whose lease ran out meanwhile doubles nothing: the detector's saves by the
complaint's revision (a concurrent save is skipped), the retention sweep's erasures by the
identity still being there.

A holder that dies leaves the lease to expire (`ttl`, a setting of the service); the others try
again at every pass of their loop, so one of them takes over within a `ttl` and a pass. Expiry is
read on the wall clock of the processes (shared/clock.py `wall`): hosts of one deployment keep
their clocks in step by NTP, and the lease is longer than a skew by a wide margin.

Leased: sla's detector (its passes and its relay) and intake's retention sweep. What each other
background loop is when doubled is said in README.md ("Two of each").
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from shared import clock

log = logging.getLogger(__name__)

COLLECTION = "leases"
Wall = Callable[[], datetime]


def holder_id() -> str:
    """This process among all of every host: host name, pid and a random part (a restarted
    process never takes its predecessor's lease for its own)."""
    return f"{socket.gethostname()}:{os.getpid()}:{str(ULID())[-6:]}"


@dataclass
class Lease:
    db: AsyncDatabase[dict[str, Any]]
    name: str
    ttl: timedelta
    holder: str
    wall: Wall = clock.wall
    token: int | None = None  # the fencing token while held, None otherwise
    monotonic: Callable[[], float] = time.monotonic
    _renewed: float = float("-inf")  # monotonic instant of the last successful acquire

    async def held(self) -> bool:
        """Hold the lease for a loop's pass: renewed once a third of `ttl` has gone since the last
        renewal (one database round trip per third of a lease, not per pass); False while another
        holder's lease runs."""
        if self.token is not None and self.monotonic() - self._renewed < self.ttl.total_seconds() / 3:
            return True
        return await self.acquire()

    async def acquire(self) -> bool:
        """Take or renew the lease for `ttl` from now; False while another holder's runs."""
        now = self.wall()
        same = {"$eq": ["$holder", self.holder]}
        update = [
            {
                "$set": {
                    "token": {"$cond": [same, "$token", {"$add": [{"$ifNull": ["$token", 0]}, 1]}]},
                    "holder": self.holder,
                    "until": now + self.ttl,
                }
            }
        ]
        try:
            doc = await self.db[COLLECTION].find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"until": {"$lte": now}}]},
                update,
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # another holder's lease runs: the upsert found no match
            if self.token is not None:
                log.warning("lease %s lost by %s", self.name, self.holder)
            self.token = None
            return False
        assert doc is not None, "an upsert returning the document after it returns one"
        if self.token != doc["token"]:
            log.info("lease %s taken by %s (token %d)", self.name, self.holder, doc["token"])
        self.token = doc["token"]
        self._renewed = self.monotonic()
        return True

    async def release(self) -> None:
        """Let another holder take it at once (on a clean stop)."""
        if self.token is None:
            return
        await self.db[COLLECTION].update_one(
            {"_id": self.name, "holder": self.holder, "token": self.token},
            {"$set": {"until": self.wall()}},
        )
        self.token = None
