"""The OpenAPI document the server publishes at ``/openapi.json`` (https://spec.openapis.org/oas/v3.1.0).

Built from the routes' own OpenAPI paths (FastAPI's ``app.openapi()``, which the CapabilityStatement is also built
from): the FHIR API becomes one path per resource type and interaction (:mod:`fhir_server.openapi.fhir_paths`) with
FHIR JSON schemas (:mod:`fhir_server.openapi.schemas`); the other routes (authorization, health, DICOMweb and the
FHIR system-level ones) keep their entries. Every error is an OperationOutcome (FastAPI's 422 validation model is
replaced), and the security schemes are the SMART ones (:mod:`fhir_server.openapi.security`). Built once per
application, on first use, and kept serialized.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import FastAPI

from fhir_server.fhir import capability_statement
from fhir_server.openapi import fhir_paths, parameters, schemas, security, slices
from fhir_server.settings import Settings

_VALIDATION_ERROR = "422"
_TAGS = (("/health", "Health"), ("/dicomweb", "DICOMweb"), ("/fhir/.well-known", "SMART"), ("/fhir/auth", "SMART"))
_ERROR_RESPONSE = {
    "description": "An OperationOutcome saying what was wrong (a 500 names only the request id)",
    "content": {"application/fhir+json": {"schema": schemas.ref("OperationOutcome")}},
}


_SLICES_KEPT = 32
"""At most this many one-type documents are kept serialized (each is built again when asked for after that)."""


@dataclass(frozen=True)
class Published:
    """A document serialized once: its JSON, gzipped JSON and ETag."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, document: dict[str, Any]) -> Published:
        body = orjson.dumps(document)
        return cls(body, gzip.compress(body, 6), f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@dataclass
class Documents:
    """The whole document of one application, the resource types it documents, and the serialized documents."""

    whole: dict[str, Any]
    types: frozenset[str]
    serialized: dict[str | None, Published] = field(default_factory=dict)


def documents(app: FastAPI, settings: Settings) -> Documents:
    """The documents of ``app`` run with ``settings``: built on first use, kept on ``app.state``."""
    found: Documents | None = getattr(app.state, "openapi_documents", None)
    if found is None:
        whole = build(app, settings)
        found = Documents(whole, frozenset(tag["name"] for tag in whole["tags"]))
        app.state.openapi_documents = found
    return found


def published(app: FastAPI, settings: Settings, resource_type: str | None = None) -> Published:
    """The serialized document of ``app``: whole, or narrowed to ``resource_type`` (one of its documented types)."""
    found = documents(app, settings)
    serialized = found.serialized.get(resource_type)
    if serialized is None:
        if resource_type is None:
            serialized = Published.of(found.whole)
        else:
            serialized = Published.of(slices.one_type(found.whole, resource_type, found.types))
            while len(found.serialized) > _SLICES_KEPT:
                del found.serialized[next(k for k in found.serialized if k is not None)]
        found.serialized[resource_type] = serialized
    return serialized


def build(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of ``app`` run with ``settings``."""
    routes = app.openapi()
    statement = capability_statement.build(routes["paths"], settings, app.version)
    generated = fhir_paths.type_paths(statement, routes["paths"])
    paths = {**_other_paths(routes["paths"], generated.replaced), **generated.paths}
    types = tuple(sorted({entry["type"] for entry in statement["rest"][0]["resource"]}))
    components: dict[str, Any] = {
        "schemas": {
            **schemas.components((*types, "Bundle", "OperationOutcome", "Parameters")),
            "JsonPatch": fhir_paths.JSON_PATCH_SCHEMA,
        },
        "parameters": parameters.components(statement["rest"][0]["resource"]),
        **_with_error(fhir_paths.components(types)),
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": app.title, "version": app.version, "description": _description(settings)},
        "servers": [{"url": _server(settings.base_url)}],
        "paths": paths,
        "components": components,
        "tags": [{"name": t, "description": f"FHIR {t} (http://hl7.org/fhir/R4/{t.lower()}.html)"} for t in types],
    }
    found_schemes = security.schemes(settings)
    if found_schemes:
        components["securitySchemes"] = found_schemes
        _secure(paths)
    return document


def _with_error(components: dict[str, Any]) -> dict[str, Any]:
    components["responses"]["Error"] = _ERROR_RESPONSE
    return components


def _other_paths(route_paths: dict[str, Any], replaced: set[tuple[str, str]]) -> dict[str, Any]:
    """The routes' own entries not replaced by per-type paths, with OperationOutcome as their error model."""
    kept: dict[str, Any] = {}
    for path, methods in route_paths.items():
        for method, operation in methods.items():
            if (path, method) not in replaced:
                kept.setdefault(path, {})[method] = _tidied(path, operation)
    return kept


def _tidied(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    responses = dict(operation.get("responses", {}))
    fhir_errors = path.startswith("/fhir") and not security.is_public(path)
    if responses.pop(_VALIDATION_ERROR, None) is not None or fhir_errors:
        responses.update(fhir_paths.ERRORS)
    tag = next((name for prefix, name in _TAGS if path.startswith(prefix)), None)
    return {**operation, "responses": responses, **({"tags": [tag]} if tag else {})}


def _secure(paths: dict[str, Any]) -> None:
    """Every operation needs a token but those of public paths."""
    for path, methods in paths.items():
        for operation in methods.values():
            operation["security"] = [] if security.is_public(path) else security.REQUIREMENTS


def _server(base_url: str) -> str:
    """The URL the paths (``/fhir/...``) hang from: the FHIR base's path without ``/fhir``, relative to the page."""
    path = urlsplit(base_url).path.rstrip("/")
    return path.removesuffix(fhir_paths.PREFIX) or "/"


def _description(settings: Settings) -> str:
    text = (
        "FHIR R4 (4.0.1) over a clinic's data, with SMART-on-FHIR and DICOMweb. The FHIR base is "
        f"{settings.base_url}; its CapabilityStatement is {settings.base_url}/metadata. Every error is an "
        "OperationOutcome."
    )
    if settings.auth == "enabled":
        text += f" Tokens: {settings.base_url}/.well-known/smart-configuration."
    return text
