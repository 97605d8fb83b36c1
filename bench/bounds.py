"""What the largest input the bounds still admit costs (issue 15 item 8): each case is run in
process, once cold and `--repeat` times more, and its times printed in milliseconds. Nothing is asserted; the
bounds are chosen so that no admitted request holds an event loop for long.

Cases: a JSON body of the 64 KiB `read_json` allows, nested as deep as allowed (32) and refused
one deeper, `"[" * 60000` (refused), a body of 19-digit integers, and one 5,000-digit integer
(refused); the sla calendar's `working_time` over the longest range allowed (5 years) and `due`
with the largest `hk` (365) from the last admitted year; a listing cursor decoded; 20 queue
statuses parsed (the cap), and 900 (refused).

    .venv/bin/python -m bench.bounds [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import make_mocked_request

from services.intake.entrypoints.listing import encode_cursor, parse_query
from services.intake.settings import ListingSettings
from services.routing.entrypoints import queues
from shared.calendar import calendar_for
from shared.http import MAX_JSON_DEPTH, ProblemError, parse_json

MAX_BODY = 64 * 1024


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _padded(core: str) -> bytes:
    """`core` inside an object padded with a string up to the body limit."""
    pad = MAX_BODY - len(core) - 40
    return json.dumps({"pad": "x" * pad, "v": json.loads(core)}).encode()


def _refused(call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        try:
            call()
        except ProblemError as exc:
            return exc.status
        raise AssertionError("expected a refusal")

    return run


def cases() -> dict[str, Callable[[], object]]:
    semarang = calendar_for("33.74")
    start = datetime(2090, 1, 1, tzinfo=UTC)
    ints = json.dumps({"v": [10**18] * (MAX_BODY // 21)}).encode()
    settings = ListingSettings()
    cursor = encode_cursor("01KDVDNA00Y1HZ1G6WHQ1ZZJPH", timedelta(days=3660))
    statuses = ",".join(["assigned", "in_progress"] * 10)
    many = ",".join(["assigned"] * 900)
    return {
        f"json 64 KiB, depth {MAX_JSON_DEPTH}": lambda: parse_json(_padded(_nested(MAX_JSON_DEPTH - 1))),
        f"json depth {MAX_JSON_DEPTH + 1} (refused)": _refused(
            lambda: parse_json(_nested(MAX_JSON_DEPTH + 1))
        ),
        'json "[" * 60000 (refused)': _refused(lambda: parse_json("[" * 60000)),
        "json 64 KiB of 19-digit ints": lambda: parse_json(ints),
        "json one 5000-digit int (refused)": _refused(lambda: parse_json('{"v": ' + "9" * 5000 + "}")),
        "calendar working_time, 5 years": lambda: semarang.working_time(
            start, start + timedelta(days=5 * 366)
        ),
        "calendar due, hk 365 from 2100-12-01": lambda: semarang.due(datetime(2100, 12, 1, tzinfo=UTC), 365),
        "listing cursor decode": lambda: parse_query(
            make_mocked_request("GET", f"/api/v1/complaints?cursor={cursor}").query, settings
        ),
        "queue 20 statuses": lambda: queues._states(
            make_mocked_request("GET", f"/q?status={statuses}"), queues.HANDLER_STATES
        ),
        "queue 900 statuses (refused)": _refused(
            lambda: queues._states(make_mocked_request("GET", f"/q?status={many}"), queues.HANDLER_STATES)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    # The first run is apart: it fills caches (a year's holidays, imports), a cost paid once.
    print(f"{'case':48} {'first ms':>9} {'worst ms':>9} {'median ms':>10}")
    for name, run in cases().items():
        times = []
        for _ in range(args.repeat + 1):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1000)
        first, rest = times[0], sorted(times[1:])
        print(f"{name:48} {first:9.2f} {rest[-1]:9.2f} {rest[len(rest) // 2]:10.2f}")


if __name__ == "__main__":
    main()
