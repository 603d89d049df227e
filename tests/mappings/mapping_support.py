"""Helpers of the mapping tests: golden row/resource pairs and R4 validation of rendered resources.

A golden pair is ``golden/<name>.row.json`` (a row as the server holds it) and ``golden/<name>.fhir.json`` (the
resource it is served as). The row file holds ``fhir_id``, ``version_id``, ``last_updated``, ``columns`` (the
mapped columns, instants as ISO strings), ``references`` (relationship -> the target's FHIR id) and optionally
``extra`` (the stored document; absent for a row made inside the server). Both directions are checked:
``to_fhir(row) == resource`` and ``from_fhir(resource)`` reads the same columns and references.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import Date, inspect

from fhir_server.db.types import UtcDateTime
from fhir_server.paths import project_dir
from mappings.base import ResourceMapping

GOLDEN = Path(__file__).resolve().parent / "golden"


def golden_names(resource: str) -> list[str]:
    """The names of the golden pairs of ``resource``: ``<resource>`` and ``<resource>-<case>`` (.row/.fhir.json)."""
    names = (p.name.removesuffix(".row.json") for p in GOLDEN.glob(f"{resource}*.row.json"))
    return sorted(name for name in names if name == resource or name.startswith(f"{resource}-"))


def load(name: str, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{name}.{kind}.json").read_text(encoding="utf-8"))
    return data


def column_value(model: type[Any], name: str, value: Any) -> Any:
    """A column's Python value from its JSON form in a golden row."""
    column_type = inspect(model).columns[name].type
    if value is not None and isinstance(column_type, UtcDateTime):
        return datetime.fromisoformat(value)
    if value is not None and isinstance(column_type, Date):
        return date.fromisoformat(value)
    return value


def columns_of(mapping: type[ResourceMapping], row: dict[str, Any]) -> dict[str, Any]:
    return {name: column_value(mapping.model, name, value) for name, value in row["columns"].items()}


def build_row(mapping: type[ResourceMapping], data: dict[str, Any]) -> Any:
    """An unsaved row of ``mapping.model`` holding a golden row (references point at stand-in targets)."""
    model: Any = mapping.model  # a declarative model: it takes column keywords (its mixin type declares none)
    row = model(
        fhir_id=data["fhir_id"],
        version_id=data["version_id"],
        last_updated=datetime.fromisoformat(data["last_updated"]),
        extra=data.get("extra", {}),
        **columns_of(mapping, data),
    )
    relationships = inspect(model).relationships
    for attr, fhir_id in data.get("references", {}).items():
        setattr(row, attr, relationships[attr].mapper.class_(fhir_id=fhir_id))
    return row


def references_read(mapping: type[ResourceMapping], resource: dict[str, Any]) -> dict[str, str]:
    """relationship -> target FHIR id, of the references ``from_fhir`` read."""
    values = mapping.from_fhir(resource)
    return {field.attr: fhir_id for field, fhir_id in values.references.values() if fhir_id is not None}


def official_codes(code_system: str) -> set[str]:
    """The codes of an official R4 CodeSystem of a required binding (conformance/required-binding-valuesets.json)."""
    bundle = json.loads((project_dir("conformance") / "required-binding-valuesets.json").read_text(encoding="utf-8"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "CodeSystem" and resource["url"] == code_system:
            return {concept["code"] for concept in resource.get("concept", [])}
    raise LookupError(code_system)


def r4_issues(resource: dict[str, Any]) -> list[str]:
    """Why ``resource`` is not valid R4 structure (fhir.resources R4B models); empty when it is."""
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValueError as exc:
        return [str(exc)]
    return []


def without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}
