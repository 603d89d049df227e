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
