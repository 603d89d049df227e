"""The data under test: filling the database, then finding what the scenarios ask for through the FHIR API.

Two kinds of data: the demo clinic (`fhir-server seed --demo`: 50 patients and their appointments) or N synthetic
patients with appointments loaded through transaction Bundles by bench/search/load.py (its ingest rate is printed
with the load). Either way, :func:`discover` then reads the patients, appointments, practitioners and the clinic
back from the server, so the scenarios ask for what is really there.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import httpx

from bench.perf.processes import FHIR_SERVER, clean_environment
from bench.search import load as search_load

PAGE = 100


@dataclass(frozen=True)
class Subjects:
    """What the server holds, as served: Patient resources, (patient id, start) of appointments, Practitioner
    references and the clinic's Organization id."""

    patients: list[dict[str, Any]]
    appointments: list[tuple[str, str]]
    practitioners: list[str]
    organization: str


def cli(database_url: str, *args: str) -> str:
    """Run `fhir-server <args>` on ``database_url``; its output (CalledProcessError naming the failure)."""
    env = clean_environment(database_url=database_url)
    done = subprocess.run([FHIR_SERVER, *args], env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, ["fhir-server", *args], done.stdout, done.stderr)
    return done.stdout


BENCH_CLINIC = "Benchmark Clinic"


def prepare_database(database_url: str, demo: bool) -> None:
    """`fhir-server db upgrade`, then `fhir-server seed --demo` when ``demo``, else `fhir-server clinics create` of
    the clinic synthetic data is loaded into (unless an earlier run made it)."""
    cli(database_url, "db", "upgrade")
    if demo:
        cli(database_url, "seed", "--demo")
    elif BENCH_CLINIC not in cli(database_url, "clinics", "list"):
        cli(database_url, "clinics", "create", "--name", BENCH_CLINIC)


def load_synthetic(base_url: str, patients: int, appointments: int, concurrency: int) -> None:
    """Load ``patients`` synthetic patients with ``appointments`` each through bench/search/load.py."""
    args = ["--base-url", base_url, "--patients", str(patients), "--appointments", str(appointments)]
    search_load.main([*args, "--concurrency", str(concurrency)])


def resources(http: httpx.Client, resource_type: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` resources of the type, following the search's next links."""
    found: list[dict[str, Any]] = []
    url: str | None = f"{resource_type}?_count={min(PAGE, limit)}"
    while url and len(found) < limit:
        response = http.get(url)
        response.raise_for_status()
        bundle = response.json()
        found += [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return found[:limit]


def discover(base_url: str, limit: int = 1000, headers: dict[str, str] | None = None) -> Subjects:
    """Read back up to ``limit`` patients and appointments, the practitioners and the clinic of the patients."""
    with httpx.Client(base_url=base_url + "/", headers=headers, timeout=120) as http:
        patients = resources(http, "Patient", limit)
        appointments = [a for a in resources(http, "Appointment", limit) if a.get("start")]
        practitioners = [f"Practitioner/{p['id']}" for p in resources(http, "Practitioner", PAGE)]
        organizations = [o["id"] for o in resources(http, "Organization", PAGE)]
    if not patients or not organizations:
        raise SystemExit("the database holds no patients or no clinic: load data first (--data demo|synthetic)")
    clinic = clinic_of(patients) or organizations[0]
    return Subjects(
        patients=patients,
        appointments=[(patient, a["start"]) for a in appointments if (patient := patient_of(a))],
        practitioners=practitioners,
        organization=clinic,
    )


def clinic_of(patients: list[dict[str, Any]]) -> str | None:
    """The Organization id most of the patients name as managingOrganization (None when none does)."""
    counts: dict[str, int] = {}
    for patient in patients:
        reference = patient.get("managingOrganization", {}).get("reference", "")
        if reference.startswith("Organization/"):
            counts[reference.split("/")[1]] = counts.get(reference.split("/")[1], 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def patient_of(appointment: dict[str, Any]) -> str | None:
    """The id of the appointment's Patient participant (None when it has none)."""
    for participant in appointment.get("participant", []):
        reference = participant.get("actor", {}).get("reference", "")
        if reference.startswith("Patient/"):
            return str(reference.split("/")[1])
    return None
