"""The golden baseline (tests/golden/README.md): the fixed scenario of tests/golden/scenario.py
against the three services as processes gives the recorded HTTP answers and topic messages of
tests/golden/baseline.json, ids and run-dependent instants normalised. `GOLDEN_RECORD=1` writes
the baseline instead of comparing."""

from __future__ import annotations

import difflib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devtools.infra import Endpoints
from devtools.services import ServiceSet
from shared import clock
from tests.e2e.conftest import DB_PREFIX, E2E_OPEN311_KEY
from tests.golden import scenario
from tests.golden.normalise import Normaliser, Window

pytestmark = pytest.mark.e2e

BASELINE = Path(__file__).resolve().parents[1] / "golden" / "baseline.json"
SHOWN_LINES = 60  # of each difference shown in the failure message


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def normalised(
    recorder: scenario.Recorder, events: dict[str, Any], window: Window, urls: dict[str, str]
) -> dict[str, Any]:
    norm = Normaliser(window, urls)
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
    recorder = await scenario.run(
        http, urls, endpoints.kafka_bootstrap, E2E_OPEN311_KEY, endpoints.mongo_uri, f"{DB_PREFIX}routing"
    )
    events = await scenario.events_of(endpoints.kafka_bootstrap, recorder.complaints, scenario.PEMDA)
    window = Window((begun, clock.now()), (begun_wall, clock.wall()))
    got = dumped(normalised(recorder, events, window, urls))
    print(f"golden scenario: {len(recorder.steps)} requests in {time.monotonic() - started:.1f} s")
    if os.environ.get("GOLDEN_RECORD") == "1":
        BASELINE.write_text(got, encoding="utf-8")
        return
    assert BASELINE.exists(), f"no baseline at {BASELINE}: record it with GOLDEN_RECORD=1"
    want = BASELINE.read_text(encoding="utf-8")
    if got != want:
        got_path = BASELINE.with_name("baseline.got.json")
        got_path.write_text(got, encoding="utf-8")
        pytest.fail(
            "the golden scenario differs from tests/golden/baseline.json (the whole run is in "
            f"{got_path}; `diff` it, or re-record with GOLDEN_RECORD=1 if the change is wanted):\n"
            + differences(json.loads(want), json.loads(got)),
            pytrace=False,
        )


def differences(want: dict[str, Any], got: dict[str, Any], most: int = 3) -> str:
    """A unified diff of each of the first `most` steps (or complaints' events) that differ."""
    pairs: list[tuple[str, Any, Any]] = []
    steps_want, steps_got = want.get("steps", []), got.get("steps", [])
    for i in range(max(len(steps_want), len(steps_got))):
        w = steps_want[i] if i < len(steps_want) else None
        g = steps_got[i] if i < len(steps_got) else None
        if w != g:
            title = (w or g or {}).get("step", str(i))
            pairs.append((f"step {title}: {(w or g or {}).get('request', '')}", w, g))
    events_want, events_got = want.get("events", {}), got.get("events", {})
    for owner in sorted(set(events_want) | set(events_got)):
        if events_want.get(owner) != events_got.get(owner):
            pairs.append((f"events of {owner}", events_want.get(owner), events_got.get(owner)))
    shown = []
    for title, w, g in pairs[:most]:
        diff = difflib.unified_diff(
            dumped(w).splitlines(), dumped(g).splitlines(), "baseline", "this run", n=3, lineterm=""
        )
        lines = list(diff)
        more = f"\n  … {len(lines) - SHOWN_LINES} more lines" if len(lines) > SHOWN_LINES else ""
        shown.append(f"--- {title}\n" + "\n".join(lines[:SHOWN_LINES]) + more)
    others = [title for title, _, _ in pairs[most:]]
    listed = "\n  ".join(others[:40]) + ("\n  …" if len(others) > 40 else "")
    rest = f"\n\nThe others that differ:\n  {listed}" if others else ""
    return (
        f"{len(pairs)} of the recorded steps/complaints differ; the first ones:\n" + "\n\n".join(shown) + rest
    )


def _route_pattern(template: str) -> re.Pattern[str]:
    """An aiohttp route's canonical path as a pattern over the recorded (normalised) paths."""
    if template in ("/dashboard/static", "/staff/static"):  # a static resource: the files under it
        return re.compile(re.escape(template) + r"/.+")
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join(
        (".*" if p.startswith("{tail") else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(body)


def test_the_baseline_covers_every_route() -> None:
    """Every route of every app's route table (the authorisation matrix keeps that table complete)
    is called at least once by the recorded scenario; Open311's catch-all counts only for paths no
    other route takes."""
    from tests.integration.test_authz_matrix import TABLE

    steps = json.loads(BASELINE.read_text(encoding="utf-8"))["steps"]
    routes = sorted(TABLE, key=lambda r: "{tail" in r[2])  # the catch-all last, as aiohttp has it
    called: set[tuple[str, str, str]] = set()
    for step in steps:
        method, service, path = step["request"].split(" ", 2)
        route = next(
            (r for r in routes if r[:2] == (service, method) and _route_pattern(r[2]).fullmatch(path)), None
        )
        assert route is not None, f"a recorded step matches no route: {step['request']}"
        called.add(route)
    # /metrics answers counters that move with every request: nothing to record; its behaviour is
    # tests/e2e/test_observability.py's.
    unrecordable = {(service, "GET", "/metrics") for service in ("intake", "routing", "sla")}
    missing = sorted(set(TABLE) - called - unrecordable)
    assert not missing, f"routes the golden scenario never calls: {missing}"
