"""Whose pages these are: the clinic named on every page of the authorization server (and the browser UI).

The clinic is the one in context (the app's clinic during an authorization, the signed-in user's clinic on the
account pages); without one, the only clinic when the server holds one, else nobody (the pages then show the server's
name, setting ``FHIR_SERVER_UI_NAME``). The logo and colour are settings (``FHIR_SERVER_UI_LOGO_URL`` or
``FHIR_SERVER_UI_LOGO_FILE``, ``FHIR_SERVER_UI_COLOR``), validated when the settings load.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, Response

from fhir_server.auth.pages import settings_of
from fhir_server.db import Organization
from fhir_server.errors import Kind, fail
from fhir_server.settings import LOGO_TYPES


def clinic_name(session: Session, organization_id: uuid.UUID | None = None) -> str | None:
    """The name of clinic ``organization_id``; without one, the name of the only clinic; else None."""
    if organization_id is not None:
        return session.scalar(select(Organization.name).where(Organization.id == organization_id))
    names = session.scalars(
        select(Organization.name).where(Organization.is_clinic, Organization.deleted_at.is_(None)).limit(2)
    ).all()
    return names[0] if len(names) == 1 else None


router = APIRouter(include_in_schema=False)


@router.get("/logo")
async def logo(request: Request) -> Response:
    """The logo file of ``FHIR_SERVER_UI_LOGO_FILE`` (404 when none is set), never run as a document (an SVG's
    scripts stay inert under the sandbox policy)."""
    path = settings_of(request).ui_logo_file
    if path is None:
        raise fail(Kind.NOT_FOUND, "No logo is configured (FHIR_SERVER_UI_LOGO_FILE).")
    headers = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=3600",
    }
    return FileResponse(path, media_type=LOGO_TYPES[path.suffix.lower()], headers=headers)
