"""A service process whose consumer or background task dies stops itself and exits 70, so its
supervisor (make run's, or an orchestrator) starts a fresh one — through the real `serve`."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

PROGRAM = textwrap.dedent(
    """
    import asyncio
    from aiohttp import web
    from shared.runtime import HEALTH, Health, serve

    app = web.Application()
    health = app[HEALTH] = Health()

    async def start(app):
        async def detector():
            await asyncio.sleep(0.2)
            raise RuntimeError("a bug in the loop")
        task = asyncio.create_task(detector(), name="sla-detector")
        task.add_done_callback(health.task_done)

    app.on_startup.append(start)
    serve(app, "127.0.0.1", 0, "INFO")
    """
)


def test_a_process_whose_task_dies_stops_and_exits_70() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 70, done.stderr[-2000:]
    assert "task sla-detector stopped" in done.stderr and "these tasks died: sla-detector" in done.stderr
