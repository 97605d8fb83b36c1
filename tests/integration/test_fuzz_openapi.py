"""Every operation of every service's `/openapi.json`, fuzzed with schemathesis (valid and invalid
inputs generated from the document itself), answers without a 5xx and as its document says: a
status it declares, with a declared content type, and a body that fits the declared schema.

The three real apps run in process (tests/service_apps.py) on the real broker and database; the
fuzzer's HTTP client (requests, synchronous) runs in a worker thread while the event loop serves.
Cases carry an admin token (intake's also the seeded complaint's access token), so the generated
inputs reach past the authorisation checks; the authorisation itself is tests/integration/
test_authz_matrix.py's subject.
The number of cases per operation is printed; an operation the fuzzer generated no case for fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import traceback
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.infra import Endpoints
from shared.auth import mint
from tests.service_apps import Apps, Client, Seeded, running_apps, seed_complaint

pytestmark = [
    pytest.mark.integration,
    # schemathesis's own strategies draw from `random`; not ours to change.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

# Cases per operation (valid and invalid inputs, random or existing path parameters). With ~60
# operations the whole file takes under two minutes on a 2-core machine. PENGADUAN_FUZZ_EXAMPLES
# sets another number for a deeper run by hand.
EXAMPLES = int(os.environ.get("PENGADUAN_FUZZ_EXAMPLES", "30"))

# The generated documents (shared/openapi.py) are the contract the answers are held to.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Operations (service, "METHOD /path") left out of the fuzzing, each with its reason (none now).
KNOWN: dict[tuple[str, str], str] = {}


@dataclass
class Outcome:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class World:
    apps: Apps
    complaint: Seeded


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints) -> AsyncIterator[World]:
    async with running_apps(endpoints) as apps:
        seeded = await seed_complaint(
            apps, endpoints.kafka_bootstrap, category="jalan-jembatan", region_code="33.74.01.1001"
        )
        yield World(apps, seeded)


def _strategy(operation: Any, headers: list[dict[str, str]], known: dict[str, str]) -> Any:
    """Valid and invalid inputs, each also with the path's parameters set to things that exist (the
    seeded complaint, its pemda and OPD), so that the cases get past the 404 of a random id; one
    set of headers per kind of caller."""
    names = set(re.findall(r"{(\w+)}", operation.path))
    fixed = {name: value for name, value in known.items() if name in names}
    strategies = [
        operation.as_strategy(mode, headers=h, path_parameters=p)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for h in headers
        for p in ([None, fixed] if fixed else [None])
    ]
    return st.one_of(strategies)


def _fuzz_operation(operation: Any, base_url: str, strategy: Any) -> Outcome:
    outcome = Outcome()

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: a red run is reproducible
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        outcome.cases += 1
        response = case.call(base_url=base_url, timeout=30)
        outcome.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    # The shrunk failing case as schemathesis describes it, curl command included (its FailureGroup
    # is a BaseExceptionGroup).
    except (Exception, BaseExceptionGroup) as exc:
        outcome.failures.append("".join(traceback.format_exception_only(exc)).strip())
    return outcome


def _fuzz(
    doc: dict[str, Any],
    base_url: str,
    service: str,
    known: dict[str, str] | None = None,
    tokens: tuple[str, ...] = (),
) -> dict[str, Outcome]:
    schema = schemathesis.openapi.from_dict(doc)
    headers = [{"Authorization": f"Bearer {t}"} for t in (mint("admin"), *tokens)]
    results: dict[str, Outcome] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        if (service, name) in KNOWN:
            print(f"{service:8} {name:62} skipped: {KNOWN[(service, name)]}")
            continue
        declared = doc["paths"][operation.path][operation.method.lower()]
        if "requestBody" in declared and not operation.body.items:
            # schemathesis could not use the declared body (e.g. an unresolvable $ref): say so.
            results[name] = Outcome(failures=["the declared request body is unusable"])
            continue
        strategy = _strategy(operation, headers, known or {})
        results[name] = outcome = _fuzz_operation(operation, base_url, strategy)
        statuses = " ".join(f"{code}×{n}" for code, n in sorted(outcome.statuses.items()))
        verdict = " FAILED" if outcome.failures else ""
        print(f"{service:8} {name:62} {outcome.cases:3} cases{verdict} ({statuses})")
    return results


@pytest.mark.parametrize("service", ["intake", "routing", "sla"])
async def test_every_operation_answers_as_documented(world: World, service: str) -> None:
    client: Client = getattr(world.apps, service)
    response = await client.get("/openapi.json")
    assert response.status == 200
    doc = await response.json()
    base_url = str(client.make_url("/")).rstrip("/")
    pemda, slug = world.complaint.opd_id.split("/")
    known = {
        "id": world.complaint.id,
        "complaint_id": world.complaint.id,
        "pemda": pemda,
        "slug": slug,
        "category": "jalan-jembatan",
    }
    tokens = {
        "intake": (world.complaint.access_token,),
        "routing": (mint("handler", opd=world.complaint.opd_id),),  # the handler-only actions
    }.get(service, ())
    results = await asyncio.to_thread(_fuzz, doc, base_url, service, known, tokens)
    operations = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert set(results) | {n for s, n in KNOWN if s == service} == operations  # every operation fuzzed
    empty = sorted(name for name, o in results.items() if o.cases == 0)
    assert not empty, f"operations without a generated case: {empty}"
    failed = {name: o.failures for name, o in results.items() if o.failures}
    assert not failed, "\n\n".join(f"{name}:\n{chr(10).join(f)}" for name, f in failed.items())


async def test_the_fuzzer_reports_a_server_error() -> None:
    """The harness itself: an operation that fails on some inputs is reported, with its cases."""
    app = web.Application()

    async def fragile(request: web.Request) -> web.Response:
        if int(request.query["n"]) > 10:
            raise RuntimeError("boom")  # aiohttp answers 500
        return web.json_response({})

    app.router.add_get("/fragile", fragile)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/fragile": {
                "get": {
                    "parameters": [
                        {"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}}
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    async with TestClient(TestServer(app)) as client:
        base_url = str(client.make_url("/")).rstrip("/")
        results = await asyncio.to_thread(_fuzz, doc, base_url, "self")
    outcome = results["GET /fragile"]
    assert outcome.cases > 0 and outcome.statuses[500] > 0
    assert outcome.failures and "Server error" in outcome.failures[0]
