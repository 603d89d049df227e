"""``serve --workers N``: a scrape, whichever worker answers it, reports every worker (prometheus-client's
multiprocess mode), and the metrics directory is gone when the server stops."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fhir_server.db.limits import DatabaseLimits
from fhir_server.metrics.multiprocess import DIRECTORY
from tests.metrics.scrape import SECRET, Scrape, scrape
from tests.servers import serving

pytestmark = pytest.mark.slow
REQUESTS = 40
METRICS_DIRECTORY = "fhir-server-metrics-*"


def test_a_scrape_of_two_workers_reports_both(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DIRECTORY, raising=False)
    env = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_METRICS_TOKEN": SECRET}
    env |= {"FHIR_SERVER_LOG_LEVEL": "warning", "TMPDIR": str(tmp_path)}
    sizes = DatabaseLimits(connections=25).sizes(database_url.startswith("sqlite"))
    both = 2 * (sizes.pool_size + sizes.overflow)  # each worker's request pool: its part of its half of 50 connections
    with serving(["--workers", "2"], tmp_path, env) as root, httpx.Client(base_url=root) as client:
        _until_both_workers_started(client, both)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: httpx.get(f"{root}/health").status_code, range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        scrapes: list[Scrape] = [scrape(client) for _ in range(6)]
        assert [path.is_dir() for path in tmp_path.glob(METRICS_DIRECTORY)] == [True]
    for each in scrapes:
        # the startup probes of `serving` are counted too, so at least every request of the test
        assert (
            each.value("fhir_server_requests_total", interaction="health.alive", resource_type="", status="200")
            >= REQUESTS
        )
        assert each.value("fhir_server_db_pool_max", pool="requests") == both
    assert not list(tmp_path.glob(METRICS_DIRECTORY))  # removed when the server stopped


def _until_both_workers_started(client: httpx.Client, both: int) -> None:
    """Wait until the second worker has started too (``serving`` waits for one): each worker reports its pool when
    its application starts, so the sum reaches ``both`` only when a scrape sees both workers' values."""
    deadline = time.monotonic() + 90
    while scrape(client).value("fhir_server_db_pool_max", pool="requests") != both:
        assert time.monotonic() < deadline, "the scrape never reported both workers' pools"
        time.sleep(0.5)
