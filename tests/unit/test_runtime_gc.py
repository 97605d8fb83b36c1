"""A started service freezes what start-up loaded and collects young objects less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from aiohttp import web

from shared.runtime import GC_YOUNG_THRESHOLD, settle_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_settle_gc_freezes_start_up_objects_and_raises_the_young_threshold(restored_gc: None) -> None:
    loaded = [{"kode": f"33.74.{i:02d}"} for i in range(1000)]  # like region data loaded at start-up
    gc.unfreeze()
    await settle_gc(web.Application())
    assert gc.get_freeze_count() >= len(loaded)
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
