"""The write routes the fuzz test sends a (mutated) resource through, each checking what it answers
(tests.fuzz.answers) and what it leaves: a refused write stores nothing, an accepted one is read back for the
validator.

Routes: POST create, PUT update (a new id), conditional create (``If-None-Exist``), conditional update, a batch's
POST entry, a transaction's PUT entry, ``$validate``; JSON Patch and FHIRPath Patch of a stored resource
(:func:`patch`). A new id per example: the examples share one server.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.answers import Accepted, sane
from tests.fuzz.mutations import bad_values

FHIR_JSON = {"Content-Type": "application/fhir+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
_LOCATION = re.compile(r"(?:^|/)(?P<type>[A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})/_history/")
ERRORS = ("error", "fatal")


def encoded(body: Any) -> bytes:
    """``body`` as JSON text (Python's json: integers of any size, as a client may send them)."""
    return json.dumps(body, ensure_ascii=False).encode()


def fresh_id() -> str:
    return f"fz-{uuid.uuid4().hex}"


def _located(location: str | None) -> tuple[str, str]:
    found = _LOCATION.search(location or "")
    assert found is not None, f"a write answered 2xx without a Location: {location!r}"
    return found["type"], found["id"]


def _with_id(body: Any, resource_id: str) -> Any:
    return {**body, "id": resource_id} if isinstance(body, dict) and "id" not in body else body


def _absent(accepted: Accepted, resource_type: str, resource_id: str, sent: Any) -> None:
    """A refused write left nothing under ``resource_id``."""
    response = accepted.client.get(f"/fhir/{resource_type}/{resource_id}")
    sane(response, sent)
    assert response.status_code in {400, 404}, f"refused, yet {resource_type}/{resource_id} was stored: {sent}"


def _single(accepted: Accepted, response: Any, sent: Any, resource_type: str, resource_id: str | None) -> None:
    """Check a single write's answer: read back what it accepted, or check that a refused one under a new id left
    nothing."""
    sane(response, sent)
    if response.status_code < 300:
        accepted.read_back(
            *_located(response.headers.get("location") or response.headers.get("content-location")), sent
        )
    elif resource_id is not None:
        _absent(accepted, resource_type, resource_id, sent)


def create(accepted: Accepted, resource_type: str, body: Any) -> None:
    response = accepted.client.post(f"/fhir/{resource_type}", content=encoded(body), headers=FHIR_JSON)
    _single(accepted, response, body, resource_type, None)


def update(accepted: Accepted, resource_type: str, body: Any) -> None:
    resource_id = fresh_id()
    sent = _with_id(body, resource_id)
    response = accepted.client.put(f"/fhir/{resource_type}/{resource_id}", content=encoded(sent), headers=FHIR_JSON)
    _single(accepted, response, sent, resource_type, resource_id)


def conditional_create(accepted: Accepted, resource_type: str, body: Any) -> None:
    headers = {**FHIR_JSON, "If-None-Exist": f"_id={fresh_id()}"}
    response = accepted.client.post(f"/fhir/{resource_type}", content=encoded(body), headers=headers)
    _single(accepted, response, body, resource_type, None)


def conditional_update(accepted: Accepted, resource_type: str, body: Any) -> None:
    resource_id = fresh_id()
    sent = _with_id(body, resource_id)
    url = f"/fhir/{resource_type}?_id={resource_id}"
    response = accepted.client.put(url, content=encoded(sent), headers=FHIR_JSON)
    _single(accepted, response, sent, resource_type, resource_id)


def _bundle(accepted: Accepted, kind: str, entry: dict[str, Any], sent: Any) -> dict[str, Any] | None:
    bundle = {"resourceType": "Bundle", "type": kind, "entry": [entry]}
    response = accepted.client.post("/fhir", content=encoded(bundle), headers=FHIR_JSON)
    answer = sane(response, sent)
    if response.status_code >= 300:
        return None
    assert answer["resourceType"] == "Bundle", answer
    (item,) = answer["entry"]
    status = int(item["response"]["status"].split()[0])
    assert status < 500, f"a {kind} entry answered {item} for {sent}"
    outcome = item["response"].get("outcome")
    if status >= 400:
        assert outcome is not None and outcome["resourceType"] == "OperationOutcome", item
        return None
    response_part: dict[str, Any] = item["response"]
    return response_part


def batch(accepted: Accepted, resource_type: str, body: Any) -> None:
    entry = {"resource": body, "request": {"method": "POST", "url": resource_type}}
    done = _bundle(accepted, "batch", entry, body)
    if done is not None:
        accepted.read_back(*_located(done.get("location")), body)


def transaction(accepted: Accepted, resource_type: str, body: Any) -> None:
    resource_id = fresh_id()
    sent = _with_id(body, resource_id)
    entry = {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": sent,
        "request": {"method": "PUT", "url": f"{resource_type}/{resource_id}"},
    }
    done = _bundle(accepted, "transaction", entry, sent)
    if done is None:
        _absent(accepted, resource_type, resource_id, sent)
    else:
        accepted.read_back(*_located(done.get("location")), sent)


def validate(accepted: Accepted, resource_type: str, body: Any) -> None:
    """``$validate``: whatever it says, an OperationOutcome; a resource it finds no error in goes to the validator
    too."""
    response = accepted.client.post(f"/fhir/{resource_type}/$validate", content=encoded(body), headers=FHIR_JSON)
    outcome = sane(response, body)
    assert outcome is not None and outcome["resourceType"] == "OperationOutcome", outcome
    if response.status_code == 200 and not any(i["severity"] in ERRORS for i in outcome["issue"]):
        accepted.resources[f"$validate/{len(accepted.resources)}"] = body
        accepted.sent[f"$validate/{len(accepted.resources) - 1}"] = body


Route = Callable[[Accepted, str, Any], None]
ROUTES: tuple[Route, ...] = (create, update, conditional_create, conditional_update, batch, transaction, validate)


# --- patches --------------------------------------------------------------------------------------------------


def _pointers(node: Any, prefix: str = "") -> list[str]:
    """JSON Pointers (RFC 6901) of every value under ``node``."""
    found: list[str] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        pointer = f"{prefix}/{str(key).replace('~', '~0').replace('/', '~1')}"
        found.append(pointer)
        found.extend(_pointers(child, pointer))
    return found


@st.composite
def json_patches(draw: st.DrawFn, stored: dict[str, Any]) -> list[dict[str, Any]]:
    """One or two JSON Patch operations on ``stored`` that put a bad value somewhere (or take a value away)."""
    pointers = [
        p for p in _pointers(stored) if p not in {"/resourceType", "/id", "/meta"} and not p.startswith("/meta/")
    ]
    operations = []
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(pointers or ["/unknown"]))
        kind = draw(st.sampled_from(["replace", "replace", "add", "remove"]))
        if kind == "add" and draw(st.booleans()):
            path = path.rsplit("/", 1)[0] + "/" + draw(st.sampled_from(["-", "unknownElement", "0", "999"]))
        operation: dict[str, Any] = {"op": kind, "path": path}
        if kind != "remove":
            operation["value"] = draw(bad_values())
        operations.append(operation)
    return operations


