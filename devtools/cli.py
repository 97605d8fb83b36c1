"""`make run` and `make test`, inside the project's environment (see devtools/__main__.py).

python -m devtools run     Kafka + database + the three services, topics, region data and
                           OPD catalog; prints the URLs; Ctrl-C stops everything.
                           `--scale 2`: two processes of every service, one address each;
                           `--brokers 3`: a 3-broker KRaft cluster (make run SCALE=2 BROKERS=3).
python -m devtools test    installs the servers if needed and runs the whole test suite
                           (the fixtures start and stop their own servers on test ports).
python -m devtools stop    stops servers a killed run left behind (by their PID files).
python -m devtools audit   pip-audit of the installed (pinned) set: prints known vulnerabilities;
                           advisory only, never part of `test` (tomorrow's advisory must not
                           turn today's commit red); extra arguments go to pip-audit.
python -m devtools install fetches Kafka's jars and builds secantusd-rs (cached); `test` also
                           installs Debian's chromium for the dashboard test when missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading

from devtools import infra
from devtools.services import RUN_HTTP_PORTS, wait_ready
from devtools.stack import supervised_stack

log = logging.getLogger("devtools")


def install(browser: bool = False) -> None:
    infra.ensure_kafka_jars()
    infra.ensure_secantus()
    if browser:  # what only the tests need
        infra.ensure_chromium()
        infra.ensure_docker_compose()
        infra.ensure_promtool()
        infra.ensure_axe()
        infra.ensure_oidc_provider()


def run(scale: int = 1, brokers: int = 1) -> int:
    install()
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    # Ctrl-C, also when started in the background (where a shell sets SIGINT to be ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # The local run's Open311 key (intake seeds it at start-up); a deployment issues its own with
    # `python -m services.intake.apikeys issue --name <client>`.
    # It listens on 127.0.0.1 only, where development secrets are allowed (shared/startup.py).
    from services.intake.settings import DEV_API_KEY

    os.environ.setdefault("OPEN311_API_KEY", DEV_API_KEY)
    if scale > 1:
        # A client's requests reach either process (SO_REUSEPORT): they count their rate limits
        # together in the database, or each would allow the limit again.
        for prefix in ("INTAKE", "ROUTING", "SLA"):
            os.environ.setdefault(f"{prefix}_RATE_SHARED", "true")
    with supervised_stack("run", infra.RUN_PORTS, RUN_HTTP_PORTS, scale=scale, brokers=brokers) as stack:
        services, ends = stack.services, stack.ends
        asyncio.run(wait_ready(services))
        print(
            "\nPengaduan is running:\n"
            f"  intake API      {services.url('intake')}/api/v1/complaints\n"
            f"  intake OpenAPI  {services.url('intake')}/openapi.json (browsable: /docs)\n"
            f"  Open311         {services.url('intake')}/open311/v2/discovery.json"
            f" (api_key {os.environ['OPEN311_API_KEY']})\n"
            f"  routing         {services.url('routing')}/openapi.json\n"
            f"  sla             {services.url('sla')}/openapi.json\n"
            f"  dashboard       {services.url('sla')}/dashboard/ (token: python -m shared.auth mint"
            " --role supervisor --pemda 33.74)\n"
            f"  processes       {scale} of each service; {brokers} Kafka broker(s)\n"
            f"  Kafka           {ends.kafka_bootstrap}\n"
            f"  database        {ends.mongo_uri}\n"
            f"  logs            {infra.run_dir('run')}\n"
            "A process that dies is started again; `.venv/bin/pengaduan status` shows them.\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        try:
            while not stop_requested.wait(0.5):
                stack.tick()
        except KeyboardInterrupt:
            pass
        print("stopping…", flush=True)
    return 0


def test(pytest_args: list[str]) -> int:
    """Static checks first (seconds), then every test tier; non-zero if anything failed."""
    install(browser=True)
    checks = [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy"],
        # Security lint; configured in pyproject's [tool.bandit]. Only high-severity findings fail.
        [sys.executable, "-m", "bandit", "-q", "-c", "pyproject.toml", "-r", ".", "--severity-level", "high"],
    ]
    failed = [" ".join(c[2:]) for c in checks if subprocess.run(c).returncode != 0]
    result = subprocess.run([sys.executable, "-m", "pytest", *pytest_args])
    if failed:
        print(f"static checks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return result.returncode


def audit(extra: list[str]) -> int:
    """Known vulnerabilities of the installed dependencies (the pinned set; the project itself is
    skipped), from PyPI's vulnerability data (`--vulnerability-service osv` among `extra` for
    OSV's). Prints each finding and each dependency that could not be checked; returns 0 whatever
    the findings (advisory), 2 when nothing could be checked (the service unreachable, or it knows
    none of the pinned versions), so that "no findings" is never said of an audit that did not run."""
    command = [sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off"]
    result = subprocess.run([*command, "--format", "json", *extra], capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(result.stdout + result.stderr, file=sys.stderr)
        print(f"make audit: pip-audit did not report (exit {result.returncode})", file=sys.stderr)
        return 2
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = [d for d in dependencies if "skip_reason" not in d]
    findings = [(d, v) for d in audited for v in d.get("vulns", [])]
    for dep, vuln in findings:
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
        aliases = f" ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else ""
        print(f"{dep['name']} {dep['version']}: {vuln['id']}{aliases}; fixed in {fixed}")
        print(f"    {(vuln.get('description') or '').strip()[:300]}")
    for dep in skipped:
        print(f"not checked: {dep['name']}: {dep['skip_reason']}")
    print(
        f"make audit: {len(audited)} dependencies checked, {len(findings)} known vulnerabilities,"
        f" {len(skipped)} not checked (advisory, not a gate)"
    )
    return 0 if audited or not dependencies else 2


def stop() -> int:
    for profile in ("run", "test"):
        infra.stop_stale(profile)
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m devtools")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--scale", type=int, choices=range(1, 5), default=1, help="processes per service")
    run_parser.add_argument("--brokers", type=int, choices=(1, 3), default=1, help="Kafka brokers")
    sub.add_parser("install")
    sub.add_parser("stop")
    sub.add_parser("audit")  # unknown arguments go to pip-audit
    test_parser = sub.add_parser("test")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args, unknown = parser.parse_known_args()
    if unknown and args.command != "audit":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "run":
        try:
            return run(args.scale, args.brokers)
        except infra.InfraError as exc:  # e.g. the stack is already running: say so, no traceback
            print(f"make run: {exc}", file=sys.stderr)
            return 2
    if args.command == "test":
        return test(args.pytest_args)
    if args.command == "audit":
        return audit(unknown)
    if args.command == "install":
        install()
        return 0
    return stop()


if __name__ == "__main__":
    sys.exit(main())
