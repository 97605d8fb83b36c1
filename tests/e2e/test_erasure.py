"""A reporter's identity erased on request (`pengaduan erase-reporter`, UU 27/2022), against the
running services and their database: the identity is gone from the audited endpoint and from
the reporter's own copy of the text, the erasure is in the audit trail, and the complaint and
the reporter's access to it carry on."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import aiohttp
import pytest

from devtools import ops
from devtools.infra import Endpoints
from devtools.services import ServiceSet
from shared.auth import mint
from tests.e2e.conftest import DB_PREFIX
from tests.e2e.test_one_complaint import SUBMISSION

pytestmark = pytest.mark.e2e


def test_erasure_on_request_removes_the_identity_everywhere_and_is_audited(
    services: ServiceSet,
    endpoints: Endpoints,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, email = "Rahmawati Susanti", f"rahma.{secrets.token_hex(4)}@contoh.id"
    body: dict[str, Any] = {
        **SUBMISSION,
        "description": f"Saya {name} ({email}) melapor: saluran air tersumbat sejak seminggu.",
        "reporter": {"name": name, "email": email},
    }
    base = services.url("intake")
    coordinator = {"Authorization": f"Bearer {mint('coordinator', pemda=SUBMISSION['region_code'][:5])}"}

    async def get(path: str, headers: dict[str, str]) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=15)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(base + path, headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    async def submit() -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=15)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(f"{base}/api/v1/complaints", json=body) as resp,
        ):
            assert resp.status == 202
            accepted: dict[str, Any] = await resp.json()
            return accepted

    accepted = asyncio.run(submit())
    path = f"/api/v1/complaints/{accepted['id']}"
    mine = {"Authorization": f"Bearer {accepted['access_token']}"}
    status, view = asyncio.run(get(path, mine))
    assert status == 200 and name in json.loads(view)["description"]  # the reporter's own copy

    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("INTAKE_MONGO_DB", f"{DB_PREFIX}intake")
    argv = [
        "erase-reporter",
        "--email",
        email.upper(),
        "--reason",
        "surat permintaan 17/2026",
        "--by",
        "op-1",
    ]
    assert ops.main(argv) == 0
    assert f"erased from 1 of 1 complaint(s): {accepted['id']}" in capsys.readouterr().out

    status, view = asyncio.run(get(path, mine))  # the reporter still follows it
    assert status == 200 and name not in view and email not in view
    status, identity = asyncio.run(get(f"{path}/reporter", coordinator))
    assert status == 200
    assert [json.loads(identity)[k] for k in ("name", "email", "phone")] == [None, None, None]
    status, trail = asyncio.run(get(f"{path}/reporter/audit", coordinator))
    assert status == 200 and "op-1" in trail and "surat permintaan 17/2026" in trail
    # Asked again: nothing left to erase, said plainly (exit 1).
    assert ops.main(argv) == 1
    assert "erased from 0 of 0" in capsys.readouterr().out
