"""capabilities: GET /fhir/metadata (http://hl7.org/fhir/R4/http.html#capabilities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from fhir_server.fhir import capability_statement
from fhir_server.settings import load_settings
from mappings.registry import MAPPINGS
from tests.fhir_validator import validator_errors


@pytest.fixture
def statement(client: TestClient) -> dict[str, Any]:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    return body


def _resources(statement: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in statement["rest"][0]["resource"]}


def _codes(resource: dict[str, Any]) -> list[str]:
    return [i["code"] for i in resource["interaction"]]


def test_metadata_is_a_valid_r4_capability_statement(statement: dict[str, Any], base_url: str) -> None:
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    assert statement["status"] == "active"
    assert {"json", "application/fhir+json"} <= set(statement["format"])
    assert statement["implementation"]["url"] == base_url
    assert statement["software"]["name"] == "fhir-server"
    assert statement["rest"][0]["mode"] == "server"


def test_the_independent_validator_finds_the_statement_valid(statement: dict[str, Any], tmp_path: Path) -> None:
    assert validator_errors([statement], tmp_path) == []
    assert validator_errors([{**statement, "kind": "no-such-kind"}], tmp_path) != []  # it does look


def test_every_served_type_is_announced_with_its_routed_interactions(statement: dict[str, Any]) -> None:
    resources = _resources(statement)
    assert set(MAPPINGS) <= set(resources)
    for resource in (resources[resource_type] for resource_type in MAPPINGS):
        assert {"read", "vread", "update", "delete", "create", "history-instance", "history-type"} <= set(
            _codes(resource)
        )
        assert resource["profile"] == f"http://hl7.org/fhir/StructureDefinition/{resource['type']}"


def test_interactions_are_listed_in_the_value_sets_order(statement: dict[str, Any]) -> None:
    for resource in _resources(statement).values():
        codes = _codes(resource)
        assert codes == sorted(codes, key=capability_statement.TYPE_INTERACTIONS.index)


def test_versioning_history_and_conditional_interactions_are_announced(statement: dict[str, Any]) -> None:
    patient = _resources(statement)["Patient"]
    assert patient["versioning"] == "versioned-update"
    assert patient["readHistory"] is True
    assert patient["updateCreate"] is True
    assert patient["conditionalRead"] == "full-support"
    assert patient["conditionalCreate"] is True and patient["conditionalUpdate"] is True
    assert patient["conditionalDelete"] == "single"
    assert {"code": "history-system"} in statement["rest"][0]["interaction"]


def test_search_parameters_are_listed_when_search_is_served(statement: dict[str, Any]) -> None:
    for resource in _resources(statement).values():
        if "search-type" not in _codes(resource):
            assert "searchParam" not in resource
            continue
        names = {p["name"] for p in resource["searchParam"]}
        assert resource["type"] == "AuditEvent" or "_id" in names
        assert all({"name", "definition", "type"} <= set(p) for p in resource["searchParam"])


def test_a_type_searched_its_own_way_lists_only_the_parameters_its_route_supports(statement: dict[str, Any]) -> None:
    resources = _resources(statement)
    audit = resources["AuditEvent"]
    assert [p["name"] for p in audit["searchParam"]] == ["agent", "date", "entity", "patient", "subtype", "type"]
    assert {p["definition"] for p in audit["searchParam"]} >= {"http://hl7.org/fhir/SearchParameter/AuditEvent-date"}
    for resource_type in ("ConceptMap", "StructureDefinition", "OperationDefinition"):
        assert [p["name"] for p in resources[resource_type]["searchParam"]] == [
            "_id",
            "name",
            "status",
            "url",
            "version",
        ]
        assert "searchInclude" not in resources[resource_type] and "searchRevInclude" not in resources[resource_type]


def test_includes_are_the_reference_parameters_and_revincludes_those_pointing_at_the_type(
    statement: dict[str, Any],
) -> None:
    resources = _resources(statement)
    medication_request = resources["MedicationRequest"]
    assert medication_request["searchInclude"][0] == "*"
    assert {"MedicationRequest:medication", "MedicationRequest:patient"} <= set(medication_request["searchInclude"])
    assert "MedicationRequest:status" not in medication_request["searchInclude"]
    patient = resources["Patient"]
    assert {"*", "Provenance:target", "Observation:subject", "Appointment:actor"} <= set(patient["searchRevInclude"])
    assert "Observation:performer" in patient["searchRevInclude"]
    assert "Observation:encounter" not in patient["searchRevInclude"]  # it names Encounters only
    assert not any(r.startswith(("AuditEvent:", "ConceptMap:")) for r in patient["searchRevInclude"])


def test_patch_formats_are_announced_with_patch(statement: dict[str, Any]) -> None:
    patchable = any("patch" in _codes(r) for r in _resources(statement).values())
    assert ("patchFormat" in statement) == patchable
    if patchable:
        assert set(statement["patchFormat"]) == {
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/fhir+json",
        }


_REQUESTS: dict[str, tuple[str, str]] = {
    "read": ("GET", "{type}/unknown-id"),
    "vread": ("GET", "{type}/unknown-id/_history/1"),
    "update": ("PUT", "{type}/unknown-id"),
    "patch": ("PATCH", "{type}/unknown-id"),
    "delete": ("DELETE", "{type}/unknown-id"),
    "history-instance": ("GET", "{type}/unknown-id/_history"),
    "history-type": ("GET", "{type}/_history"),
    "create": ("POST", "{type}"),
    "search-type": ("GET", "{type}"),
}
_CONDITIONAL_REQUESTS = {
    "conditionalUpdate": ("PUT", "{type}?_id=unknown"),
    "conditionalDelete": ("DELETE", "{type}?_id=x"),
}


def test_every_announced_interaction_is_really_routed(client: TestClient, statement: dict[str, Any]) -> None:
    for resource in _resources(statement).values():
        conditional = [flag for flag in _CONDITIONAL_REQUESTS if resource[flag] not in (False, "not-supported")]
        for code in _codes(resource) + conditional:
            method, path = {**_REQUESTS, **_CONDITIONAL_REQUESTS}[code]
            response = client.request(method, "/fhir/" + path.format(type=resource["type"]), json={})
            assert response.status_code != 405, (code, resource["type"])
            diagnostics = response.json()["issue"][0]["diagnostics"] if response.status_code >= 400 else ""
            assert not diagnostics.startswith("no FHIR endpoint"), (code, resource["type"])


def test_terse_mode_keeps_types_and_interactions_only(client: TestClient) -> None:
    terse = client.get("/fhir/metadata", params={"mode": "terse"}).json()
    CapabilityStatement.model_validate(terse)
    for resource in _resources(terse).values():
        assert "searchParam" not in resource and "operation" not in resource
        assert "read" in _codes(resource)


def test_summary_marks_the_statement_subsetted(client: TestClient) -> None:
    summary = client.get("/fhir/metadata", params={"_summary": "true"}).json()
    assert summary["meta"]["tag"][0]["code"] == "SUBSETTED"
    CapabilityStatement.model_validate(summary)


@pytest.mark.parametrize(
    ("params", "parameter"), [({"mode": "verbose"}, "mode"), ({"_summary": "count"}, "_summary"), ({"x": "1"}, "x")]
)
def test_a_bad_parameter_is_400_naming_it(client: TestClient, params: dict[str, str], parameter: str) -> None:
    response = client.get("/fhir/metadata", params=params)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [parameter]


def test_metadata_in_xml_is_406(client: TestClient) -> None:
    response = client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 406
    assert response.json()["issue"][0]["code"] == "not-supported"


# --- the builder, on routes of our choosing ----------------------------------------------------------------------

_GET = {"get": {"summary": "x"}}


def _build(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    settings = load_settings(base_url="https://example.org/fhir")
    return capability_statement.build(paths, settings, "9.9", lambda resource_type: [])


def test_only_routed_interactions_are_announced() -> None:
    statement = _build({"/fhir/{resource_type}/{resource_id}": {"get": {}, "put": {}}, "/health": _GET})
    patient = _resources(statement)["Patient"]
    assert _codes(patient) == ["read", "update"]
    assert patient["readHistory"] is False
    assert patient["conditionalCreate"] is False and patient["conditionalUpdate"] is False
    assert patient["conditionalDelete"] == "not-supported"
    assert "interaction" not in statement["rest"][0]
    assert "patchFormat" not in statement


def test_a_route_for_one_literal_type_announces_that_type_only() -> None:
    statement = _build({"/fhir/Patient/{resource_id}": _GET, "/fhir/Spaceship/{resource_id}": _GET})
    assert list(_resources(statement)) == ["Patient"]


def test_a_read_only_type_outside_the_mappings_is_announced_as_such() -> None:
    statement = _build({"/fhir/ConceptMap/{resource_id}": _GET, "/fhir/ConceptMap": _GET})
    concept_map = _resources(statement)["ConceptMap"]
    assert _codes(concept_map) == ["read", "search-type"]
    assert concept_map["versioning"] == "no-version" and concept_map["updateCreate"] is False
    assert concept_map["conditionalRead"] == "not-supported" and concept_map["conditionalCreate"] is False
    CapabilityStatement.model_validate(statement)


def test_operations_are_discovered_from_dollar_segments() -> None:
    statement = _build(
        {
            "/fhir/{resource_type}/{resource_id}": _GET,
            "/fhir/{resource_type}/$validate": {"post": {}},
            "/fhir/Patient/{resource_id}/$everything": _GET,
            "/fhir/$reindex": {"post": {}},
        }
    )
    resources = _resources(statement)
    assert resources["Organization"]["operation"] == [
        {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}
    ]
    assert {o["name"] for o in resources["Patient"]["operation"]} == {"validate", "everything"}
    assert statement["rest"][0]["operation"][0]["name"] == "reindex"
    CapabilityStatement.model_validate(statement)


def test_a_bare_post_to_the_base_is_announced_by_its_summary() -> None:
    statement = _build({"/fhir/{resource_type}": _GET, "/fhir": {"post": {"summary": "transaction"}}})
    assert statement["rest"][0]["interaction"] == [{"code": "transaction"}]
