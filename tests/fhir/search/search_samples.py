"""Sample resources for the search tests, generated from the SearchParameter and StructureDefinition data.

For a search parameter of a served type, :func:`sample_for` builds a valid resource holding one value the
parameter indexes: the parameter's FHIRPath expression is read as a path of elements (``where(system='email')``
filters, ``as`` choices and ``resolve() is X`` target types included); each element's type and cardinality come
from the R4 StructureDefinitions (``conformance/``); the value is made for the leaf's data type (codes from the
required binding's ValueSet) and the elements the path passes through are created with their mandatory children.
``OVERRIDES`` holds the few paths where the data cannot say what this server accepts (ConceptMap-bound codes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fhir_server.fhir.bindings import required_bindings
from fhir_server.fhir.search.registry import SearchParameter
from tests.fhir.search.search_paths import Member, Step, inside, members, steps_of
from tests.fhir.search.search_support import Json

TEXT = "Émile Zoëtrope"
"""Every string sample: accents and capitals, two words (``zoetr`` is inside, not at the start)."""
UCUM = "http://unitsofmeasure.org"
EXAMPLE = "http://example.org"
SERVED = (
    "Organization",
    "Practitioner",
    "Patient",
    "Endpoint",
    "Questionnaire",
    "Appointment",
    "QuestionnaireResponse",
    "ImagingStudy",
)
"""The served types, in the order their resources can be created (each references only those before it)."""


def _subject(targets: dict[str, str]) -> Json:
    return {"reference": f"Patient/{targets['Patient']}"}


STORED_TARGETS: tuple[tuple[str, Callable[[dict[str, str]], Json]], ...] = (
    ("Location", lambda t: {"name": TEXT}),
    ("Encounter", lambda t: {"status": "finished", "class": {"code": "AMB"}, "subject": _subject(t)}),
    ("Condition", lambda t: {"subject": _subject(t)}),
    ("Observation", lambda t: {"status": "final", "code": {"text": TEXT}, "subject": _subject(t)}),
    ("Procedure", lambda t: {"status": "completed", "subject": _subject(t)}),
    ("ServiceRequest", lambda t: {"status": "active", "intent": "order", "subject": _subject(t)}),
    ("CarePlan", lambda t: {"status": "active", "intent": "plan", "subject": _subject(t)}),
    ("Schedule", lambda t: {"actor": [_subject(t)]}),
    (
        "Slot",
        lambda t: {
            "schedule": {"reference": f"Schedule/{t['Schedule']}"},
            "status": "free",
            "start": "2026-03-01T10:00:00Z",
            "end": "2026-03-01T10:30:00Z",
        },
    ),
)
"""Resources of the resource store the mapped types' reference parameters name (an Appointment's slot, a form's
encounter), in the order they can be created: a reference must name an existing resource."""

_serial = itertools.count(1)


def uid() -> str:
    """A new DICOM UID (also a valid FHIR id), unique in the process."""
    return f"2.25.{next(_serial)}"


def base_resource(resource_type: str, targets: dict[str, str]) -> Json:
    """A minimal valid resource of ``resource_type`` for this server (references to ``targets``: type -> id); of a
    type of the resource store, just its type (enough for indexing)."""
    clinic = {"reference": f"Organization/{targets.get('Organization')}"}
    patient = {"reference": f"Patient/{targets.get('Patient')}"}
    bases: dict[str, Callable[[], Json]] = {
        "Organization": lambda: {"name": "Main Street Clinic"},
        "Practitioner": lambda: {"name": [{"family": "House", "given": ["Greg"]}]},
        "Patient": lambda: {"name": [{"family": "Doe", "given": ["Jane"]}], "managingOrganization": clinic},
        "Endpoint": lambda: {
            "status": "active",
            "connectionType": {"system": f"{EXAMPLE}/connection", "code": "rest"},
            "payloadType": [{"text": "any"}],
            "address": "https://endpoint.example.org/fhir",
            "managingOrganization": clinic,
        },
        "Questionnaire": lambda: {"status": "active"},
        "Appointment": lambda: {
            "status": "booked",
            "start": "2026-03-01T10:00:00Z",
            "end": "2026-03-01T10:30:00Z",
            "participant": [
                {"actor": patient, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{targets.get('Practitioner')}"}, "status": "accepted"},
            ],
        },
        "QuestionnaireResponse": lambda: {"status": "completed", "questionnaire": f"{EXAMPLE}/q", "subject": patient},
        "ImagingStudy": lambda: {
            "status": "available",
            "subject": patient,
            "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{uid()}"}],
        },
    }
    return {"resourceType": resource_type, **bases.get(resource_type, dict)()}


# --- values of each data type --------------------------------------------------------------------------------


def concepts(value_set: str | None) -> list[tuple[str, str]]:
    """The (system, code) concepts of a required binding's ValueSet, sorted (empty when not expandable)."""
    if value_set is None:
        return []
    binding = next((b for b in required_bindings().by_path.values() if b.value_set == value_set.split("|")[0]), None)
    return sorted(binding.concepts, key=lambda c: c[1]) if binding else []


