"""The bulk export benchmark (bench/bulk/export_speed.py) runs end to end on PostgreSQL: a smoke test, no figures
are asserted beyond the count (they are recorded by hand in bench/RESULTS.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL_ENV

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def test_export_speed_exports_every_loaded_resource_and_prints_its_figures() -> None:
    if not os.environ.get(POSTGRES_URL_ENV):
        pytest.skip(f"the export benchmark needs {POSTGRES_URL_ENV}")
    command = [sys.executable, "-m", "bench.bulk.export_speed", "--patients", "20", "--file-max", "50"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert figures["loaded"] == "250" and figures["resources"] == "251"  # and the clinic's Organization
    assert (
        int(figures["files"]) == 7
    )  # 140 Observations at 50 a file: 3; Appointment, Organization, Patient, Practitioner
    for name in ("seconds", "resources_per_second", "peak_rss_mib"):
        assert float(figures[name]) > 0
