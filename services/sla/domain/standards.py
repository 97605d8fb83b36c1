"""The reference data the clocks are computed with: service-standard targets and pemda calendars.

- **Service standards** (DESIGN §5 "overridable per pemda, OPD and category", plus tier): rules in
  the sla database's `service_standards` collection, one document per rule:
  `{"clock": "resolution", "hk": 7, "pemda": "33.74", "opd_id": null, "category": "jalan-jembatan",
  "tier": null}` (a missing or null field matches anything). The most specific matching rule wins:
  an OPD rule over a pemda rule, a pemda rule over a category rule, a category rule over a tier
  rule; ties go to the rule stored last. The DESIGN defaults are the least specific rules, so a
  target always exists.
- **Calendars**: a pemda's extra non-working dates live in the `calendars` collection
  (`{"_id": pemda, "extra_dates": ["2026-08-18", …], "revision": n}`, written by the admin API,
  entrypoints/extra_dates.py). `calendar(pemda)` is the shared working-day calendar with the pemda's own extra
  dates and, for a kab/kota, its province's. Calendars are cached and rebuilt only when their
  data changes.

Both are read from the database once at start and refreshed by the detector loop
(adapters/reference.py `refresh`), so several sla processes converge within the refresh interval
after a change made through any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import get_args

from services.sla.domain.targets import DEFAULT_TARGETS, RESOLUTION_BY_TIER
from shared.calendar import WorkingCalendar, calendar_for, pemda_of, province_of
from shared.events import ClockName, Tier


@dataclass(frozen=True)
class ServiceStandard:
    clock: ClockName
    hk: int
    pemda: str | None = None
    opd_id: str | None = None
    category: str | None = None
    tier: Tier | None = None

    def matches(self, pemda: str, opd_id: str | None, category: str | None, tier: Tier) -> bool:
        return (
            (self.pemda is None or self.pemda == pemda)
            and (self.opd_id is None or self.opd_id == opd_id)
            and (self.category is None or self.category == category)
            and (self.tier is None or self.tier == tier)
        )

    @property
    def specificity(self) -> int:
        return (
            8 * (self.opd_id is not None)
            + 4 * (self.pemda is not None)
            + 2 * (self.category is not None)
            + (self.tier is not None)
        )


_TIERS: tuple[Tier, ...] = get_args(Tier)
DEFAULT_STANDARDS: tuple[ServiceStandard, ...] = (
    ServiceStandard("verification", DEFAULT_TARGETS["verification"]),
    ServiceStandard("response", DEFAULT_TARGETS["response"]),
    ServiceStandard("reporter_reply", DEFAULT_TARGETS["reporter_reply"]),
    ServiceStandard("resolution", RESOLUTION_BY_TIER["normatif"]),
    *(ServiceStandard("resolution", RESOLUTION_BY_TIER[tier], tier=tier) for tier in _TIERS),
)


class Standards:
    """Targets (HK) by the most specific matching rule."""

    def __init__(self, rules: Iterable[ServiceStandard] = ()) -> None:
        self._by_clock: dict[str, list[ServiceStandard]] = {}
        for rule in [*DEFAULT_STANDARDS, *rules]:
            self._by_clock.setdefault(rule.clock, []).append(rule)
        for rules_of_clock in self._by_clock.values():
            # Most specific first; among equals the later (stable sort, reversed insertion) wins.
            rules_of_clock.reverse()
            rules_of_clock.sort(key=lambda r: -r.specificity)

    def target_hk(
        self, clock: ClockName, *, pemda: str, opd_id: str | None, category: str | None, tier: Tier
    ) -> int:
        for rule in self._by_clock.get(clock, ()):
            if rule.matches(pemda, opd_id, category, tier):
                return rule.hk
        raise LookupError(f"no service standard for {clock}")  # the defaults always match


class Calendars:
    """Working-day calendars with each pemda's extra dates; cached, invalidated on change."""

    def __init__(self, extra_dates: Mapping[str, Iterable[date]] | None = None) -> None:
        self._extra: dict[str, frozenset[date]] = {k: frozenset(v) for k, v in (extra_dates or {}).items()}
        self._revisions: dict[str, int] = {}
        self._cache: dict[str, WorkingCalendar] = {}

    def calendar(self, pemda: str) -> WorkingCalendar:
        code = pemda_of(pemda)
        cached = self._cache.get(code)
        if cached is None:
            cached = self._cache[code] = calendar_for(code, self._extra)
        return cached

    def extra_dates(self, pemda: str) -> frozenset[date]:
        return self._extra.get(pemda, frozenset())

    def revision(self, pemda: str) -> int:
        return self._revisions.get(pemda, 0)

    def set(self, pemda: str, dates: Iterable[date], revision: int) -> bool:
        """Take a pemda's extra dates (a newer revision only); True when something changed."""
        if pemda in self._revisions and revision <= self._revisions[pemda]:
            return False
        self._revisions[pemda] = revision
        new = frozenset(dates)
        if self._extra.get(pemda, frozenset()) == new:
            return False
        self._extra[pemda] = new
        # A province's dates bind its kab/kota too: drop every cached calendar it governs.
        if pemda == province_of(pemda):
            self._cache = {k: v for k, v in self._cache.items() if province_of(k) != pemda}
        else:
            self._cache.pop(pemda, None)
        return True


class SlaRules:
    """The domain's `Rules`: calendars with extra dates, and targets from the service standard."""

    def __init__(self, calendars: Calendars | None = None, standards: Standards | None = None) -> None:
        self.calendars = calendars or Calendars()
        self.standards = standards or Standards()

    def calendar(self, pemda: str) -> WorkingCalendar:
        return self.calendars.calendar(pemda)

    def target_hk(
        self, clock: ClockName, *, pemda: str, opd_id: str | None, category: str | None, tier: Tier
    ) -> int:
        return self.standards.target_hk(clock, pemda=pemda, opd_id=opd_id, category=category, tier=tier)
