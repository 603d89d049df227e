"""docker-compose.yml keeps Orthanc behind the FHIR server: its REST API and DICOM port would bypass every
authorization of this server, so only the FHIR server may be published to the network, and Orthanc's credentials
have no default. No Docker engine is needed: the file is parsed (PyYAML comes with uvicorn[standard]) and its
variables interpolated as Compose does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from fhir_server.settings import ENV_PREFIX, Settings

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
PUBLIC_SERVICE = "fhir-server"
ALL_INTERFACES = "*"
_REQUIRED = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):\?[^}]*\}")


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def _interpolated(value: str, variables: dict[str, str]) -> str:
    """``value`` with each required variable ``${NAME:?message}`` replaced as Compose does (KeyError when unset)."""
    return _REQUIRED.sub(lambda match: variables[match["name"]], value)


def _host_ip(port: Any) -> str:
    """The host address a `ports:` entry binds: all interfaces unless it names one."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ALL_INTERFACES))
    parts = str(port).split(":")
    return parts[0] if len(parts) == 3 else ALL_INTERFACES


def test_only_the_fhir_server_publishes_a_port_on_all_interfaces() -> None:
    services = _compose()["services"]
    exposed = {
        (name, str(port))
        for name, service in services.items()
        for port in service.get("ports", [])
        if name != PUBLIC_SERVICE and _host_ip(port) not in {"127.0.0.1", "::1"}
    }
    assert exposed == set()
    assert services[PUBLIC_SERVICE]["ports"]  # the one public entry point


def test_orthanc_publishes_no_port_at_all() -> None:
    orthanc = _compose()["services"]["orthanc"]
    assert "ports" not in orthanc
    assert "network_mode" not in orthanc  # host networking would publish every port


def test_orthanc_requires_authentication_with_a_password_that_has_no_default() -> None:
    environment = _compose()["services"]["orthanc"]["environment"]
    assert environment["ORTHANC__AUTHENTICATION_ENABLED"] == "true"
    users_text = environment["ORTHANC__REGISTERED_USERS"]
    with pytest.raises(KeyError):  # Compose refuses to start without the variable
        _interpolated(users_text, {})
    users = json.loads(_interpolated(users_text, {"ORTHANC_PASSWORD": "s3cret-from-the-operator"}))
    assert list(users.values()) == ["s3cret-from-the-operator"]  # no literal password left in the file


def test_the_fhir_server_reaches_orthanc_with_orthancs_only_user() -> None:
    services = _compose()["services"]
    variables = {"ORTHANC_PASSWORD": "s3cret-from-the-operator"}
    users = json.loads(_interpolated(services["orthanc"]["environment"]["ORTHANC__REGISTERED_USERS"], variables))
    server = services[PUBLIC_SERVICE]["environment"]
    username = server["FHIR_SERVER_ORTHANC_USERNAME"]
    assert users == {username: _interpolated(server["FHIR_SERVER_ORTHANC_PASSWORD"], variables)}


def test_no_service_sets_a_default_orthanc_password() -> None:
    text = COMPOSE_FILE.read_text()
    assert '"orthanc": "orthanc"' not in text
    assert re.search(r"ORTHANC_PASSWORD:\s*orthanc\b", text) is None
    assert "${ORTHANC_PASSWORD:-" not in text  # a fallback value would be a default credential


CI_OVERRIDE = COMPOSE_FILE.with_name("docker-compose.ci.yml")
CI_SCRIPT = COMPOSE_FILE.parent / ".ci" / "test"


def test_postgresql_publishes_no_port_in_the_stack() -> None:
    """A first `up` next to a local PostgreSQL must not fail on port 5432, and the database is the stack's own."""
    assert "ports" not in _compose()["services"]["postgres"]


def test_only_the_test_command_publishes_postgresql_and_on_loopback_only() -> None:
    override: dict[str, Any] = yaml.safe_load(CI_OVERRIDE.read_text())
    assert list(override["services"]) == ["postgres"]
    assert {_host_ip(port) for port in override["services"]["postgres"]["ports"]} == {"127.0.0.1"}
    script = CI_SCRIPT.read_text()
    assert "-f docker-compose.yml -f docker-compose.ci.yml" in script
    assert re.search(r"^\s*docker compose up", script, re.MULTILINE) is None  # every `up` goes through the override


def test_the_production_shaped_stack_installs_no_demo_data() -> None:
    services = _compose()["services"]
    default = {name: s for name, s in services.items() if "profiles" not in s}
    assert not [name for name, s in default.items() if "--demo" in json.dumps(s.get("command", ""))]
    [demo] = [s for s in services.values() if "demo" in s.get("profiles", [])]
    assert demo["command"] == ["fhir-server", "seed", "--demo"]
    assert demo["depends_on"]["fhir-server"]["condition"] == "service_healthy"  # migrated before seeding


def test_the_fhir_server_requires_a_secret_key_with_no_default() -> None:
    server = _compose()["services"][PUBLIC_SERVICE]["environment"]
    with pytest.raises(KeyError):
        _interpolated(server["FHIR_SERVER_SECRET_KEY"], {})
    assert _interpolated(server["FHIR_SERVER_SECRET_KEY"], {"FHIR_SERVER_SECRET_KEY": "k" * 32}) == "k" * 32
    assert "secret_key" in Settings.model_fields and ENV_PREFIX + "SECRET_KEY" == "FHIR_SERVER_SECRET_KEY"


def test_the_healthcheck_probes_readiness() -> None:
    probe = " ".join(_compose()["services"][PUBLIC_SERVICE]["healthcheck"]["test"])
    assert "/health/ready'" in probe


def test_the_compose_version_needed_is_stated_and_enforced_by_the_file() -> None:
    """Inline config content (Compose 2.23.1) is what older versions refuse, naming the property; the file says so."""
    header = COMPOSE_FILE.read_text().split("services:", 1)[0]
    assert "Docker Compose 2.23.1 or newer" in header and "Additional property content is not allowed" in header
    assert all("content" in config for config in _compose()["configs"].values())
