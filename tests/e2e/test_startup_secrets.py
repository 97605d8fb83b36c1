"""A service started as a process on 0.0.0.0 with a development secret exits at once, naming the
variable, before it opens anything (no Kafka or database needed, nothing listens)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.infra import Endpoints
from devtools.services import service_env
from services.intake.settings import DEV_API_KEY
from shared.auth import DEV_SECRET

pytestmark = pytest.mark.e2e

STRONG = "k" * 48
UNREACHABLE = Endpoints(
    kafka_bootstrap="127.0.0.1:9", mongo_uri="mongodb://127.0.0.1:9/?directConnection=true"
)


def start(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = service_env(name, UNREACHABLE, port=0, db_prefix="startup-")
    for var in (
        "STAFF_JWT_SECRET", "STAFF_JWKS_URL", "OPEN311_API_KEY", "INTAKE_OPEN311_API_KEY",
        "INTAKE_IDEMPOTENCY_SECRET",
    ):  # fmt: skip
        environment.pop(var, None)
    environment.update({f"{name.upper()}_HTTP_HOST": "0.0.0.0", **env})
    return subprocess.run(
        [sys.executable, "-m", f"services.{name}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,  # it exits during start-up; a hang fails the test
        stdin=subprocess.DEVNULL,
        cwd=os.getcwd(),
    )


@pytest.mark.parametrize("name", ["intake", "routing", "sla"])
def test_a_service_on_every_interface_with_the_development_jwt_secret_refuses_to_start(name: str) -> None:
    done = start(name, STAFF_JWT_SECRET=DEV_SECRET)
    assert done.returncode == 2, done.stderr
    assert "STAFF_JWT_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_intake_with_the_seeded_development_open311_key_refuses_to_start() -> None:
    done = start("intake", STAFF_JWT_SECRET=STRONG, OPEN311_API_KEY=DEV_API_KEY)
    assert done.returncode == 2, done.stderr
    assert "OPEN311_API_KEY" in done.stderr and "STAFF_JWT_SECRET" not in done.stderr
    assert "INTAKE_IDEMPOTENCY_SECRET: masih nilai bawaan" in done.stderr


def test_intake_with_its_own_secrets_passes_the_check() -> None:
    done = start(
        "intake",
        STAFF_JWT_SECRET=STRONG,
        OPEN311_API_KEY=STRONG + "-open311",
        INTAKE_IDEMPOTENCY_SECRET=STRONG,
    )
    assert done.returncode != 2 and "menolak berjalan" not in done.stderr  # it then fails to reach Kafka


def test_a_short_secret_is_refused_too() -> None:
    done = start("routing", STAFF_JWT_SECRET="rahasia-pendek")
    assert done.returncode == 2
    assert "STAFF_JWT_SECRET: terlalu pendek" in done.stderr


def test_intake_with_its_secrets_in_files_passes_the_check(tmp_path: Path) -> None:
    """As Docker/Kubernetes mount them: `<NAME>_FILE`, the file's trailing newline stripped."""
    files = {}
    secrets = {
        "STAFF_JWT_SECRET": STRONG,
        "OPEN311_API_KEY": f"{STRONG}-open311",
        "INTAKE_IDEMPOTENCY_SECRET": STRONG,
    }
    for name, value in secrets.items():
        (tmp_path / name).write_text(value + "\n")
        files[f"{name}_FILE"] = str(tmp_path / name)
    done = start("intake", **files)
    assert done.returncode != 2 and "menolak berjalan" not in done.stderr  # it then fails to reach Kafka


@pytest.mark.parametrize("name", ["routing", "sla"])
def test_a_secret_file_that_is_not_there_is_named_with_its_path(name: str, tmp_path: Path) -> None:
    done = start(name, STAFF_JWT_SECRET_FILE=str(tmp_path / "absent"))
    assert done.returncode == 2, done.stderr
    assert f"STAFF_JWT_SECRET_FILE: cannot read {tmp_path / 'absent'}" in done.stderr
    assert "Traceback" not in done.stderr
