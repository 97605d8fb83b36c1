"""The deployment files are valid as written: docker-compose.yml passes `docker-compose config -q`
(Debian's docker-compose, no Docker engine needed) with the secrets given, and is refused with
the name of the missing secret without them; and it is safe as shipped: MongoDB with
authentication, neither it nor Kafka published on the host, the local broker's Kafka release.
The image itself is not built here (no engine)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from devtools import infra
from devtools.infra import REPO_ROOT
from shared import metrics

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


MONITORING = REPO_ROOT / "deploy" / "monitoring"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = infra.ensure_promtool()
    return subprocess.run([str(promtool), *args], cwd=MONITORING, capture_output=True, text=True, timeout=120)


def test_prometheus_configuration_and_alert_rules_pass_promtool() -> None:
    done = _promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 rules found" in done.stdout + done.stderr


def test_each_alert_fires_on_its_cases_and_not_on_the_others() -> None:
    done = _promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (MONITORING / "alerts.test.yml").read_text()))
    defined = set(re.findall(r"- alert: (\w+)", (MONITORING / "alerts.yml").read_text()))
    assert defined - {"OutboxRefused", "DatabaseSlow"} <= tested, defined - tested


def _known_samples() -> set[str]:
    """Every sample name the services' metrics expose (counters' _total, histograms' _bucket…)."""
    names: set[str] = set()
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            for family in metric.describe():
                names |= {family.name, f"{family.name}_total", f"{family.name}_bucket"}
                names |= {f"{family.name}_count", f"{family.name}_sum"}
    return names


def test_alerts_and_the_dashboard_use_only_metrics_the_services_expose() -> None:
    known = _known_samples()
    dashboard = json.loads((MONITORING / "grafana" / "pengaduan.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    alerts = (MONITORING / "alerts.yml").read_text()
    used = set(re.findall(r"\bpengaduan_\w+", alerts + "\n".join(exprs)))
    assert used and used <= known, used - known


def test_monitoring_is_optional_and_on_loopback_only() -> None:
    services = _resolved()
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        ports = services[name]["ports"]  # docker-compose 1.29 prints "host_ip:host:container"
        assert ports and all(str(p).startswith("127.0.0.1:") for p in ports), ports