@dataclass
class Value:
    """A generated value and what its checks need to know about it."""

    json: Any
    kind: str  # the leaf's data type
    facts: Json = field(default_factory=dict)


def _code(member: Member, param: SearchParameter) -> Value:
    found = concepts(member.binding)
    if len(found) >= 2:
        (system, code), (_, other) = found[0], found[1]
        return Value(code, "code", {"system": system, "code": code, "other": other})
    return Value(f"c-{param.code}", "code", {"system": None, "code": f"c-{param.code}", "other": "zzz"})


def _coding(member: Member, param: SearchParameter) -> Value:
    found = concepts(member.binding)
    system, code = found[0] if found else (f"{EXAMPLE}/cs/{param.code}", f"C-{param.code}")
    display = f"Display {param.code}"
    facts = {"system": system, "code": code, "display": display, "other": found[1][1] if found else "zzz"}
    return Value({"system": system, "code": code, "display": display}, "Coding", facts)


def _codeable(member: Member, param: SearchParameter) -> Value:
    coding = _coding(member, param)
    text = f"Text of {param.code}"
    local = f"L-{param.code}"
    return Value(
        {"coding": [coding.json, {"code": local, "display": "Local display"}], "text": text},
        "CodeableConcept",
        {**coding.facts, "text": text, "local": local},
    )


def _identifier(member: Member, param: SearchParameter) -> Value:
    facts = {
        "system": f"{EXAMPLE}/ids/{param.code}",
        "value": f"ID-{param.code}-42",
        "type_system": "http://terminology.hl7.org/CodeSystem/v2-0203",
        "type_code": "MR",
        "type_text": "Medical record number",
    }
    json = {
        "system": facts["system"],
        "value": facts["value"],
        "type": {"coding": [{"system": facts["type_system"], "code": "MR"}], "text": facts["type_text"]},
    }
    return Value(json, "Identifier", facts)


def _contact(step: Step, param: SearchParameter) -> Value:
    value = f"v-{param.code}@example.org" if step.filters.get("system") == "email" else "+1 555 0100"
    return Value({"system": step.filters.get("system", "phone"), "value": value}, "ContactPoint", {"code": value})


def _date(kind: str) -> Value:
    values = {
        "date": "2013-05-17",
        "dateTime": "2013-05-17T10:20:30Z",
        "instant": "2013-05-17T10:20:30Z",
        "Period": {"start": "2013-05-17T09:00:00Z", "end": "2013-05-17T11:00:00Z"},
    }
    return Value(values[kind], kind)


def _string(kind: str) -> Value:
    values = {"HumanName": {"family": TEXT}, "Address": {"line": [TEXT]}}
    return Value(values.get(kind, TEXT), kind)


def _reference(step: Step, param: SearchParameter, targets: dict[str, str], current: Any) -> Value:
    kind = step.target or _current_target(current, param) or _preferred_target(param, targets)
    target_id = targets.get(kind, f"ext-{param.code}")
    facts = {"type": kind, "id": target_id, "system": f"{EXAMPLE}/ids/ref", "value": f"R-{param.code}"}
    json = {"reference": f"{kind}/{target_id}", "identifier": {"system": facts["system"], "value": facts["value"]}}
    return Value(json, "Reference", facts)


def _current_target(current: Any, param: SearchParameter) -> str | None:
    reference = current.get("reference") if isinstance(current, dict) else None
    kind = reference.split("/")[0] if isinstance(reference, str) else None
    return kind if kind in param.targets else None


def _preferred_target(param: SearchParameter, targets: dict[str, str]) -> str:
    served = [t for t in param.targets if t in targets]
    if not param.targets:  # a reference to any type (Binary.securityContext)
        return "Patient"
    return served[0] if served else param.targets[0]


def _uri(param: SearchParameter) -> Value:
    base = f"{EXAMPLE}/fhir/{param.code.strip('_')}"
    return Value(f"{base}/v1/item", "uri", {"base": base})


def _quantity() -> Value:
    return Value({"value": 5.4, "unit": "mg", "system": UCUM, "code": "mg"}, "Quantity")


