"""What counting and timing a request costs: ``python -m bench.metrics_overhead [requests]``.

Every HTTP request is counted and timed by :func:`fhir_server.metrics.requests.observe` (labels from the route routing
chose, one counter increment, one histogram observation), called by the request log's middleware, which measures
the status and duration for its log line anyway. This times ``observe`` on the scope routing leaves for a FHIR read
and for a route outside the FHIR API, and prints the median microseconds per request: the metrics' whole overhead.
Run it in both of prometheus-client's modes: one process (the default) and the multiprocess mode of
``serve --workers N`` (values in memory-mapped files):
``PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) python -m bench.metrics_overhead``.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from fhir_server.fhir.interactions import read
from fhir_server.fhir.route_interactions import FhirRoute
from fhir_server.health import alive
from fhir_server.metrics.requests import observe

READ_ROUTE = FhirRoute("/fhir/{resource_type}/{resource_id}", read.read_endpoint, methods=["GET"], interaction="read")


def routed(path: str, endpoint: Any, route: Any, params: dict[str, str]) -> dict[str, Any]:
    """A request's scope as routing leaves it (the entries the labels are read from)."""
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "state": {}}
    return scope | {"endpoint": endpoint, "route": route, "path_params": params}


def per_request_us(scope: dict[str, Any], requests: int) -> float:
    """Median microseconds of one :func:`observe` over 5 runs of ``requests``."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests):
            observe(scope, 200, 0.004)
        runs.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(runs)


def main(requests: int) -> None:
    cases = {
        "FHIR read (Patient)": routed("/fhir/Patient/1", read.read_endpoint, READ_ROUTE, {"resource_type": "Patient"}),
        "other route (/health)": routed("/health", alive, None, {}),
    }
    for name, scope in cases.items():
        per_request_us(scope, 1000)  # warm-up: the label children created
        print(f"{name:<24}{per_request_us(scope, requests):>8.2f} us per request")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
