"""docker-compose.yml stays in step with the settings (no Docker engine needed to check)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.settings import ENV, Settings

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SERVICES = ("worker", "collector", "live")
# `${NAME:-default}` / `${NAME:?message}` as compose interpolates them.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def test_every_service_exists_with_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"kafka", "redis", *PYTHON_SERVICES}
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert test[0] in ("CMD", "CMD-SHELL"), name


def test_images_match_the_broker_version_of_the_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{Settings().kafka_version}"
    assert services["redis"]["image"].startswith("redis:7")
    for name in PYTHON_SERVICES:
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
        assert (ROOT / services[name]["build"]["context"] / "docker" / "Dockerfile").is_file()


def test_python_services_run_the_cli_and_wait_for_healthy_infra(compose: dict[str, Any]) -> None:
    for name in PYTHON_SERVICES:
        service = compose["services"][name]
        assert service["command"] == [name]
        depends = service["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_every_dojo_variable_is_a_known_setting(compose: dict[str, Any]) -> None:
    known = set(ENV.values())
    used: set[str] = set()
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / "docker/Dockerfile").read_text()
    used.update(re.findall(r"\bDOJO_[A-Z0-9_]+", text))
    assert used, "no DOJO_ variables found"
    assert used <= known, f"unknown variables: {sorted(used - known)}"


def test_environments_parse_into_settings(compose: dict[str, Any]) -> None:
    for name in PYTHON_SERVICES:
        env = _env(compose["services"][name])
        token = env.pop("DOJO_ADMIN_TOKEN")
        # The token must come from the operator; compose refuses to start without it.
        assert INTERPOLATION.fullmatch(token) is not None
        assert token.startswith("${DOJO_ADMIN_TOKEN:?"), token
        resolved = {key: INTERPOLATION.sub(lambda m: m.group(2) or "", v) for key, v in env.items()}
        settings = Settings.from_env({**resolved, "DOJO_ADMIN_TOKEN": "x" * 32})
        assert settings.kafka == "kafka:9092"
        assert settings.redis_url == "redis://redis:6379/0"


def test_published_ports_match_the_settings_defaults(compose: dict[str, Any]) -> None:
    defaults = Settings()
    services = compose["services"]
    expected = {"collector": defaults.collector_port, "live": defaults.live_port}
    for name, port in expected.items():
        assert f"{port}:{port}" in services[name]["ports"], name
        env = _env(services[name])
        prefix = "DOJO_COLLECTOR" if name == "collector" else "DOJO_LIVE"
        assert env[f"{prefix}_PORT"] == str(port)
        # Inside a container the app must listen beyond loopback to be reachable at all.
        assert env[f"{prefix}_HOST"] == "0.0.0.0"
        assert str(port) in " ".join(services[name]["healthcheck"]["test"])


def test_the_broker_listens_where_the_services_look(compose: dict[str, Any]) -> None:
    kafka = _env(compose["services"]["kafka"])
    defaults = Settings()
    assert f"PLAINTEXT://kafka:{defaults.kafka_port}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert f"CONTROLLER://:{defaults.kafka_controller_port}" in kafka["KAFKA_LISTENERS"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["CLUSTER_ID"])
