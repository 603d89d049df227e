"""The application skeleton: health probes, OpenAPI docs, request ids and the JSON request log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.request_log import JsonFormatter
from fhir_server.settings import load_settings


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


def test_health_says_the_process_is_alive(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "pass", "auth": "enabled"}


def test_health_warns_loudly_when_authorization_is_disabled(database_url: str) -> None:
    app = create_app(load_settings(database_url=database_url, auth="disabled"))
    with TestClient(app) as client:
        body = client.get("/health").json()
    assert body["auth"] == "disabled"
    assert "DISABLED" in body["warning"]


def test_ready_when_the_database_is_migrated(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "pass", "checks": {"database": {"status": "pass"}}}


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_not_ready_before_migrations(empty_database_url: str) -> None:
    with TestClient(create_app(load_settings(database_url=empty_database_url))) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "fail"
    assert "db upgrade" in response.json()["checks"]["database"]["detail"]


def test_not_ready_when_the_database_is_unreachable() -> None:
    settings = load_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert "unreachable" in response.json()["checks"]["database"]["detail"]


def test_not_ready_when_orthanc_is_configured_but_down(database_url: str) -> None:
    settings = load_settings(database_url=database_url, orthanc_url="http://127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "pass"
    assert response.json()["checks"]["orthanc"]["status"] == "fail"


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/health/ready" in client.get("/openapi.json").json()["paths"]


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/health").headers["x-request-id"]
    assert first and second and first != second


def test_a_clients_request_id_is_kept_when_well_formed(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    odd = client.get("/health", headers={"X-Request-ID": "no spaces\tallowed"}).headers["x-request-id"]
    assert odd != "no spaces\tallowed"


def test_one_log_record_per_request_with_its_id(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fhir_server.request"):
        response = client.get("/health", headers={"X-Request-ID": "log-me"})
    records = [r for r in caplog.records if r.name == "fhir_server.request"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "log-me" == response.headers["x-request-id"]
    assert line["method"] == "GET" and line["path"] == "/health" and line["status"] == 200
    assert line["duration_ms"] >= 0


def test_json_log_lines_carry_no_terminal_colours() -> None:
    """uvicorn logs each message twice, plain and as ``color_message`` with ANSI escapes for its console."""
    record = logging.getLogger("uvicorn.error").makeRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "Uvicorn running on %s (\x1b[1mCTRL+C\x1b[0m)",
        ("x",),
        None,
        extra={"color_message": "Uvicorn running on \x1b[1m%s\x1b[0m"},
    )
    formatted = JsonFormatter().format(record)
    assert "\\u001b" not in formatted and "\x1b" not in formatted
    assert json.loads(formatted)["message"] == "Uvicorn running on x (CTRL+C)"
    assert "color_message" not in json.loads(formatted)
