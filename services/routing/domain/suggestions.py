"""Transfers that become rules (issue 22 item 3): when complaints of one category in one pemda keep
being transferred *bukan wewenang* from OPD X to OPD Y, the pemda's coordinator is offered a rule
override (category → Y), explained by the complaints that led to it.

Pure: the counting key of a transfer, and whether a counted pair is on offer now.

- **Counted**: each transfer between two OPDs of one pemda, keyed by pemda × category × from ×
  to (`pair_key`). A transfer that crosses pemdas (kab/kota ↔ province) or goes to the
  coordinator is not counted: a pemda's rule override can only name one of its own OPDs; nor is
  one of a category the pemda does not decide (`lainnya`, or a province-level category between a
  kab/kota's OPDs and the reverse), since no rule of that pemda would be consulted for it.
- **Offered** (`on_offer`) when at least `threshold` of the pair's transfers fall inside the last
  `window` and after its last decision, and the pemda's rules do not already send the category
  to Y.
- **After a decision**: only transfers after it count again. So a rejected suggestion comes back
  only when `threshold` new transfers (inside the window) arrive after the rejection, not at the
  first new one; an accepted one never comes back while the rule stands (complaints go to Y
  directly), and comes back the same way if the rule is later removed and the transfers resume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.categories import CATEGORIES, COORDINATOR_SLUG

# Transfers remembered per pair (the newest): enough to explain a suggestion and to count any
# threshold the setting allows (`MAX_THRESHOLD`).
KEPT = 50
MAX_THRESHOLD = KEPT
# Transfers listed to explain one suggestion.
EXPLAINED = 20

Verdict = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class CountedTransfer:
    event_id: str
    complaint_id: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    by: str
    role: str
    at: datetime
    note: str | None
    complaint_ids: tuple[str, ...]


@dataclass(frozen=True)
class TransferPair:
    pemda: str
    category: str
    from_slug: str
    to_slug: str
    transfers: tuple[CountedTransfer, ...]  # oldest first
    decided: Decision | None = None

    @property
    def id(self) -> str:
        return suggestion_id(self.category, self.from_slug, self.to_slug)

    @property
    def from_opd_id(self) -> str:
        return f"{self.pemda}/{self.from_slug}"

    @property
    def to_opd_id(self) -> str:
        return f"{self.pemda}/{self.to_slug}"


@dataclass(frozen=True)
class Suggestion:
    pair: TransferPair
    counted: tuple[CountedTransfer, ...]  # the transfers that make it, oldest first
    current_slug: str | None  # the pemda's override for the category now, if any


def suggestion_id(category: str, from_slug: str, to_slug: str) -> str:
    """The id of a pair inside its pemda (category codes and slugs hold no `:`)."""
    return f"{category}:{from_slug}:{to_slug}"


def parse_suggestion_id(value: str) -> tuple[str, str, str] | None:
    parts = value.split(":")
    if len(parts) != 3 or not all(parts) or parts[0] not in CATEGORIES:
        return None
    return parts[0], parts[1], parts[2]


def pair_key(
    category: str | None, from_opd_id: str, to_opd_id: str | None
) -> tuple[str, str, str, str] | None:
    """(pemda, category, from slug, to slug) of a countable transfer, or None."""
    spec = CATEGORIES.get(category) if category is not None else None
    if spec is None or spec.opd_slug == COORDINATOR_SLUG or category is None or to_opd_id is None:
        return None  # `lainnya` is never routed to an OPD: no rule can change where it goes
    from_pemda, _, from_slug = from_opd_id.partition("/")
    to_pemda, _, to_slug = to_opd_id.partition("/")
    if not from_slug or not to_slug or from_pemda != to_pemda or from_slug == to_slug:
        return None
    if COORDINATOR_SLUG in (from_slug, to_slug):
        return None
    if ("." in from_pemda) != (spec.level == "kabkota"):
        # The category is decided at the other level (e.g. SMA at the province): a rule of this
        # pemda would never be consulted for it (table.py `with_overrides`).
        return None
    return from_pemda, category, from_slug, to_slug


def counted(pair: TransferPair, now: datetime, window: timedelta) -> tuple[CountedTransfer, ...]:
    """The pair's transfers inside the window and after its last decision."""
    since = now - window
    if pair.decided is not None and pair.decided.at > since:
        since = pair.decided.at
    return tuple(t for t in pair.transfers if since < t.at <= now)


def on_offer(
    pair: TransferPair,
    now: datetime,
    *,
    threshold: int,
    window: timedelta,
    overrides: Mapping[tuple[str, str], str],
) -> Suggestion | None:
    """The suggestion this pair makes now, or None."""
    current = overrides.get((pair.pemda, pair.category))
    if current == pair.to_slug:
        return None
    found = counted(pair, now, window)
    if len(found) < threshold:
        return None
    return Suggestion(pair, found, current)


def offered(
    pairs: Sequence[TransferPair],
    now: datetime,
    *,
    threshold: int,
    window: timedelta,
    overrides: Mapping[tuple[str, str], str],
) -> list[Suggestion]:
    """What a pemda's coordinator is offered now: the most transferred pairs first."""
    found = [on_offer(p, now, threshold=threshold, window=window, overrides=overrides) for p in pairs]
    return sorted(
        (s for s in found if s is not None), key=lambda s: (-len(s.counted), s.pair.category, s.pair.id)
    )
