"""Latency of typical searches against a running server loaded by ``bench.search.load``.

Run from the repository root after the load (same ``--patients``, so subjects are picked among loaded patients)::

    .venv/bin/python -m bench.search.queries --base-url http://127.0.0.1:8080/fhir --patients 10000 \
        [--repeat 200] [--concurrency 4]

Each query runs ``--repeat`` times, ``--concurrency`` at once, on subjects drawn (seeded) from the loaded
patients: name prefix, identifier token, a one-month birthdate range, a patient's appointments in 2025 with
``_include=Appointment:patient`` (http://hl7.org/fhir/R4/search.html), and, for reference, a Patient read by id
and ``GET /health`` on the same server (the framework's ceiling: the ratio column reads each query against it).
Prints a Markdown table (p50/p95/p99 ms, req/s, mean matches per answer); exits non-zero if any answer was not 200.
"""

from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from bench.search.synthetic import SyntheticPatient, synthetic_patient
from bench.search.timing import percentile

FHIR_JSON = "application/fhir+json"
Request = tuple[str, dict[str, Any]]  # path below the root, query parameters


@dataclass(frozen=True)
class Outcome:
    """What one query run measured."""

    name: str
    seconds: list[float]
    wall: float
    matches: float
    failures: int


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="the server's FHIR base, e.g. http://127.0.0.1:8080/fhir")
    parser.add_argument("--patients", type=int, required=True, help="how many patients the load put in")
    parser.add_argument("--first", type=int, default=0, help="number of the first loaded patient")
    parser.add_argument("--repeat", type=int, default=200, help="requests per query")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--seed", type=int, default=2026, help="seed for the choice of subjects")
    parser.add_argument("--token", help="a bearer token, when the server enforces authorization")
    return parser.parse_args(argv)


def subjects(options: argparse.Namespace) -> list[SyntheticPatient]:
    rng = random.Random(options.seed)
    numbers = [options.first + rng.randrange(options.patients) for _ in range(options.repeat)]
    return [synthetic_patient(number) for number in numbers]


def patient_ids(http: httpx.Client, fhir: str, people: list[SyntheticPatient]) -> list[str]:
    """The server ids of the subjects (by identifier search; not timed)."""
    found = []
    for person in people:
        bundle = http.get(f"{fhir}/Patient", params={"identifier": person.identifier_token}).json()
        if not bundle.get("entry"):
            raise SystemExit(f"patient {person.identifier} is not loaded: was the load's --patients smaller?")
        found.append(str(bundle["entry"][0]["resource"]["id"]))
    return found


def plan(root: str, fhir: str, people: list[SyntheticPatient], ids: list[str]) -> dict[str, list[Request]]:
    """Each query's requests, one per subject."""

    def month(person: SyntheticPatient) -> dict[str, Any]:
        end = person.birth_date + timedelta(days=31)
        return {"birthdate": [f"ge{person.birth_date.isoformat()}", f"lt{end.isoformat()}"]}

    def appointments(patient_id: str) -> dict[str, Any]:
        return {
            "patient": f"Patient/{patient_id}",
            "date": ["ge2025-01-01", "lt2026-01-01"],
            "_include": "Appointment:patient",
        }

    return {
        "GET /health (ceiling)": [(f"{root}/health", {}) for _ in people],
        "Patient read by id": [(f"{fhir}/Patient/{i}", {}) for i in ids],
        "Patient?name=<4-letter prefix>": [(f"{fhir}/Patient", {"name": p.family[:4]}) for p in people],
        "Patient?identifier=<token>": [(f"{fhir}/Patient", {"identifier": p.identifier_token}) for p in people],
        "Patient?birthdate=ge..&birthdate=lt.. (1 month)": [(f"{fhir}/Patient", month(p)) for p in people],
        "Appointment?patient=..&date=<2025>&_include=Appointment:patient": [
            (f"{fhir}/Appointment", appointments(i)) for i in ids
        ],
    }


def run(http: httpx.Client, name: str, requests: list[Request], concurrency: int) -> Outcome:
    """Send ``requests`` ``concurrency`` at a time (after two untimed warm-ups); their latencies and matches."""

    def send(request: Request) -> tuple[float, int, int]:
        start = time.perf_counter()
        response = http.get(request[0], params=request[1])
        elapsed = time.perf_counter() - start
        body = response.json() if response.status_code == 200 else {}
        matches = sum(1 for e in body.get("entry", []) if e.get("search", {}).get("mode") == "match")
        return elapsed, response.status_code, matches

    for request in requests[:2]:
        send(request)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(send, requests))
    wall = time.perf_counter() - started
    failures = sum(1 for _, status, _ in results if status != 200)
    matches = sum(m for _, _, m in results) / max(1, len(results))
    return Outcome(name, [s for s, _, _ in results], wall, matches, failures)


def table(outcomes: list[Outcome], concurrency: int) -> str:
    """The Markdown table of the outcomes; the first is the ceiling the ratio column divides by."""
    ceiling = percentile(outcomes[0].seconds, 0.5) or 1e-9
    lines = [
        f"| query (x{len(outcomes[0].seconds)}, concurrency {concurrency}) | p50 ms | p95 ms | p99 ms | req/s "
        "| p50 / health p50 | mean matches |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        p50, p95, p99 = (1000 * percentile(o.seconds, f) for f in (0.5, 0.95, 0.99))
        rate = len(o.seconds) / o.wall
        ratio = percentile(o.seconds, 0.5) / ceiling
        lines.append(f"| `{o.name}` | {p50:.1f} | {p95:.1f} | {p99:.1f} | {rate:.1f} | {ratio:.1f} | {o.matches:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    fhir = options.base_url.rstrip("/")
    root = fhir.rsplit("/", 1)[0]
    headers = {"Accept": FHIR_JSON}
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    limits = httpx.Limits(max_connections=options.concurrency + 1)
    with httpx.Client(headers=headers, limits=limits, timeout=120) as http:
        people = subjects(options)
        ids = patient_ids(http, fhir, people)
        outcomes = [run(http, n, r, options.concurrency) for n, r in plan(root, fhir, people, ids).items()]
    print(table(outcomes, options.concurrency), flush=True)
    failed = sum(o.failures for o in outcomes)
    if failed:
        raise SystemExit(f"{failed} requests were not answered 200")


if __name__ == "__main__":
    main()
