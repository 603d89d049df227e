"""Hooks at the HTTP library boundary: every response a test receives passes through ``Client.send`` of httpx (and of
httpx2, which starlette's ``TestClient`` subclasses when it is installed), ``AsyncClient.send`` of both, or
``requests.Session.send`` (fhirclient and fhirpy's ``SyncFHIRClient`` use requests). Each hook hands a response with a
JSON or NDJSON media type to a sink, body and content type, once the body has been read.

A streamed response (``stream=True``) with such a media type is read at once so that its body can be offered; its
``iter_bytes``/``iter_lines``/``read`` then replay the read body (only httpx's ``iter_raw`` would refuse it).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests

Sink = Callable[[bytes, str], None]
"""Receives a response body and its Content-Type header."""

OFFERED_MEDIA_TYPES = frozenset(
    {"application/fhir+json", "application/json", "application/fhir+ndjson", "application/ndjson"}
)


def offered(content_type: str) -> bool:
    """Whether a response of ``content_type`` may hold FHIR JSON (its parameters, e.g. ``fhirVersion``, aside)."""
    return content_type.split(";", 1)[0].strip().lower() in OFFERED_MEDIA_TYPES


@contextmanager
def capturing(sink: Sink) -> Iterator[None]:
    """Offer every response of the hooked HTTP clients to ``sink`` while the block runs."""
    patches: list[tuple[type, str, Any]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        patches.append((module.Client, "send", _sync_httpx_send(module.Client.send, sink)))
        patches.append((module.AsyncClient, "send", _async_httpx_send(module.AsyncClient.send, sink)))
    patches.append((requests.Session, "send", _requests_send(requests.Session.send, sink)))
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    for owner, name, hook in patches:
        setattr(owner, name, hook)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _sync_httpx_send(original: Callable[..., Any], sink: Sink) -> Callable[..., Any]:
    @functools.wraps(original)
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        response = original(self, request, **kwargs)
        content_type = response.headers.get("content-type", "")
        if offered(content_type):
            if not response.is_stream_consumed:
                response.read()
            sink(response.content, content_type)
        return response

    return send


def _async_httpx_send(original: Callable[..., Any], sink: Sink) -> Callable[..., Any]:
    @functools.wraps(original)
    async def send(self: Any, request: Any, **kwargs: Any) -> Any:
        response = await original(self, request, **kwargs)
        content_type = response.headers.get("content-type", "")
        if offered(content_type):
            if not response.is_stream_consumed:
                await response.aread()
            sink(response.content, content_type)
        return response

    return send


def _requests_send(original: Callable[..., Any], sink: Sink) -> Callable[..., Any]:
    @functools.wraps(original)
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        response = original(self, request, **kwargs)
        content_type = response.headers.get("content-type", "")
        if offered(content_type):
            sink(response.content, content_type)
        return response

    return send
