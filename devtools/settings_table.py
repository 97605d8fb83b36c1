"""README's table of every setting, generated from the settings classes (issue 18 item 7).

    python -m devtools.settings_table          print the table
    python -m devtools.settings_table --write  rewrite it in README.md, between its markers

Each row: the environment variable(s) a field is read from (a prefixed one wins over the shared
unprefixed one), its default, and what it is for — the comment written above the field in the
settings class (or its description). Secrets show no value: a development default is refused
beyond loopback anyway (shared/startup.py). `tests/unit/test_settings_table.py` fails when the
README's table and the classes differ.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import BaseSettings

from devtools.infra import REPO_ROOT

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
SECRET = re.compile(r"secret|password|api_key|_key$|token")


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    from services.intake.settings import (
        IntakeSettings,
        ListingSettings,
        NotifySettings,
        Open311Settings,
        TrackingSettings,
    )
    from services.intake.settings import RateLimitSettings as IntakeRateSettings
    from services.routing.entrypoints.ratelimit import RoutingRateSettings
    from services.routing.settings import RoutingSettings, StaffMailSettings
    from services.sla.entrypoints.dashboard import DashboardSettings
    from services.sla.entrypoints.ratelimit import SlaRateSettings
    from services.sla.settings import SlaSettings
    from shared.auth import StaffAuthSettings
    from shared.logs import LogSettings
    from shared.metrics import MetricsSettings
    from shared.settings import KafkaLayoutSettings, MongoConcernSettings, ServeSettings

    return [
        ("intake", IntakeSettings),
        ("intake: listing", ListingSettings),
        ("intake: Open311", Open311Settings),
        ("intake: notifications", NotifySettings),
        ("intake: tracking", TrackingSettings),
        ("intake: rate limits", IntakeRateSettings),
        ("routing", RoutingSettings),
        ("routing: rate limits", RoutingRateSettings),
        ("routing: staff e-mail", StaffMailSettings),
        ("sla", SlaSettings),
        ("sla: rate limits", SlaRateSettings),
        ("sla: dashboard", DashboardSettings),
        ("all: staff sign-in", StaffAuthSettings),
        ("all: database", MongoConcernSettings),
        ("all: Kafka topics", KafkaLayoutSettings),
        ("all: HTTP", ServeSettings),
        ("all: logs", LogSettings),
        ("all: metrics", MetricsSettings),
    ]


def _comments(cls: type) -> dict[str, str]:
    """The comment lines written right above each field of `cls` (and of its bases)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if (
            not isinstance(klass, type)
            or not issubclass(klass, BaseModel)
            or klass.__module__.startswith("pydantic")
        ):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#"):
                pending.append(stripped.lstrip("#").strip())
                continue
            field = re.match(r"\s+(\w+)\s*:", line)
            if field and pending:
                found[field.group(1)] = " ".join(pending)
            pending = []
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows() -> list[str]:
    from shared.settings import env_names

    lines = ["| for | variable | default | what it is |", "|---|---|---|---|"]
    for group, cls in settings_classes():
        comments = _comments(cls)
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                continue  # a part with its own table rows
            variables = " or ".join(f"`{env}`" for env, _ in env_names(cls, name, field))
            if field.default_factory is not None:
                default = "(computed)"
            elif field.default in ("", None):
                default = "(none)"
            elif SECRET.search(name):
                default = "(development value; set your own)"
            else:
                default = f"`{field.default!r}`"
            what = field.description or comments.get(name, "")
            lines.append(f"| {group} | {variables} | {_cell(default)} | {_cell(what)} |")
    return lines


def table() -> str:
    return "\n".join(rows()) + "\n"


def readme_block(readme: str) -> str:
    start, end = readme.index(BEGIN) + len(BEGIN) + 1, readme.index(END)
    return readme[start:end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.settings_table", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--write", action="store_true", help="rewrite README.md's table")
    args = parser.parse_args(argv)
    if not args.write:
        sys.stdout.write(table())
        return 0
    path: Path = REPO_ROOT / "README.md"
    readme = path.read_text(encoding="utf-8")
    start, end = readme.index(BEGIN) + len(BEGIN) + 1, readme.index(END)
    path.write_text(readme[:start] + table() + readme[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
