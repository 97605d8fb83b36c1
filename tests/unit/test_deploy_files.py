"""The deployment files are valid as written: docker-compose.yml passes `docker-compose config -q`
(Debian's docker-compose, no Docker engine needed) with the secrets given, and is refused with
the name of the missing secret without them; and it is safe as shipped: MongoDB with
authentication, neither it nor Kafka published on the host, the local broker's Kafka release.
The image itself is not built here (no engine)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import yaml

from devtools import infra
from devtools.infra import REPO_ROOT

SECRETS = ("STAFF_JWT_SECRET", "OPEN311_API_KEY", "INTAKE_IDEMPOTENCY_SECRET", "MONGO_ROOT_PASSWORD")
SERVICES = ("init", "intake", "routing", "sla")


def _config(env: dict[str, str], *, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    compose = infra.ensure_docker_compose()
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and k != "MONGO_ROOT_USERNAME"}
    file = REPO_ROOT / "docker-compose.yml"
    # A project directory without an .env file: only the environment given here counts.
    argv = [str(compose), "-f", str(file), "--project-directory", str(REPO_ROOT / "tests"), "config"]
    argv += ["-q"] if quiet else []
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


def _resolved() -> dict[str, Any]:
    done = _config({name: f"{name.lower()}-{'s' * 40}" for name in SECRETS}, quiet=False)
    assert done.returncode == 0, done.stderr
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    return services


def test_the_database_and_the_broker_are_not_published_on_the_host() -> None:
    services = _resolved()
    for name in ("kafka", "mongo"):
        assert not services[name].get("ports"), (name, services[name].get("ports"))


def test_the_database_requires_authentication_and_the_services_carry_its_credentials() -> None:
    services = _resolved()
    password = f"mongo_root_password-{'s' * 40}"
    mongo = services["mongo"]
    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"] == "root"
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == password
    assert "--keyFile" in " ".join(mongo["entrypoint"])  # authentication on, for the replica set
    assert "MONGO_INITDB_ROOT_PASSWORD" in " ".join(mongo["healthcheck"]["test"])
    for name in SERVICES:
        uri = services[name]["environment"]["MONGO_URI"]
        assert uri.startswith(f"mongodb://root:{password}@mongo:27017/") and "authSource=admin" in uri, name


def test_compose_runs_the_local_brokers_kafka_release_replicated_as_configured() -> None:
    services = _resolved()
    assert services["kafka"]["image"] == f"apache/kafka:{infra.KAFKA_VERSION}"
    for name in SERVICES:
        env = services[name]["environment"]
        assert (env["KAFKA_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("1", "1"), name
