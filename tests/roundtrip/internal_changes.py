"""A change made inside the server (CLI, seed, imaging sync: the internal tables) shows in FHIR at once.

http://hl7.org/fhir/R4/http.html#vread and the design's source-of-truth rule: a column changed through the ORM
becomes a new version (versionId + 1), whose JSON shows the new value at the column's element and keeps every
other element the client sent: it is the old version with the new value put at the column's path (the lens
contract of mappings/lens.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from fhir_server.db.engine import Database
from mappings import lens
from mappings.registry import MAPPINGS
from tests.roundtrip.checks import assert_same, content, get, made_unique_resource, put
from tests.roundtrip.server import Server

CHANGES: dict[str, tuple[str, tuple[Any, Any]]] = {
    "Patient": ("phone", ("+1 555 0100", "+1 555 0200")),
    "Practitioner": ("phone", ("+1 555 0101", "+1 555 0201")),
    "Organization": ("phone", ("+1 555 0102", "+1 555 0202")),
    "Appointment": ("reason", ("Changed at the front desk", "Changed again")),
    "Endpoint": ("name", ("Renamed by the CLI", "Renamed again")),
    "Questionnaire": ("title", ("Retitled by the CLI", "Retitled again")),
    "QuestionnaireResponse": ("status", ("reviewed", "pending")),
    "ImagingStudy": ("description", ("Described by the imaging sync", "Described again")),
}
"""A column per type, and two values to change it to (the first unless the column holds it already)."""


def change_column(database_url: str, resource_type: str, resource_id: str, attr: str, value: Any) -> None:
    """Set one column of a served row as the CLI would: through the ORM, in a transaction of its own."""
    model: Any = MAPPINGS[resource_type].model
    database = Database(database_url)
    try:
        with database.write() as session:
            row = session.scalars(select(model).where(model.fhir_id == resource_id)).one()
            setattr(row, attr, value)
    finally:
        database.dispose()


def shows_internal_change(server: Server, written: dict[str, Any]) -> None:
    """Change ``CHANGES[type]`` of a written resource inside the server; check the next version shows it."""
    resource_type, resource_id = written["resourceType"], written["id"]
    attr, values = CHANGES[resource_type]
    field = next(f for f in MAPPINGS[resource_type].fields if f.attr == attr)
    before = get(server, resource_type, resource_id)
    value = values[1] if field.read(before) == values[0] else values[0]
    change_column(server.database_url, resource_type, resource_id, attr, value)
    after = get(server, resource_type, resource_id)
    assert after["meta"]["versionId"] == str(int(before["meta"]["versionId"]) + 1)
    assert field.read(after) == value
    wanted = lens.put(content(before), field.path, field.render(value))
    assert_same(content(after), wanted, f"the resource after {field.expression} was changed inside")
    vread = server.client.get(f"/fhir/{resource_type}/{resource_id}/_history/{after['meta']['versionId']}")
    assert vread.status_code == 200 and vread.json() == after


def changed_inside(server: Server, generated: dict[str, Any]) -> None:
    """PUT a generated resource under a new id, then :func:`shows_internal_change`."""
    written = put(server, made_unique_resource(generated, f"rt-{uuid.uuid4().hex}"), 201)
    shows_internal_change(server, written)
