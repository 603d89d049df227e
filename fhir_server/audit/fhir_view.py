"""An ``audit_events`` row as a FHIR R4 AuditEvent in the IHE BALP shape (https://profiles.ihe.net/ITI/BALP/,
http://hl7.org/fhir/R4/auditevent.html): type ``rest`` with the interaction as subtype (authorization events get
their action as a server-local subtype), agent[] the user and the client, entity[] the resource and the patient,
outcome 0/4/8/12, ``recorded``, ``source.observer`` this server with ``source.type`` telling how the data was reached
(``4`` Application Server: the FHIR API; ``3`` Web Server: a page of the browser UI), a search's query as its
entity's ``query``."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

import orjson

from fhir_server.db import AuditEvent
from fhir_server.paths import project_dir
from mappings.base import fhir_instant

EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
LOCAL_ACTION = "urn:fhir-server:audit-action"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
SOURCES = {
    "api": {"system": SOURCE_TYPE, "code": "4", "display": "Application Server"},
    "ui": {"system": SOURCE_TYPE, "code": "3", "display": "Web Server"},
}
"""``source.type`` by how the request reached the data (``detail.via`` of the row; the FHIR API when absent)."""
LOGIN_ACTIONS = frozenset(
    {"login", "logout", "login-failed", "account-locked", "password-reset-requested", "password-reset"}
)
OUTCOME_CODES = {"success": "0", "minor-failure": "4", "serious-failure": "8", "major-failure": "12"}
_ACTIONS = {"read": "R", "vread": "R", "create": "C", "update": "U", "patch": "U", "delete": "D"}


@cache
def restful_interactions() -> frozenset[str]:
    """The codes of the R4 CodeSystem http://hl7.org/fhir/restful-interaction (from the official definitions)."""
    bundle = orjson.loads((project_dir("conformance") / "required-binding-valuesets.json").read_bytes())
    system = next(e["resource"] for e in bundle["entry"] if e["resource"].get("url") == INTERACTION)

    def codes(concepts: list[dict[str, Any]]) -> list[str]:
        return [code for c in concepts for code in [c["code"], *codes(c.get("concept", []))]]

    return frozenset(codes(system.get("concept", [])))


def type_of(action: str) -> dict[str, str]:
    """``rest`` (Restful Operation), or DICOM ``110114`` User Authentication for logins (BALP)."""
    if action in LOGIN_ACTIONS:
        return {"system": DICOM, "code": "110114", "display": "User Authentication"}
    return {"system": EVENT_TYPE, "code": "rest", "display": "Restful Operation"}


def subtype_of(action: str) -> dict[str, str]:
    """The restful-interaction coding of an action (``$op`` is ``operation``, a compartment search ``search``);
    other actions (authorization events) are local codes."""
    if action.startswith("$"):
        return {"system": INTERACTION, "code": "operation", "display": action}
    if action == "search-compartment":
        return {"system": INTERACTION, "code": "search", "display": action}
    if action in restful_interactions():
        return {"system": INTERACTION, "code": action}
    return {"system": LOCAL_ACTION, "code": action}


def to_fhir(row: AuditEvent, patient_fhir_id: str | None, user_ref: str | None, base_url: str) -> dict[str, Any]:
    """The AuditEvent of one row (``patient_fhir_id``/``user_ref`` resolved by the caller)."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(row.id),
        "meta": {"lastUpdated": fhir_instant(row.recorded_at)},
        "type": type_of(row.action),
        "subtype": [subtype_of(row.action)],
        "recorded": fhir_instant(row.recorded_at),
        "outcome": OUTCOME_CODES.get(row.outcome, "8"),
        "agent": _agents(row, user_ref),
        "source": {"observer": {"display": base_url}, "type": [SOURCES[_detail(row).get("via", "api")]]},
    }
    if row.action in _ACTIONS:
        event["action"] = _ACTIONS[row.action]
    if row.action.startswith("search") or row.action.startswith("history"):
        event["action"] = "E"
    if row.outcome_detail:
        event["outcomeDesc"] = row.outcome_detail
    entities = _entities(row, patient_fhir_id)
    if entities:
        event["entity"] = entities
    return event


def _detail(row: AuditEvent) -> dict[str, Any]:
    return row.detail if isinstance(row.detail, dict) else {}


def _agents(row: AuditEvent, user_ref: str | None) -> list[dict[str, Any]]:
    user: dict[str, Any] = {"requestor": True}
    if user_ref is not None:
        user["who"] = {"reference": user_ref}
    elif row.user_id is not None:
        user["who"] = {"identifier": {"system": "urn:fhir-server:user", "value": str(row.user_id)}}
    else:
        user["who"] = {"display": "anonymous"}
    if row.source_address:
        user["network"] = {"address": row.source_address, "type": "2"}
    agents = [user]
    if row.client_id:
        client = {"system": "urn:fhir-server:client", "value": row.client_id}
        agents.append({"requestor": False, "who": {"identifier": client}})
    return agents


def _entities(row: AuditEvent, patient_fhir_id: str | None) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if row.resource_type and row.resource_id:
        entities.append({"what": {"reference": f"{row.resource_type}/{row.resource_id}"}})
    query = _detail(row).get("query")
    searched: dict[str, Any] = {"query": base64.b64encode(query.encode()).decode()} if query else {}
    if row.resource_type and not row.resource_id:
        entities.append({"what": {"display": row.resource_type}, **searched})
    elif searched:
        entities.append(searched)
    if patient_fhir_id is not None:
        role = {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}
        entities.append({"what": {"reference": f"Patient/{patient_fhir_id}"}, "role": role})
    if row.request_id:
        entities.append({"what": {"identifier": {"value": row.request_id}}, "type": {"code": "XrequestId"}})
    return entities
