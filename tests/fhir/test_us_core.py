"""The US Core 3.1.1 server CapabilityStatement is instantiated only when its SHALL requirements hold
(fhir_server/fhir/us_core.py), checked against the CapabilityStatement the server itself generates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.app import create_app
from fhir_server.fhir import capability_statement, us_core
from fhir_server.settings import load_settings


def _generated(auth: str) -> dict[str, Any]:
    settings = load_settings(base_url="https://fhir.example.org/r4", auth=auth)
    return capability_statement.build(create_app(settings).openapi()["paths"], settings, "9.9")


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    """The CapabilityStatement of the server with authorization on (the default)."""
    return _generated("enabled")


def _meeting_every_requirement() -> dict[str, Any]:
    """A CapabilityStatement written from the requirements themselves."""
    resources = [
        {
            "type": resource_type,
            "interaction": [{"code": code} for code in required.interactions],
            "searchParam": [
                {"name": name, "type": "token"}
                for name in sorted({*required.search_parameters, *(n for c in required.combinations for n in c)})
            ],
            "searchRevInclude": list(required.rev_includes),
            "operation": [{"name": name} for name in required.operations],
        }
        for resource_type, required in us_core.SHALL.items()
    ]
    return {"format": ["json"], "rest": [{"mode": "server", "security": {}, "resource": resources}]}


def test_a_statement_meeting_every_requirement_has_nothing_unmet() -> None:
    assert us_core.unmet(_meeting_every_requirement()) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda r: r["Patient"].update(searchParam=[{"name": "_id"}, {"name": "name"}]),
            "Patient: search parameter identifier",
        ),
        (lambda r: r["Observation"]["searchParam"].pop(), "Observation: search parameter combination"),
        (lambda r: r["Condition"].update(searchRevInclude=[]), "Condition: _revinclude=Provenance:target"),
        (lambda r: r["DocumentReference"].update(operation=[]), "DocumentReference: operation $docref"),
        (lambda r: r["DiagnosticReport"]["interaction"].pop(0), "DiagnosticReport: interaction create"),
        (lambda r: r["Provenance"].update(type="Basic"), "Provenance: not served"),
    ],
)
def test_each_unmet_requirement_is_named(change: Any, named: str) -> None:
    statement = _meeting_every_requirement()
    change({r["type"]: r for r in statement["rest"][0]["resource"]})
    assert [p for p in us_core.unmet(statement) if p.startswith(named)], us_core.unmet(statement)


def test_json_and_401_for_unauthorized_requests_are_required() -> None:
    statement = copy.deepcopy(_meeting_every_requirement())
    statement["format"] = ["xml"]
    del statement["rest"][0]["security"]
    assert us_core.unmet(statement) == ["the json format", "401 for unauthorized requests (authorization is off)"]


def test_the_generated_statement_meets_every_requirement_and_instantiates_us_core(generated: dict[str, Any]) -> None:
    assert us_core.unmet(generated) == []
    assert us_core.SERVER_CAPABILITY_STATEMENT in generated["instantiates"]


def test_us_core_is_instantiated_exactly_when_nothing_is_unmet(generated: dict[str, Any]) -> None:
    instantiated = us_core.SERVER_CAPABILITY_STATEMENT in generated.get("instantiates", [])
    assert instantiated == (us_core.unmet(generated) == [])


def test_a_server_without_authorization_never_instantiates_us_core() -> None:
    statement = _generated("disabled")
    assert "401 for unauthorized requests (authorization is off)" in us_core.unmet(statement)
    assert "instantiates" not in statement


def test_every_us_core_type_is_served_with_its_required_search_parameters(generated: dict[str, Any]) -> None:
    resources = {r["type"]: r for r in generated["rest"][0]["resource"]}
    assert set(us_core.SHALL) <= set(resources)
    assert {"name", "identifier", "birthdate", "gender", "_id"} <= {
        p["name"] for p in resources["Patient"]["searchParam"]
    }
