"""`pengaduan`: the operators' command line (a console script of the package).

    pengaduan status                       each process of the local stack (`make run`): state,
                                           pid, uptime, restarts; each service's readiness; each
                                           consumer group's lag and dead letters; complaints
                                           held after a gap in seq; outboxes Kafka refused
                                           (intake, routing)
    pengaduan dlq list [GROUP]             dead letters of every group (or one): offset, when,
                                           where from, attempts, reason
    pengaduan dlq show GROUP OFFSET        one dead letter: headers and the event
    pengaduan dlq replay GROUP (OFFSET… | --all)
                                           hand them, after a fix, to that group's handler only
                                           (never back onto the topic); each at most once

    pengaduan backup DIR                   each service's database, the topics and the groups'
                                           positions into a new directory (devtools/backup.py)
    pengaduan restore DIR [--replace] [--skip-topics]
                                           back into empty databases (or dropped first) and an
                                           empty Kafka, with the groups where they were

    pengaduan erase-reporter (--complaint ID… | --email E | --phone P) --reason WHY [--by WHO]
                                           a reporter's identity erased on request (UU 27/2022),
                                           audited beside the identity reads
    pengaduan catalog import FILE.csv [--dry-run]
                                           a pemda's own OPDs and which categories each handles
                                           (services/routing/domain/catalog_import.py says the
                                           format); checked whole, then written, audited
    pengaduan apikeys (issue --name C | revoke --name C | list)
                                           Open311 clients' API keys (services/intake/apikeys.py)
    pengaduan recompute (holidays | pemda CODE)
                                           sla's clocks again after a calendar change (sla also
                                           does it by itself at start)
    pengaduan replay (sla-reports | routing-dues)
                                           rebuild a read model from its topics (devtools/replay.py;
                                           the service that runs the group stopped)
    pengaduan retention [--years N]        erase the identity of complaints closed over N years
                                           ago (default INTAKE_RETENTION_YEARS; intake also runs
                                           it by itself when that is set)

Every command but status reads the services' settings from the environment (KAFKA_BOOTSTRAP,
MONGO_URI, the services' prefixes), as the services do. More commands join as operations need them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from devtools import infra
from shared import clock
from shared.deadletters import read_letters, replay_group
from shared.runtime import InfraSettings
from shared.topics import (
    GROUP_TOPICS,
    GROUPS,
    INTAKE_GROUP,
    ROUTING_DUES_GROUP,
    ROUTING_GROUP,
    ROUTING_STAFF_MAIL_GROUP,
    ROUTING_TRANSFERS_GROUP,
    dlq,
)


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
    not_ready = asyncio.run(readiness(profile))
    lags = asyncio.run(consumer_lag(_bootstrap(), GROUP_TOPICS))
    print(render_groups(lags))
    held_any = bool(not_ready) or lags is None or any(dead for _, dead in lags.values())
    for service in ("sla", "intake"):
        parked = asyncio.run(parked_complaints(service))
        if parked is None:
            print(f"complaints held after a gap in seq ({service}): unknown (the database does not answer)")
            continue
        count, some = parked
        held_any |= count > 0
        listed = f" (e.g. {', '.join(some)})" if some else ""
        print(f"complaints held after a gap in seq ({service}): {count}{listed}")
    for service in OUTBOXES:
        refused = asyncio.run(refused_outboxes(service))
        if refused is None:
            print(f"outboxes Kafka refused, set aside ({service}): unknown (the database does not answer)")
            continue
        count, some = refused
        held_any |= count > 0
        listed = f" (e.g. {', '.join(some)})" if some else ""
        print(f"outboxes Kafka refused, set aside ({service}): {count}{listed}")
    problems = any(r["state"] != "running" for r in current["processes"]) or held_any
    return 1 if problems else 0


async def readiness(profile: str) -> list[str]:
    """Each service's /readyz (the `run` stack's ports), printed; the ones not ready."""
    import aiohttp

    from devtools.services import RUN_HTTP_PORTS, SERVICES

    if profile != "run":
        return []
    not_ready = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        for name in SERVICES:
            try:
                async with http.get(f"http://127.0.0.1:{RUN_HTTP_PORTS[name]}/readyz") as resp:
                    said = "ready" if resp.status == 200 else f"not ready: {_one_line(await resp.text())}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                said = f"not answering ({type(exc).__name__})"
            if said != "ready":
                not_ready.append(name)
            print(f"{name:<14}{said}")
    return not_ready


async def consumer_lag(
    bootstrap: str, groups: dict[str, tuple[str, ...]]
) -> dict[str, tuple[int, int]] | None:
    """For each group: messages on its topics it has not committed yet (its lag), and the
    dead letters waiting on `<group>.dlq` (0 for a group without one); None when Kafka does not
    answer."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        async with asyncio.timeout(15):
            await admin.start()
            await probe.start()
            existing = set(await admin.list_topics())
            wanted = {t for topics in groups.values() for t in topics} | {dlq(g) for g in groups}
            described = await admin.describe_topics(sorted(wanted & existing)) if wanted & existing else []
            partitions = [
                TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
            ]
            ends = await probe.end_offsets(partitions)
            starts = await probe.beginning_offsets(partitions)
            result = {}
            for group, topics in groups.items():
                committed = await admin.list_consumer_group_offsets(group)
                lag = 0
                for tp in partitions:
                    if tp.topic in topics:
                        done = (
                            committed[tp].offset
                            if tp in committed and committed[tp].offset >= 0
                            else starts[tp]
                        )
                        lag += max(ends[tp] - done, 0)
                dead = sum(ends[tp] - starts[tp] for tp in partitions if tp.topic == dlq(group))
                result[group] = (lag, dead)
            return result
    except (KafkaError, TimeoutError, OSError):
        return None
    finally:
        await probe.stop()
        await admin.close()


