"""What counting and timing a request costs: ``python -m bench.metrics_overhead [requests]``.

Every HTTP request passes :class:`fhir_server.metrics.requests.RequestMetricsMiddleware` (one counter increment and
one histogram observation, labelled from the route routing chose). This drives a minimal ASGI app that does what
routing does for a FHIR read (names the route, its endpoint and its path parameters in the scope) and answers 200,
once bare and once behind the middleware, and prints the median microseconds per request of each and their
difference: the middleware's overhead. Run in both of prometheus-client's modes: one process (the default) and the
multiprocess mode of ``serve --workers N`` (values in memory-mapped files), with
``PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) python -m bench.metrics_overhead``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_server.fhir.interactions import read
from fhir_server.fhir.route_interactions import FhirRoute
from fhir_server.health import alive
from fhir_server.metrics.requests import RequestMetricsMiddleware

READ_ROUTE = FhirRoute("/fhir/{resource_type}/{resource_id}", read.read_endpoint, methods=["GET"], interaction="read")
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/fhir+json")]}
BODY = {"type": "http.response.body", "body": b"{}"}


def routed(endpoint: Any, route: Any, params: dict[str, str]) -> ASGIApp:
    """An app that routes as the real one would (the scope entries readers use) and answers 200."""

    async def app(scope: Scope, _receive: Receive, send: Send) -> None:
        scope.update(endpoint=endpoint, route=route, path_params=params)
        await send(START)
        await send(BODY)

    return app


async def _nothing() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _sink(_message: Any) -> None:
    return None


async def per_request_us(app: ASGIApp, path: str, requests: int) -> float:
    """Median microseconds per request over 5 runs of ``requests`` requests to ``path``."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests):
            scope = {"type": "http", "method": "GET", "path": path, "headers": [], "state": {}}
            await app(scope, _nothing, _sink)
        runs.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(runs)


async def main(requests: int) -> None:
    cases = {
        "FHIR read (Patient)": (
            routed(read.read_endpoint, READ_ROUTE, {"resource_type": "Patient"}),
            "/fhir/Patient/1",
        ),
        "other route (/health)": (routed(alive, None, {}), "/health"),
    }
    print(f"{'request':<24}{'bare us':>10}{'metered us':>12}{'overhead us':>13}")
    for name, (app, path) in cases.items():
        await per_request_us(RequestMetricsMiddleware(app), path, 1000)  # warm-up: label children created
        bare = await per_request_us(app, path, requests)
        metered = await per_request_us(RequestMetricsMiddleware(app), path, requests)
        print(f"{name:<24}{bare:>10.2f}{metered:>12.2f}{metered - bare:>13.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
