"""Every search parameter the server announces, tested from the SearchParameter data itself.

For each parameter of each served type (http://hl7.org/fhir/R4/searchparameter-registry.html, as loaded by
fhir_server.fhir.search.registry), a resource holding a value of it is generated (search_support) and POSTed;
then the searches of the parameter's type must find it (the value, each modifier and prefix that applies) and the
others must not (a different value, the negated modifier). ``:missing`` is checked both ways against the bare
resource of the type. http://hl7.org/fhir/R4/search.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir.search.fhirpath import evaluate
from fhir_server.fhir.search.registry import parameters_for
from tests.authorized_client import clinic_of
from tests.fhir.search.search_checks import Check, checks_for
from tests.fhir.search.search_samples import SERVED, STORED_TARGETS, Sample, base_resource, sample_for
from tests.fhir.search.search_support import PUBLIC_BASE_URL, Json, found

PARAMETERS = [(t, code) for t in SERVED for code, p in sorted(parameters_for(t).items()) if not p.components]
"""Composites (Questionnaire's ``context-type-value``...) have no generated sample: test_search_composite.py."""


@dataclass
class World:
    """The resources the parameter tests search: one bare resource per type and one sample per parameter."""

    bare: dict[str, Json] = field(default_factory=dict)
    samples: dict[tuple[str, str], tuple[Sample, Json | str]] = field(default_factory=dict)


def _post(client: TestClient, resource: Json) -> Json | str:
    """POST a generated resource (leniently: a sample QuestionnaireResponse names a Questionnaire not held here)."""
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers={"Prefer": "handling=lenient"})
    if response.status_code != 201:
        return f"POST {resource} answered {response.status_code}: {response.text}"
    stored: Json = response.json()
    return stored


@pytest.fixture(scope="module")
def world(module_client: TestClient) -> World:
    """Bare resources first (each type references those before it; the bare Organization is the clinic), then a
    sample per parameter (a sample Organization is data of the clinic, issue 14)."""
    world = World()
    targets: dict[str, str] = {}
    for resource_type in SERVED:
        bare = base_resource(resource_type, targets)
        stored = clinic_of(module_client) if resource_type == "Organization" else _post(module_client, bare)
        assert isinstance(stored, dict), stored
        world.bare[resource_type] = stored
        targets[resource_type] = stored["id"]
    for resource_type, build in STORED_TARGETS:
        stored = _post(module_client, {"resourceType": resource_type, **build(targets)})
        assert isinstance(stored, dict), stored
        targets[resource_type] = stored["id"]
    for resource_type in SERVED:
        for code, param in parameters_for(resource_type).items():
            if code in {"_id", "_lastUpdated"} or param.components:
                continue
            sample = sample_for(resource_type, param, targets)
            world.samples[resource_type, code] = (sample, _post(module_client, sample.resource))
    return world


def _failures(client: TestClient, resource_type: str, resource_id: str, checks: list[Check]) -> list[str]:
    """The checks that fail. Searched in as few requests as the search semantics allow: every expected match at
    once (repeated parameters AND), the expected misses of one parameter name at once (commas OR); a batch that
    does not come out right is searched again check by check, to name the failing ones."""
    hits = [c for c in checks if c.expected]
    misses = sorted((c for c in checks if not c.expected), key=lambda c: c.name)
    batches = [hits, *(list(group) for _, group in groupby(misses, key=lambda c: c.name))]
    failures: list[str] = []
    for batch in batches:
        expected = batch[0].expected
        if len(batch) > 1 and found(client, resource_type, resource_id, *_criteria(batch)) is expected:
            continue
        for check in batch:
            outcome = found(client, resource_type, resource_id, (check.name, check.value))
            if outcome is not check.expected:
                wanted = "found" if check.expected else "not found"
                failures.append(f"{check.name}={check.value}: expected {wanted}, got {outcome}")
    return failures


def _criteria(batch: list[Check]) -> list[tuple[str, str]]:
    if batch[0].expected:
        return [(c.name, c.value) for c in batch]
    return [(batch[0].name, ",".join(c.value.replace(",", "\\,") for c in batch))]


def _missing_checks(code: str, bare: Json, expression: str) -> list[Check]:
    """The bare resource is found by :missing=true exactly when it holds no value of the parameter."""
    absent = not evaluate(bare, expression)
    return [Check(f"{code}:missing", "true", absent), Check(f"{code}:missing", "false", not absent)]


@pytest.mark.parametrize(("resource_type", "code"), [pytest.param(t, c, id=f"{t}.{c}") for t, c in PARAMETERS])
def test_parameter_finds_the_resource_holding_its_value_and_not_others(
    module_client: TestClient, world: World, resource_type: str, code: str
) -> None:
    param = parameters_for(resource_type)[code]
    bare = world.bare[resource_type]
    if code == "_id":
        failures = _failures(module_client, resource_type, bare["id"], id_checks(bare["id"]))
    elif code == "_lastUpdated":
        failures = _failures(module_client, resource_type, bare["id"], last_updated_checks(bare))
    else:
        sample, stored = world.samples[resource_type, code]
        assert isinstance(stored, dict), stored
        assert evaluate(stored, param.expression), f"the stored sample holds no {code}: {stored}"
        failures = _failures(module_client, resource_type, stored["id"], checks_for(sample, PUBLIC_BASE_URL))
        failures += _failures(module_client, resource_type, bare["id"], _missing_checks(code, bare, param.expression))
    assert not failures, "\n".join(failures)


def id_checks(resource_id: str) -> list[Check]:
    hits = [("_id", resource_id), ("_id", f"other,{resource_id}"), ("_id:not", "other"), ("_id:missing", "false")]
    misses = [("_id", "other"), ("_id", resource_id.upper() + "x"), ("_id:not", resource_id), ("_id:missing", "true")]
    return [Check(n, v, True) for n, v in hits] + [Check(n, v, False) for n, v in misses]


def last_updated_checks(resource: dict[str, Any]) -> list[Check]:
    """Around the resource's own meta.lastUpdated: its millisecond, its day, the days before and after."""
    stamp = resource["meta"]["lastUpdated"]
    instant = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    day, before, after = (str((instant + timedelta(days=d)).date()) for d in (0, -1, 1))
    hits = [stamp, day, f"eq{day}", f"ne{before}", f"gt{before}", f"lt{after}", f"ge{stamp}", f"le{stamp}"]
    hits += [f"sa{before}", f"eb{after}", f"ap{day}", f"ge{day}", f"le{day}", day[:7], day[:4]]
    misses = [before, after, f"ne{day}", f"gt{day}", f"lt{day}", f"sa{day}", f"eb{day}", f"gt{stamp}", f"lt{stamp}"]
    return [Check("_lastUpdated", v, True) for v in hits] + [Check("_lastUpdated", v, False) for v in misses]
