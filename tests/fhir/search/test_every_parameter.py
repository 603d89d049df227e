"""Every search parameter of every served type (the official R4 set as fhir_server.fhir.search.registry serves
it, the resource store's types included) indexes generated valid resources and answers a search with a 200 Bundle
(http://hl7.org/fhir/R4/searchparameter-registry.html). What the registry leaves out is named here too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir.search.indexer import index_rows
from fhir_server.fhir.search.registry import SearchParameter, parameters_for
from fhir_server.paths import project_dir
from mappings.registry import MAPPINGS
from tests.fhir.search.search_samples import sample_for

TARGETS = {t: "x1" for t in MAPPINGS}
SAMPLE_VALUES = {
    "string": "ab",
    "token": "http://example.org|ab",
    "date": "ge2020-01-01",
    "reference": "Patient/ab",
    "number": "gt1.5",
    "quantity": "le1.5|http://unitsofmeasure.org|mg",
    "uri": "http://example.org/ab",
}
"""A syntactically valid value of each parameter type."""
BATCH = 25
"""Criteria per search (the default search_max_parameters is 30)."""


def sample_value(param: SearchParameter) -> str:
    """A valid search value of ``param`` (a composite's joins one per component with ``$``)."""
    if param.components:
        return "$".join(SAMPLE_VALUES[c.type] for c in param.components)
    return SAMPLE_VALUES[param.type]


def test_the_registry_serves_every_official_parameter_of_the_served_types_but_a_few_named_ones() -> None:
    bundle = orjson.loads((project_dir("conformance") / "search-parameters.json").read_bytes())
    left_out = set()
    for definition in (entry["resource"] for entry in bundle["entry"]):
        for base in definition["base"]:
            if base in MAPPINGS and definition["code"] not in parameters_for(base):
                left_out.add((base, definition["code"], definition["type"]))
    unserved_codes = {"_content", "_query"}  # Resource-level parameters searched by no index (full text, queries)
    assert {(b, c, t) for b, c, t in left_out if c not in unserved_codes} == {
        ("Location", "near", "special"),
        ("Bundle", "composition", "reference"),  # registry.NOT_INDEXED
        ("Bundle", "message", "reference"),
    }


def _answers_a_bundle(client: TestClient, resource_type: str, criteria: list[tuple[str, str]]) -> str | None:
    """None when ``GET [base]/[type]?criteria`` answers a 200 Bundle; else what it answered."""
    response = client.get(f"/fhir/{resource_type}", params=[*criteria, ("_count", "1")])
    if response.status_code == 200 and response.json().get("resourceType") == "Bundle":
        return None
    return f"{response.status_code} {response.text[:200]}"


@pytest.mark.parametrize("resource_type", sorted(MAPPINGS))
def test_a_search_by_each_parameter_answers_a_bundle(module_client: TestClient, resource_type: str) -> None:
    """Searched BATCH parameters at a time (ANDed: each criterion's SQL runs), each alone when a batch fails."""
    criteria = [(code, sample_value(param)) for code, param in sorted(parameters_for(resource_type).items())]
    failures = []
    for start in range(0, len(criteria), BATCH):
        batch = criteria[start : start + BATCH]
        if _answers_a_bundle(module_client, resource_type, batch) is None:
            continue
        for name, value in batch:
            if (answer := _answers_a_bundle(module_client, resource_type, [(name, value)])) is not None:
                failures.append(f"{name}={value}: {answer}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("resource_type", sorted(MAPPINGS))
def test_every_parameter_indexes_a_resource_holding_its_value(resource_type: str) -> None:
    """A resource generated to hold a value of the parameter (tests/fhir/search/search_samples.py) gets an index row
    of it: the expression evaluates and selects what the parameter's type indexes."""
    failures = []
    for code, param in sorted(parameters_for(resource_type).items()):
        if param.components or code in {"_id", "_lastUpdated"}:  # composites: test_composite_rows_per_repetition
            continue
        sample = sample_for(resource_type, param, TARGETS)
        if code not in {row["param"] for rows in index_rows(sample.resource).values() for row in rows}:
            failures.append(f"{code} ({param.expression}) indexes nothing of {sample.resource}")
    assert not failures, "\n".join(failures)


def _rows(resource: dict[str, Any], code: str) -> list[tuple[Any, str, Any]]:
    """(repetition, component code, indexed value) of composite ``code``'s rows, in order."""
    found = []
    for rows in index_rows(resource).values():
        for row in rows:
            if row["param"].partition("$")[0] == code:
                value = row["value"] if "value" in row else row.get("code") or row.get("target_id")
                found.append((row["repetition"], row["param"], value))
    return sorted(found, key=str)


def test_composite_rows_per_repetition() -> None:
    """Each repetition of the composite's element where every component has a value, numbered; a repetition
    missing a component indexes nothing (it could never match)."""
    sequence = {
        "resourceType": "MolecularSequence",
        "coordinateSystem": 0,
        "referenceSeq": {"chromosome": {"coding": [{"code": "1"}]}, "windowStart": 10, "windowEnd": 20},
        "variant": [{"start": 12, "end": 13}, {"start": 15}],
    }
    assert _rows(sequence, "chromosome-variant-coordinate") == [
        (0, "chromosome-variant-coordinate$0", "1"),
        (0, "chromosome-variant-coordinate$1", Decimal(12)),
        (0, "chromosome-variant-coordinate$2", Decimal(13)),
    ]
    plan = {
        "resourceType": "PlanDefinition",
        "status": "draft",
        "useContext": [
            {"code": {"code": "age"}, "valueQuantity": {"value": 18, "code": "a"}},
            {"code": {"code": "focus"}, "valueCodeableConcept": {"coding": [{"code": "asthma"}]}},
        ],
    }
    assert _rows(plan, "context-type-quantity") == [
        (0, "context-type-quantity$0", "age"),
        (0, "context-type-quantity$1", Decimal(18)),
    ]
    assert _rows(plan, "context-type-value") == [
        (1, "context-type-value$0", "focus"),
        (1, "context-type-value$1", "asthma"),
    ]
