"""``GET /metrics``: the Prometheus text exposition of :mod:`fhir_server.metrics.instruments`.

Off unless ``FHIR_SERVER_METRICS_TOKEN`` is set (404); then served only to a request bearing that secret as
``Authorization: Bearer <secret>`` (401 otherwise, compared in constant time). The metrics say how busy the server
is and which interactions fail: not for the world, and not for holders of FHIR access tokens either.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from fhir_server.app_context import app_context
from fhir_server.errors import Kind, fail, not_found
from fhir_server.metrics import jobs, multiprocess, pools

router = APIRouter(tags=["metrics"])
PATH = "/metrics"


@router.get(PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Every metric of this server (of all its workers), for a caller bearing the metrics secret."""
    context = app_context(request)
    require_secret(request.headers.get("authorization"), context.settings.metrics_token)
    pools.refresh(context.database)
    await run_in_threadpool(jobs.refresh, context.database)
    encode, media_type = choose_encoder(request.headers.get("accept", ""))  # OpenMetrics when the scraper asks
    return Response(encode(multiprocess.registry()), media_type=media_type)


def require_secret(authorization: str | None, secret: SecretStr | None) -> None:
    """Return when ``authorization`` (the header) is ``Bearer <secret>``; raise 404 when no secret is configured (the
    endpoint is off), 401 with a Bearer challenge when the header is missing or bears anything else."""
    if secret is None:
        raise not_found("metrics are off: set FHIR_SERVER_METRICS_TOKEN to serve them")
    scheme, _, presented = (authorization or "").partition(" ")
    expected = secret.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        raise fail(Kind.UNAUTHORIZED, "the metrics need the bearer secret of FHIR_SERVER_METRICS_TOKEN")
