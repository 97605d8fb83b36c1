"""The worker pool every upload is opened in (services/intake/adapters/scrub_worker.py): photos
and PDFs checked under pixel, page, CPU, memory and time limits, and rewritten for anonymous
complaints. The event loop only waits."""

from __future__ import annotations

import asyncio
import math
import multiprocessing

from pebble import ProcessExpired, ProcessPool

from services.intake.adapters import scrub_worker
from services.intake.settings import IntakeSettings
from shared.http import FieldError, ProblemError

_UNPROCESSABLE = "berkas tidak dapat diproses"
_START_SECONDS = 60.0


class Scrubber:
    """A small fixed pool of worker processes (pebble: a task past its time is killed with its
    worker, a crashed worker is replaced, and only that task fails) and a bound on how many
    uploads may wait for them."""

    def __init__(self, settings: IntakeSettings) -> None:
        self._limits = scrub_worker.Limits(
            max_pixels=settings.attachment_max_pixels,
            max_pages=settings.attachment_max_pages,
            cpu_seconds=settings.attachment_cpu_seconds,
        )
        self._timeout = settings.attachment_timeout_seconds
        self._workers = max(1, settings.attachment_workers)
        self._capacity = self._workers + max(0, settings.attachment_queue_limit)
        # Waiting behind every queued task, then this task's own time, then pebble's kill.
        self._deadline = self._timeout * (1 + math.ceil(self._capacity / self._workers)) + 10
        self._busy = 0
        # Not fork: the service's threads and sockets must not be copied into the workers. The
        # fork server has the libraries loaded, so a killed worker is replaced quickly.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["services.intake.adapters.scrub_worker"])
        self._pool = ProcessPool(
            max_workers=self._workers,
            max_tasks=200,  # a fresh process now and then: no fragmentation piles up
            initializer=scrub_worker.init_worker,
            initargs=(settings.attachment_memory_bytes,),
            context=context,
        )

    async def start(self) -> None:
        """Starts the workers (off the event loop) before the first upload needs them."""
        future = await asyncio.to_thread(self._pool.schedule, scrub_worker.warm)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), _START_SECONDS)
        except (TimeoutError, ProcessExpired) as exc:
            # A worker that cannot start (e.g. an address-space limit below what the libraries
            # need) would be restarted forever: the service does not start instead.
            await self.stop()
            raise RuntimeError(
                "attachment workers did not start; is INTAKE_ATTACHMENT_MEMORY_BYTES too small?"
            ) from exc

    async def stop(self) -> None:
        self._pool.stop()  # type: ignore[no-untyped-call]
        await asyncio.to_thread(self._pool.join)

    @property
    def busy(self) -> int:
        """Uploads being processed or waiting for a worker."""
        return self._busy

    async def check(self, data: bytes, content_type: str, *, clean: bool) -> bytes:
        """The upload as it is to be stored: checked, and with `clean` rewritten without metadata."""
        if self._busy >= self._capacity:
            raise ProblemError(
                503,
                "Terlalu banyak lampiran sedang diproses; coba lagi sebentar lagi",
                headers={"Retry-After": str(max(1, math.ceil(self._timeout)))},
            )
        self._busy += 1
        try:
            future = self._pool.schedule(
                scrub_worker.run, args=(data, content_type, clean, self._limits), timeout=self._timeout
            )
            outcome = await asyncio.wait_for(asyncio.wrap_future(future), self._deadline)
        except TimeoutError:
            raise _refused(f"{_UNPROCESSABLE}: melewati batas waktu pemrosesan") from None
        except ProcessExpired:
            raise _refused(f"{_UNPROCESSABLE}: melewati batas CPU atau memori") from None
        finally:
            self._busy -= 1
        if outcome.problem is not None:
            raise _refused(self._message(outcome))
        return data if outcome.data is None else outcome.data

    def _message(self, outcome: scrub_worker.Outcome) -> str:
        if outcome.problem == "pixels":
            size = f" ({outcome.detail} piksel)" if outcome.detail else ""
            return f"gambar terlalu besar{size}; maksimal {self._limits.max_pixels} piksel"
        if outcome.problem == "pages":
            pages = self._limits.max_pages
            return f"PDF terlalu panjang ({outcome.detail} halaman); maksimal {pages} halaman"
        if outcome.problem == "encrypted":
            return f"{_UNPROCESSABLE}: PDF dikunci dengan kata sandi"
        if outcome.problem == "memory":
            return f"{_UNPROCESSABLE}: melewati batas memori"
        return f"{_UNPROCESSABLE}: berkas rusak, tidak lengkap atau bukan jenis yang diakui"


def _refused(message: str) -> ProblemError:
    return ProblemError(422, errors=[FieldError(field="file", message=message)])
