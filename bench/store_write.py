"""The cost of writing one typical Observation to the resource store: its search index rows alone (every official
SearchParameter of Observation, composites included, evaluated in process) and a whole ``POST /fhir/Observation``
through the app on a fresh SQLite file (validation, store, version, index, audit), authorization off.

    python -m bench.store_write [--writes 300] [--index-runs 2000]

Prints ``name: value`` figures (bench/search/timing.py): index rows per Observation, the median microseconds of
computing them, and the median and p95 milliseconds of a POST. Run from the repository root of the commit to
measure; compare two commits on the same idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.search.timing import figure, percentile
from fhir_server.app import create_app
from fhir_server.db.migrate import upgrade
from fhir_server.fhir.search.indexer import index_rows
from fhir_server.settings import load_settings

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def blood_pressure(patient_id: str) -> dict[str, Any]:
    """A US Core blood pressure panel: the vital-signs category, the LOINC panel code, two components."""

    def component(code: str, value: float) -> dict[str, Any]:
        quantity = {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}
        return {"code": {"coding": [{"system": LOINC, "code": code}]}, "valueQuantity": quantity}

    category = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [category]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-11-02T09:30:00Z",
        "component": [component("8480-6", 120), component("8462-4", 80)],
    }


def _time_index(runs: int) -> None:
    observation = blood_pressure("p1")
    rows = sum(len(r) for r in index_rows(observation).values())
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        index_rows(observation)
        timings.append((time.perf_counter() - start) * 1e6)
    figure("index rows per Observation", rows)
    figure("index rows median us", percentile(timings, 0.5))


def _time_posts(writes: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade(url)
        with TestClient(create_app(load_settings(database_url=url, auth="disabled"))) as client:
            clinic = client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "Bench clinic"})
            patient = {
                "resourceType": "Patient",
                "name": [{"family": "Bench", "given": ["Ben"]}],
                "managingOrganization": {"reference": f"Organization/{clinic.json()['id']}"},
            }
            patient_id = client.post("/fhir/Patient", json=patient).json()["id"]
            timings = []
            for _ in range(writes):
                start = time.perf_counter()
                response = client.post("/fhir/Observation", json=blood_pressure(patient_id))
                timings.append((time.perf_counter() - start) * 1e3)
                assert response.status_code == 201, response.text
    figure("POST Observation median ms", percentile(timings, 0.5))
    figure("POST Observation p95 ms", percentile(timings, 0.95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--index-runs", type=int, default=2000)
    args = parser.parse_args()
    _time_index(args.index_runs)
    _time_posts(args.writes)


if __name__ == "__main__":
    main()
