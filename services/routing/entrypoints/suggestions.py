"""Transfers that became rule suggestions (issue 22 item 3): a pemda's coordinator (or an admin)
lists them, each explained by the complaints whose transfers made it, and accepts (the pemda's
rule override for the category) or rejects it; both are audited (who, when, why, which
complaints)."""

from __future__ import annotations

from aiohttp import web

from services.routing import handlers
from services.routing.domain.lifecycle import Refused
from services.routing.domain.suggestions import EXPLAINED, Suggestion, Verdict
from services.routing.entrypoints.edge import routing_of
from services.routing.entrypoints.models import (
    AcceptSuggestionBody,
    ExplainingTransfer,
    RejectSuggestionBody,
    RuleSuggestion,
    RuleSuggestionList,
    SuggestionDecision,
)
from shared import clock
from shared.auth import Staff, require_staff
from shared.http import ProblemError, json_response, read_json
from shared.privacy import mask_contacts
from shared.regions import lookup

BASE = "/api/v1/pemda/{pemda}/rule-suggestions"


async def _coordinator(request: web.Request) -> tuple[Staff, str]:
    staff = await require_staff(request, "coordinator", "admin")
    pemda = request.match_info["pemda"]
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")
    region = lookup(pemda)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {pemda[:20]!r} tidak dikenal")
    return staff, pemda


def _view(s: Suggestion, window_days: int) -> RuleSuggestion:
    pair = s.pair
    return RuleSuggestion(
        id=pair.id,
        pemda=pair.pemda,
        category=pair.category,
        from_opd_id=pair.from_opd_id,
        to_opd_id=pair.to_opd_id,
        current_opd_id=f"{pair.pemda}/{s.current_slug}" if s.current_slug else None,
        transfers=len(s.counted),
        window_days=window_days,
        first_at=s.counted[0].at.isoformat(),
        last_at=s.counted[-1].at.isoformat(),
        rule=f"override:{pair.pemda}:{pair.category}",
        # The newest first; the reason is an OPD's text about a complaint: contacts masked,
        # whatever the complaint's flags (the coordinator reads identity through intake, audited).
        explained_by=[
            ExplainingTransfer(
                complaint_id=t.complaint_id, at=t.at.isoformat(), reason=mask_contacts(t.reason)
            )
            for t in reversed(s.counted[-EXPLAINED:])
        ],
    )


async def list_suggestions(request: web.Request) -> web.Response:
    _, pemda = await _coordinator(request)
    routing = routing_of(request)
    found = await handlers.rule_suggestions(routing, pemda, clock.now())
    answer = RuleSuggestionList(items=[_view(s, routing.suggest_window_days) for s in found])
    return json_response(answer.model_dump(mode="json"))


async def _decide(
    request: web.Request, verdict: Verdict, note: str | None, staff: Staff, pemda: str
) -> web.Response:
    try:
        offer, decision = await handlers.decide_suggestion(
            routing_of(request),
            pemda,
            request.match_info["id"],
            verdict,
            by=staff.sub,
            role=staff.role,
            note=note,
            now=clock.now(),
        )
    except LookupError:
        raise ProblemError(404, "usulan tidak dikenal") from None
    except Refused as refused:
        raise ProblemError(409, refused.reason) from None
    answer = SuggestionDecision(
        id=offer.pair.id,
        pemda=pemda,
        verdict=decision.verdict,
        by=decision.by,
        at=decision.at.isoformat(),
        note=decision.note,
        complaint_ids=list(decision.complaint_ids),
        rule=f"override:{pemda}:{offer.pair.category}" if verdict == "accepted" else None,
    )
    return json_response(answer.model_dump(mode="json"))


async def accept(request: web.Request) -> web.Response:
    staff, pemda = await _coordinator(request)
    body = await read_json(request, AcceptSuggestionBody)
    return await _decide(request, "accepted", body.note, staff, pemda)


async def reject(request: web.Request) -> web.Response:
    staff, pemda = await _coordinator(request)
    body = await read_json(request, RejectSuggestionBody)
    return await _decide(request, "rejected", body.reason, staff, pemda)


def add_routes(app: web.Application) -> None:
    app.router.add_get(BASE, list_suggestions)
    app.router.add_post(f"{BASE}/{{id}}/accept", accept)
    app.router.add_post(f"{BASE}/{{id}}/reject", reject)
