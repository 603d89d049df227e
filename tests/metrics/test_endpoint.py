"""``GET /metrics``: off without a secret, refused without it, and then every request counted with bounded labels
that carry no ids, names or raw paths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.fhir.types import r4_resource_types
from fhir_server.settings import load_settings
from tests.clinics import make_clinic
from tests.metrics.scrape import HEADERS, SECRET, scrape

REQUESTS = "fhir_server_requests_total"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The server with metrics on (authorization off: these tests count FHIR requests, not tokens)."""
    settings = load_settings(database_url=database_url, auth="disabled", metrics_token=SECRET)
    with TestClient(create_app(settings)) as client:
        yield client


def test_metrics_are_off_unless_a_secret_is_set(database_url: str) -> None:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        answer = client.get("/metrics", headers=HEADERS)
    assert answer.status_code == 404
    issue = answer.json()["issue"][0]
    assert issue["code"] == "not-found" and "FHIR_SERVER_METRICS_TOKEN" in issue["diagnostics"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-secret-of-some-length", f"Basic {SECRET}", SECRET])
def test_metrics_refuse_a_request_without_the_secret(client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert answer.json()["issue"][0]["code"] == "login"
    assert "fhir_server_requests" not in answer.text


def test_a_short_secret_is_refused_at_start() -> None:
    with pytest.raises(Exception, match="FHIR_SERVER_METRICS_TOKEN"):
        load_settings(metrics_token="short")


def test_requests_are_counted_by_interaction_type_and_status(client: TestClient) -> None:
    before = scrape(client)
    assert client.get("/fhir/Patient").status_code == 200
    assert client.get("/fhir/Patient/no-such-patient").status_code == 404
    assert client.get("/fhir/metadata").status_code == 200
    assert client.get("/health").status_code == 200
    after = scrape(client)

    def moved(**labels: str) -> float:
        return after.value(REQUESTS, **labels) - before.value(REQUESTS, **labels)

    assert moved(interaction="search-type", resource_type="Patient", status="200") == 1
    assert moved(interaction="read", resource_type="Patient", status="404") == 1
    assert moved(interaction="capabilities", resource_type="", status="200") == 1
    assert moved(interaction="health.alive", resource_type="", status="200") == 1
    count = "fhir_server_request_duration_seconds_count"
    assert after.value(count, interaction="read") - before.value(count, interaction="read") == 1
    bucket = "fhir_server_request_duration_seconds_bucket"
    assert after.value(bucket, interaction="read", le="+Inf") == after.value(count, interaction="read")


def test_labels_hold_no_ids_names_or_raw_paths(client: TestClient) -> None:
    make_clinic(client)
    patient = {"resourceType": "Patient", "name": [{"family": "Zyxwvut", "given": ["Qwertyuiop"]}]}
    created = client.post("/fhir/Patient", json=patient)
    assert created.status_code == 201
    patient_id = created.json()["id"]
    client.get(f"/fhir/Patient/{patient_id}")
    client.get("/fhir/Patient", params={"family": "Zyxwvut"})
    client.get(f"/fhir/Patient/{patient_id}/$everything")
    client.get("/fhir/NoSuchType/secret-id-4711")
    client.get("/no/such/path/secret-path-4712")
    client.request("FROBNICATE", "/fhir/Patient")
    text = scrape(client).text
    for private in (patient_id, "Zyxwvut", "Qwertyuiop", "secret-id-4711", "secret-path-4712", "NoSuchType"):
        assert private not in text
    for labels in scrape(client).labels_of(REQUESTS):
        assert labels["resource_type"] in r4_resource_types() | {""}
        assert labels["status"].isdigit()
        assert "/" not in labels["interaction"]  # an interaction code, an operation or a handler: never a path


def test_database_pools_are_reported(client: TestClient, database_url: str) -> None:
    assert client.get("/fhir/Patient/no-such-patient").status_code == 404  # a read: PostgreSQL's async pool opens
    after = scrape(client)
    assert after.value("fhir_server_db_pool_max", pool="requests") >= 1
    assert 0 <= after.value("fhir_server_db_pool_checked_out", pool="requests") <= 1
    if database_url.startswith("postgresql"):
        assert after.value("fhir_server_db_pool_max", pool="async_reads") >= 1
        assert after.value("fhir_server_db_pool_max", pool="counters") >= 1
