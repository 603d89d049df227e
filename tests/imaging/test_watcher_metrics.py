"""The Orthanc watcher's metrics (the background work the server runs today): its rounds by outcome and the time of
its last success, from which a scraper computes the lag."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from tests.imaging.conftest import Clinics, imaging_settings
from tests.imaging.orthanc_process import OrthancProcess
from tests.imaging.test_sync import wait_for
from tests.metrics.scrape import SECRET, scrape
from tests.servers import free_port

ROUNDS = "fhir_server_imaging_sync_rounds_total"
LAST_SUCCESS = "fhir_server_imaging_sync_last_success_timestamp_seconds"


def test_rounds_with_orthanc_down_are_counted_as_unavailable(database_url: str) -> None:
    settings = load_settings(
        database_url=database_url, orthanc_url=f"http://127.0.0.1:{free_port()}", metrics_token=SECRET
    )
    with TestClient(create_app(settings)) as client:
        before = scrape(client).value(ROUNDS, outcome="orthanc_unavailable")
        wait_for(lambda: scrape(client).value(ROUNDS, outcome="orthanc_unavailable") > before)


@pytest.mark.slow
def test_successful_rounds_are_counted_with_their_time(
    database: Database, database_url: str, empty_orthanc: OrthancProcess, clinics: Clinics
) -> None:
    settings = imaging_settings(
        database_url, empty_orthanc, "http://fhir.example/fhir", imaging_watch=True, imaging_poll_interval=0.2,
        metrics_token=SECRET,
    )  # fmt: skip
    started = time.time()
    with TestClient(create_app(settings, database)) as client:
        before = scrape(client).value(ROUNDS, outcome="success")
        wait_for(lambda: scrape(client).value(ROUNDS, outcome="success") >= before + 2)
        assert scrape(client).value(LAST_SUCCESS) >= started
