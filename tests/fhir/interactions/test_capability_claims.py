"""Every claim of the served CapabilityStatement works (GET /fhir/metadata; fhir_server/fhir/capability_statement.py).

For each resource type it lists: every interaction (create, read, vread, update, patch, delete, both histories,
search-type), the conditional flags (conditional create, read, update and delete), ``versioning`` (a stale
``If-Match`` answers 412), ``updateCreate``, every search parameter with a valid value (200), every ``_include`` and
``_revinclude`` value, and every operation. A claim that does not work fails here, so a route, parameter or
operation the statement announces cannot quietly stop working; ``$validate`` of a valid resource finds no error.
Every JSON body the server answers here is run through the independent R4 validator (tests/fhir_validator.py) when
the module's server stops. A new kind of claim must come with its exercise (the last tests). Run with authorization
off: what a token may do is tests/access' concern, and AuditEvent is served to users with an audit role only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir import capability_statement
from fhir_server.fhir.published import PUBLISHED_TYPES
from fhir_server.paths import project_dir
from mappings.registry import MAPPED, MAPPINGS
from tests.ai.openai_server import FakeOpenAI
from tests.fhir.minimal_resources import minimal
from tests.fhir_validator import validator_errors
from tests.roundtrip.server import BASE_URL, Server, serving

pytestmark = pytest.mark.auth_off_only(reason="exercises the claims on an open server (access rules: tests/access)")

TYPES = sorted({*MAPPINGS, *PUBLISHED_TYPES, "AuditEvent"})
KNOWN_INTERACTIONS = frozenset(capability_statement.TYPE_INTERACTIONS)
KNOWN_OPERATIONS = frozenset(
    {"validate", "everything", "summarize", "docref", "lookup", "expand", "validate-code", "translate", "export"}
)
KNOWN_SYSTEM_INTERACTIONS = frozenset({"transaction", "batch", "history-system"})
PER_REQUEST = 10
"""Search parameters, or include values, exercised by one search (within the server's search limits)."""
VALUES = {
    "string": "minimal",
    "token": "http://example.org/codes|minimal",
    "date": "ge2024-01-01",
    "number": "1",
    "quantity": "le1",
    "uri": "http://example.org/minimal",
}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@dataclass(frozen=True)
class Claims:
    server: Server
    statement: dict[str, Any]
    answers: list[dict[str, Any]] = field(default_factory=list)
    """Every JSON resource the server answered (for the validator)."""

    @property
    def client(self) -> TestClient:
        return self.server.client

    def entry(self, resource_type: str) -> dict[str, Any]:
        return next(r for r in self.statement["rest"][0]["resource"] if r["type"] == resource_type)


@pytest.fixture(scope="module")
def claims(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Claims]:
    with FakeOpenAI.running() as model:
        model_settings = {"openai_api_key": "test-key", "openai_base_url": model.url, "openai_model": "test-model"}
        exports = tmp_path_factory.mktemp("exports")
        with serving(module_database_url, export_dir=exports, **model_settings) as server:
            server.client.headers["Accept"] = "application/fhir+json"  # a Binary answers its raw bytes otherwise
            statement = server.client.get("/fhir/metadata").json()
            found = Claims(server, statement, [statement])
            server.client.event_hooks["response"] = [lambda response: _keep(found.answers, response)]
            yield found
    errors = validator_errors(found.answers, tmp_path_factory.mktemp("answers")) if found.answers else []
    assert errors == [], "\n".join(errors[:50])


def _keep(answers: list[dict[str, Any]], response: Any) -> None:
    """Keep a response's FHIR JSON body (the validator runs over all of them at the end)."""
    if "json" in response.headers.get("content-type", ""):
        response.read()
        body = orjson.loads(response.content) if response.content else None
        if isinstance(body, dict) and "resourceType" in body:
            answers.append(body)


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in groups of ``size`` (itertools.batched from Python 3.12)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- what is sent ------------------------------------------------------------------------------------------------


def _body(server: Server, resource_type: str, variant: int) -> dict[str, Any]:
    """A valid ``resource_type`` to write (``variant`` tells apart the values that must be unique)."""
    patient = {"reference": "Patient/rt-patient-1"}
    mapped: dict[str, dict[str, Any]] = {
        "Patient": {"name": [{"family": f"Claim{variant}"}]},
        "Practitioner": {"name": [{"family": f"Claim{variant}", "given": ["Ada"]}]},
        "Organization": {"name": f"Claims Lab {variant}"},
        "Endpoint": {
            "status": "active",
            "connectionType": {
                "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                "code": "hl7-fhir-rest",
            },
            "payloadType": [{"text": "FHIR"}],
            "address": f"https://fhir.example.org/claims/{variant}",
            "managingOrganization": {"reference": f"Organization/{server.clinic_id}"},
        },
        "Appointment": {
            "status": "booked",
            "start": "2026-03-02T10:00:00Z",
            "end": "2026-03-02T10:30:00Z",
            "participant": [
                {"actor": patient, "status": "accepted"},
                {"actor": {"reference": "Practitioner/rt-practitioner-1"}, "status": "accepted"},
            ],
        },
        "Questionnaire": {"status": "active", "url": f"https://forms.example.org/claims/{variant}"},
        "QuestionnaireResponse": {
            "questionnaire": "https://forms.example.org/Questionnaire/pool",
            "status": "completed",
            "subject": patient,
            "item": [{"linkId": "1", "answer": [{"valueString": "A dry cough for three weeks"}]}],
        },
        "ImagingStudy": {
            "status": "available",
            "subject": patient,
            "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:2.25.9{variant}"}],
        },
    }
    if resource_type in MAPPED:
        return {"resourceType": resource_type, **mapped[resource_type]}
    return minimal(resource_type)


