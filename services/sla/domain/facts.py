"""Facts: the compact copy of each lifecycle event a complaint's clocks are rebuilt from (no text,
no identity). A replay or a recompute runs on them alone, so they are stored with the clocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from services.sla.domain.targets import ms
from shared.envelope import Envelope, Payload
from shared.events import (
    ComplaintAnswered,
    ComplaintArchived,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTransferred,
    ComplaintTriaged,
    ComplaintUpdated,
    InformationAdded,
    InformationRequested,
    Tier,
    TierChanged,
)


@dataclass(frozen=True)
class Fact:
    """One lifecycle event, reduced to what the clocks need (no text, no identity)."""

    seq: int
    at: datetime
    kind: str
    pemda: str | None = None
    opd_id: str | None = None
    category: str | None = None
    tier: Tier | None = None
    via: str | None = None
    outcome: str | None = None
    submitted_at: datetime | None = None
    targets: dict[str, int] = field(default_factory=dict)  # HK per clock, resolved when first applied

    @classmethod
    def of(cls, event: Envelope) -> Fact | None:
        """The fact of a lifecycle event, or None when the event moves no clock (claims,
        rejected commands, added information that resumes nothing)."""
        assert event.seq is not None
        reduce = _REDUCERS.get(type(event.payload))
        fields = reduce(event.payload) if reduce is not None else None
        if fields is None:
            return None
        return cls(seq=event.seq, at=ms(event.occurred_at), kind=event.payload.TYPE, **fields)


Reducer = Callable[[Any], "dict[str, Any] | None"]
R = TypeVar("R", bound=Reducer)
# {lifecycle payload type: what of it the clocks keep}; a type not here moves no clock.
_REDUCERS: dict[type[Payload], Reducer] = {}


def _reduces(*kinds: type[Payload]) -> Callable[[R], R]:
    def register(fn: R) -> R:
        for kind in kinds:
            _REDUCERS[kind] = fn
        return fn

    return register


@_reduces(ComplaintReceived)
def _received(p: ComplaintReceived) -> dict[str, Any]:
    return {"pemda": p.pemda, "category": p.category, "submitted_at": ms(p.submitted_at)}


@_reduces(ComplaintAssigned)
def _assigned(p: ComplaintAssigned) -> dict[str, Any]:
    return {"pemda": p.pemda, "opd_id": p.opd_id, "category": p.category, "tier": p.tier, "via": p.via}


@_reduces(ComplaintTriaged)
def _triaged(p: ComplaintTriaged) -> dict[str, Any]:
    return {"pemda": p.pemda, "category": p.category, "via": p.via}


@_reduces(ComplaintUpdated)
def _updated(p: ComplaintUpdated) -> dict[str, Any]:
    return {"pemda": p.pemda, "category": p.category}


@_reduces(ComplaintAnswered, InformationRequested, ComplaintResolved, ComplaintReopened)
def _by_opd(
    p: ComplaintAnswered | InformationRequested | ComplaintResolved | ComplaintReopened,
) -> dict[str, Any]:
    return {"opd_id": p.opd_id}


@_reduces(InformationAdded)
def _added(p: InformationAdded) -> dict[str, Any] | None:
    return {} if p.resumed else None  # added information alone moves nothing


@_reduces(TierChanged)
def _tier(p: TierChanged) -> dict[str, Any]:
    return {"opd_id": p.opd_id, "tier": p.tier}


@_reduces(ComplaintTransferred)
def _transferred(p: ComplaintTransferred) -> dict[str, Any]:
    return {"opd_id": p.from_opd_id}


@_reduces(ComplaintClosed)
def _closed(p: ComplaintClosed) -> dict[str, Any]:
    return {"outcome": p.outcome}


@_reduces(ComplaintArchived)
def _archived(p: ComplaintArchived) -> dict[str, Any]:
    return {}
