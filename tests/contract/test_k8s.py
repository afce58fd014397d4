"""The deploy artefacts cannot drift from the code: every Kubernetes manifest parses and names
real settings, ports, commands and probes; the lane overlay turns every base Deployment into a
consumers-only copy serving its lane; the Grafana dashboard queries only metrics the code
defines."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from devstack import CONSOLE, SERVICES
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from ilrflow.platform import metrics
from ilrflow.platform.lanes import POOLED, parse_lanes
from ilrflow.platform.settings import CONSOLE_PORT, SERVICE_PORTS, Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s" / "base"
CONSOLE_K8S = REPO / "deploy" / "k8s" / "console"
LANE_OVERLAY = REPO / "deploy" / "k8s" / "overlays" / "lane-acme"
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


def test_the_root_applies_the_base_and_the_base_is_the_pooled_lane() -> None:
    root = yaml.safe_load((K8S.parent / "kustomization.yaml").read_text())
    assert root["resources"] == ["base", "console"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    lane_labels = [
        entry for entry in kustomization["labels"] if "ilrflow.io/lane" in entry["pairs"]
    ]
    assert lane_labels == [{"pairs": {"ilrflow.io/lane": POOLED}, "includeSelectors": True}]


def lane_overlay() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    kustomization = yaml.safe_load((LANE_OVERLAY / "kustomization.yaml").read_text())
    patches = {p["target"]["kind"]: p["path"] for p in kustomization["patches"]}
    operations = yaml.safe_load((LANE_OVERLAY / patches["Deployment"]).read_text())
    dropped = {k: v for k, v in patches.items() if k != "Deployment"}
    return kustomization, operations, dropped


def test_the_lane_overlay_parses_and_each_deployment_serves_only_its_lane() -> None:
    kustomization, operations, dropped = lane_overlay()
    assert kustomization["resources"] == ["../../base"]
    [labels] = kustomization["labels"]
    lane = labels["pairs"]["ilrflow.io/lane"]
    assert labels["includeSelectors"] is True  # its pods are never selected by the base's
    assert kustomization["nameSuffix"] == f"-lane-{lane}"
    assert LANE_OVERLAY.name == f"lane-{lane}"
    # Applied the way kustomize does (these two JSON Patch operations) to every base Deployment.
    for deployment in of_kind("Deployment").values():
        env = list(deployment["spec"]["template"]["spec"]["containers"][0]["env"])
        for operation in operations:
            if operation["path"] == "/spec/template/spec/containers/0/env/-":
                assert operation["op"] == "add"
                env.append(operation["value"])
            else:
                assert operation == {"op": "replace", "path": "/spec/replicas", "value": 1}
        values = {e["name"]: e["value"] for e in env}
        assert set(values) <= SETTING_VARIABLES
        assert parse_lanes(values["ILRFLOW_LANES"]) == (lane,)
        assert values["ILRFLOW_RUN_CONSUMERS"] == values["ILRFLOW_RUN_RELAY"] == "true"
    [pattern] = dropped
    for kind in (
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
    ):
        assert re.fullmatch(pattern, kind), kind
    drop = yaml.safe_load((LANE_OVERLAY / dropped[pattern]).read_text())
    assert drop["$patch"] == "delete"


def test_the_lane_overlay_builds_with_kustomize() -> None:
    # Built by `make install` (deploy/local/stack.sh install_kustomize), so it is always here.
    stack_script = (REPO / "deploy" / "local" / "stack.sh").read_text()
    [version] = re.findall(r"^KUSTOMIZE_VERSION=(\S+)$", stack_script, flags=re.M)
    kustomize = REPO / ".stack" / "cache" / "bin" / f"kustomize-{version}"
    built = subprocess.run(
        [str(kustomize), "build", str(LANE_OVERLAY)], capture_output=True, text=True, check=True
    ).stdout
    rendered = [d for d in yaml.safe_load_all(built) if d]
    assert {d["kind"] for d in rendered} == {"Deployment"}
    assert sorted(d["metadata"]["name"] for d in rendered) == sorted(
        f"ilrflow-{s}-lane-acme" for s in SERVICES
    )
    for deployment in rendered:
        spec = deployment["spec"]
        assert spec["selector"]["matchLabels"]["ilrflow.io/lane"] == "acme"
        [container] = spec["template"]["spec"]["containers"]
        assert {"name": "ILRFLOW_LANES", "value": "acme"} in container["env"]
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"ilrflow-settings", "ilrflow-secrets"}  # the base's, not copies
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in spec["template"]["spec"].get("volumes", [])
        ]
        assert set(claims) <= {"ilrflow-audit-checkpoints"}  # the base's, not a copy


def test_the_console_is_deployed_like_a_service_and_calls_the_five_by_their_services() -> None:
    kustomization = yaml.safe_load((CONSOLE_K8S / "kustomization.yaml").read_text())
    manifests = [d for name in kustomization["resources"] for d in documents(CONSOLE_K8S / name)]
    by_kind = {d["kind"]: d for d in manifests}
    assert set(by_kind) == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    deployment = by_kind["Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [f"ilrflow-{CONSOLE}"]
    assert container["ports"] == [{"name": "http", "containerPort": CONSOLE_PORT}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert set(env) <= SETTING_VARIABLES
    assert env["ILRFLOW_HTTP_PORT"] == str(CONSOLE_PORT)
    assert env["ILRFLOW_WEB_DEV_SIGN_IN"] == "false"  # never development sign-in in a cluster
    services = of_kind("Service")
    for name, url in json.loads(env["ILRFLOW_WEB_SERVICE_URLS"]).items():
        port = services[f"ilrflow-{name}"]["spec"]["ports"][0]["port"]
        assert url == f"http://ilrflow-{name}:{port}"
    assert set(json.loads(env["ILRFLOW_WEB_SERVICE_URLS"])) == set(SERVICES)
    assert "ILRFLOW_WEB_SESSION_SECRET" in of_kind("Secret")["ilrflow-secrets"]["stringData"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert by_kind["Service"]["spec"]["ports"][0]["port"] == CONSOLE_PORT
    assert by_kind["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == "ilrflow-web"


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
