"""The deployment files are valid as written: docker-compose.yml passes `docker-compose config -q`
(Debian's docker-compose, no Docker engine needed) with the secrets given, and is refused with
the name of the missing secret without them. The image itself is not built here (no engine)."""

from __future__ import annotations

import os
import subprocess

from devtools import infra
from devtools.infra import REPO_ROOT

SECRETS = ("STAFF_JWT_SECRET", "OPEN311_API_KEY", "INTAKE_IDEMPOTENCY_SECRET")


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    compose = infra.ensure_docker_compose()
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    file = REPO_ROOT / "docker-compose.yml"
    # A project directory without an .env file: only the environment given here counts.
    argv = [str(compose), "-f", str(file), "--project-directory", str(REPO_ROOT / "tests"), "config", "-q"]
    return subprocess.run(argv, env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_the_compose_file_is_valid_with_its_secrets() -> None:
    done = _config({name: "s" * 40 for name in SECRETS})
    assert done.returncode == 0, done.stderr


def test_the_compose_file_names_a_missing_secret() -> None:
    for missing in SECRETS:
        done = _config({name: "s" * 40 for name in SECRETS if name != missing})
        assert done.returncode != 0 and missing in done.stderr, (missing, done.stderr)


def test_the_example_environment_names_every_secret() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    assert all(f"\n{name}=" in example for name in SECRETS)
