"""Load synthetic patients with appointments into a running server through its bulk path: transaction Bundles.

Run from the repository root against a server (authorization disabled, or pass ``--token``)::

    .venv/bin/python -m bench.search.load --base-url http://127.0.0.1:8080/fhir --patients 10000 \
        [--appointments 2] [--concurrency 4] [--first 0]

Each Bundle (http://hl7.org/fhir/R4/http.html#transaction) holds whole patients with their appointments (the
appointments reference their patient by ``urn:uuid`` fullUrl), as many as fit in ``--entries`` (100) entries.
The server indexes every resource for search inside the write transaction, so resources/s includes the index
build. The server must have one clinic (``fhir-server clinics create --name "Benchmark Clinic"``); its 20
practitioners are created first, conditionally, so a second run with ``--first`` adds patients to an earlier load.
Exits non-zero on the first Bundle the server refuses.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.search.synthetic import (
    IDENTIFIER_SYSTEM,
    PRACTITIONERS,
    appointment_resource,
    appointment_starts,
    patient_resource,
    practitioner_resource,
)
from bench.search.timing import figure, percentile

FHIR_JSON = "application/fhir+json"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="the server's FHIR base, e.g. http://127.0.0.1:8080/fhir")
    parser.add_argument("--patients", type=int, required=True, help="how many patients to load")
    parser.add_argument("--first", type=int, default=0, help="number of the first patient (to extend a load)")
    parser.add_argument("--appointments", type=int, default=2, help="appointments per patient")
    parser.add_argument("--entries", type=int, default=100, help="most entries per transaction Bundle")
    parser.add_argument("--concurrency", type=int, default=4, help="Bundles in flight at once")
    parser.add_argument("--token", help="a bearer token, when the server enforces authorization")
    return parser.parse_args(argv)


def client(options: argparse.Namespace) -> httpx.Client:
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "Prefer": "return=minimal"}
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    limits = httpx.Limits(max_connections=options.concurrency + 1)
    return httpx.Client(base_url=options.base_url, headers=headers, limits=limits, timeout=600)


def entry(resource: dict[str, Any], full_url: str | None = None, if_none_exist: str | None = None) -> dict[str, Any]:
    request = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    found: dict[str, Any] = {"resource": resource, "request": request}
    if full_url:
        found["fullUrl"] = full_url
    return found


def post_bundle(http: httpx.Client, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """POST one transaction Bundle; the transaction-response Bundle, or SystemExit naming the refusal."""
    body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = http.post(str(http.base_url).rstrip("/"), json=body)
    if response.status_code != 200:
        raise SystemExit(f"transaction refused: {response.status_code} {response.text[:2000]}")
    answer: dict[str, Any] = response.json()
    return answer


def setup_clinic(http: httpx.Client) -> list[str]:
    """Ensure the practitioners of the server's one clinic (made first by ``fhir-server clinics create``) exist
    (conditional creates); their ``Practitioner/id``s."""
    doctors = []
    for number in range(PRACTITIONERS):
        doctor = practitioner_resource(number)
        doctor["identifier"] = [{"system": IDENTIFIER_SYSTEM, "value": f"D{number:02d}"}]
        doctors.append(entry(doctor, if_none_exist=f"identifier={IDENTIFIER_SYSTEM}|D{number:02d}"))
    answer = post_bundle(http, doctors)
    return [location(e) for e in answer["entry"]]


def location(response_entry: dict[str, Any]) -> str:
    """``Type/id`` from a transaction-response entry's location (``Type/id/_history/n``)."""
    parts = str(response_entry["response"]["location"]).split("/")
    return f"{parts[-4]}/{parts[-3]}" if "_history" in parts else "/".join(parts[-2:])


def patient_entries(number: int, appointments: int, doctors: list[str]) -> list[dict[str, Any]]:
    """Patient ``number`` and its appointments, each with one of the doctors, as Bundle entries."""
    full_url = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
    found = [entry(patient_resource(number), full_url)]
    for index, start in enumerate(appointment_starts(number, appointments)):
        doctor = doctors[(number + index) % len(doctors)]
        found.append(entry(appointment_resource(full_url, doctor, start)))
    return found


def batches(options: argparse.Namespace) -> list[range]:
    """The patient numbers of each Bundle: whole patients, at most ``--entries`` entries."""
    per_bundle = max(1, options.entries // (1 + options.appointments))
    last = options.first + options.patients
    return [range(start, min(start + per_bundle, last)) for start in range(options.first, last, per_bundle)]


def load(http: httpx.Client, options: argparse.Namespace, doctors: list[str]) -> list[float]:
    """Post every Bundle, ``--concurrency`` at a time; each Bundle's seconds. Progress goes to stderr."""
    work = batches(options)
    done = 0
    started = time.perf_counter()

    def send(numbers: range) -> float:
        entries = [e for number in numbers for e in patient_entries(number, options.appointments, doctors)]
        start = time.perf_counter()
        post_bundle(http, entries)
        return time.perf_counter() - start

    seconds = []
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        for elapsed in pool.map(send, work):
            seconds.append(elapsed)
            done += 1
            if done % max(1, len(work) // 20) == 0:
                rate = done * len(work[0]) / (time.perf_counter() - started)
                print(f"  {done}/{len(work)} bundles, ~{rate:.0f} patients/s", file=sys.stderr, flush=True)
    return seconds


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    with client(options) as http:
        doctors = setup_clinic(http)
        started = time.perf_counter()
        seconds = load(http, options, doctors)
        elapsed = time.perf_counter() - started
    resources = options.patients * (1 + options.appointments)
    figure("patients", options.patients)
    figure("resources", resources)
    figure("bundles", len(seconds))
    figure("concurrency", options.concurrency)
    figure("seconds", elapsed)
    figure("resources/s", resources / elapsed)
    figure("patients/s", options.patients / elapsed)
    figure("bundle p50 ms", 1000 * percentile(seconds, 0.50))
    figure("bundle p95 ms", 1000 * percentile(seconds, 0.95))


if __name__ == "__main__":
    main()
