"""``/openapi.json``, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with their scripts and styles served by this
server from the ``fastapi-offline`` package (Swagger UI's dist and ReDoc's standalone bundle), never from a CDN:
the pages work without internet."""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from fhir_server.app_context import app_context
from fhir_server.errors import bad_request
from fhir_server.openapi.document import documents, published

OPENAPI = "/openapi.json"
ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
SWAGGER_UI: dict[str, Any] = {
    "docExpansion": "none",  # one tag per resource type: the list stays short until one is opened
    "filter": True,
    "validatorUrl": None,  # Swagger UI would send the document to an online validator
    "persistAuthorization": True,
    "tryItOutEnabled": True,
}

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve the document, the pages and their assets on ``app``."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")


@router.get(OPENAPI)
async def openapi_document(request: Request) -> Response:
    """The OpenAPI document, or with ``?type=`` one resource type's part of it (gzipped when the client takes it;
    304 when its ETag is still current)."""
    resource_type = request.query_params.get("type")
    settings = app_context(request).settings
    found = await run_in_threadpool(documents, request.app, settings)
    if resource_type is not None and resource_type not in found.types:
        raise bad_request(f"type: no resource type {resource_type!r} is documented here", "type")
    document = await run_in_threadpool(published, request.app, settings, resource_type)
    headers = {"ETag": document.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == document.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            document.gzipped, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"}
        )
    return Response(document.body, media_type="application/json", headers=headers)


@router.get("/docs")
async def swagger_ui(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=root + OPENAPI,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        oauth2_redirect_url=root + OAUTH2_REDIRECT,
        init_oauth={"usePkceWithAuthorizationCodeGrant": True},
        swagger_ui_parameters=SWAGGER_UI,
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> Response:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    """ReDoc of one resource type's part of the document (``?type=``, Patient by default), with a picker of the
    documented types: ReDoc cannot lay out the whole document in a browser tab."""
    found = await run_in_threadpool(documents, request.app, app_context(request).settings)
    chosen = request.query_params.get("type", "Patient")
    if chosen not in found.types:
        raise bad_request(f"type: no resource type {chosen!r} is documented here", "type")
    root = request.scope.get("root_path", "")
    options = "".join(
        f"<option{' selected' if t == chosen else ''}>{html.escape(t)}</option>" for t in sorted(found.types)
    )
    page = _REDOC.format(
        title=html.escape(request.app.title),
        options=options,
        spec=html.escape(f"{root}{OPENAPI}?type={chosen}"),
        script=html.escape(f"{root}{ASSETS}/redoc.standalone.js"),
        icon=html.escape(f"{root}{ASSETS}/favicon.png"),
    )
    return HTMLResponse(page)


_REDOC = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="{icon}">
<style>body{{margin:0}}
form{{padding:8px 16px;font-family:system-ui,sans-serif;border-bottom:1px solid #ddd}}</style></head>
<body><form method="get" action=""><label>Resource type <select name="type" onchange="this.form.submit()">{options}
</select></label> <noscript><button>Show</button></noscript> &middot; <a href="docs">Swagger UI</a></form>
<redoc spec-url="{spec}"></redoc>
<script src="{script}" charset="utf-8"></script></body></html>
"""