@cache
def _definitions() -> dict[str, dict[str, Any]]:
    bundle = orjson.loads((project_dir("conformance") / "search-parameters.json").read_bytes())
    return {entry["resource"]["url"]: entry["resource"] for entry in bundle["entry"]}


def _value(parameter: dict[str, Any]) -> str:
    """A valid value of a listed search parameter (http://hl7.org/fhir/R4/search.html#ptypes)."""
    kind = parameter["type"]
    if kind == "reference":
        return "Patient/rt-patient-1"
    if kind == "composite":
        components = [_definitions()[c["definition"]] for c in _definitions()[parameter["definition"]]["component"]]
        return "$".join(_component_value(c) for c in components)
    return VALUES[kind]


def _component_value(definition: dict[str, Any]) -> str:
    """A value of one component of a composite (no prefix but on the last: ``code$value``)."""
    if definition["type"] == "reference":
        return f"{(definition.get('target') or ['Patient'])[0]}/minimal"
    return VALUES[definition["type"]].removeprefix("ge")


# --- the checks --------------------------------------------------------------------------------------------------


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, str(response.request.url), response.text[:2000])
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _searches(client: TestClient, resource_type: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    bundle = _ok(client.get(f"/fhir/{resource_type}", params=tuple(pairs)))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


def _every_search_parameter(client: TestClient, entry: dict[str, Any]) -> None:
    for group in batched(entry.get("searchParam", []), PER_REQUEST):
        _searches(client, entry["type"], [(p["name"], _value(p)) for p in group])


def _every_include(client: TestClient, entry: dict[str, Any], resource_id: str) -> None:
    for element, name in (("searchInclude", "_include"), ("searchRevInclude", "_revinclude")):
        for group in batched(entry.get(element, []), PER_REQUEST):
            _searches(client, entry["type"], [("_id", resource_id), *((name, value) for value in group)])


GENDER = "http://hl7.org/fhir/administrative-gender"
TERMINOLOGY_EXERCISES = {
    "lookup": ("CodeSystem/$lookup", {"system": GENDER, "code": "male"}),
    "expand": ("ValueSet/administrative-gender/$expand", {"count": "2"}),
    "validate-code": ("ValueSet/administrative-gender/$validate-code", {"system": GENDER, "code": "male"}),
}
"""The terminology operations, exercised on the server's published definitions (a stored resource of the test's
making may not be expandable)."""


def _every_operation(
    client: TestClient, entry: dict[str, Any], resource: dict[str, Any], fresh: dict[str, Any]
) -> None:
    """Each operation of ``entry`` on the stored ``resource`` (``$validate`` of a create: on ``fresh``, a new one)."""
    path = f"/fhir/{resource['resourceType']}"
    for operation in (o["name"] for o in entry.get("operation", [])):
        if operation == "validate":
            sent = {k: v for k, v in resource.items() if k != "meta"}
            _all_ok(_ok(client.post(f"{path}/$validate", json=fresh)))
            _all_ok(_ok(client.post(f"{path}/{resource['id']}/$validate", json=sent)))
        elif operation == "everything":
            assert _ok(client.get(f"{path}/{resource['id']}/$everything"))["type"] == "searchset"
        elif operation == "docref":
            subject = resource.get("subject", {}).get("reference", "Patient/unknown").split("/")[-1]
            assert _ok(client.get(f"{path}/$docref", params={"patient": subject}))["type"] == "searchset"
        elif operation == "summarize":
            assert _ok(client.post(f"{path}/{resource['id']}/$summarize"))["resourceType"] == "Parameters"
            assert _ok(client.get(f"{path}/{resource['id']}/$summarize"))["resourceType"] == "Parameters"
        elif operation == "export":
            _export(client, f"{path}/{resource['id']}/$export" if entry["type"] == "Group" else f"{path}/$export")
        elif operation in TERMINOLOGY_EXERCISES:
            url, params = TERMINOLOGY_EXERCISES[operation]
            assert "resourceType" in _ok(client.get(f"/fhir/{url}", params=params))
        else:
            pytest.fail(f"no exercise for the operation ${operation} of {entry['type']}")


def _export(client: TestClient, url: str) -> None:
    """A Bulk Data kick-off answers 202 with a status URL that answers; the export is then cancelled (202)."""
    kick_off = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
    status_url = _ok_headers(client.get(url, headers=kick_off), 202)["content-location"].replace(BASE_URL, "/fhir")
    assert client.get(status_url).status_code in (200, 202)
    _ok(client.delete(status_url), 202)


def _ok_headers(response: Any, status: int) -> Any:
    _ok(response, status)
    return response.headers


def _all_ok(outcome: dict[str, Any]) -> None:
    """$validate of a valid resource: an OperationOutcome without an error."""
    assert outcome["resourceType"] == "OperationOutcome"
    assert not [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")], outcome


def _writes(claims: Claims, entry: dict[str, Any]) -> None:
    """create .. delete of one resource, and every conditional and search claim on the way."""
    client, resource_type = claims.client, entry["type"]
    codes = {i["code"] for i in entry["interaction"]}
    assert {"create", "read", "delete"} <= codes, codes
    created = _ok(client.post(f"/fhir/{resource_type}", json=_body(claims.server, resource_type, 1)), 201)
    url = f"/fhir/{resource_type}/{created['id']}"
    assert _ok(client.get(url))["id"] == created["id"]
    if entry["conditionalRead"] == "full-support":
        assert client.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    if "vread" in codes:
        assert _ok(client.get(f"{url}/_history/1"))["meta"]["versionId"] == "1"
    if "update" in codes:
        assert _ok(client.put(url, json={**created, "language": "de"}))["meta"]["versionId"] == "2"
    if entry["versioning"] == "versioned-update":
        assert client.put(url, json=created, headers={"If-Match": 'W/"1"'}).status_code == 412
    if "patch" in codes:
        patch = [{"op": "replace" if "update" in codes else "add", "path": "/language", "value": "en"}]
        assert _ok(client.patch(url, content=orjson.dumps(patch), headers=JSON_PATCH))["language"] == "en"
    current = _ok(client.get(url))
    _conditional_writes(claims, entry, current)
    if "history-instance" in codes:
        assert _ok(client.get(f"{url}/_history"))["type"] == "history"
    if "history-type" in codes:
        assert _ok(client.get(f"/fhir/{resource_type}/_history"))["type"] == "history"
    if "search-type" in codes:
        assert _searches(client, resource_type, [("_id", created["id"])])["entry"][0]["resource"]["id"] == created["id"]
        _every_search_parameter(client, entry)
        _every_include(client, entry, created["id"])
    _every_operation(client, entry, current, _body(claims.server, resource_type, 3))
    _ok(client.delete(url), 204)
    assert client.get(url).status_code == 410


def _conditional_writes(claims: Claims, entry: dict[str, Any], current: dict[str, Any]) -> None:
    client, resource_type = claims.client, entry["type"]
    criteria = {"_id": current["id"]}
    if entry["conditionalCreate"]:
        again = client.post(
            f"/fhir/{resource_type}",
            json=_body(claims.server, resource_type, 1),
            headers={"If-None-Exist": f"_id={current['id']}"},
        )
        assert _ok(again)["id"] == current["id"]
    if entry["conditionalUpdate"]:
        sent = {k: v for k, v in current.items() if k not in ("id", "meta")}
        assert _ok(client.put(f"/fhir/{resource_type}", params=criteria, json=sent))["id"] == current["id"]
    if entry["updateCreate"]:
        other = f"claims-{resource_type.lower()}-2"
        made = client.put(
            f"/fhir/{resource_type}/{other}", json={**_body(claims.server, resource_type, 2), "id": other}
        )
        _ok(made, 201)
        if entry["conditionalDelete"] == "single":
            _ok(client.delete(f"/fhir/{resource_type}", params={"_id": other}), 204)
            assert client.get(f"/fhir/{resource_type}/{other}").status_code == 410


def _reads(claims: Claims, entry: dict[str, Any]) -> None:
    """A read-only type: its search finds what exists, each listed parameter finds the resource it names."""
    client, resource_type = claims.client, entry["type"]
    assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
    if resource_type == "AuditEvent":
        _ok(client.get("/fhir/Patient/rt-patient-1"))  # makes sure the trail holds an event
    found = _searches(client, resource_type, [])
    assert found["entry"], f"nothing to read of {resource_type}"
    first = found["entry"][0]["resource"]
    assert _ok(client.get(f"/fhir/{resource_type}/{first['id']}")) == first
    for parameter in entry["searchParam"]:
        name = parameter["name"]
        held = first.get("id" if name == "_id" else name)
        value = held if isinstance(held, str) else _value(parameter)
        matches = _searches(client, resource_type, [(name, value)])
        if isinstance(held, str):
            assert first["id"] in {e["resource"]["id"] for e in matches["entry"]}, name


# --- the tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", TYPES)
def test_every_claim_about_a_type_holds(claims: Claims, resource_type: str) -> None:
    entry = claims.entry(resource_type)
    if any(i["code"] == "create" for i in entry["interaction"]):
        _writes(claims, entry)
    else:
        _reads(claims, entry)


def test_every_system_interaction_claimed_holds(claims: Claims) -> None:
    client = claims.client
    codes = {i["code"] for i in claims.statement["rest"][0].get("interaction", [])}
    assert codes <= KNOWN_SYSTEM_INTERACTIONS, codes - KNOWN_SYSTEM_INTERACTIONS
    for kind in {"batch", "transaction"} & codes:
        assert _ok(client.post("/fhir", json={"resourceType": "Bundle", "type": kind}))["type"] == f"{kind}-response"
    if "history-system" in codes:
        assert _ok(client.get("/fhir/_history"))["type"] == "history"
    operations = {o["name"] for o in claims.statement["rest"][0].get("operation", [])}
    assert operations <= {"export"}, operations
    if "export" in operations:
        _export(client, "/fhir/$export")


def test_every_format_claimed_holds(claims: Claims) -> None:
    """``format``: each one is served (as ``_format`` and as ``Accept``); ``patchFormat``: a patch in each applies."""
    client = claims.client
    for fmt in claims.statement["format"]:
        assert _ok(client.get("/fhir/metadata", params={"_format": fmt}))["resourceType"] == "CapabilityStatement"
        if "/" in fmt:
            assert _ok(client.get("/fhir/metadata", headers={"Accept": fmt}))["resourceType"] == "CapabilityStatement"
    url = "/fhir/Patient/rt-patient-2"
    for media_type in claims.statement.get("patchFormat", []):
        for language in ("en", "de"):
            present = "language" in _ok(client.get(url))
            patch = _patch_in(media_type, language, present)
            _ok(client.patch(url, content=patch, headers={"Content-Type": media_type}))
            assert _ok(client.get(url))["language"] == language, media_type


def _patch_in(media_type: str, language: str, present: bool) -> bytes:
    """A patch setting Patient.language (``present``: it has one), in JSON Patch, JSON Merge Patch or FHIRPath Patch
    (http.html#patch)."""
    if media_type == "application/json-patch+json":
        return orjson.dumps([{"op": "add", "path": "/language", "value": language}])
    if media_type == "application/merge-patch+json":
        return orjson.dumps({"language": language})
    if media_type != "application/fhir+json":
        pytest.fail(f"no exercise for the patch format {media_type}")
    where = (
        [{"name": "path", "valueString": "Patient.language"}]
        if present
        else [
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "language"},
        ]
    )
    parts = [
        {"name": "type", "valueCode": "replace" if present else "add"},
        *where,
        {"name": "value", "valueCode": language},
    ]
    return orjson.dumps({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]})


def test_the_tests_cover_every_type_and_kind_of_claim(claims: Claims) -> None:
    resources = claims.statement["rest"][0]["resource"]
    assert sorted(r["type"] for r in resources) == TYPES
    for resource in resources:
        assert {i["code"] for i in resource["interaction"]} <= KNOWN_INTERACTIONS
        assert {o["name"] for o in resource.get("operation", [])} <= KNOWN_OPERATIONS, resource["type"]
        assert {p["type"] for p in resource.get("searchParam", [])} <= {*VALUES, "reference", "composite"}
