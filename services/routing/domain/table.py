"""Routing rules (DESIGN §4, normative): category × region → level → the responsible OPD.

Pure: no I/O. `route` answers for one complaint; the decision names the rule that made it so
people (and the explain endpoint) can see why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from services.routing.domain.classify import Budget, classify
from shared.calendar import pemda_of, province_of
from shared.categories import CATEGORIES, COORDINATOR_SLUG


@dataclass(frozen=True)
class RouteDecision:
    category: str | None
    level: Literal["kabkota", "provinsi"]
    pemda: str
    opd_id: str
    rule: str
    triage_reason: str | None = None  # set when the coordinator must decide (no assignment)
    confidence: float = 1.0  # 1.0 for a category the reporter chose; the classifier's otherwise
    guess: str | None = None  # the classifier's best category when it ran (issue 22 item 4)

    @property
    def assigns(self) -> bool:
        return self.triage_reason is None


class UnknownCategory(ValueError):
    pass


def route(category: str | None, region_code: str) -> RouteDecision:
    region_pemda = pemda_of(region_code)
    if category is None:
        return RouteDecision(
            None,
            "kabkota",
            region_pemda,
            f"{region_pemda}/{COORDINATOR_SLUG}",
            "uncategorised",
            "tanpa kategori: menunggu klasifikasi oleh Admin Koordinator",
        )
    spec = CATEGORIES.get(category)
    if spec is None:
        raise UnknownCategory(category)
    if spec.level == "provinsi":
        pemda = province_of(region_code)
        return RouteDecision(
            category, "provinsi", pemda, f"{pemda}/{spec.opd_slug}", f"table:{category}:provinsi"
        )
    coordinator = f"{region_pemda}/{COORDINATOR_SLUG}"
    if spec.opd_slug == COORDINATOR_SLUG:
        return RouteDecision(
            category, "kabkota", region_pemda, coordinator, f"table:{category}", "kategori lainnya"
        )
    if "." not in region_code:
        # A kab/kota category but only the province is known: the province's coordinator decides.
        return RouteDecision(
            category,
            "kabkota",
            region_pemda,
            coordinator,
            "kabkota-category-on-province-region",
            "kategori kab/kota tetapi wilayah hanya provinsi",
        )
    return RouteDecision(
        category, "kabkota", region_pemda, f"{region_pemda}/{spec.opd_slug}", f"table:{category}"
    )


Overrides = Mapping[tuple[str, str], str]  # (pemda, category) → OPD slug


def with_overrides(decision: RouteDecision, overrides: Overrides) -> RouteDecision:
    """A pemda's own rule (data, e.g. street lighting with `dinas-pupr`) wins over the table."""
    if not decision.assigns or decision.category is None:
        return decision
    slug = overrides.get((decision.pemda, decision.category))
    if slug is None:
        return decision
    return replace(
        decision,
        opd_id=f"{decision.pemda}/{slug}",
        rule=f"override:{decision.pemda}:{decision.category}",
    )


def route_text(
    category: str | None, region_code: str, title: str, description: str, budget: Budget | None = None
) -> RouteDecision:
    """`route`, classifying an uncategorised complaint from its Indonesian text first: a
    confident category routes like a chosen one (rule `classified:<category>`); below the
    threshold the coordinator decides (`triage`), told what the classifier guessed."""
    if category is not None:
        return route(category, region_code)
    guess = classify(title, description, budget)
    if guess.category is None:
        decision = route(None, region_code)
        hint = f" (tebakan: {guess.best}, keyakinan {guess.confidence:.2f})" if guess.best else ""
        return replace(
            decision,
            confidence=guess.confidence,
            # `lainnya` when no routable category won: a coordinator choosing one corrects it too.
            guess=guess.best or "lainnya",
            rule="uncategorised:below-threshold",
            triage_reason=f"klasifikasi otomatis kurang yakin{hint}",
        )
    decision = route(guess.category, region_code)
    return replace(
        decision, confidence=guess.confidence, guess=guess.category, rule=f"classified:{decision.rule}"
    )