def leaf_value(param: SearchParameter, member: Member, step: Step, targets: dict[str, str], current: Any) -> Value:
    """The value the leaf ``member`` gets so that ``param`` indexes it."""
    kind = member.type
    if param.type == "string":
        return _string(kind)
    if param.type == "date":
        return _date(kind)
    if param.type == "number":
        return Value(7, kind, {"code": "7"})
    if param.type == "reference" and kind == "canonical":
        url = f"{EXAMPLE}/fhir/{param.targets[0] if param.targets else 'Resource'}/{param.code}"
        return Value(url, "canonical", {"url": url})
    if param.type == "reference":
        return _reference(step, param, targets, current)
    if param.type == "uri":
        return _uri(param)
    if param.type == "quantity":
        return _quantity()
    makers: dict[str, Callable[[], Value]] = {
        "code": lambda: _code(member, param),
        "boolean": lambda: Value(True, "boolean", {"code": "true", "other": "false"}),
        "Coding": lambda: _coding(member, param),
        "CodeableConcept": lambda: _codeable(member, param),
        "Identifier": lambda: _identifier(member, param),
        "ContactPoint": lambda: _contact(step, param),
    }
    if kind in makers:
        return makers[kind]()
    code = uid()
    return Value(code, "string", {"code": code, "other": uid()})


def minimal(owner: str, parent: str, targets: dict[str, str]) -> Json:
    """An element of type/path (``owner``, ``parent``) holding only its mandatory members."""
    element: Json = {}
    for member in members(owner, parent).values():
        if not member.required or member.name in element or member.name.endswith(("Range", "Quantity", "Reference")):
            continue
        element[member.name] = _mandatory(owner, member, targets)
    return element


def _mandatory(owner: str, member: Member, targets: dict[str, str]) -> Any:
    probe = SearchParameter(member.name, "token", "", f"urn:mandatory:{member.path}", ())
    if member.type in {"BackboneElement", "Element"}:
        value: Any = minimal(*inside(owner, member), targets)
    elif member.type == "Reference":
        value = {"reference": f"Patient/{targets['Patient']}"}
    else:
        value = leaf_value(probe, member, Step(member.name), targets, None).json
    return [value] if member.many else value


# --- the sample ----------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """A resource holding a value of ``param`` (the body to POST) and that value."""

    param: SearchParameter
    resource_type: str
    resource: Json
    value: Value


OVERRIDES: dict[str, Callable[[Json], Value]] = {}
"""``Type.code`` -> sets the value on the resource itself, where the data cannot say what the server accepts."""


def _override(key: str) -> Callable[[Callable[[Json], Value]], Callable[[Json], Value]]:
    def register(fn: Callable[[Json], Value]) -> Callable[[Json], Value]:
        OVERRIDES[key] = fn
        return fn

    return register


@_override("Patient.deceased")
def _deceased(resource: Json) -> Value:
    """``deceased.exists() and deceased != false``: a boolean computed from deceased[x]."""
    resource["deceasedBoolean"] = True
    return Value(True, "boolean", {"code": "true", "other": "false"})


US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
OMB = "urn:oid:2.16.840.1.113883.6.238"


def _us_core_category(resource: Json, name: str, code: str, other: str) -> Value:
    """A US Core race or ethnicity extension holding the OMB category ``code``: the parameter's expression
    (``extension.where(url=...).extension.value.code``) reaches it through ``value[x]``, which the path reader does not
    follow; its values are codes without their system."""
    category = {"url": "ombCategory", "valueCoding": {"system": OMB, "code": code}}
    text = {"url": "text", "valueString": f"Category {code}"}
    resource["extension"] = [{"url": f"{US_CORE}/us-core-{name}", "extension": [category, text]}]
    return Value(code, "code", {"system": None, "code": code, "other": other})


@_override("Patient.race")
def _race(resource: Json) -> Value:
    return _us_core_category(resource, "race", "2106-3", "2054-5")


@_override("Patient.ethnicity")
def _ethnicity(resource: Json) -> Value:
    return _us_core_category(resource, "ethnicity", "2186-5", "2135-2")


@_override("Patient.gender-identity")
def _gender_identity(resource: Json) -> Value:
    """The US Core gender identity extension (``extension.where(url=...).value.coding.code``, through value[x])."""
    coding = {"system": "http://snomed.info/sct", "code": "446151000124109"}
    resource["extension"] = [{"url": f"{US_CORE}/us-core-genderIdentity", "valueCodeableConcept": {"coding": [coding]}}]
    return Value("446151000124109", "code", {"system": None, "code": "446151000124109", "other": "446141000124107"})


