"""Callers for the imaging tests: the server's own AccessContexts (real SMART scope parsing and ``may``), chosen by
the request's bearer token through a table.

The tests install :func:`token_table` as the ``access_context`` dependency (a FastAPI dependency override), so the
proxy's own enforcement (``may``, patient and clinic confinement) is what is tested, with the token the client
really sends; issuing tokens is the authorization server's business and tested with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import FastAPI
from starlette.requests import Request

from fhir_server.access.context import AccessContext, access_context, unauthorized
from fhir_server.access.scopes import parse_scopes


def context(
    scopes: str,
    clinic: uuid.UUID | None,
    patient_fhir_id: str | None = None,
    client_id: str | None = None,
) -> AccessContext:
    parsed = parse_scopes(scopes)
    return AccessContext(
        user_id=None if client_id else uuid.uuid4(),
        client_id=client_id,
        scopes=frozenset(parsed.resource),
        patient_id=patient_fhir_id,
        organization_id=clinic,
        scope_text=scopes,
        other_scopes=parsed.other,
    )


def patient_token(patient_fhir_id: str, clinic: uuid.UUID, scopes: str = "patient/ImagingStudy.rs") -> AccessContext:
    return context(scopes, clinic, patient_fhir_id)


def user_token(
    clinic: uuid.UUID | None, scopes: str = "user/ImagingStudy.cruds user/Patient.rs user/Endpoint.rs"
) -> AccessContext:
    return context(scopes, clinic)


def token_table(app: FastAPI, tokens: dict[str, AccessContext]) -> Callable[[Request], AccessContext]:
    """Make ``app`` resolve ``Authorization: Bearer <token>`` through ``tokens`` (none or unknown: 401)."""

    def resolve(request: Request) -> AccessContext:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if token not in tokens:
            raise unauthorized("test", "unknown token" if token else "no token", "invalid_token" if token else None)
        return tokens[token]

    app.dependency_overrides[access_context] = resolve
    return resolve
