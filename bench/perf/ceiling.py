"""The framework ceiling: a bare FastAPI app answering every Patient read with the same JSON, through orjson.

Served like the server (2 uvicorn workers, uvloop + httptools) on another port, it measures what FastAPI and uvicorn
alone cost on this machine, so each figure of the suite also reads as a ratio to it::

    BENCH_CEILING_JSON=patient.json .venv/bin/python -m uvicorn bench.perf.ceiling:app --workers 2 \
        --loop uvloop --http httptools --port 58472

``BENCH_CEILING_JSON`` names a file holding the Patient the real server served (the runner writes it); the app
parses it once at start (immutable data) and serializes it again with orjson on every request, as the server must.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Response

JSON_ENV = "BENCH_CEILING_JSON"
FALLBACK: dict[str, Any] = {"resourceType": "Patient", "id": "ceiling", "name": [{"family": "Ceiling"}]}


def resource() -> dict[str, Any]:
    """The Patient to serve: the file named by BENCH_CEILING_JSON, else a small fixed Patient."""
    path = os.environ.get(JSON_ENV)
    if not path:
        return FALLBACK
    loaded: dict[str, Any] = orjson.loads(Path(path).read_bytes())
    return loaded


def create() -> FastAPI:
    """The app: ``GET /fhir/Patient/{id}`` and ``GET /health``."""
    served = resource()
    ceiling = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @ceiling.get("/fhir/Patient/{resource_id}")
    async def read(resource_id: str) -> Response:
        return Response(orjson.dumps(served), media_type="application/fhir+json")

    @ceiling.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return ceiling


app = create()
