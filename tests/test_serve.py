"""`fhir-server serve` as users start it: a real process on a real port."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from fhir_server.db import Patient
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline
from tests.servers import CLI, serving

pytestmark = pytest.mark.slow


def test_serve_demo_on_the_embedded_default(tmp_path: Path) -> None:
    with serving(["--demo"], tmp_path, {"FHIR_SERVER_LOG_LEVEL": "warning"}) as base:
        assert httpx.get(f"{base}/health/ready").json()["status"] == "pass"
    database = Database(f"sqlite:///{tmp_path / 'fhir-server.db'}", finish=pipeline.finish)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 50
    database.dispose()


def test_serve_with_two_workers_on_a_database_url(database_url: str, tmp_path: Path) -> None:
    env = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_LOG_LEVEL": "warning"}
    subprocess.run([CLI, "seed", "--demo"], env={**os.environ, **env}, check=True, capture_output=True)
    with serving(["--workers", "2"], tmp_path, env) as base:
        statuses = [httpx.get(f"{base}/health/ready").status_code for _ in range(10)]
        assert statuses == [200] * 10
