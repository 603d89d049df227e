"""Audit rows of reads are group-committed: each request still ends only once its row is in the database, rows of
concurrent requests share transactions, and a batch that fails costs only its bad rows."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select

from fhir_server.app import create_app
from fhir_server.audit import trail
from fhir_server.audit.writer import AuditWriter
from fhir_server.auth.audit_events import Origin
from fhir_server.db import AuditEvent
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.settings import load_settings
from tests.clinics import add_clinic


def _rows(database: Database, request_ids: list[str]) -> dict[str | None, int]:
    with database.read() as session:
        query = select(AuditEvent.request_id, func.count()).where(AuditEvent.request_id.in_(request_ids))
        return {rid: count for rid, count in session.execute(query.group_by(AuditEvent.request_id))}


def test_concurrent_reads_each_leave_exactly_one_row_before_they_end(database: Database, database_url: str) -> None:
    app = create_app(load_settings(database_url=database_url, auth="disabled"), database=database)
    request_ids = [f"read-{i}" for i in range(40)]

    async def run() -> list[int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                org = add_clinic(database, "C")["id"]
                responses = await asyncio.gather(
                    *(client.get(f"/fhir/Organization/{org}", headers={"X-Request-ID": rid}) for rid in request_ids)
                )
                return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * len(request_ids)
    assert _rows(database, request_ids) == dict.fromkeys(request_ids, 1)


def _record(request_id: str, action: str = "read") -> trail.Record:
    interaction = trail.Interaction(action, "Patient", "p-1")
    return trail.Record(interaction, None, Origin("127.0.0.1", "test", request_id), 200, None, utcnow())


def test_a_batch_with_a_bad_row_still_records_the_good_ones(database: Database) -> None:
    writer = AuditWriter(database)
    good = [f"good-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    bad = _record("bad")
    object.__setattr__(bad, "recorded_at", "not a time")  # the database refuses this row alone

    async def run() -> None:
        await asyncio.gather(*(writer.record(_record(rid)) for rid in good), writer.record(bad))
        await writer.close()

    asyncio.run(run())
    assert _rows(database, [*good, "bad"]) == dict.fromkeys(good, 1)
