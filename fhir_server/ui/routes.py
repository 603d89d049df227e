"""The UI's routes (read-only GET pages): ``/`` the clinic's types with counts, ``/ui/[type]`` a search form and one
page of results, ``/ui/[type]/[id]`` a resource with its versions, ``/ui/[type]/[id]/_history/[vid]`` one version and
its difference from the one before, ``/ui/Patient/[id]/timeline`` the patient's ``$everything`` by date.

Thin handlers: find the viewer of the login session (else send the browser to the login page, which comes back),
run the FHIR API's own service under the viewer's access context, render. A refusal is the API's own (404 beyond the
viewer's reach, 403 without the role's permission, 400 naming a bad parameter) shown as a page with that status.
Each page route declares the FHIR interaction it performs, so the audit trail records every view, refused ones too,
as the API's request would be recorded (:mod:`fhir_server.audit.middleware`), marked as a UI view.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from fhir_server.app_context import app_context
from fhir_server.auth.pages import auth_url, redirect, session_cookie
from fhir_server.errors import FhirError, not_found
from fhir_server.fhir import reading, unit_of_work
from fhir_server.fhir.operations.everything import everything
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.ui import home, search_page, timeline, versions
from fhir_server.ui.imaging import viewer_link
from fhir_server.ui.rendering import error_page, render
from fhir_server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)
STATIC = {"ui.css": "text/css", "ui.js": "text/javascript"}
_STATIC_DIR = Path(__file__).with_name("static")
Page = Callable[[Viewer], Awaitable[Response]]


async def _serve(request: Request, page: Page, fhir_request: str | None = None) -> Response:
    """``page`` for the viewer of the login session; the login page (coming back here) without one; the API's
    refusal as an error page."""
    viewer = await unit_of_work.read(request, viewer_of, session_cookie(request))
    if viewer is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"{auth_url(request, 'login')}?{urlencode({'next': here})}")
    request.state.access = viewer.access  # the audit trail records the view as the API's interaction by this user
    try:
        return await page(viewer)
    except FhirError as error:
        return error_page(request, viewer, error, fhir_request)


@router.get("/", openapi_extra=declares("search-system"))
async def home_page(request: Request) -> Response:
    """The clinic's resource types the viewer may search, with counts."""
    app = app_context(request)
    limits = SearchLimits.of(app.settings)

    async def page(viewer: Viewer) -> Response:
        args = (viewer.access, limits, app.base_url, app.cursor_key)
        counts = await unit_of_work.read(request, home.type_counts, *args)
        return render(request, viewer, "ui_home", {"counts": counts, "fhir_request": f"GET {app.base_url}/metadata"})

    return await _serve(request, page)


