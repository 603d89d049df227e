"""Reading a request's JSON body without stalling the event loop.

The body is read whole (its size is already bounded by :mod:`fhir_server.body_limit`); parsing and checking it are
CPU work proportional to its size, so a body above :data:`OFF_LOOP_BYTES` is parsed in the thread pool, where a
multi-megabyte transaction or ``$validate`` body cannot keep the worker from answering its other requests
(``/health`` included). Small bodies, the common case, are parsed in place: a thread hop would cost more than they.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from fhir_server.fhir.validation import parse_json, parse_resource

OFF_LOOP_BYTES = 64 * 1024
"""Bodies larger than this are parsed off the event loop."""

T = TypeVar("T")


async def parsed(body: bytes, parse: Callable[..., T], *args: Any) -> T:
    """``parse(body, *args)``, in the thread pool when ``body`` is larger than :data:`OFF_LOOP_BYTES`."""
    if len(body) > OFF_LOOP_BYTES:
        return await run_in_threadpool(parse, body, *args)
    return parse(body, *args)


async def read_json(request: Request) -> Any:
    """The request body's JSON value (:func:`fhir_server.fhir.validation.parse_json`)."""
    return await parsed(await request.body(), parse_json)


async def read_resource(
    request: Request, expected_type: str | None = None, url_id: str | None = None
) -> dict[str, Any]:
    """The resource in the request body, checked (:func:`fhir_server.fhir.validation.parse_resource`)."""
    return await parsed(await request.body(), parse_resource, expected_type, url_id)
