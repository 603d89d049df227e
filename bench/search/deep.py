"""Time chained and ``_has`` searches (issue 12): the query shapes whose cost could explode with the data.

Runs each request in-process (the application with authorization disabled, on ``FHIR_SERVER_DATABASE_URL``: a
SQLite file or a PostgreSQL database that ``bench.search.load`` filled), ``--repeat`` times after one warm-up, and
prints per request the median and slowest time and the number of matches on the first page::

    FHIR_SERVER_DATABASE_URL=sqlite:////tmp/bench.db .venv/bin/python -m bench.search.deep [--repeat 3] \
        ['Appointment?patient.organization.name=nowhere' ...]

Without request arguments, the searches below are run (subjects read from the database: the clinic's name and the
family name of its first patient). Wrap each run in ``timeout`` to bound a shape that explodes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from fastapi.testclient import TestClient

from bench.search.timing import figure


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requests", nargs="*", help="paths below the FHIR base, e.g. 'Patient?_has:...'")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each request (after one warm-up)")
    return parser.parse_args(argv)


def default_requests(client: TestClient) -> list[str]:
    """Chains and ``_has`` one, two and three levels deep: matching everything, one patient's, and nothing."""
    clinic = client.get("/fhir/Organization", params={"_count": 1}).json()["entry"][0]["resource"]["name"]
    family = client.get("/fhir/Patient", params={"_count": 1}).json()["entry"][0]["resource"]["name"][0]["family"]
    return [
        f"Appointment?patient.family={family}",
        "Appointment?patient.family=nobody",
        f"Appointment?patient.organization.name={clinic}",
        "Appointment?patient.organization.name=nowhere",
        "Patient?_has:Appointment:patient:status=booked",
        "Patient?_has:Appointment:patient:status=noshow",
        f"Practitioner?_has:Appointment:practitioner:patient.family={family}",
        "Organization?_has:Patient:organization:_has:Appointment:patient:status=noshow",
        "Organization?_has:Patient:organization:_has:Appointment:patient:status=booked",
    ]


def timed(client: TestClient, request: str, repeat: int) -> tuple[list[float], int]:
    """Seconds of each of ``repeat`` runs of ``request`` (after one warm-up) and its first page's matches."""
    matches = 0
    seconds = []
    for run in range(repeat + 1):
        start = time.perf_counter()
        response = client.get(f"/fhir/{request}")
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{request}: HTTP {response.status_code} {response.text[:300]}")
        matches = sum(1 for e in response.json().get("entry", []) if e["search"]["mode"] == "match")
        if run:
            seconds.append(elapsed)
    return seconds, matches


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    os.environ.setdefault("FHIR_SERVER_AUTH", "disabled")
    os.environ.setdefault("FHIR_SERVER_LOG_LEVEL", "warning")
    from fhir_server.app import create_app
    from fhir_server.settings import load_settings

    with TestClient(create_app(load_settings())) as client:
        for request in options.requests or default_requests(client):
            seconds, matches = timed(client, request, options.repeat)
            figure(
                request,
                f"median {statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms, "
                f"{matches} matches",
            )


if __name__ == "__main__":
    main()
