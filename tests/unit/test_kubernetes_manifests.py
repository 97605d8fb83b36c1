"""deploy/kubernetes/ is valid for the Kubernetes versions a pemda's cluster is likely to run,
checked offline against the schemas kubernetes-validate ships (strict: an unknown field is an
error), and holds what running the services beyond one machine needs: every file in the
kustomization, two processes of each service with probes, resources and a disruption budget,
secrets from files only, and the configuration names the settings classes know."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devtools.infra import REPO_ROOT
from devtools.settings_table import settings_classes
from shared.settings import env_names

HERE = REPO_ROOT / "deploy" / "kubernetes"
# The oldest release still maintained upstream when this was written, and the newest the package knows.
VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
SERVICES = {"intake": 8081, "routing": 8082, "sla": 8083}


def _kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((HERE / "kustomization.yaml").read_text())
    return loaded


def _resources() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for name in _kustomization()["resources"]:
        path = HERE / name
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _of(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for _, d in _resources() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(_kustomization()["resources"])
    on_disk = {p.name for p in HERE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_is_valid_for_the_cluster_version(version: str) -> None:
    resources = _resources()
    assert len(resources) >= 11
    for _, doc in resources:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_misspelt_field() -> None:
    """The check above can fail: the same deployment with one field misspelt is refused."""
    broken = copy.deepcopy(_of("Deployment", "intake"))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_twice_with_probes_limits_and_a_disruption_budget(service: str) -> None:
    deployment = _of("Deployment", service)
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["ports"][0]["containerPort"] == SERVICES[service]
    port_env = {e["name"]: e["value"] for e in container.get("env", [])}
    assert port_env[f"{service.upper()}_HTTP_PORT"] == str(SERVICES[service])
    budget = _of("PodDisruptionBudget", service)
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert _of("Service", service)["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_secrets_come_from_files_of_the_mounted_secret_only() -> None:
    config = _of("ConfigMap", "pengaduan-config")["data"]
    secret_names = {"STAFF_JWT_SECRET", "MONGO_URI", "OPEN311_API_KEY", "INTAKE_IDEMPOTENCY_SECRET"}
    assert not secret_names & set(config), "a secret in the ConfigMap"
    for _, doc in _resources():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container.get("env", [])} | config
        mounted = {item["key"] for v in pod["volumes"] if "secret" in v for item in v["secret"]["items"]}
        for name, value in env.items():
            if name.endswith("_FILE"):
                assert value == f"/run/secrets/pengaduan/{name.removesuffix('_FILE')}"
                assert name.removesuffix("_FILE") in mounted, (doc["metadata"]["name"], name)
        assert not secret_names & {e["name"] for e in container.get("env", [])}


def test_the_configuration_names_settings_the_services_read() -> None:
    """A misspelt variable would be ignored in silence: each name is one the settings classes
    (the README's table) or the secret-file mechanism know."""
    known = {
        env
        for _, cls in settings_classes()
        for name, field in cls.model_fields.items()
        for env, _ in env_names(cls, name, field)
    }
    for name in _of("ConfigMap", "pengaduan-config")["data"]:
        assert name.removesuffix("_FILE") in known, name