_FHIRPATH_VALUES = ("valueString", "valueBoolean", "valueInteger", "valueDateTime", "valueCode", "valueDecimal")


@st.composite
def fhirpath_patches(draw: st.DrawFn, stored: dict[str, Any]) -> dict[str, Any]:
    """A FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html) of one element of ``stored`` with a value of a
    random type (or a deletion)."""
    resource_type = stored["resourceType"]
    names = sorted(k for k in stored if k not in {"resourceType", "id", "meta"} and not k.startswith("_"))
    name = draw(st.sampled_from([*names, "unknownElement", "text", "extension"]))
    kind = draw(st.sampled_from(["replace", "add", "delete", "insert"]))
    parts: list[dict[str, Any]] = [{"name": "type", "valueCode": kind}]
    if kind == "add":
        parts += [{"name": "path", "valueString": resource_type}, {"name": "name", "valueString": name}]
    else:
        parts.append({"name": "path", "valueString": f"{resource_type}.{name}"})
    if kind == "insert":
        parts.append({"name": "index", "valueInteger": draw(st.integers(-1, 3))})
    if kind != "delete":
        member = draw(st.sampled_from(_FHIRPATH_VALUES))
        value = draw(st.one_of(bad_values(), st.sampled_from(["x", True, 1, "2020-01-01"])))
        parts.append({"name": "value", member: value})
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]}


def patch(accepted: Accepted, stored: dict[str, Any], body: Any, json_patch: bool) -> None:
    """PATCH ``stored`` (version 1) with ``body``; a refused patch leaves it at version 1."""
    url = f"/fhir/{stored['resourceType']}/{stored['id']}"
    headers = JSON_PATCH if json_patch else FHIR_JSON
    response = accepted.client.patch(url, content=encoded(body), headers=headers)
    sane(response, body)
    if response.status_code < 300:
        accepted.read_back(stored["resourceType"], stored["id"], body)
        return
    current = sane(accepted.client.get(url), body)
    assert current["meta"]["versionId"] == "1", f"a refused patch changed {url}: {body}"
