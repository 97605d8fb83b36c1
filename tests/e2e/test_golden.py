"""The golden baseline (tests/golden/README.md): the fixed scenario of tests/golden/scenario.py
against the three services as processes gives the recorded HTTP answers and topic messages of
tests/golden/baseline.json, ids and run-dependent instants normalised. `GOLDEN_RECORD=1` writes
the baseline instead of comparing."""

from __future__ import annotations

import difflib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devtools.infra import Endpoints
from devtools.services import ServiceSet
from shared import clock
from tests.e2e.conftest import E2E_OPEN311_KEY
from tests.golden import scenario
from tests.golden.normalise import Normaliser, Window

pytestmark = pytest.mark.e2e

BASELINE = Path(__file__).resolve().parents[1] / "golden" / "baseline.json"
SHOWN_LINES = 120  # of the diff, in the failure message


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def normalised(recorder: scenario.Recorder, events: dict[str, Any], window: Window) -> dict[str, Any]:
    norm = Normaliser(window)
    steps = [norm(step) for step in recorder.steps]
    by_complaint = {norm.text(owner): norm(topics) for owner, topics in events.items()}
    return {"steps": steps, "events": by_complaint}


def dumped(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def test_the_golden_scenario_gives_the_recorded_answers_and_events(
    services: ServiceSet, endpoints: Endpoints, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    begun, begun_wall = clock.now(), clock.wall()
    urls = {name: services.url(name) for name in ("intake", "routing", "sla")}
    recorder = await scenario.run(http, urls, endpoints.kafka_bootstrap, E2E_OPEN311_KEY)
    events = await scenario.events_of(endpoints.kafka_bootstrap, recorder.complaints, scenario.PEMDA)
    window = Window((begun, clock.now()), (begun_wall, clock.wall()))
    got = dumped(normalised(recorder, events, window))
    print(f"golden scenario: {len(recorder.steps)} requests in {time.monotonic() - started:.1f} s")
    if os.environ.get("GOLDEN_RECORD") == "1":
        BASELINE.write_text(got, encoding="utf-8")
        return
    assert BASELINE.exists(), f"no baseline at {BASELINE}: record it with GOLDEN_RECORD=1"
    want = BASELINE.read_text(encoding="utf-8")
    if got != want:
        got_path = BASELINE.with_name("baseline.got.json")
        got_path.write_text(got, encoding="utf-8")
        diff = list(
            difflib.unified_diff(
                want.splitlines(), got.splitlines(), "baseline.json", "this run", n=4, lineterm=""
            )
        )
        shown = "\n".join(diff[:SHOWN_LINES])
        more = (
            f"\n… {len(diff) - SHOWN_LINES} more diff lines; the whole run is in {got_path}"
            if len(diff) > SHOWN_LINES
            else f"\n(the whole run is in {got_path})"
        )
        pytest.fail(
            f"the golden scenario differs from tests/golden/baseline.json:\n{shown}{more}", pytrace=False
        )
