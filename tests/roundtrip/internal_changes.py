"""A change made inside the server (CLI, seed, imaging sync: the internal tables) shows in FHIR at once.

http://hl7.org/fhir/R4/http.html#vread and the design's source-of-truth rule: a column changed through the ORM
becomes a new version (versionId + 1), whose JSON shows the new value at the column's element, keeps every other
top-level element the client sent as it was, and is still valid R4.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline
from mappings import lens
from mappings.base import Field, UnheldValueError
from mappings.registry import MAPPINGS
from tests.roundtrip.checks import assert_same, assert_valid, content, get, made_unique_resource, put
from tests.roundtrip.server import Server

CHANGES: dict[str, list[tuple[str, tuple[Any, Any]]]] = {
    "Patient": [
        ("phone", ("+1 555 0100", "+1 555 0200")),
        ("email", ("ada@example.org", "ada@example.net")),
        ("given_name", ("Ada", "Ida")),
        ("birth_date", (date(1970, 5, 1), date(1971, 6, 2))),
        ("gender", ("female", "other")),
        ("active", (False, True)),
    ],
    "Practitioner": [
        ("phone", ("+1 555 0101", "+1 555 0201")),
        ("email", ("hart@example.org", "hart@example.net")),
        ("specialty", ("Cardiology", "Sleep Medicine")),
        ("calendar_color", ("#336699", "#993366")),
        ("suffix", ("MD", "PhD")),
    ],
    "Organization": [
        ("phone", ("+1 555 0102", "+1 555 0202")),
        ("name", ("Renamed Clinic", "Clinic Renamed")),
        ("type", ("hospital", "laboratory")),
        ("active", (False, True)),
    ],
    "Appointment": [
        ("reason", ("Changed at the front desk", "Changed again")),
        ("status", ("cancelled", "confirmed")),
        ("visit_type", ("virtual", "in-clinic")),
        ("visit_category", ("new-patient", "follow-up")),
        ("meeting_url", ("https://meet.example.org/a", "https://meet.example.org/b")),
    ],
    "Endpoint": [
        ("name", ("Renamed by the CLI", "Renamed again")),
        ("status", ("off", "test")),
        ("address", ("https://pacs.example.org/new", "https://pacs.example.org/newer")),
    ],
    "Questionnaire": [
        ("title", ("Retitled by the CLI", "Retitled again")),
        ("status", ("retired", "active")),
        ("publisher", ("The clinic", "The other clinic")),
    ],
    "QuestionnaireResponse": [
        ("status", ("reviewed", "pending")),
        ("submitted_at", (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), datetime(2026, 3, 3, 9, 0, tzinfo=UTC))),
    ],
    "ImagingStudy": [
        ("description", ("Described by the imaging sync", "Described again")),
        ("status", ("cancelled", "available")),
        ("started_at", (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), datetime(2026, 3, 3, 9, 0, tzinfo=UTC))),
        ("modalities", (["CT"], ["MR", "US"])),
    ],
}
"""Columns per type, each with two values to change it to (the first unless the column holds it already)."""
ALSO_SHOWN = {("Appointment", "status"): {"cancelationReason"}}
"""Elements a column also decides: cancelationReason shows only while the appointment is cancelled or a no-show
(mappings/appointment.py, R4 invariant app-4)."""


APPLIES: dict[tuple[str, str], Callable[[dict[str, Any]], bool]] = {
    ("Appointment", "status"): lambda appointment: "start" in appointment,
}
"""Changes the clinic's software makes only to some resources: it books (confirms) scheduled visits only, since an
Appointment without a start may only be proposed or cancelled (R4 invariant app-3)."""


def change_column(database_url: str, resource_type: str, resource_id: str, attr: str, value: Any) -> None:
    """Set one column of a served row as the CLI would: through the ORM, in a transaction of its own."""
    model: Any = MAPPINGS[resource_type].model
    database = Database(database_url, finish=pipeline.finish)
    try:
        with database.write() as session:
            row = session.scalars(select(model).where(model.fhir_id == resource_id)).one()
            setattr(row, attr, value)
    finally:
        database.dispose()


def shows_internal_change(server: Server, written: dict[str, Any], attr: str, values: tuple[Any, Any]) -> None:
    """Change column ``attr`` of a written resource inside the server; check the next version shows it, keeps
    the rest, and is still valid R4."""
    resource_type, resource_id = written["resourceType"], written["id"]
    field = next(f for f in MAPPINGS[resource_type].fields if f.attr == attr)
    before = get(server, resource_type, resource_id)
    value = values[1] if _held(field, before) == values[0] else values[0]
    change_column(server.database_url, resource_type, resource_id, attr, value)
    after = get(server, resource_type, resource_id)
    assert after["meta"]["versionId"] == str(int(before["meta"]["versionId"]) + 1)
    assert field.read(after) == value
    decided = {
        field.path[0].name if isinstance(field.path[0], lens.Key) else "",
        *ALSO_SHOWN.get((resource_type, attr), ()),
    }
    assert_same(
        {k: v for k, v in content(after).items() if k not in decided},
        {k: v for k, v in content(before).items() if k not in decided},
        f"the resource beside {', '.join(sorted(decided))} after {attr} was changed inside",
    )
    assert_valid(after)
    vread = server.client.get(f"/fhir/{resource_type}/{resource_id}/_history/{after['meta']['versionId']}")
    assert vread.status_code == 200 and vread.json() == after


def _held(field: Field, resource: dict[str, Any]) -> Any:
    """What the column holds of ``resource`` (None when it cannot hold the element's value)."""
    try:
        return field.read(resource)
    except UnheldValueError:
        return None


def changed_inside(server: Server, generated: dict[str, Any]) -> None:
    """PUT a generated resource under a new id, then :func:`shows_internal_change`."""
    written = put(server, made_unique_resource(generated, f"rt-{uuid.uuid4().hex}"), 201)
    for attr, values in CHANGES[written["resourceType"]]:
        applies = APPLIES.get((written["resourceType"], attr))
        if applies is None or applies(written):
            shows_internal_change(server, written, attr, values)
