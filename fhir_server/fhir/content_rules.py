"""The rules of the R4 definitions that a resource of sound structure must also keep; each break answers 422.

http://hl7.org/fhir/R4/http.html#create lists under 422 "the proposed resource violated applicable FHIR profiles
or server business rules": the resource parsed and has a valid structure (otherwise 400,
:mod:`fhir_server.fhir.structure_validation`), but breaks

- a required binding (:mod:`fhir_server.fhir.bindings`, issue code ``code-invalid``);
- the target types of a Reference (``targetProfile``, http://hl7.org/fhir/R4/references.html): a literal reference
  ``Type/id`` (relative or absolute) whose ``Type`` the element does not allow, such as
  ``Patient.generalPractitioner`` naming a Patient (issue code ``invalid``). ``#id``, ``urn:uuid:`` and
  conditional references name no type and are left to :mod:`fhir_server.fhir.references`;
- an invariant (:mod:`fhir_server.fhir.invariants`, issue code ``invariant``, naming its key and human text), but
  those of :data:`CHECKED_ELSEWHERE`.

Each issue names the element (``Patient.generalPractitioner[0]``; an invariant of the resource names the type).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir_server.errors import Issue, Kind, fail_all
from fhir_server.fhir.bindings import binding_issues
from fhir_server.fhir.fhirpath_guard import TooCostlyError
from fhir_server.fhir.invariants import broken
from fhir_server.fhir.primitives import literal_reference
from fhir_server.fhir.structure import walk

CHECKED_ELSEWHERE = frozenset({"ref-1"})
"""Invariants the write path checks in a later step with a more precise answer: ref-1 (a ``#id`` reference names a
contained resource) is reference integrity's (:mod:`fhir_server.fhir.references`: 404-style ``not-found`` naming
the Reference, listed with every other unresolved reference)."""


def rule_issues(resource: Mapping[str, Any]) -> list[Issue]:
    """Every required-binding, reference-target and invariant issue of a structurally valid ``resource``."""
    return [*binding_issues(resource), *target_issues(resource), *invariant_issues(resource)]


def check_rules(resource: Mapping[str, Any]) -> None:
    """422 listing every issue of :func:`rule_issues` (nothing when there is none)."""
    issues = rule_issues(resource)
    if issues:
        raise fail_all(Kind.UNPROCESSABLE, issues)


def target_issues(resource: Mapping[str, Any]) -> list[Issue]:
    """One issue per literal reference to a resource type its element does not allow."""
    issues: list[Issue] = []
    for node in walk(resource):
        allowed = node.element.targets
        if node.type != "Reference" or not allowed or "Resource" in allowed or not isinstance(node.value, dict):
            continue
        text = node.value.get("reference")
        target = literal_reference(text) if isinstance(text, str) else None
        if target is not None and target.resource_type not in allowed:
            message = (
                f"{node.expression}: a reference to a {target.resource_type} is not allowed here "
                f"(it may refer to {', '.join(allowed)})"
            )
            issues.append(Issue("invalid", message, (node.expression,)))
    return issues


def invariant_issues(resource: Mapping[str, Any]) -> list[Issue]:
    """One issue per invariant broken, naming its key and human text; one ``too-costly`` issue when evaluating
    them takes more than the allowed work."""
    try:
        found = broken(resource)
    except TooCostlyError:
        where = str(resource.get("resourceType"))
        return [Issue("too-costly", f"{where}: checking the invariants took more than the allowed work", (where,))]
    return [
        Issue("invariant", f"{where}: {c.key}: {c.human}", (where,))
        for c, where in found
        if c.key not in CHECKED_ELSEWHERE
    ]
