"""``/openapi.json``: a valid OpenAPI 3.1 document with one path per resource type and interaction, search parameters
as query parameters, FHIR JSON schemas for bodies, OperationOutcome as the error model and the SMART security
schemes; and a call made the way Swagger UI's "Try it out" makes it, through the documented path, with a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from fhir_server.app import create_app
from fhir_server.settings import load_settings
from tests.authorized_client import fhir_client


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], dict[str, Any], TestClient]]:
    """(document, CapabilityStatement, client) of a server with authorization enabled."""
    path = Path(tmp_path_factory.mktemp("openapi")) / "docs.db"
    settings = load_settings(database_url=f"sqlite:///{path}", auth="enabled", log_level="warning")
    with TestClient(create_app(settings)) as client:
        yield client.get("/openapi.json").json(), client.get("/fhir/metadata").json(), client


def test_the_document_is_valid_openapi(served: tuple[dict[str, Any], dict[str, Any], TestClient]) -> None:
    document, _, _ = served
    validate(document)


def test_every_type_and_interaction_of_the_capability_statement_has_its_path(
    served: tuple[dict[str, Any], dict[str, Any], TestClient],
) -> None:
    document, statement, _ = served
    expected = {
        "read": ("get", "/fhir/{t}/{{id}}"),
        "vread": ("get", "/fhir/{t}/{{id}}/_history/{{vid}}"),
        "update": ("put", "/fhir/{t}/{{id}}"),
        "patch": ("patch", "/fhir/{t}/{{id}}"),
        "delete": ("delete", "/fhir/{t}/{{id}}"),
        "history-instance": ("get", "/fhir/{t}/{{id}}/_history"),
        "history-type": ("get", "/fhir/{t}/_history"),
        "create": ("post", "/fhir/{t}"),
        "search-type": ("get", "/fhir/{t}"),
    }
    for entry in statement["rest"][0]["resource"]:
        for interaction in entry["interaction"]:
            method, path = expected[interaction["code"]]
            operation = document["paths"][path.format(t=entry["type"])][method]
            assert operation["x-fhir-interaction"] == interaction["code"]
            assert operation["tags"] == [entry["type"]]
        for name in (op["name"] for op in entry.get("operation", [])):
            assert any(p.startswith(f"/fhir/{entry['type']}") and p.endswith(f"${name}") for p in document["paths"])
    patient = document["paths"]["/fhir/Patient"]
    assert {"get", "post", "put", "delete"} <= set(patient)  # search, create, conditional update and delete
    assert "post" in document["paths"]["/fhir/Patient/_search"]
    assert "/fhir/{resource_type}" not in document["paths"]


def test_search_parameters_are_documented_query_parameters(
    served: tuple[dict[str, Any], dict[str, Any], TestClient],
) -> None:
    document, statement, _ = served
    parameters = document["components"]["parameters"]
    listed = [_resolved(document, p) for p in document["paths"]["/fhir/Patient"]["get"]["parameters"]]
    by_name = {p["name"]: p for p in listed}
    patient = next(e for e in statement["rest"][0]["resource"] if e["type"] == "Patient")
    assert {p["name"] for p in patient["searchParam"]} <= set(by_name)
    assert by_name["birthdate"]["in"] == "query"
    assert "date" in by_name["birthdate"]["description"] and "prefix" in by_name["birthdate"]["description"]
    assert "Gender of the patient" in by_name["gender"]["description"]
    assert "Patient:general-practitioner" in by_name["_include"]["schema"]["items"]["enum"]
    assert {"_count", "_sort", "_summary"} <= set(by_name)
    assert parameters["_id"]["description"]


def test_errors_are_operation_outcomes_and_no_validation_model_is_left(
    served: tuple[dict[str, Any], dict[str, Any], TestClient],
) -> None:
    document, _, _ = served
    assert "HTTPValidationError" not in str(document)
    error = document["components"]["responses"]["Error"]["content"]["application/fhir+json"]["schema"]
    assert error == {"$ref": "#/components/schemas/OperationOutcome"}
    for path, methods in document["paths"].items():
        for operation in methods.values():
            assert "422" not in operation["responses"], path
            if path.startswith("/fhir/Patient"):
                assert operation["responses"]["4XX"] == {"$ref": "#/components/responses/Error"}


def test_the_security_schemes_are_the_smart_endpoints_and_scopes(
    served: tuple[dict[str, Any], dict[str, Any], TestClient],
) -> None:
    document, _, client = served
    smart = client.get("/fhir/.well-known/smart-configuration").json()
    flow = document["components"]["securitySchemes"]["smart"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == smart["authorization_endpoint"]
    assert flow["tokenUrl"] == smart["token_endpoint"]
    assert set(flow["scopes"]) == set(smart["scopes_supported"])
    assert document["paths"]["/fhir/Patient/{id}"]["get"]["security"] == [{"smart": []}, {"bearer": []}]
    assert document["paths"]["/fhir/metadata"]["get"]["security"] == []


def test_the_document_is_built_once_and_served_compressed(
    served: tuple[dict[str, Any], dict[str, Any], TestClient],
) -> None:
    _, _, client = served
    first = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    again = client.get("/openapi.json", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    one_type = client.get("/openapi.json", params={"type": "Patient"}).json()
    assert all("Observation" not in path for path in one_type["paths"])
    unknown = client.get("/openapi.json", params={"type": "Nothing"})
    assert unknown.status_code == 400
    assert unknown.json()["issue"][0]["expression"] == ["type"]


def _resolved(document: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in value:
        node: Any = document
        for part in value["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        value = node
    return value


def _schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema`` (a reference into ``document``) resolving references inside the document."""
    registry: Registry[Any] = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": "urn:openapi" + schema["$ref"]}, registry=registry)


@pytest.mark.auth_enabled
def test_try_it_out_creates_and_reads_through_the_documented_paths_with_a_token(database_url: str) -> None:
    with fhir_client(database_url, "on") as client:
        document = client.get("/openapi.json").json()
        server = document["servers"][0]["url"].rstrip("/")
        create = document["paths"]["/fhir/Patient"]["post"]
        body_schema = _resolved(document, create["requestBody"])["content"]["application/fhir+json"]["schema"]
        patient = {"resourceType": "Patient", "name": [{"family": "Openapi"}], "birthDate": "1970-01-02"}
        _schema_validator(document, body_schema).validate(patient)
        created = client.post(f"{server}/fhir/Patient", json=patient, headers={"Content-Type": "application/fhir+json"})
        assert created.status_code == 201, created.text
        read = document["paths"]["/fhir/Patient/{id}"]["get"]
        assert {"smart": []} in read["security"]
        answer = client.get(f"{server}/fhir/Patient/{created.json()['id']}", params={"_pretty": "true"})
        assert answer.status_code == 200, answer.text
        answered = _resolved(document, read["responses"]["200"])["content"]["application/fhir+json"]["schema"]
        _schema_validator(document, answered).validate(answer.json())
        bad = client.get(f"{server}/fhir/Patient", params={"birthdate": "not-a-date"})
        assert bad.status_code == 400
        error_schema = _resolved(document, read["responses"]["4XX"])["content"]["application/fhir+json"]["schema"]
        _schema_validator(document, error_schema).validate(bad.json())
