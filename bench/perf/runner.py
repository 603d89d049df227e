"""The suite end to end against a database: migrate, fill, serve, run each scenario with wrk, report.

    .venv/bin/python -m bench.perf --database-url postgresql+psycopg://... [--data synthetic --patients 2000]
        [--scenario read,search-name,...|all] [--seconds 10] [--connections 32] [--json results.json]

The server is `fhir-server serve --workers 2` (auth disabled for the load, so the figures are the FHIR work alone;
the ``read-auth`` and ``transaction-auth`` scenarios restart it with SMART authorization enabled and send a
backend-services token).
The framework ceiling (bench/perf/ceiling.py) runs in the same run on ``--ceiling-port``. bench/perf/run.sh wraps
this with a throw-away PostgreSQL. Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.perf import auth, data, processes, report, wrk
from bench.perf.processes import RssSampler, Served
from bench.perf.scenarios import BY_NAME, SCENARIOS, Context, Scenario

DICOMWEB = "dicomweb"
ORTHANC = (
    os.environ.get("FHIR_SERVER_TEST_ORTHANC", "/usr/sbin/Orthanc"),
    os.environ.get("FHIR_SERVER_TEST_ORTHANC_DICOMWEB", "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.perf", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--database-url", required=True, help="the database to serve (migrated and filled here)")
    add("--data", choices=("synthetic", "demo"), default="synthetic", help="what to fill it with")
    add("--patients", type=int, default=2000, help="synthetic patients to load (0: load none)")
    add("--appointments", type=int, default=2, help="appointments per synthetic patient")
    add("--load-concurrency", type=int, default=4, help="transaction Bundles in flight while loading")
    names = ", ".join([s.name for s in SCENARIOS if s.name != "ceiling"] + [DICOMWEB])
    add("--scenario", default="all", help=f"comma-separated, or all (the ceiling always runs): {names}")
    add("--seconds", type=int, default=10, help="measured seconds per scenario (the transaction one: 3x)")
    add("--warmup", type=int, default=2, help="seconds of unmeasured load before each scenario")
    add("--connections", type=int, default=32, help="wrk connections (the transaction scenario uses 4)")
    add("--threads", type=int, default=2, help="wrk threads")
    add("--workers", type=int, default=2, help="uvicorn workers of the server and of the ceiling")
    add("--port", type=int, default=58471, help="the FHIR server's port")
    add("--ceiling-port", type=int, default=58472, help="the ceiling app's port")
    add("--bundle-entries", type=int, default=100, help="entries of each transaction Bundle (even)")
    add("--subjects", type=int, default=1000, help="most patients and appointments the requests cycle through")
    add("--dicomweb-args", default="", help="arguments of bench.imaging.dicomweb_overhead (dicomweb scenario)")
    add("--postgres-data", type=Path, help="the PostgreSQL data directory (its CPU use per request is reported)")
    add("--keep", type=Path, help="keep the servers' logs and the request files in this directory")
    add("--json", type=Path, help="also write the outcomes to this file as JSON")
    return parser.parse_args(argv)


def chosen(text: str) -> tuple[list[Scenario], bool]:
    """The scenarios named (the ceiling first, always) and whether the DICOMweb one is among them."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(SCENARIOS), True
    unknown = [n for n in names if n not in BY_NAME and n != DICOMWEB]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
    return [BY_NAME["ceiling"], *[BY_NAME[n] for n in names if n in BY_NAME and n != "ceiling"]], DICOMWEB in names


@dataclass(frozen=True)
class Run:
    """One run's settings and scratch directory."""

    options: argparse.Namespace
    directory: Path

    def load(self, scenario: Scenario) -> wrk.Load:
        connections = scenario.connections or self.options.connections
        seconds = self.options.seconds * scenario.duration_factor
        return wrk.Load(connections=connections, threads=self.options.threads, seconds=seconds)


def measure(
    run: Run, scenario: Scenario, context: Context, served: Served, headers: dict[str, str] | None = None
) -> report.Outcome:
    """Warm up, then run ``scenario`` with wrk while sampling the workers' RSS."""
    load = run.load(scenario)
    context = replace(context, connections=load.connections)
    request = scenario.request.replace("{entries}", str(context.bundle_entries))
    print(f"== {scenario.name}: {request}", file=sys.stderr, flush=True)
    if run.options.warmup > 0 and scenario.warmup:
        send(scenario, served, replace(load, seconds=run.options.warmup), headers, prepare(run, scenario, context))
    requests = prepare(run, scenario, context)  # outside the measure: an update's set-up writes to the server
    started_load = report.load_average()[0]
    postgres = processes.postmaster(run.options.postgres_data) if run.options.postgres_data else None
    if scenario.target == "ceiling":
        postgres = None  # the ceiling asks no database
    with RssSampler(served, postgres=postgres) as sampler:
        result = send(scenario, served, load, headers, requests)
    return report.Outcome(
        name=scenario.name,
        request=request,
        connections=load.connections,
        resources_per_request=context.bundle_entries if scenario.bundle else 1,
        result=result,
        rss_mb=max(sampler.peaks.values(), default=0.0),
        workers=len(sampler.peaks),
        load=started_load,
        worker_cpu=sampler.worker_cpu,
        database_cpu=sampler.database_cpu,
    )


def prepare(run: Run, scenario: Scenario, context: Context) -> Path:
    """Build the scenario's requests afresh (an update's versions change with every run); the file wrk reads."""
    return wrk.write_requests(run.directory / f"{scenario.name}.requests", scenario.build(context))


