"""The checks of a round trip: a generated resource is valid, the server takes it, and reads it back as sent.

http://hl7.org/fhir/R4/http.html#update (create-on-update under the client's id) and the round-trip law of the
design: ``GET(PUT(r)) == r`` apart from ``meta.versionId``/``meta.lastUpdated`` and the elements the server sets
(:func:`tests.roundtrip.server_rules.expected`). Failures name the JSON paths that differ.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from fhir_server.fhir.bindings import binding_issues
from fhir_server.fhir.validation import structure_issues
from mappings.base import SERVER_META
from tests.roundtrip.invariants import violations
from tests.roundtrip.server import Server
from tests.roundtrip.server_rules import expected, made_unique


def differences(left: Any, right: Any, path: str = "") -> Iterator[str]:
    """The paths where two JSON values differ: booleans are not numbers, and numbers are compared as the
    decimals their JSON text means (``3.835572412091922e+16`` is ``38355724120919220``, which PostgreSQL's jsonb
    serves back)."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(left.keys() | right.keys()):
            if key not in left or key not in right:
                yield f"{path}.{key}: {left.get(key, '<absent>')!r} != {right.get(key, '<absent>')!r}"
            else:
                yield from differences(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from differences(a, b, f"{path}[{i}]")
    elif _number(left) and _number(right):
        if Decimal(repr(left)) != Decimal(repr(right)):
            yield f"{path or '.'}: {left!r} != {right!r}"
    elif type(left) is not type(right) or left != right:
        yield f"{path or '.'}: {left!r} != {right!r}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def assert_same(actual: Any, wanted: Any, what: str) -> None:
    found = list(differences(actual, wanted))
    assert not found, f"{what} differs at:\n" + "\n".join(found[:20])


def assert_valid(resource: dict[str, Any]) -> None:
    """Valid R4: the structure of the R4 definitions, the required bindings, every invariant (a generator bug if
    not)."""
    assert structure_issues(resource) == [], structure_issues(resource)
    assert binding_issues(resource) == [], binding_issues(resource)
    assert violations(resource) == []


def client_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.get("meta", {}).items() if k not in SERVER_META}


def content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in {"id", "meta"}}


def assert_server_validates(server: Server, resource: dict[str, Any]) -> None:
    """$validate answers one information issue, "All OK", for the resource as a create (type level) and as the
    update about to be made (instance level); or, for a QuestionnaireResponse to a Questionnaire the server does not
    hold, only the warning that the lenient write stores it unchecked."""
    resource_type, resource_id = resource["resourceType"], resource["id"]
    unheld = [("warning", ["QuestionnaireResponse.questionnaire"])]
    for url in (f"/fhir/{resource_type}/$validate", f"/fhir/{resource_type}/{resource_id}/$validate"):
        response = server.client.post(url, json=resource)
        assert response.status_code == 200, response.text
        issues = response.json()["issue"]
        shown = [(i["severity"], i.get("expression")) for i in issues]
        assert shown == [("information", None)] or shown == unheld, (url, issues)


def put(server: Server, resource: dict[str, Any], status: int) -> dict[str, Any]:
    response = server.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def get(server: Server, resource_type: str, resource_id: str) -> dict[str, Any]:
    response = server.client.get(f"/fhir/{resource_type}/{resource_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def made_unique_resource(generated: dict[str, Any], resource_id: str) -> dict[str, Any]:
    """A copy of a generated resource under ``resource_id``, with the values the server wants unique made so."""
    return made_unique({**copy.deepcopy(generated), "id": resource_id})


def round_trip(server: Server, generated: dict[str, Any]) -> dict[str, Any]:
    """PUT a generated resource under a new id, check it reads back as sent, PUT what was read and check that
    changed nothing; the resource as served."""
    resource = made_unique_resource(generated, f"rt-{uuid.uuid4().hex}")
    assert_valid(resource)
    assert_server_validates(server, resource)
    written = put(server, resource, 201)
    served = get(server, resource["resourceType"], resource["id"])
    assert_same(served, written, "the resource read after the update, against the update's answer,")
    assert served["meta"]["versionId"] == "1"
    assert_same(client_meta(served), client_meta(resource), "meta")
    assert_same(content(served), expected(resource, served, server.clinic_id), "the resource read back")
    put(server, served, 200)
    again = get(server, resource["resourceType"], resource["id"])
    assert_same(content(again), content(served), "the resource after a PUT of what was read")
    assert_same(client_meta(again), client_meta(served), "meta after a PUT of what was read")
    return again
