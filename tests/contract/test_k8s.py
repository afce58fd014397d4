"""The deploy artefacts cannot drift from the code: every Kubernetes manifest parses and names
real settings, ports, commands and probes; the Grafana dashboard queries only metrics the code
defines."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from ilrflow.shared import metrics
from ilrflow.shared.devstack import SERVICES
from ilrflow.shared.settings import SERVICE_PORTS, Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
DASHBOARD = REPO / "deploy" / "grafana" / "ilrflow.json"
SETTING_VARIABLES = {f"ILRFLOW_{name.upper()}" for name in Settings.model_fields}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [d for name in kustomization["resources"] for d in documents(K8S / name)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in all_documents() if d["kind"] == kind}


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_deployment_service_hpa_and_pdb(service: str) -> None:
    name = f"ilrflow-{service}"
    port = SERVICE_PORTS[service]
    deployment = of_kind("Deployment")[name]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    scripts = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
    assert container["command"] == [f"ilrflow-{service}"]
    assert container["command"][0] in scripts["project"]["scripts"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["ILRFLOW_HTTP_PORT"] == str(port)
    assert {"ILRFLOW_RUN_CONSUMERS", "ILRFLOW_RUN_RELAY"} <= set(env)
    assert set(env) <= SETTING_VARIABLES
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {"ilrflow-settings", "ilrflow-secrets"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    svc = of_kind("Service")[name]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["port"] == port

    hpa = of_kind("HorizontalPodAutoscaler")[name]
    assert hpa["spec"]["scaleTargetRef"]["name"] == name
    kinds = {m["type"] for m in hpa["spec"]["metrics"]}
    assert kinds == {"Resource", "External"}
    external = next(m for m in hpa["spec"]["metrics"] if m["type"] == "External")
    assert external["external"]["metric"]["name"] == metrics.CONSUMER_LAG._name
    assert hpa["spec"]["maxReplicas"] <= Settings().topic_partitions

    pdb = of_kind("PodDisruptionBudget")[name]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_config_map_and_secret_hold_only_real_settings() -> None:
    config = of_kind("ConfigMap")["ilrflow-settings"]["data"]
    secret = of_kind("Secret")["ilrflow-secrets"]["stringData"]
    assert set(config) <= SETTING_VARIABLES, set(config) - SETTING_VARIABLES
    assert set(secret) <= SETTING_VARIABLES, set(secret) - SETTING_VARIABLES
    assert "ILRFLOW_JWT_SECRET" in secret
    assert "ILRFLOW_JWT_SECRET" not in config
    assert config["ILRFLOW_HTTP_HOST"] == "0.0.0.0"  # reachable from the Service
    # Every value parses as the setting's type.
    Settings.model_validate({k.removeprefix("ILRFLOW_").lower(): v for k, v in config.items()})


COLLECTORS = [c for c in vars(metrics).values() if isinstance(c, MetricWrapperBase)]


def metric_names_in_code() -> set[str]:
    """Every sample name the code's metrics expose (``_bucket``, ``_count``, ``_total`` ...)."""
    return {n for c in COLLECTORS for n in REGISTRY._collector_to_names.get(c, [c._name])}


def test_the_dashboard_queries_only_metrics_the_code_defines() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queried = {n for e in exprs for n in re.findall(r"\b(ilrflow_[a-z_]+)\b", e)}
    known = metric_names_in_code()
    assert queried, "the dashboard queries nothing"
    assert queried <= known, queried - known
    # ... and every metric family the code defines has a panel.
    families = {n.removesuffix("_bucket").removesuffix("_count") for n in queried}
    for collector in COLLECTORS:
        name = collector._name
        assert name in families or f"{name}_total" in families, name
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
