"""Rate limits on submit per client address and per token (issue 4 item 8)."""

from __future__ import annotations

from aiohttp import web


async def check_submit(request: web.Request) -> None:
    """Raise a 429 problem with Retry-After when this client is over its submit limit."""
