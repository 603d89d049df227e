"""The export runner as a durable job (issue 17 item 6): a cancelled export stops midway and leaves no file, a re-run
after a worker died starts from nothing, a user deactivated since kick-off stops the export; and the helpers
kick-off calls (group_members, check_type_filters)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from fhir_server.access.context import OPEN
from fhir_server.db import OAuthClient, User
from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow
from fhir_server.errors import FhirError
from fhir_server.fhir.bulk.runner import check_type_filters, group_members, job_dir
from fhir_server.jobs import claim, queue
from fhir_server.jobs.worker import run_pending
from tests.fhir.bulk.exports import (
    World,
    enqueue,
    export,
    finished,
    params,
    register_export,
    seeded,
    settings_for,
)
from tests.jobs.rows import WAIT, change, wait_until


@pytest.fixture(scope="module")
def module_auth_mode() -> str:
    """The runner is called with stored grants, not through HTTP: one world per database is enough."""
    return "off"


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with seeded(module_database_url, tmp_path_factory.mktemp("exports")) as seeded_world:
        yield seeded_world


def test_a_rerun_after_a_lost_lease_starts_clean(world: World) -> None:
    register_export()
    job_id = enqueue(world, params(world, "a", types=["Patient"]))
    held = claim.claim(world.database, world.settings, "dead-worker", ["export"])  # claimed; its worker dies
    assert held is not None and str(held.holding.job_id) == job_id
    root = Path(world.settings.export_dir)
    (root / f".{job_id}.partial").mkdir(parents=True)
    (root / f".{job_id}.partial" / "Patient-1.ndjson").write_bytes(b'{"resourceType": "Pat')  # half a line
    job_dir(world.settings, job_id).mkdir()
    (job_dir(world.settings, job_id) / "Stale-1.ndjson").write_bytes(b"{}\n")
    change(world.database, job_id, lease_until=utcnow() - timedelta(seconds=1))
    assert run_pending(world.database, world.settings, "worker-b") == 1
    job = finished(world, job_id)
    assert job.state == "completed" and job.attempts == 2
    assert sorted(p.name for p in job_dir(world.settings, job_id).iterdir()) == ["Patient-1.ndjson"]
    assert not (root / f".{job_id}.partial").exists()
    lines = (job_dir(world.settings, job_id) / "Patient-1.ndjson").read_bytes().splitlines()
    assert len(lines) == 2 and job.result is not None and job.result["output"][0]["count"] == 2


@pytest.mark.postgres
def test_cancelling_midway_stops_and_leaves_no_files(world: World, module_database_url: str) -> None:
    """The export is held (a lock on the token index its Observation filter reads) after writing Conditions, then
    cancelled: it stops at its next progress report and its files go."""
    if world.database.is_sqlite:
        pytest.skip("a reader cannot be held on SQLite (WAL readers never wait): PostgreSQL holds it with a lock")
    register_export()
    settings = settings_for(module_database_url, world.settings.export_dir, jobs_lease_seconds=2.0)
    job_params = params(world, "a", types=["Condition", "Observation"], type_filters={"Observation": ["status=final"]})
    job_id = enqueue(world, job_params)
    staging = Path(settings.export_dir) / f".{job_id}.partial"
    with world.database.engine.connect() as holder:
        holder.execute(text("LOCK TABLE search_token IN ACCESS EXCLUSIVE MODE"))
        worker = threading.Thread(target=run_pending, args=(world.database, settings, "worker-c"))
        worker.start()
        try:
            wait_until(lambda: (staging / "Condition-1.ndjson").exists())  # Conditions written, Observations held
            with world.database.write() as session:
                queue.cancel(session, job_id)
            time.sleep(0.6)  # past the lease renewal interval: the next progress report reads the row
        finally:
            holder.rollback()
            worker.join(WAIT)
    assert not worker.is_alive()
    with world.database.read() as session:
        assert session.get(Job, queue.parse_id(job_id)) is None  # cancelled: cleaned up and removed
    assert not staging.exists() and not job_dir(settings, job_id).exists()


def test_a_user_deactivated_since_kickoff_stops_the_export(world: World) -> None:
    with world.database.write() as session:
        session.execute(update(User).where(User.email == "one@example.org").values(active=False))
    try:
        stopped = export(world, params(world, "p1"))
    finally:
        with world.database.write() as session:
            session.execute(update(User).where(User.email == "one@example.org").values(active=True))
    assert stopped.job.state == "failed" and "no longer active" in (stopped.job.error or "")
    assert not stopped.directory.exists()


def test_group_members_as_of_an_instant_and_within_reach(world: World) -> None:
    ids = world.ids
    assert world.snapshot is not None
    with world.database.read() as session:
        assert group_members(session, OPEN, ids["g1"], world.snapshot) == [ids["p1"]]
        with pytest.raises(FhirError) as unknown:
            group_members(session, OPEN, "no-such-group", world.snapshot)
        assert unknown.value.status == 404
        with pytest.raises(FhirError) as before:
            group_members(session, OPEN, ids["g1"], world.snapshot - timedelta(days=1))
        assert before.value.status == 404


@pytest.mark.parametrize(
    ("filters", "expression"),
    [
        ({"Observation": ["nonsense=1"]}, "nonsense"),
        ({"Observation": ["date=notadate"]}, "date"),
        ({"Observation": ["status=final&_count=5"]}, "_typeFilter"),
        ({"Nonsense": ["status=final"]}, "_typeFilter"),
    ],
)
def test_type_filters_kickoff_refuses(filters: dict[str, list[str]], expression: str) -> None:
    with pytest.raises(FhirError) as refused:
        check_type_filters(filters)
    assert refused.value.status == 400 and refused.value.issues[0].expression == (expression,)


def test_type_filters_kickoff_accepts() -> None:
    check_type_filters({"Observation": ["status=final&category=laboratory", "code=http://loinc.org|1234-5"]})


def test_an_export_reading_the_index_fails_once_the_snapshot_index_may_be_gone(world: World) -> None:
    """Index rows of superseded versions are kept an hour (fhir_server.fhir.search.indexer.SNAPSHOT_LIFETIME): an
    export filtering on them that starts later fails with a reason instead of missing resources."""
    long_ago = (utcnow() - timedelta(hours=2)).isoformat()
    filtered = params(world, "a", transaction_time=long_ago, type_filters={"Observation": ["status=final"]})
    late = export(world, filtered)
    assert late.job.state == "failed" and "start the export again" in (late.job.error or "")
    assert not late.directory.exists()
    plain = export(world, params(world, "a", transaction_time=long_ago, types=["Patient"]))
    assert plain.job.state == "completed" and plain.job.result == {"output": [], "deleted": [], "error": []}


def test_a_client_revoked_since_kickoff_stops_the_export(world: World) -> None:
    client_id = world.grants["b"]["client_id"]
    with world.database.write() as session:
        session.execute(update(OAuthClient).where(OAuthClient.client_id == client_id).values(revoked_at=utcnow()))
    try:
        stopped = export(world, params(world, "b"))
    finally:
        with world.database.write() as session:
            session.execute(update(OAuthClient).where(OAuthClient.client_id == client_id).values(revoked_at=None))
    assert stopped.job.state == "failed" and "revoked" in (stopped.job.error or "")
    assert not stopped.directory.exists()
