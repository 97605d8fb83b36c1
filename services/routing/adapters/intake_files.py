"""The reporter's attachments, read from intake over HTTP for the workbench's complaint page
(services/routing/entrypoints/workbench_pages.py). Routing never reads intake's database: it asks
intake's own attachment API with the signed-in person's staff token, so intake's access rule
(staff whose scope covers the complaint; anonymous files stripped) decides what is shown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

LIST_MAX_BYTES = 64 * 1024  # a complaint's attachment list (a handful of small entries)
FILE_MAX_BYTES = 16 * 1024 * 1024  # above intake's largest accepted attachment
PASSED_HEADERS = ("Content-Type", "Content-Disposition", "X-Content-Type-Options", "Content-Security-Policy")


class IntakeUnavailable(Exception):
    """Intake did not answer as expected (down, slow, or an answer out of bounds)."""


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes
    headers: dict[str, str]


class IntakeFiles:
    def __init__(self, base_url: str, timeout_seconds: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        return self._http

    async def _get(self, path: str, token: str, limit: int) -> Fetched:
        url = f"{self.base_url}{path}"
        try:
            async with self._session().get(
                url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
            ) as response:
                body = await response.content.read(limit + 1)
                if len(body) > limit:
                    raise IntakeUnavailable(f"{path}: answer larger than {limit} bytes")
                kept = {h: response.headers[h] for h in PASSED_HEADERS if h in response.headers}
                return Fetched(response.status, body, kept)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise IntakeUnavailable(f"{path}: {exc.__class__.__name__}") from None

    async def listing(self, complaint_id: str, token: str) -> list[dict[str, Any]]:
        """The complaint's attachments as intake describes them to this person (empty when
        intake refuses them: the page shows no files rather than an error)."""
        path = f"/api/v1/complaints/{quote(complaint_id, safe='')}/attachments"
        got = await self._get(path, token, LIST_MAX_BYTES)
        if got.status in (401, 403, 404):
            return []
        if got.status != 200:
            raise IntakeUnavailable(f"attachment list: HTTP {got.status}")
        try:
            items = json.loads(got.body).get("items")
        except (ValueError, AttributeError):
            raise IntakeUnavailable("attachment list: not the expected JSON") from None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    async def file(self, complaint_id: str, attachment_id: str, token: str) -> Fetched:
        path = (
            f"/api/v1/complaints/{quote(complaint_id, safe='')}/attachments/{quote(attachment_id, safe='')}"
        )
        return await self._get(path, token, FILE_MAX_BYTES)
