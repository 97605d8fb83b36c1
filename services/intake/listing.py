"""Public listing of complaints (DESIGN §3, §6): never confidential ones, never identity."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Indexes this module's queries need."""


def add_routes(app: web.Application) -> None:
    """Register this module's routes on intake's app."""
