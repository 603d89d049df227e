"""The search benchmark's scripts (bench/search) run end to end against a real server: a smoke test, no figures
are asserted (they are recorded by hand in bench/RESULTS.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import CLI, serving

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", f"bench.search.{module}", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_load_then_queries_exit_0_and_print_their_figures(tmp_path: Path) -> None:
    env = {"FHIR_SERVER_AUTH": "disabled", "FHIR_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'bench.db'}"}
    for command in (["db", "upgrade"], ["clinics", "create", "--name", "Benchmark Clinic"]):  # as run.sh does
        subprocess.run([CLI, *command], env={**os.environ, **env}, check=True, capture_output=True, timeout=60)
    with serving([], tmp_path, {**env, "FHIR_SERVER_LOG_LEVEL": "warning"}) as root:
        base = f"{root}/fhir"
        load = bench("load", "--base-url", base, "--patients", "20", "--concurrency", "2")
        queries = bench("queries", "--base-url", base, "--patients", "20", "--repeat", "3", "--concurrency", "2")
    assert load.returncode == 0, load.stdout + load.stderr
    for name in ("patients: 20", "resources: 60", "resources/s:", "bundle p50 ms:", "bundle p95 ms:"):
        assert name in load.stdout
    assert queries.returncode == 0, queries.stdout + queries.stderr
    for name in (
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
        "GET /health",
        "Patient?name=",
        "Patient?identifier=",
        "Patient?birthdate=",
        "_include=Appointment:patient",
        "Patient read by id",
    ):
        assert name in queries.stdout


def test_queries_refuse_a_patient_count_larger_than_the_load(tmp_path: Path) -> None:
    env = {"FHIR_SERVER_AUTH": "disabled", "FHIR_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'bench.db'}"}
    with serving([], tmp_path, {**env, "FHIR_SERVER_LOG_LEVEL": "warning"}) as root:
        queries = bench("queries", "--base-url", f"{root}/fhir", "--patients", "1000", "--repeat", "3")
    assert queries.returncode != 0
    assert "is not loaded" in queries.stderr
