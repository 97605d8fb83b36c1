"""Recompute from the command line, after a new pinned `holidays` release or to redo a pemda's
calendar change: `pengaduan recompute holidays` or `pengaduan recompute pemda 33.74` (the same as
`python -m services.sla.entrypoints.cli …`). The
service also does both by itself at start (workers.run_catch_up)."""

from __future__ import annotations

import argparse
import asyncio

from services.sla.bootstrap import mongo_sla
from services.sla.handlers import recompute_holidays, recompute_pemda
from services.sla.settings import SlaSettings
from shared import clock
from shared.runtime import open_infra


async def _main(args: argparse.Namespace) -> None:
    settings = SlaSettings()
    async with open_infra(
        kafka_bootstrap=settings.kafka_bootstrap, mongo_uri=settings.mongo_uri, db_name=settings.mongo_db
    ) as infra:
        sla = mongo_sla(infra.db, infra.publish)
        await sla.calendars.refresh(sla.rules)
        if args.command == "holidays":
            result = await recompute_holidays(sla)
        else:
            extra = await sla.calendars.extra_dates(args.pemda)
            result = await recompute_pemda(sla, args.pemda, extra.revision if extra else 1)
        print(result)


def main(argv: list[str] | None = None, prog: str = "python -m services.sla.entrypoints.cli") -> None:
    parser = argparse.ArgumentParser(prog=prog, description="Recompute SLA clocks after a calendar change.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("holidays", help="rebuild every complaint computed with another pinned holidays version")
    one = sub.add_parser("pemda", help="rebuild the complaints a pemda's calendar governs")
    one.add_argument("pemda")
    clock.install_from_environment()
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
