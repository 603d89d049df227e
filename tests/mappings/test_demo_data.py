"""Every resource the demo clinic is served as (fhir_server.seed.seed_demo) is valid FHIR R4."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import select

from fhir_server.db import ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.seed import seed_demo
from tests.mappings.mapping_support import r4_issues

TYPES = ("Organization", "Practitioner", "Patient", "Appointment")


def _current_versions(database: Database) -> list[dict[str, Any]]:
    latest: dict[tuple[str, str], ResourceHistory] = {}
    with database.read() as session:
        for version in session.scalars(select(ResourceHistory).where(ResourceHistory.resource_type.in_(TYPES))):
            key = (version.resource_type, version.resource_id)
            if key not in latest or latest[key].version_id < version.version_id:
                latest[key] = version
    return [v.resource for v in latest.values() if v.resource is not None]


def test_every_seeded_resource_validates_as_r4(database: Database) -> None:
    with database.write() as session:
        seeded = seed_demo(session, today=date(2026, 11, 23))
    resources = _current_versions(database)
    counts = Counter(r["resourceType"] for r in resources)
    assert counts == {
        "Organization": 1,
        "Practitioner": seeded.practitioners,
        "Patient": seeded.patients,
        "Appointment": seeded.appointments,
    }
    invalid = {f"{r['resourceType']}/{r['id']}": issues for r in resources if (issues := r4_issues(r))}
    assert invalid == {}


def test_seeded_cancellations_and_no_shows_are_served(database: Database) -> None:
    with database.write() as session:
        seed_demo(session, today=date(2026, 11, 23))
    appointments = [r for r in _current_versions(database) if r["resourceType"] == "Appointment"]
    by_status = Counter(a["status"] for a in appointments)
    assert set(by_status) <= {"pending", "booked", "fulfilled", "cancelled", "noshow"}
    for appointment in appointments:
        has_reason = "cancelationReason" in appointment
        assert has_reason == (appointment["status"] in {"cancelled", "noshow"}), appointment["id"]
        assert [p["actor"]["reference"].split("/")[0] for p in appointment["participant"]] == [
            "Patient",
            "Practitioner",
        ]
