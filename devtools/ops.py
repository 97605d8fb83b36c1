"""`pengaduan`: the operators' command line (a console script of the package).

    pengaduan status     each process of the local stack (`make run`): state, pid, uptime, restarts

More commands join it as operations need them (dead letters, backups).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from devtools import infra
from shared import clock


def status_path(profile: str = "run") -> Path:
    return infra.run_dir(profile) / "supervisor.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"


def render_status(status: dict[str, Any], now: float) -> str:
    lines = [f"{'process':<14}{'state':<10}{'pid':>8}  {'uptime':>12}  {'restarts':>8}"]
    for row in status["processes"]:
        pid = row["pid"]
        running = row["state"] == "running" and pid is not None and _alive(pid)
        state = row["state"] if running or row["state"] != "running" else "gone"
        uptime = _duration(now - row["since"]) if running else "-"
        lines.append(f"{row['name']:<14}{state:<10}{pid or '-':>8}  {uptime:>12}  {row['restarts']:>8}")
    broken = [r["name"] for r in status["processes"] if r["state"] == "fatal"]
    if broken:
        lines.append(f"left stopped after repeated crashes: {', '.join(broken)} (see their logs)")
    return "\n".join(lines)


def status(profile: str = "run") -> int:
    path = status_path(profile)
    try:
        current = json.loads(path.read_text())
    except FileNotFoundError:
        print("the local stack has not been started here (make run)")
        return 3
    if not _alive(int(current["supervisor_pid"])):
        print(f"make run is not running (last status written {path})")
        return 3
    print(render_status(current, clock.wall().timestamp()))
    return 1 if any(r["state"] != "running" for r in current["processes"]) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pengaduan", description="Operate a pengaduan stack.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("status", help="the local stack's processes: state, pid, uptime, restarts")
    show.add_argument("--profile", default="run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "status":
        return status(args.profile)
    return 2


if __name__ == "__main__":
    sys.exit(main())