def render_groups(lags: dict[str, tuple[int, int]] | None) -> str:
    if lags is None:
        return "consumer groups: unknown (Kafka does not answer)"
    lines = [f"{'group':<22}{'lag':>8}  {'dead letters':>12}"]
    lines += [f"{group:<22}{lag:>8}  {dead:>12}" for group, (lag, dead) in lags.items()]
    waiting = [g for g, (_, dead) in lags.items() if dead]
    if waiting:
        lines.append(f"dead letters wait in {', '.join(dlq(g) for g in waiting)}: pengaduan dlq list")
    return "\n".join(lines)


# The collections whose documents carry an outbox (shared/outbox.py), by service.
OUTBOXES = {"intake": ("complaints", "commands"), "routing": ("complaints",), "sla": ("complaint_clocks",)}


async def refused_outboxes(service: str = "intake", limit: int = 5) -> tuple[int, list[str]] | None:
    """How many of a service's outbox documents the relay set aside because Kafka refused their
    messages (too large, invalid), and a few of them (`collection/id`); None when its database
    does not answer."""
    from pymongo import AsyncMongoClient

    from services.intake.settings import IntakeSettings
    from services.routing.settings import RoutingSettings
    from services.sla.settings import SlaSettings
    from shared.outbox import refused

    settings = {"intake": IntakeSettings, "routing": RoutingSettings, "sla": SlaSettings}[service]()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_uri, serverSelectionTimeoutMS=2000
    )
    try:
        total, some = 0, []
        for name in OUTBOXES[service]:
            count, ids = await refused(client[settings.mongo_db][name], limit)
            total += count
            some += [f"{name}/{i}" for i in ids]
        return total, some[:limit]
    except PyMongoError:
        return None
    finally:
        await client.close()


async def parked_complaints(service: str = "sla", limit: int = 5) -> tuple[int, list[str]] | None:
    """How many complaints a service (sla, intake) holds lifecycle events of after a missing one,
    and a few of their ids; None when its database does not answer."""
    from pymongo import AsyncMongoClient

    from services.intake.settings import IntakeSettings
    from services.sla.adapters.clock_store import COLLECTION
    from services.sla.settings import SlaSettings

    settings = SlaSettings() if service == "sla" else IntakeSettings()
    name = COLLECTION if service == "sla" else "complaints"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_uri, serverSelectionTimeoutMS=2000
    )
    try:
        collection = client[settings.mongo_db][name]
        held = {"parked_count": {"$gt": 0}}
        count = await collection.count_documents(held)
        some = [d["_id"] async for d in collection.find(held, {"_id": 1}).limit(limit)]
        return count, some
    except PyMongoError:
        return None
    finally:
        await client.close()


