"""The durable job queue on SQLite and PostgreSQL: a job is run once to its result or failure, can be cancelled
while it runs, is run again from nothing when its worker died or stopped, and is swept when it expires."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from fhir_server.db.engine import Database
from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow
from fhir_server.jobs import claim, queue
from fhir_server.jobs.worker import registered, run_pending
from fhir_server.metrics import jobs as job_metrics
from fhir_server.settings import Settings, load_settings
from tests.jobs import kinds
from tests.jobs.kinds import CLEANUP_FAILS, CLEANUPS, KIND, RUNS, STOPS, lines, output
from tests.jobs.rows import WAIT, change, wait_until


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("JOBS_TEST_DIR", str(tmp_path))
    assert registered()[KIND].cleanup is kinds.cleanup
    return load_settings(database_url=database_url, jobs_lease_seconds=2.0)


def enqueue(database: Database, expires_in: timedelta | None = None, owner: str | None = "app", **params: Any) -> str:
    with database.write() as session:
        job = queue.enqueue(session, KIND, params, organization_id=None, owner=owner, expires_in=expires_in)
        return str(job.id)


def job_of(database: Database, job_id: str) -> Job | None:
    with database.read() as session:
        return queue.find(session, job_id)


def test_a_job_runs_once_to_its_result(database: Database, settings: Settings) -> None:
    finished = REGISTRY.get_sample_value("fhir_server_jobs_finished_total", {"kind": KIND, "outcome": "completed"})
    job_id = enqueue(database, expires_in=timedelta(hours=24), steps=3)
    queued = job_of(database, job_id)
    assert queued is not None and queued.state == "queued" and queued.attempts == 0

    assert run_pending(database, settings, "worker-a") == 1
    assert run_pending(database, settings, "worker-a") == 0

    job = job_of(database, job_id)
    assert job is not None and job.state == "completed" and job.error is None
    assert job.result == {"steps": 3, "attempt": 1}
    assert job.attempts == 1 and job.lease_owner is None and job.lease_until is None
    assert job.finished_at is not None and job.expires_at == job.finished_at + timedelta(hours=24)
    assert lines(RUNS) == [f"{job_id} 1"] and lines(CLEANUPS) == []
    after = REGISTRY.get_sample_value("fhir_server_jobs_finished_total", {"kind": KIND, "outcome": "completed"})
    assert after == (finished or 0) + 1


def test_a_failing_job_is_failed_with_its_message(database: Database, settings: Settings) -> None:
    job_id = enqueue(database, fail="the disk is full")
    assert run_pending(database, settings, "worker-a") == 1
    job = job_of(database, job_id)
    assert job is not None and job.state == "failed" and job.result is None
    assert job.error == "the disk is full" and job.lease_owner is None


def test_the_queue_finds_counts_and_cancels_by_public_id(database: Database, settings: Settings) -> None:
    first, second = enqueue(database, owner="app"), enqueue(database, owner="app")
    enqueue(database, owner="other")
    with database.write() as session:
        assert queue.find(session, "not-a-job-id") is None and queue.find(session, str(uuid.uuid4())) is None
        assert queue.running_count(session, KIND, "app") == 2
        assert queue.running_count(session, "export", "app") == 0
        assert queue.cancel(session, "not-a-job-id") is None
        cancelled = queue.cancel(session, first)
        assert cancelled is not None and cancelled.state == "cancelled"
        assert queue.running_count(session, KIND, "app") == 1
        found = queue.find(session, second)
        assert found is not None
        queue.delete(session, found)
    assert job_of(database, second) is None
    run_pending(database, settings, "worker-a")
    # the cancelled job never ran: swept (cleanup hook, row deleted) by the next worker round
    assert job_of(database, first) is None and first in lines(CLEANUPS) and f"{first} 1" not in lines(RUNS)


def test_cancelling_a_running_job_stops_it_at_its_next_progress_call(database: Database, settings: Settings) -> None:
    job_id = enqueue(database, hold=True)
    worker = threading.Thread(target=run_pending, args=(database, settings, "worker-a"))
    worker.start()
    try:
        wait_until(lambda: lines(RUNS) == [f"{job_id} 1"])
        assert output(job_id).exists()
        with database.write() as session:
            queue.cancel(session, job_id)
    finally:
        worker.join(WAIT)
    assert not worker.is_alive()
    assert lines(STOPS) == [f"{job_id} JobCancelled"]
    assert lines(CLEANUPS) == [job_id] and not output(job_id).exists()
    assert job_of(database, job_id) is None


def test_a_job_whose_worker_died_is_run_again_after_cleanup(database: Database, settings: Settings) -> None:
    job_id = enqueue(database)
    held = claim.claim(database, settings, "dead-worker", [KIND])  # a worker claims it, writes, and dies
    assert held is not None and str(held.holding.job_id) == job_id and not held.rerun
    output(job_id).write_text("half")
    change(database, job_id, lease_until=utcnow() + timedelta(hours=1))
    assert run_pending(database, settings, "worker-b") == 0  # its lease still runs: nobody else takes it

    change(database, job_id, lease_until=utcnow() - timedelta(seconds=1))
    assert run_pending(database, settings, "worker-b") == 1
    job = job_of(database, job_id)
    assert job is not None and job.state == "completed" and job.result == {"steps": 1, "attempt": 2}
    assert lines(CLEANUPS) == [job_id] and lines(RUNS) == [f"{job_id} 2"]
    assert output(job_id).read_text() == "2"


def test_a_job_whose_earlier_run_cannot_be_cleaned_up_fails_instead_of_running(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    job_id = enqueue(database)
    change(database, job_id, state="running", attempts=1, lease_owner="dead")
    change(database, job_id, lease_until=utcnow() - timedelta(seconds=1))
    (tmp_path / CLEANUP_FAILS).touch()
    assert run_pending(database, settings, "worker-b") == 1
    job = job_of(database, job_id)
    assert job is not None and job.state == "failed" and lines(RUNS) == []
    assert job.error == "cleaning up an earlier run failed: the outputs cannot be removed"


def test_a_job_whose_workers_keep_dying_fails_after_the_last_attempt(database: Database, settings: Settings) -> None:
    job_id = enqueue(database)
    change(database, job_id, state="running", attempts=settings.jobs_max_attempts, lease_owner="dead")
    change(database, job_id, lease_until=utcnow() - timedelta(seconds=1))
    assert run_pending(database, settings, "worker-b") == 1
    job = job_of(database, job_id)
    assert job is not None and job.state == "failed" and "3 times" in (job.error or "")
    assert lines(CLEANUPS) == [job_id] and lines(RUNS) == []


def test_a_stopping_worker_gives_its_job_back(database: Database, settings: Settings) -> None:
    job_id = enqueue(database, hold=True)
    stopping = threading.Event()
    worker = threading.Thread(target=run_pending, args=(database, settings, "worker-a"), kwargs={"stopping": stopping})
    worker.start()
    wait_until(lambda: lines(RUNS) == [f"{job_id} 1"])
    stopping.set()
    worker.join(WAIT)
    assert lines(STOPS) == [f"{job_id} JobInterrupted"]
    job = job_of(database, job_id)
    assert job is not None and job.state == "queued" and job.lease_owner is None and job.attempts == 1

    change(database, job_id, params={})  # run it to its end this time
    assert run_pending(database, settings, "worker-b") == 1
    again = job_of(database, job_id)
    assert again is not None and again.state == "completed" and again.attempts == 2
    assert lines(CLEANUPS) == [job_id]


def test_each_job_runs_exactly_once_with_many_workers(database: Database, settings: Settings) -> None:
    ids = [enqueue(database, steps=2) for _ in range(24)]
    with ThreadPoolExecutor(4) as pool:
        ran = list(pool.map(lambda n: run_pending(database, settings, f"worker-{n}"), range(4)))
    assert sum(ran) == len(ids)
    runs = Counter(line.split()[0] for line in lines(RUNS))
    assert runs == Counter(ids)
    states = {job_id: getattr(job_of(database, job_id), "state", None) for job_id in ids}
    assert set(states.values()) == {"completed"}


def test_expired_jobs_are_cleaned_up_and_deleted(database: Database, settings: Settings) -> None:
    expiring, kept, forever = (enqueue(database, expires_in=timedelta(hours=1)) for _ in range(3))
    change(database, forever, expires_at=None)
    assert run_pending(database, settings, "worker-a") == 3
    change(database, expiring, expires_at=utcnow() - timedelta(seconds=1))
    run_pending(database, settings, "worker-a")
    assert job_of(database, expiring) is None and lines(CLEANUPS) == [expiring] and not output(expiring).exists()
    assert job_of(database, kept) is not None and job_of(database, forever) is not None


def test_the_queue_metrics_count_waiting_jobs_and_the_oldest_one_s_age(database: Database, settings: Settings) -> None:
    old, _ = enqueue(database), enqueue(database)
    change(database, old, created_at=utcnow() - timedelta(hours=2))
    job_metrics.refresh(database)
    assert REGISTRY.get_sample_value("fhir_server_jobs", {"kind": KIND, "state": "queued"}) == 2
    assert REGISTRY.get_sample_value("fhir_server_jobs", {"kind": KIND, "state": "running"}) == 0
    age = REGISTRY.get_sample_value("fhir_server_jobs_oldest_queued_age_seconds", {"kind": KIND})
    assert age is not None and age >= 2 * 3600
    run_pending(database, settings, "worker-a")
    job_metrics.refresh(database)
    assert REGISTRY.get_sample_value("fhir_server_jobs", {"kind": KIND, "state": "queued"}) == 0
    assert REGISTRY.get_sample_value("fhir_server_jobs_oldest_queued_age_seconds", {"kind": KIND}) == 0
