"""docker-compose.yml runs the same topology as the local scripts: same services, ports and
settings (it cannot run here, so it is checked by reading it)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from devstack import CONSOLE, SERVICES, console_env

from ilrflow.platform.settings import CONSOLE_PORT, SERVICE_PORTS, Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_every_service_is_built_from_the_one_dockerfile_on_its_port() -> None:
    services = compose()["services"]
    assert set(SERVICES) | {CONSOLE, "kafka", "mongo"} == set(services)
    for name in SERVICES:
        service = services[name]
        port = SERVICE_PORTS[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["build"]["args"] == {"SERVICE": name, "PORT": str(port)}
        assert service["ports"] == [f"{port}:{port}"]
        assert service["environment"]["ILRFLOW_HTTP_PORT"] == str(port)


def test_the_dockerfile_starts_the_named_service_on_its_port() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    assert "ARG PORT" in dockerfile
    assert 'uv sync --locked --no-dev --package "ilrflow-${SERVICE}"' in dockerfile
    assert "EXPOSE ${PORT}" in dockerfile
    assert "ILRFLOW_HTTP_PORT=${PORT}" in dockerfile
    assert "exec ilrflow-${SERVICE}" in dockerfile
    for name in SERVICES:  # the console script the image runs exists in the service's package
        project = (ROOT / f"services/{name}/pyproject.toml").read_text()
        assert f'ilrflow-{name} = "ilrflow.{name}.main:main"' in project


def test_the_environment_names_real_settings() -> None:
    known = {f"ILRFLOW_{field.upper()}" for field in Settings.model_fields}
    for name in SERVICES:
        environment = compose()["services"][name]["environment"]
        assert set(environment) <= known, set(environment) - known
        assert environment["ILRFLOW_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert environment["ILRFLOW_MONGO_URL"].startswith("mongodb://mongo:27017")


def test_the_console_is_built_like_a_service_and_calls_the_five_by_name() -> None:
    console = compose()["services"][CONSOLE]
    assert console["build"]["args"] == {"SERVICE": CONSOLE, "PORT": str(CONSOLE_PORT)}
    assert console["ports"] == [f"{CONSOLE_PORT}:{CONSOLE_PORT}"]
    environment = console["environment"]
    known = {f"ILRFLOW_{field.upper()}" for field in Settings.model_fields}
    assert set(environment) <= known, set(environment) - known
    assert set(console_env({n: "" for n in SERVICES})) <= set(environment)
    assert "ILRFLOW_MONGO_URL" not in environment  # it has no database
    urls = json.loads(environment["ILRFLOW_WEB_SERVICE_URLS"])
    assert urls == {n: f"http://{n}:{p}" for n, p in SERVICE_PORTS.items()}
    assert set(console["depends_on"]) == set(SERVICES)
    project = (ROOT / f"services/{CONSOLE}/pyproject.toml").read_text()
    assert f'ilrflow-{CONSOLE} = "ilrflow.{CONSOLE}.main:main"' in project


def test_kafka_matches_the_local_broker_settings() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
    local = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy/local/kafka/server.properties.in").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert kafka["KAFKA_PROCESS_ROLES"] == local["process.roles"]
    assert str(kafka["KAFKA_NUM_PARTITIONS"]) == local["num.partitions"]
    assert str(kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == local["auto.create.topics.enable"]
    assert (
        str(kafka["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"])
        == local["group.initial.rebalance.delay.ms"]
    )
    assert kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == local["listener.security.protocol.map"]
    assert compose()["services"]["kafka"]["image"].endswith(
        (ROOT / "deploy/local/kafka/pom.xml").read_text().split("<kafka.version>")[1].split("<")[0]
    )
