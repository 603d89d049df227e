"""Jobs run by real processes: `fhir-server serve` runs queued jobs by itself, and `fhir-server worker` processes
share the queue (each job run once) and stop cleanly on Ctrl-C, giving their running job back to the queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fhir_server.db.engine import Database
from fhir_server.jobs import queue
from tests.jobs.kinds import KIND, RUNS, STOPS, lines
from tests.jobs.rows import WAIT, wait_until
from tests.metrics.scrape import SECRET
from tests.servers import free_port, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of the processes: the outer one without FHIR_SERVER_*, this test's database, fast polling."""
    monkeypatch.setenv("JOBS_TEST_DIR", str(tmp_path))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    settings = {"DATABASE_URL": database_url, "JOBS_POLL_SECONDS": "0.05", "JOBS_LEASE_SECONDS": "5"}
    return clean | {f"FHIR_SERVER_{k}": v for k, v in settings.items()} | {"JOBS_TEST_DIR": str(tmp_path)}


@contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The `fhir-server` command with the tests' job kind (tests.jobs.cli_with_test_kinds), output to ``log``."""
    with log.open("wb") as out:
        command = [sys.executable, "-m", "tests.jobs.cli_with_test_kinds", *args]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def enqueue(database: Database, **params: object) -> str:
    with database.write() as session:
        return str(queue.enqueue(session, KIND, params, organization_id=None, owner=None, expires_in=None).id)


def state(database: Database, job_id: str) -> tuple[str | None, str | None]:
    with database.read() as session:
        job = queue.find(session, job_id)
        return (job.state, job.lease_owner) if job is not None else (None, None)


def test_the_server_runs_queued_jobs_by_itself(database: Database, env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env |= {"FHIR_SERVER_BASE_URL": f"http://127.0.0.1:{port}/fhir", "FHIR_SERVER_METRICS_TOKEN": SECRET}
    with started(["serve", "--port", str(port)], env, tmp_path / "server.log") as server:
        wait_for(server, f"http://127.0.0.1:{port}/health")
        done = enqueue(database, steps=2)
        wait_until(lambda: state(database, done)[0] == "completed")
        held = enqueue(database, hold=True)
        wait_until(lambda: f"{held} 1" in lines(RUNS))
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {SECRET}"}).text
        server.send_signal(signal.SIGTERM)
        assert server.wait(WAIT) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
    assert f'fhir_server_jobs_finished_total{{kind="{KIND}",outcome="completed"}} 1.0' in metrics
    assert f'fhir_server_jobs{{kind="{KIND}",state="running"}} 1.0' in metrics
    # the stopping server gave the job it was running back to the queue
    assert lines(STOPS) == [f"{held} JobInterrupted"] and state(database, held) == ("queued", None)


def test_worker_processes_share_the_queue_and_stop_cleanly_on_ctrl_c(
    database: Database, env: dict[str, str], tmp_path: Path
) -> None:
    ids = [enqueue(database) for _ in range(16)]
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    with started(["worker"], env, logs[0]) as first, started(["worker"], env, logs[1]) as second:
        wait_until(lambda: all("worker started" in log.read_text() for log in logs))
        wait_until(lambda: all(state(database, job_id)[0] == "completed" for job_id in ids))
        held = enqueue(database, hold=True)
        wait_until(lambda: f"{held} 1" in lines(RUNS))
        for worker in (first, second):
            worker.send_signal(signal.SIGINT)
        assert [first.wait(WAIT), second.wait(WAIT)] == [0, 0]
    assert Counter(line.split()[0] for line in lines(RUNS)) == Counter([*ids, held])
    assert lines(STOPS) == [f"{held} JobInterrupted"] and state(database, held) == ("queued", None)
    assert all("worker stopped" in log.read_text() for log in logs)
