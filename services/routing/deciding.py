"""Routing decisions that need the classifier, off the event loop (issue 15, item 2).

Classifying a complaint is CPU work (normalisation, Sastrawi, the trained model's features and
scores): under a millisecond for a typical text whose words are in the stem cache, tens of
milliseconds for a long one whose words are not yet. It never runs
on the event loop, which also answers `/healthz`, the API and Kafka's heartbeats: a batch's
uncategorised submissions, and each explain call, are decided on a worker thread
(`CLASSIFIER` for batches, `EXPLAINER` for explain calls: one thread each; the interpreter hands
the GIL back to the loop every few milliseconds). The two threads share the GIL, so a flood of
explain calls still slows batches down; explain is rate-limited per client
(`ROUTING_RATE_EXPLAIN_PER_MINUTE`), and a process of its own would be the next step.

Each complaint has a CPU budget (`Budget`, measured on the worker thread's own CPU clock, so
waiting for the GIL does not count): a text that exceeds it is a content fault — the message is
dead-lettered with the reason, the explain call answers 422. Submissions with a category chosen by
the reporter need no classification and are decided in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from services.routing.domain.classify import Budget, TooCostly
from services.routing.domain.duplicates import Fingerprint, fingerprint
from services.routing.domain.table import RouteDecision, UnknownCategory, route_text

# CPU seconds one complaint's classification may use. The labelled set takes 2–40 ms a complaint;
# the costliest text bench/hostile.py found (4,000 characters of words the stem cache has never
# seen, `MAX_STEMMED_WORDS` of them stemmed) about 0.2 s: a budget well above any real complaint,
# since a complaint over it is dead-lettered, not routed.
CPU_SECONDS: Final = 1.0
# The unauthenticated explain endpoint: a shorter budget, and a thread of its own, so explain calls
# never queue behind routing's batches (nor batches behind them; they still share the GIL).
EXPLAIN_CPU_SECONDS: Final = 0.5
CLASSIFIER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routing-classify")
EXPLAINER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routing-explain")

Text = tuple[str | None, str, str, str]  # category, region_code, title, description
Decided = RouteDecision | str  # a decision, or why this complaint can never be routed


def decide(text: Text, cpu_seconds: float = CPU_SECONDS) -> RouteDecision:
    """`route_text` within a CPU budget (`TooCostly` past it; `UnknownCategory`)."""
    category, region_code, title, description = text
    return route_text(category, region_code, title, description, Budget(cpu_seconds))


def _decide_each(texts: Sequence[Text], cpu_seconds: float) -> list[Decided]:
    decided: list[Decided] = []
    for text in texts:
        try:
            decided.append(decide(text, cpu_seconds))
        except UnknownCategory as exc:
            decided.append(f"unknown category {exc}")
        except TooCostly as exc:
            decided.append(f"content fault: {exc}")
    return decided


async def decide_batch(texts: Sequence[Text], cpu_seconds: float = CPU_SECONDS) -> list[Decided]:
    """Each text's decision, in order; on the classifier thread when any needs classifying."""
    if all(category is not None for category, *_ in texts):
        return _decide_each(texts, cpu_seconds)  # table look-ups only: no CPU worth a thread
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(CLASSIFIER, _decide_each, texts, cpu_seconds)


async def decide_off_loop(text: Text, cpu_seconds: float = EXPLAIN_CPU_SECONDS) -> RouteDecision:
    """One decision on the explain thread (the explain endpoint); raises what `decide` raises."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(EXPLAINER, decide, text, cpu_seconds)


def _fingerprints(texts: Sequence[tuple[str, str]]) -> list[Fingerprint]:
    return [fingerprint(title, description) for title, description in texts]


async def fingerprint_batch(texts: Sequence[tuple[str, str]]) -> list[Fingerprint]:
    """Each (title, description)'s duplicate-search fingerprint, on the classifier thread (the
    stemmer's work; words the classification just stemmed are cached, so mostly MinHash)."""
    if not texts:
        return []
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(CLASSIFIER, _fingerprints, texts)