def _service_app(group: str) -> tuple[web.Application, InfraSettings]:
    """The service app (not started) whose consumer group is `group`, with its settings."""
    if group in (ROUTING_GROUP, ROUTING_DUES_GROUP, ROUTING_TRANSFERS_GROUP, ROUTING_STAFF_MAIL_GROUP):
        from services.routing.bootstrap import create_app as routing_app
        from services.routing.settings import RoutingSettings

        routing = RoutingSettings()
        return routing_app(routing), routing
    if group == INTAKE_GROUP:
        from services.intake.bootstrap import create_app as intake_app
        from services.intake.settings import IntakeSettings

        intake = IntakeSettings()
        return intake_app(intake), intake
    from services.sla.bootstrap import create_app as sla_app
    from services.sla.settings import SlaSettings

    sla = SlaSettings()
    return sla_app(sla), sla


def _bootstrap() -> str:
    from shared.settings import DEFAULT_KAFKA

    return os.environ.get("KAFKA_BOOTSTRAP", DEFAULT_KAFKA)


def _one_line(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


async def dlq_list(groups: list[str]) -> int:
    total = 0
    for group in groups:
        letters = await read_letters(_bootstrap(), group)
        total += len(letters)
        print(f"{dlq(group)}: {len(letters)} dead letter(s)")
        for letter in letters:
            envelope = letter.envelope()
            what = f"{envelope.type} {envelope.complaint_id or '-'}" if envelope else "(not an envelope)"
            print(
                f"  {letter.offset:>6}  {letter.at:%Y-%m-%d %H:%M:%S}Z  {letter.origin:<28} "
                f"x{letter.headers.get('dlq.attempts', '?'):<2} {what}: {_one_line(letter.reason)}"
            )
    return 0 if total == 0 else 1


async def dlq_show(group: str, offset: int) -> int:
    letters = await read_letters(_bootstrap(), group, [offset])
    if not letters:
        print(f"no dead letter at offset {offset} of {dlq(group)}")
        return 3
    [letter] = letters
    for name, value in sorted(letter.headers.items()):
        print(f"{name}: {value}")
    envelope = letter.envelope()
    body = envelope.model_dump_json(indent=1) if envelope else letter.value[:2000].decode(errors="replace")
    print(body)
    return 0


async def dlq_replay(group: str, offsets: list[int] | None) -> int:
    app, settings = _service_app(group)
    result = await replay_group(app, settings, group, offsets)
    print(
        f"{dlq(group)}: replayed {len(result.replayed)}, already replayed {len(result.skipped)}, "
        f"still refused {len(result.refused)}, not an event {len(result.unreadable)}"
    )
    for key, reason in result.refused:
        print(f"  still refused {key}: {_one_line(reason)}")
    return 1 if result.refused else 0


async def rebuild_read_model(group: str) -> int:
    from devtools.replay import ReplayError, replay

    try:
        done = await replay(group, _bootstrap())
    except (ReplayError, KafkaError, PyMongoError) as exc:
        print(f"replay {group} failed: {exc}", file=sys.stderr)
        return 1
    dropped = f"; dropped {', '.join(done['dropped'])} in {done['database']}" if done["dropped"] else ""
    print(
        f"replay {group}: positions back to the beginning of {done['partitions']} partition(s){dropped}; "
        "start the service: it rebuilds while it catches up (pengaduan status shows the lag)"
    )
    return 0


async def catalog_import(file: Path, *, dry_run: bool, by: str) -> int:
    from services.routing import handlers
    from services.routing.adapters.catalog import MongoCatalog
    from services.routing.domain.catalog_import import MAX_BYTES, CatalogFileError, parse_catalog
    from services.routing.settings import RoutingSettings
    from shared.mongo import mongo_client
    from shared.regions import lookup

    def is_pemda(code: str) -> bool:
        region = lookup(code)
        return region is not None and region.level <= 2

    try:
        with file.open("rb") as raw:
            plan = parse_catalog(raw.read(MAX_BYTES + 1), is_pemda)
    except OSError as exc:
        print(f"catalog import: cannot read {file}: {exc.strerror}", file=sys.stderr)
        return 1
    except CatalogFileError as exc:
        print(f"catalog import: {file} not imported, nothing changed:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    summary = f"{len(plan.opds)} OPD(s) and {len(plan.rules)} rule(s) of {len(plan.pemdas)} pemda"
    if dry_run:
        print(f"catalog import: {file} is valid: {summary} (dry run, nothing written)")
        return 0
    settings = RoutingSettings()
    client = mongo_client(settings.mongo_uri)
    try:
        await handlers.import_catalog(plan, MongoCatalog(client[settings.mongo_db]), by)
    except PyMongoError as exc:
        print(f"catalog import failed: the database does not answer ({exc})", file=sys.stderr)
        return 1
    finally:
        await client.close()
    print(f"catalog import: {summary} written (routing reads the rules within a second)")
    return 0


async def staff_create_admin(username: str, name: str, email: str | None, password_stdin: bool) -> int:
    """The first admin (issue 21): an account, and a one-time link to set its password (or the
    password read from standard input, for scripts)."""
    from datetime import timedelta

    from services.routing.adapters.accounts import MongoStaffDirectory, ensure_indexes
    from services.routing.domain.staff import Account, AccountError, check_password, check_username
    from services.routing.settings import RoutingSettings
    from shared.mongo import mongo_client

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        username = check_username(username)
        if password is not None:
            check_password(password, username)
    except AccountError as exc:
        print(f"staff create-admin: {exc}", file=sys.stderr)
        return 1
    settings = RoutingSettings()
    client = mongo_client(settings.mongo_uri)
    try:
        db = client[settings.mongo_db]
        await ensure_indexes(db)
        directory = MongoStaffDirectory(db)
        account = Account(
            id=username, name=" ".join(name.split()), role="admin", pemda=None, opd=None, email=email
        )
        await directory.create(account, password, "pengaduan staff create-admin")
        if password is None:
            token = await directory.new_reset(username, timedelta(hours=settings.staff_reset_hours), "cli")
    except AccountError as exc:
        print(f"staff create-admin: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"staff create-admin failed: the database does not answer ({exc})", file=sys.stderr)
        return 1
    finally:
        await client.close()
    if password is None:
        base = settings.staff_public_url.rstrip("/") or f"http://{settings.http_host}:{settings.http_port}"
        print(f"admin {username} created; set the password within {settings.staff_reset_hours:g} h, once:")
        print(f"{base}/staff/atur-sandi/{token}")
    else:
        print(f"admin {username} created; sign in at /staff/masuk")
    return 0


async def staff_mail_digest(username: str, digest: bool) -> int:
    """A person's staff e-mails one by one or as one digest a day (issue 21 item 4)."""
    from services.routing.adapters.accounts import MongoStaffDirectory
    from services.routing.settings import RoutingSettings
    from shared.mongo import mongo_client

    settings = RoutingSettings()
    client = mongo_client(settings.mongo_uri)
    try:
        found = await MongoStaffDirectory(client[settings.mongo_db]).set_mail_digest(
            username.strip().lower(), digest
        )
    except PyMongoError as exc:
        print(f"staff mail-digest failed: the database does not answer ({exc})", file=sys.stderr)
        return 1
    finally:
        await client.close()
    if not found:
        print(f"staff mail-digest: no account {username}", file=sys.stderr)
        return 1
    print(f"{username}: staff e-mails {'as one digest a day' if digest else 'one by one'}")
    return 0


async def identity_erasure(args: argparse.Namespace) -> int:
    """`erase-reporter` and `retention`, through intake's own use cases on its database."""
    from pydantic import ValidationError

    from services.intake import handlers
    from services.intake.adapters.store import MongoComplaintStore
    from services.intake.models import Reporter
    from services.intake.settings import IntakeSettings
    from shared.mongo import mongo_client

    settings = IntakeSettings()
    client = mongo_client(settings.mongo_uri)
    store = MongoComplaintStore(client[settings.mongo_db])
    try:
        if args.command == "retention":
            years = settings.retention_years if args.years is None else args.years
            if years <= 0:
                print("retention: give --years N (or set INTAKE_RETENTION_YEARS)", file=sys.stderr)
                return 2
            count = await handlers.erase_expired(years, store=store)
            print(f"reporter identity erased from {count} complaint(s) closed over {years} year(s) ago")
            return 0
        try:
            contact = Reporter(email=args.email, phone=args.phone)
        except ValidationError as exc:
            print(f"erase-reporter: {exc.errors()[0]['msg']}", file=sys.stderr)
            return 2
        ids = args.complaint or await store.reported_by(email=contact.email, phone=contact.phone)
        erased = [
            complaint_id
            for complaint_id in ids
            if await handlers.erase_reporter(complaint_id, by=args.by, reason=args.reason, store=store)
        ]
        listed = ", ".join(erased) or "-"
        print(f"reporter identity erased from {len(erased)} of {len(ids)} complaint(s): {listed}")
        return 0 if ids else 1
    except PyMongoError as exc:
        print(f"{args.command} failed: the database does not answer ({exc})", file=sys.stderr)
        return 1
    finally:
        await client.close()


def save_or_load(args: argparse.Namespace) -> int:
    from devtools import backup

    databases = backup.service_databases()
    try:
        if args.command == "backup":
            manifest = asyncio.run(
                backup.backup(
                    args.directory,
                    databases,
                    _bootstrap(),
                    topics=None if args.skip_topics else backup.PROJECT_TOPICS,
                )
            )
        else:
            manifest = asyncio.run(
                backup.restore(
                    args.directory, databases, _bootstrap(), replace=args.replace, topics=not args.skip_topics
                )
            )
    except (backup.BackupError, PyMongoError, KafkaError, OSError) as exc:
        print(f"{args.command} failed: {exc}", file=sys.stderr)
        return 1
    documents = sum(n for counts in manifest["databases"].values() for n in counts.values())
    messages = sum(topic["messages"] for topic in manifest["topics"].values())
    done = "backed up into" if args.command == "backup" else "restored from"
    print(
        f"{done} {args.directory}: {documents} documents of {len(manifest['databases'])} databases, "
        f"{messages} messages of {len(manifest['topics'])} topics, {len(manifest['groups'])} group positions"
        + (" (topics skipped)" if args.skip_topics else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pengaduan", description="Operate a pengaduan stack.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("status", help="the local stack's processes: state, pid, uptime, restarts")
    show.add_argument("--profile", default="run", help=argparse.SUPPRESS)
    letters = sub.add_parser("dlq", help="dead letters: list, show, replay").add_subparsers(
        dest="action", required=True
    )
    listing = letters.add_parser("list", help="dead letters of every group, or of one")
    listing.add_argument("group", nargs="?", choices=GROUPS)
    one = letters.add_parser("show", help="one dead letter")
    one.add_argument("group", choices=GROUPS)
    one.add_argument("offset", type=int)
    again = letters.add_parser("replay", help="into that group's handler, each at most once")
    again.add_argument("group", choices=GROUPS)
    chosen = again.add_mutually_exclusive_group(required=True)
    chosen.add_argument("offsets", nargs="*", type=int, default=[])
    chosen.add_argument("--all", action="store_true")
    saving = sub.add_parser("backup", help="databases, topics and group positions into a new directory")
    saving.add_argument("directory", type=Path)
    saving.add_argument("--skip-topics", action="store_true", help="the databases only")
    loading = sub.add_parser(
        "restore", help="a backup into empty databases and an empty Kafka (services stopped)"
    )
    loading.add_argument("directory", type=Path)
    loading.add_argument("--replace", action="store_true", help="drop the collections the backup has first")
    loading.add_argument("--skip-topics", action="store_true", help="the databases only")
    erase = sub.add_parser("erase-reporter", help="erase a reporter's identity on request (audited)")
    whose = erase.add_mutually_exclusive_group(required=True)
    whose.add_argument("--complaint", nargs="+", metavar="ID", help="these complaints")
    whose.add_argument("--email", help="every complaint whose reporter gave this e-mail")
    whose.add_argument("--phone", help="every complaint whose reporter gave this phone number")
    erase.add_argument("--reason", required=True, help="why, for the audit (e.g. the request's reference)")
    erase.add_argument("--by", default=os.environ.get("USER") or "operator", help="who erases, for the audit")
    keep = sub.add_parser("retention", help="erase reporter identity of complaints closed over N years ago")
    keep.add_argument("--years", type=int, help="default: INTAKE_RETENTION_YEARS")
    catalog = sub.add_parser("catalog", help="the OPD catalog").add_subparsers(dest="action", required=True)
    importing = catalog.add_parser("import", help="a pemda's OPDs and category rules from CSV")
    importing.add_argument("file", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    importing.add_argument("--by", default=os.environ.get("USER") or "operator", help="who, for the audit")
    people = sub.add_parser("staff", help="people's staff accounts").add_subparsers(
        dest="action", required=True
    )
    first = people.add_parser("create-admin", help="an admin account and a one-time link to set its password")
    first.add_argument("--username", required=True)
    first.add_argument("--name", required=True, help="the person's name, shown on pages and in audits")
    first.add_argument("--email")
    first.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    digest = people.add_parser(
        "mail-digest", help="a person's staff e-mails as one digest a day, or one by one"
    )
    digest.add_argument("--username", required=True)
    choice = digest.add_mutually_exclusive_group(required=True)
    choice.add_argument("--on", dest="digest", action="store_true", help="one digest a day")
    choice.add_argument("--off", dest="digest", action="store_false", help="one mail per event")
    sub.add_parser("apikeys", help="Open311 API keys: issue, revoke, list", add_help=False)
    sub.add_parser(
        "recompute", help="sla's clocks after a calendar change: holidays | pemda CODE", add_help=False
    )
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["apikeys"]:  # its own command line (services/intake/apikeys.py)
        from services.intake import apikeys

        return asyncio.run(apikeys.main(argv[1:], prog="pengaduan apikeys"))
    if argv[:1] == ["recompute"]:  # its own command line (services/sla/entrypoints/cli.py)
        from services.sla.entrypoints import cli

        cli.main(argv[1:], prog="pengaduan recompute")
        return 0
    rebuild = sub.add_parser("replay", help="rebuild a read model from its topics (service stopped)")
    rebuild.add_argument("group", choices=("sla-reports", "routing-dues"))
    args = parser.parse_args(argv)
    if args.command == "status":
        return status(args.profile)
    if args.command == "replay":
        return asyncio.run(rebuild_read_model(args.group))
    if args.command == "staff" and args.action == "mail-digest":
        return asyncio.run(staff_mail_digest(args.username, args.digest))
    if args.command == "staff":
        return asyncio.run(staff_create_admin(args.username, args.name, args.email, args.password_stdin))
    if args.command == "catalog":
        return asyncio.run(catalog_import(args.file, dry_run=args.dry_run, by=args.by))
    if args.command in ("erase-reporter", "retention"):
        return asyncio.run(identity_erasure(args))
    if args.command in ("backup", "restore"):
        return save_or_load(args)
    if args.action == "list":
        return asyncio.run(dlq_list([args.group] if args.group else list(GROUPS)))
    if args.action == "show":
        return asyncio.run(dlq_show(args.group, args.offset))
    if not args.all and not args.offsets:
        parser.error("dlq replay: name the offsets, or --all")
    return asyncio.run(dlq_replay(args.group, None if args.all else args.offsets))


if __name__ == "__main__":
    sys.exit(main())