@_override("Organization.endpoint")
def _partner_endpoint(resource: Json) -> Value:
    """A sample Organization names an Endpoint of another server."""
    url = "https://partner.example.net/fhir/Endpoint/77"
    identifier = {"system": f"{EXAMPLE}/ids/ref", "value": "R-endpoint"}
    resource["endpoint"] = [{"reference": url, "identifier": identifier}]
    return Value(resource["endpoint"][0], "Reference", {"url": url, **identifier, "type": "Endpoint", "id": "77"})


@_override("Appointment.appointment-type")
def _appointment_type(resource: Json) -> Value:
    """appointmentType is held through the ConceptMap appointment-visit-category (HL7 v2 table 0276)."""
    system = "http://terminology.hl7.org/CodeSystem/v2-0276"
    display = "Routine appointment"
    resource["appointmentType"] = {"coding": [{"system": system, "code": "ROUTINE", "display": display}]}
    return Value(
        resource["appointmentType"],
        "Coding",
        {"system": system, "code": "ROUTINE", "display": display, "other": "FOLLOWUP"},
    )


def sample_for(resource_type: str, param: SearchParameter, targets: dict[str, str]) -> Sample:
    """A resource of ``resource_type`` that holds a value of ``param``."""
    resource = base_resource(resource_type, targets)
    override = OVERRIDES.get(f"{resource_type}.{param.code}")
    if override is not None:
        return Sample(param, resource_type, resource, override(resource))
    value = _put(resource, resource_type, resource_type, steps_of(param), param, targets)
    return Sample(param, resource_type, resource, value)


def _put(
    node: Json, owner: str, parent: str, steps: list[Step], param: SearchParameter, targets: dict[str, str]
) -> Value:
    step, rest = steps[0], steps[1:]
    member = _member(owner, parent, step.name, param)
    if not rest:
        for sibling in members(owner, parent).values():
            if sibling.path == member.path and sibling.name != member.name:
                node.pop(sibling.name, None)  # one value[x] only
        return _put_leaf(node, member, step, param, targets)
    inner_owner, inner_parent = inside(owner, member)
    holder = _holder(node, member, step, rest[0], (inner_owner, inner_parent), targets)
    return _put(holder, inner_owner, inner_parent, rest, param, targets)


CHOICE_TYPES = {
    "date": ("dateTime", "Period", "date", "instant"),
    "reference": ("Reference", "canonical"),
    "number": ("decimal", "integer"),
    "quantity": ("Quantity",),
    "string": ("string",),
    "token": ("CodeableConcept", "Coding", "code", "boolean", "Identifier", "string"),
    "uri": ("uri", "canonical"),
}
"""The types a choice element named without a cast (``Observation.effective``) is given, by parameter type."""


def _member(owner: str, parent: str, name: str, param: SearchParameter) -> Member:
    """The member ``name`` of (``owner``, ``parent``); for a choice element named without a cast, its variant of
    the first type in :data:`CHOICE_TYPES` for the parameter's type."""
    found = members(owner, parent)
    if name in found:
        return found[name]
    variants = {m.type: m for m in found.values() if m.path.endswith(f".{name}[x]")}
    return next(variants[t] for t in CHOICE_TYPES[param.type] if t in variants)


def _holder(
    node: Json, member: Member, step: Step, following: Step, inner: tuple[str, str], targets: dict[str, str]
) -> Json:
    """The element the path continues in: the first existing one (one whose next member references the next
    step's target type, when it names one), else a new one with its mandatory members."""
    existing = node.get(member.name)
    items = existing if isinstance(existing, list) else [existing] if existing else []
    for item in items:
        if isinstance(item, dict) and (
            following.target is None or _references(item.get(following.name), following.target)
        ):
            return item
    created = {**minimal(*inner, targets), **step.filters}
    if member.many:
        node[member.name] = [*items, created]
        return created
    node[member.name] = created
    return created


def _references(value: Any, target: str) -> bool:
    reference = value.get("reference") if isinstance(value, dict) else None
    return isinstance(reference, str) and reference.startswith(target + "/")


def _put_leaf(node: Json, member: Member, step: Step, param: SearchParameter, targets: dict[str, str]) -> Value:
    current = node.get(member.name)
    value = leaf_value(param, member, step, targets, current[0] if isinstance(current, list) and current else current)
    if isinstance(value.json, dict):
        value.json.update(step.filters)
    if member.many:
        node[member.name] = [*(current or []), value.json]
    else:
        node[member.name] = value.json
    return value