@router.get("/ui/static/{name}")
async def static(name: str) -> Response:
    """The UI's own stylesheet and script (no CDN)."""
    if name not in STATIC:
        raise not_found(f"no UI asset {name!r}")
    return FileResponse(_STATIC_DIR / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600"})


@router.get("/ui/Patient/{patient_id}/timeline", openapi_extra=declares("$everything", "Patient"))
async def timeline_page(patient_id: str, request: Request) -> Response:
    """The patient's record (``$everything``) as a timeline, newest first."""
    app = app_context(request)
    pairs = timeline.everything_pairs(request.query_params.multi_items())
    fhir_request = f"GET {app.base_url}/Patient/{patient_id}/$everything?{urlencode(pairs)}"

    async def page(viewer: Viewer) -> Response:
        valid_id(patient_id)
        args = (viewer.access, patient_id, pairs, app.base_url, app.cursor_key)
        bundle = await unit_of_work.read(request, everything, *args)
        patient = await reading.read_current(app.database, viewer.access, "Patient", patient_id)
        values = {
            "patient": patient,
            "events": timeline.events(bundle, patient_id, app.settings),
            "referenced": timeline.events(bundle, patient_id, app.settings, "include"),
            "links": search_page.paging_links(bundle, app.base_url, f"/ui/Patient/{patient_id}/timeline"),
            "notes": search_page.outcome_notes(bundle),
            "fhir_request": fhir_request,
        }
        return render(request, viewer, "ui_timeline", values)

    return await _serve(request, page, fhir_request)


@router.get("/ui/{resource_type}", openapi_extra=declares("search-type"))
async def search(resource_type: str, request: Request) -> Response:
    """The search form of a type and one page of its results."""
    app = app_context(request)
    pairs = search_page.filled(request.query_params.multi_items())

    async def page(viewer: Viewer) -> Response:
        served_type(resource_type)
        limits = SearchLimits.of(app.settings)
        args = (viewer.access, resource_type, pairs, limits, app.base_url, app.cursor_key)
        bundle = await unit_of_work.read(request, search_page.run_search, *args)
        self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
        values = {
            "resource_type": resource_type,
            "parameters": search_page.form_parameters(resource_type),
            "asked": dict(pairs),
            "total": bundle.get("total"),
            "matches": search_page.matches(bundle),
            "links": search_page.paging_links(bundle, app.base_url),
            "notes": search_page.outcome_notes(bundle),
            "fhir_request": f"GET {self_link}",
        }
        return render(request, viewer, "ui_search", values)

    return await _serve(request, page, f"GET {app.base_url}/{resource_type}?{urlencode(pairs)}")


@router.get("/ui/{resource_type}/{resource_id}", openapi_extra=declares("read"))
async def resource_page(resource_type: str, resource_id: str, request: Request) -> Response:
    """A resource's JSON (references followed as links) and its versions."""
    app = app_context(request)
    fhir_request = f"GET {app.base_url}/{resource_type}/{resource_id}"

    async def page(viewer: Viewer) -> Response:
        served_type(resource_type)
        resource = await reading.read_current(app.database, viewer.access, resource_type, resource_id)
        args = (viewer.access, resource_type, resource_id, app.base_url, app.cursor_key)
        history = await unit_of_work.read(request, versions.history_bundle, *args)
        values = {
            "resource": resource,
            "versions": versions.versions(history),
            "total_versions": history.get("total"),
            "viewer_link": viewer_link(app.settings, resource),
            "history_request": f"GET {app.base_url}/{resource_type}/{resource_id}/_history",
            "fhir_request": fhir_request,
        }
        return render(request, viewer, "ui_resource", values)

    return await _serve(request, page, fhir_request)


@router.get("/ui/{resource_type}/{resource_id}/_history/{version_id}", openapi_extra=declares("vread"))
async def version_page(resource_type: str, resource_id: str, version_id: str, request: Request) -> Response:
    """One version of a resource and the difference from the version before it."""
    app = app_context(request)
    fhir_request = f"GET {app.base_url}/{resource_type}/{resource_id}/_history/{version_id}"

    async def page(viewer: Viewer) -> Response:
        served_type(resource_type)
        newer = await _version(request, viewer, resource_type, resource_id, version_id)
        number = int(version_id)  # a version read above has a number
        older = await _version(request, viewer, resource_type, resource_id, str(number - 1)) if number > 1 else None
        values = {
            "resource_type": resource_type,
            "resource_id": resource_id,
            "version_id": number,
            "resource": newer,
            "lines": versions.diff(older, newer),
            "fhir_request": fhir_request,
        }
        return render(request, viewer, "ui_version", values)

    return await _serve(request, page, fhir_request)


async def _version(
    request: Request, viewer: Viewer, resource_type: str, resource_id: str, version_id: str
) -> dict[str, object] | None:
    """A version as vread answers it; None for a version that is a deletion (vread's 410)."""
    database = app_context(request).database
    try:
        return await reading.read_version(database, viewer.access, resource_type, resource_id, version_id)
    except FhirError as error:
        if error.status == 410:
            return None
        raise
