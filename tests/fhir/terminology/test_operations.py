"""The terminology operations over the R4 CodeSystems and ValueSets the server holds and its ConceptMaps:
$expand, $lookup, $validate-code and $translate, by GET and by POST Parameters, with their errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import fhir_client

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
CLINIC_STATUS = "http://fhir-server.dev/fhir/CodeSystem/appointment-status"
FHIR_STATUS = "http://hl7.org/fhir/appointmentstatus"
STATUS_MAP = "http://fhir-server.dev/fhir/ConceptMap/appointment-status"
FHIR_JSON = {"content-type": "application/fhir+json"}


@pytest.fixture(scope="module")
def client(module_database_url: str, module_auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(module_database_url, module_auth_mode, log_level="warning") as client:
        yield client


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _error(response: Any, status: int, code: str, expression: str | None = None) -> str:
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == code
    if expression is not None:
        assert issue["expression"] == [expression]
    diagnostics: str = issue["diagnostics"]
    return diagnostics


def _post(client: TestClient, path: str, **values: Any) -> Any:
    parameter = [{"name": name, **value} for name, value in values.items()]
    return client.post(f"/fhir/{path}", json={"resourceType": "Parameters", "parameter": parameter}, headers=FHIR_JSON)


def _value(parameters: dict[str, Any], name: str) -> Any:
    found = [p for p in parameters["parameter"] if p["name"] == name]
    assert len(found) == 1, parameters
    return next(v for k, v in found[0].items() if k.startswith("value"))


def _codes(expanded: dict[str, Any]) -> list[str]:
    return [c["code"] for c in expanded["expansion"].get("contains", [])]


# --- $expand ---------------------------------------------------------------------------------------------------


def test_expand_of_a_required_binding_value_set_lists_its_concepts(client: TestClient) -> None:
    expanded = _ok(client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS}))
    assert expanded["resourceType"] == "ValueSet" and expanded["url"] == GENDER_VS
    expansion = expanded["expansion"]
    assert expansion["total"] == 4 and expansion["offset"] == 0
    assert expansion["identifier"].startswith("urn:uuid:") and expansion["timestamp"]
    assert expansion["contains"] == [
        {"system": GENDER, "code": "male", "display": "Male"},
        {"system": GENDER, "code": "female", "display": "Female"},
        {"system": GENDER, "code": "other", "display": "Other"},
        {"system": GENDER, "code": "unknown", "display": "Unknown"},
    ]


def test_expand_filters_case_insensitively_and_pages(client: TestClient) -> None:
    filtered = _ok(client.get("/fhir/ValueSet/administrative-gender/$expand", params={"filter": "MAL"}))
    assert _codes(filtered) == ["male", "female"] and filtered["expansion"]["total"] == 2
    assert {"name": "filter", "valueString": "MAL"} in filtered["expansion"]["parameter"]
    page = _ok(client.get("/fhir/ValueSet/administrative-gender/$expand", params={"offset": 1, "count": 2}))
    assert _codes(page) == ["female", "other"]
    assert page["expansion"]["total"] == 4 and page["expansion"]["offset"] == 1
    empty = _ok(client.get("/fhir/ValueSet/administrative-gender/$expand", params={"count": 0}))
    assert _codes(empty) == [] and empty["expansion"]["total"] == 4


def test_expand_by_post_parameters(client: TestClient) -> None:
    expanded = _ok(
        _post(
            client,
            "ValueSet/$expand",
            url={"valueUri": GENDER_VS},
            filter={"valueString": "unk"},
            count={"valueInteger": 5},
        )
    )
    assert _codes(expanded) == ["unknown"]


def test_expand_of_a_hierarchy_keeps_the_order_of_definition(client: TestClient) -> None:
    expanded = _ok(client.get("/fhir/ValueSet/item-type/$expand"))
    codes = _codes(expanded)
    assert codes[:3] == ["group", "display", "boolean"] and "question" not in codes  # question is notSelectable


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"count": "1001"}, "count"),
        ({"count": "-1"}, "count"),
        ({"offset": "-1"}, "offset"),
        ({"count": "ten"}, "count"),
    ],
)
def test_expand_refuses_paging_out_of_range(client: TestClient, params: dict[str, str], expression: str) -> None:
    response = client.get("/fhir/ValueSet/administrative-gender/$expand", params=params)
    _error(response, 400, "value", expression)


def test_expand_errors(client: TestClient) -> None:
    _error(client.get("/fhir/ValueSet/$expand"), 400, "required", "url")
    _error(client.get("/fhir/ValueSet/$expand", params={"url": "http://example.org/nothing"}), 404, "not-found")
    _error(client.get("/fhir/ValueSet/no-such-set/$expand"), 404, "not-found")
    _error(client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "sort": "x"}), 400, "not-supported", "sort")
    _error(client.get("/fhir/ValueSet/$expand", params={"url": GENDER_VS, "filter": "x" * 201}), 400, "too-long")
    mime = client.get("/fhir/ValueSet/$expand", params={"url": "http://hl7.org/fhir/ValueSet/mimetypes"})
    assert "cannot be expanded" in _error(mime, 422, "not-supported")
    twice = client.get("/fhir/ValueSet/$expand", params=[("url", GENDER_VS), ("url", GENDER_VS)])
    _error(twice, 400, "invalid", "url")
    not_parameters = client.post("/fhir/ValueSet/$expand", json={"resourceType": "Patient"}, headers=FHIR_JSON)
    _error(not_parameters, 400, "structure")
    wrong_type = _post(client, "ValueSet/$expand", url={"valueUri": GENDER_VS}, count={"valueString": "5"})
    _error(wrong_type, 400, "required", "Parameters.parameter[1]")


# --- $lookup ---------------------------------------------------------------------------------------------------


def test_lookup_gives_name_version_display_and_properties(client: TestClient) -> None:
    found = _ok(client.get("/fhir/CodeSystem/$lookup", params={"system": GENDER, "code": "male"}))
    assert found["resourceType"] == "Parameters"
    assert (_value(found, "name"), _value(found, "version"), _value(found, "display")) == (
        "AdministrativeGender",
        "4.0.1",
        "Male",
    )
    assert {
        "name": "property",
        "part": [{"name": "code", "valueCode": "definition"}, {"name": "value", "valueString": "Male."}],
    } in found["parameter"]


def test_lookup_gives_the_designations(client: TestClient) -> None:
    found = _ok(
        client.get(
            "/fhir/CodeSystem/$lookup", params={"system": "http://hl7.org/fhir/link-type", "code": "replaced-by"}
        )
    )
    designations = [p["part"] for p in found["parameter"] if p["name"] == "designation"]
    assert [{"name": "language", "valueCode": "nl"}, {"name": "value", "valueString": "Vervangen door"}] in designations


def test_lookup_by_coding_gives_the_hierarchy_and_the_asked_properties(client: TestClient) -> None:
    coding = {"system": "http://hl7.org/fhir/item-type", "code": "question"}
    found = _ok(_post(client, "CodeSystem/$lookup", coding={"valueCoding": coding}, property={"valueCode": "child"}))
    properties = [p["part"] for p in found["parameter"] if p["name"] == "property"]
    assert {part[0]["valueCode"] for part in properties} == {"child"}
    assert {"name": "value", "valueCode": "boolean"} in [part[1] for part in properties]
    child = _ok(
        client.get("/fhir/CodeSystem/$lookup", params={"system": "http://hl7.org/fhir/item-type", "code": "boolean"})
    )
    assert {
        "name": "property",
        "part": [{"name": "code", "valueCode": "parent"}, {"name": "value", "valueCode": "question"}],
    } in child["parameter"]


def test_lookup_errors(client: TestClient) -> None:
    unknown_code = client.get("/fhir/CodeSystem/$lookup", params={"system": GENDER, "code": "dog"})
    assert "'dog'" in _error(unknown_code, 404, "not-found")
    unknown_system = client.get("/fhir/CodeSystem/$lookup", params={"system": "http://example.org/cs", "code": "x"})
    _error(unknown_system, 404, "not-found")
    _error(client.get("/fhir/CodeSystem/$lookup", params={"system": GENDER}), 400, "required", "code")
    _error(client.get("/fhir/CodeSystem/$lookup", params={"code": "male"}), 400, "required", "system")
    _error(client.get("/fhir/CodeSystem/$lookup", params={"coding": f"{GENDER}|male"}), 400, "invalid", "coding")
    wrong_version = client.get("/fhir/CodeSystem/$lookup", params={"system": GENDER, "code": "male", "version": "3.0"})
    _error(wrong_version, 404, "not-found")


# --- $validate-code --------------------------------------------------------------------------------------------


def test_validate_code_says_whether_a_code_is_in_the_value_set(client: TestClient) -> None:
    valid = _ok(
        client.get("/fhir/ValueSet/$validate-code", params={"url": GENDER_VS, "system": GENDER, "code": "female"})
    )
    assert _value(valid, "result") is True and _value(valid, "display") == "Female"
    invalid = _ok(
        client.get("/fhir/ValueSet/administrative-gender/$validate-code", params={"system": GENDER, "code": "dog"})
    )
    assert _value(invalid, "result") is False and "'dog'" not in _value(invalid, "message")
    assert "dog" in _value(invalid, "message")
    other_system = _ok(
        client.get("/fhir/ValueSet/administrative-gender/$validate-code", params={"system": "http://x", "code": "male"})
    )
    assert _value(other_system, "result") is False
    no_system = _ok(client.get("/fhir/ValueSet/administrative-gender/$validate-code", params={"code": "male"}))
    assert _value(no_system, "result") is True


def test_validate_code_checks_the_display(client: TestClient) -> None:
    params = {"url": GENDER_VS, "system": GENDER, "code": "male", "display": "Femme"}
    checked = _ok(client.get("/fhir/ValueSet/$validate-code", params=params))
    assert _value(checked, "result") is False and _value(checked, "display") == "Male"
    assert "Femme" in _value(checked, "message")
    right = _ok(client.get("/fhir/ValueSet/$validate-code", params={**params, "display": "male"}))
    assert _value(right, "result") is True


def test_validate_code_of_a_coding_and_a_codeable_concept(client: TestClient) -> None:
    coding = {"system": GENDER, "code": "other", "display": "Other"}
    by_coding = _ok(
        _post(client, "ValueSet/$validate-code", url={"valueUri": GENDER_VS}, coding={"valueCoding": coding})
    )
    assert _value(by_coding, "result") is True
    concept = {"coding": [{"system": "http://example.org/local", "code": "m"}, {"system": GENDER, "code": "male"}]}
    by_concept = _ok(
        _post(
            client,
            "ValueSet/$validate-code",
            url={"valueUri": GENDER_VS},
            codeableConcept={"valueCodeableConcept": concept},
        )
    )
    assert _value(by_concept, "result") is True
    outside = {"coding": [{"system": "http://example.org/local", "code": "m"}]}
    refused = _ok(
        _post(
            client,
            "ValueSet/$validate-code",
            url={"valueUri": GENDER_VS},
            codeableConcept={"valueCodeableConcept": outside},
        )
    )
    assert _value(refused, "result") is False


def test_validate_code_errors(client: TestClient) -> None:
    _error(client.get("/fhir/ValueSet/$validate-code", params={"url": GENDER_VS}), 400, "required", "code")
    _error(
        client.get("/fhir/ValueSet/$validate-code", params={"system": GENDER, "code": "male"}), 400, "required", "url"
    )
    unknown = client.get("/fhir/ValueSet/$validate-code", params={"url": "http://example.org/vs", "code": "male"})
    _error(unknown, 404, "not-found")
    both = _post(
        client,
        "ValueSet/$validate-code",
        url={"valueUri": GENDER_VS},
        code={"valueCode": "male"},
        coding={"valueCoding": {"code": "male"}},
    )
    _error(both, 400, "required", "code")


# --- $translate ------------------------------------------------------------------------------------------------


def test_translate_maps_a_clinic_code_to_fhir_and_back(client: TestClient) -> None:
    forward = _ok(client.get("/fhir/ConceptMap/$translate", params={"system": CLINIC_STATUS, "code": "no-show"}))
    assert _value(forward, "result") is True
    match = next(p for p in forward["parameter"] if p["name"] == "match")
    assert match["part"] == [
        {"name": "equivalence", "valueCode": "equivalent"},
        {"name": "concept", "valueCoding": {"system": FHIR_STATUS, "code": "noshow", "display": "No Show"}},
        {"name": "source", "valueUri": STATUS_MAP},
    ]
    back = _ok(
        client.get(
            "/fhir/ConceptMap/appointment-status/$translate",
            params={"system": FHIR_STATUS, "code": "noshow", "reverse": "true"},
        )
    )
    concepts = [
        p["valueCoding"] for m in back["parameter"] if m["name"] == "match" for p in m["part"] if p["name"] == "concept"
    ]
    assert concepts == [{"system": CLINIC_STATUS, "code": "no-show", "display": "No-show"}]


def test_translate_narrowed_by_url_target_and_targetsystem(client: TestClient) -> None:
    coding = {"system": CLINIC_STATUS, "code": "no-show"}
    by_url = _ok(_post(client, "ConceptMap/$translate", url={"valueUri": STATUS_MAP}, coding={"valueCoding": coding}))
    assert _value(by_url, "result") is True
    elsewhere = _ok(
        client.get(
            "/fhir/ConceptMap/$translate",
            params={"system": CLINIC_STATUS, "code": "no-show", "targetsystem": "http://example.org/other"},
        )
    )
    assert _value(elsewhere, "result") is False and "no-show" in _value(elsewhere, "message")
    wrong_target = _ok(
        client.get(
            "/fhir/ConceptMap/$translate", params={"system": CLINIC_STATUS, "code": "no-show", "target": "http://x"}
        )
    )
    assert _value(wrong_target, "result") is False


def test_translate_of_an_unmapped_code_is_false(client: TestClient) -> None:
    answer = _ok(client.get("/fhir/ConceptMap/$translate", params={"system": "http://example.org/cs", "code": "x"}))
    assert _value(answer, "result") is False and not [p for p in answer["parameter"] if p["name"] == "match"]


def test_translate_errors(client: TestClient) -> None:
    _error(client.get("/fhir/ConceptMap/$translate", params={"system": CLINIC_STATUS}), 400, "required", "code")
    unknown_map = client.get("/fhir/ConceptMap/$translate", params={"url": "http://example.org/cm", "code": "x"})
    _error(unknown_map, 404, "not-found")
    _error(client.get("/fhir/ConceptMap/no-such-map/$translate", params={"code": "x"}), 404, "not-found")
    _error(client.get("/fhir/ConceptMap/$translate", params={"code": "x", "reverse": "maybe"}), 400, "value", "reverse")
