"""Smoke test of the performance suite (bench/perf): at a tiny size and a second per scenario, every scenario runs
against `fhir-server serve --workers 2` on PostgreSQL and yields figures, with no error answer. How fast is never
asserted here (bench/RESULTS.md records it).

wrk drives the load: without it the test is skipped locally and fails under CI (``.ci/wrk.sh`` installs it), the
way PostgreSQL is treated in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.perf.runner import main
from bench.perf.scenarios import SCENARIOS
from tests.servers import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.parametrize("module_database_url", ["postgresql"], indirect=True),  # as users run it
]


def _need_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.environ.get("CI"):
        pytest.fail("wrk is not installed: CI must run the performance smoke test (.ci/wrk.sh installs it)")
    pytest.skip("the performance suite needs wrk (Debian: apt-get install wrk, or .ci/wrk.sh)")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> list[dict[str, Any]]:
    """One tiny run of every scenario but DICOMweb (bench/imaging's own), its outcomes as written to --json.

    A second of warm-up per scenario: a worker's first request of a kind (``$everything`` above all: its statements
    are planned and its definitions loaded on first use) took more than the measured second on a loaded CI machine,
    which left the scenario with no completed request at all."""
    _need_wrk()
    results = tmp_path_factory.mktemp("perf") / "results.json"
    scenarios = ",".join(s.name for s in SCENARIOS)
    main(
        [
            "--database-url", module_database_url, "--patients", "12", "--appointments", "1", "--scenario", scenarios,
            "--seconds", "1", "--warmup", "1", "--connections", "4", "--bundle-entries", "10",
            "--port", str(free_port()), "--ceiling-port", str(free_port()), "--json", str(results),
        ]
    )  # fmt: skip
    found: list[dict[str, Any]] = json.loads(Path(results).read_text())
    return found


def test_every_scenario_ran_in_order(outcomes: list[dict[str, Any]]) -> None:
    assert [o["name"] for o in outcomes] == [s.name for s in SCENARIOS]


def test_every_scenario_yields_throughput_latency_and_worker_memory(outcomes: list[dict[str, Any]]) -> None:
    for outcome in outcomes:
        result = outcome["result"]
        assert result["requests"] > 0 and outcome["rate"] > 0, outcome["name"]
        assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"], outcome["name"]
        assert outcome["workers"] == 2 and outcome["rss_mb"] > 0 and outcome["worker_cpu"] > 0, outcome["name"]


def test_no_scenario_got_an_error_answer(outcomes: list[dict[str, Any]]) -> None:
    failed = {o["name"]: o["result"] for o in outcomes if o["result"]["non_2xx"] or o["result"]["socket_errors"]}
    assert failed == {}


def test_updates_stay_valid_for_their_if_match(outcomes: list[dict[str, Any]]) -> None:
    update = next(o for o in outcomes if o["name"] == "update")["result"]
    assert set(update["statuses"]) == {"200"} and update["statuses"]["200"] == update["requests"]


def test_transactions_count_each_bundle_entry(outcomes: list[dict[str, Any]]) -> None:
    transaction = next(o for o in outcomes if o["name"] == "transaction")
    assert transaction["resources_per_request"] == 10
    assert transaction["resources_per_second"] == pytest.approx(10 * transaction["rate"])
