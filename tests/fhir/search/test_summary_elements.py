"""What ``_summary=true`` keeps, for every R4 resource type (http://hl7.org/fhir/R4/search.html#summary): exactly
the elements the StructureDefinitions (conformance/, the R4 definitions unchanged) mark ``isSummary`` or mandatory
(``min > 0``), at every level of the resource's backbone elements, plus ``id`` and ``meta``, tagged SUBSETTED.

Each type is checked on a resource holding every element its definition has (backbone elements filled in turn, to
a few levels), so an element kept or dropped wrongly anywhere fails the test.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
import pytest

from fhir_server.fhir.search.summary import SUBSETTED, select_elements, summarize
from fhir_server.paths import project_dir

_DEPTH = 3


@cache
def _definitions() -> dict[str, list[dict[str, Any]]]:
    bundle = orjson.loads((project_dir("conformance") / "structure-definitions.json").read_bytes())
    return {
        e["resource"]["id"]: e["resource"]["snapshot"]["element"]
        for e in bundle["entry"]
        if e["resource"]["kind"] == "resource" and not e["resource"].get("abstract")
    }


def _children(elements: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [e for e in elements if e["path"].rsplit(".", 1)[0] == path and e["path"] != path]


def _key(element: dict[str, Any]) -> str:
    name: str = element["path"].rsplit(".", 1)[-1]
    if name.endswith("[x]"):
        code = element["type"][0]["code"]
        name = name[:-3] + code[0].upper() + code[1:]
    return name


def _full_and_summary(elements: list[dict[str, Any]], path: str, depth: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """An object holding every child element of ``path``, and what ``_summary=true`` should keep of it."""
    full: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    for element in _children(elements, path):
        target = element.get("contentReference", "#" + element["path"])[1:]
        keep = bool(element.get("isSummary")) or element.get("min", 0) > 0
        value: Any = "x"
        summary: Any = "x"
        if _children(elements, target):
            if depth >= _DEPTH:
                continue
            value, summary = _full_and_summary(elements, target, depth + 1)
        many = element.get("max") != "1"
        full[_key(element)] = [value] if many else value
        if keep and summary not in ({}, None):
            kept[_key(element)] = [summary] if many else summary
    return full, kept


@pytest.mark.parametrize("resource_type", sorted(_definitions()))
def test_summary_true_keeps_exactly_the_summary_and_mandatory_elements(resource_type: str) -> None:
    elements = _definitions()[resource_type]
    full, expected = _full_and_summary(elements, resource_type, 1)
    resource = {"resourceType": resource_type, **full, "id": "x", "meta": {"versionId": "1"}}
    shown = summarize(resource, "true")
    assert shown["meta"]["tag"] == [SUBSETTED]
    kept = {k: v for k, v in shown.items() if k not in {"resourceType", "id", "meta"}}
    assert kept == {k: v for k, v in expected.items() if k not in {"id", "meta"}}


def _choice_keys() -> list[tuple[str, str, str]]:
    """(type, choice element's base name, one JSON key of it) for every top-level choice element of every type."""
    found = []
    for resource_type, elements in sorted(_definitions().items()):
        for element in _children(elements, resource_type):
            if element["path"].endswith("[x]"):
                base = element["path"].rsplit(".", 1)[-1][:-3]
                for kind in element["type"]:
                    found.append((resource_type, base, base + kind["code"][0].upper() + kind["code"][1:]))
    return found


def test_elements_names_a_choice_type_by_its_base_name() -> None:
    """``_elements=multipleBirth`` keeps ``multipleBirthInteger``: every choice element of every type, every one of
    its types (search.html#elements names elements as the definitions do)."""
    choices = _choice_keys()
    assert ("Patient", "multipleBirth", "multipleBirthInteger") in choices and len(choices) > 150
    for resource_type, base, key in choices:
        resource = {"resourceType": resource_type, "id": "x", key: "x", "implicitRules": "x"}
        shown = select_elements(resource, [base])
        assert shown.get(key) == "x", (resource_type, key)
        assert "implicitRules" not in shown


def test_elements_keeps_a_primitive_s_extension_with_its_value() -> None:
    extension = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    resource = {"resourceType": "Patient", "id": "x", "birthDate": "1980", "_birthDate": extension, "gender": "male"}
    assert select_elements(resource, ["birthDate"]) == {
        "resourceType": "Patient",
        "id": "x",
        "birthDate": "1980",
        "_birthDate": extension,
        "meta": {"tag": [SUBSETTED]},
    }