def send(
    scenario: Scenario, served: Served, load: wrk.Load, headers: dict[str, str] | None, requests: Path
) -> wrk.WrkResult:
    """Let wrk send the requests of the file (each thread its own lines for updates)."""
    return wrk.run(served.root, requests, load, own=scenario.updates, updates=scenario.updates, headers=headers)


@contextmanager
def fhir_server(run: Run, auth_mode: str) -> Iterator[Served]:
    log = run.directory / f"server-{auth_mode}.log"
    options = run.options
    with processes.fhir_server(options.database_url, options.port, options.workers, auth_mode, log) as served:
        yield served


def ceiling_resource(context: Context, directory: Path) -> Path:
    """The first patient as the server serves it, for the ceiling to serve the same JSON."""
    response = httpx.get(f"{context.base_url}/Patient/{context.subjects.patients[0]['id']}", timeout=30)
    response.raise_for_status()
    path = directory / "ceiling-patient.json"
    path.write_bytes(response.content)
    return path


def open_scenarios(run: Run, scenarios: list[Scenario]) -> list[report.Outcome]:
    """Fill the database, then run every scenario but the auth-enabled one; read-auth after, on a restart."""
    options = run.options
    data.prepare_database(options.database_url, demo=options.data == "demo")
    base_url = f"http://127.0.0.1:{options.port}/fhir"
    outcomes = []
    with fhir_server(run, "disabled") as served:
        if options.data == "synthetic" and options.patients > 0:
            data.load_synthetic(base_url, options.patients, options.appointments, options.load_concurrency)
        subjects = data.discover(base_url, options.subjects)
        context = Context("/fhir", base_url, subjects, options.connections, options.bundle_entries)
        for scenario in [s for s in scenarios if s.target != "auth"]:
            if scenario.target == "ceiling":
                outcomes.append(ceiling(run, scenario, context))
            else:
                outcomes.append(measure(run, scenario, context, served))
    for scenario in [s for s in scenarios if s.target == "auth"]:
        outcomes.append(authorized(run, scenario, context))
    return outcomes


def ceiling(run: Run, scenario: Scenario, context: Context) -> report.Outcome:
    log = run.directory / "ceiling.log"
    resource = ceiling_resource(context, run.directory)
    with processes.ceiling(resource, run.options.ceiling_port, run.options.workers, log) as served:
        return measure(run, scenario, context, served)


def authorized(run: Run, scenario: Scenario, context: Context) -> report.Outcome:
    """``scenario`` against the server restarted with SMART authorization, with a backend-services token."""
    backend = auth.register(run.options.database_url, context.subjects.organization, run.directory)
    with fhir_server(run, "enabled") as served:
        token = auth.token(context.base_url, backend, scenario.scope)
        return measure(run, scenario, context, served, {"Authorization": f"Bearer {token}"})


def dicomweb(options: argparse.Namespace) -> str:
    """The proxy-vs-direct DICOMweb benchmark's own report, or why it did not run and how to run it."""
    command = [sys.executable, "-m", "bench.imaging.dicomweb_overhead", *shlex.split(options.dicomweb_args)]
    shown = " ".join([".venv/bin/python", *command[1:]])
    if not all(Path(p).exists() for p in ORTHANC):
        return f"DICOMweb: not run (Orthanc and its DICOMweb plugin are not installed: .ci/orthanc.sh); run `{shown}`"
    print("== dicomweb: bench.imaging.dicomweb_overhead", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, cwd=report.REPO)  # noqa: S603
    if done.returncode != 0:
        return f"DICOMweb: `{shown}` failed ({done.returncode}):\n\n```\n{done.stderr[-3000:]}\n```"
    return f"DICOMweb (`{shown}`):\n\n{done.stdout.strip()}"


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    scenarios, with_dicomweb = chosen(options.scenario)
    if not wrk.available():
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk; or .ci/wrk.sh)")
    shown = os.environ.get("BENCH_COMMAND") or shlex.join(["python", "-m", "bench.perf", *(argv or sys.argv[1:])])
    started = report.machine()
    with tempfile.TemporaryDirectory(prefix="fhir-perf-") as scratch:
        directory = options.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        outcomes = open_scenarios(Run(options, directory), scenarios)

    notes = dicomweb(options) if with_dicomweb else ""
    size = f"{options.patients} synthetic patients x {options.appointments} appointments"
    if options.data == "demo":
        size = "demo data (`fhir-server seed --demo`)"
    print(f"\nCommand: `{shown}`\n")
    print(f"Started: {started}\n")
    print(f"Ended: {report.machine()}\n")
    server = f"`fhir-server serve --workers {options.workers}` (auth disabled except read-auth and transaction-auth)"
    timing = f"wrk -t{options.threads}, {options.seconds:g} s per scenario after {options.warmup:g} s of warm-up"
    print(f"Data: {size}; server {server}; {timing}\n")
    print(report.table(outcomes))
    replaced = [o.name for o in outcomes if o.workers > options.workers]
    if replaced:
        print(
            f"\nMore worker pids than workers during {', '.join(replaced)}: uvicorn replaced a worker that died or "
            "missed its health check (it kills a worker that does not answer its ping within 5 s)."
        )
    if notes:
        print(f"\n{notes}")
    if options.json:
        options.json.write_text(json.dumps([o.as_dict() for o in outcomes], indent=2))
